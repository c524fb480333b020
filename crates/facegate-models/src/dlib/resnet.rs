//! `dlib_face_recognition_resnet_model_v1.dat` → ONNX.
//!
//! The network is dlib's `anet_type` from `dnn_face_recognition_ex.cpp`: a
//! stem (`con 7×7/2, affine, relu, max_pool 3×3/2`), a stack of residual
//! blocks (`con, affine, relu, con, affine` plus a shortcut, then `relu`) and
//! a head (`avg_pool_everything, fc_no_bias<128>`). Down-sampling blocks
//! (`ares_down`) use a stride-2 first convolution and a 2×2/2 average pool of
//! the block input as the shortcut; in the stream they show up as an
//! `avg_pool` right before the `add_prev`.
//!
//! dlib's `add_prev` adds tensors of different shapes by treating missing
//! values as zero (more channels after a down block; 3×3 vs 4×4 where the
//! strided convolution and the pool round differently). The graph reproduces
//! that with a constant `Pad` at the end of each smaller dimension.
//!
//! The input is raw RGB in `0..=255`, NCHW; the graph applies dlib's
//! `(pixel − mean) / 256` itself. Each `affine` is folded into the
//! convolution before it. The output is the un-normalised 128-d descriptor.

use super::DlibError;
use super::net::{Input, Layer, Pool, parse_metric_network};
use crate::onnx::proto::data_type;
use crate::onnx::{Attr, GraphBuilder};

/// Name of the graph input: float32 `[N, 3, rows, cols]`, raw RGB 0..255.
pub const RESNET_INPUT: &str = "input";
/// Name of the graph output: float32 `[N, 128]`, dlib's face descriptor.
pub const RESNET_OUTPUT: &str = "embedding";

/// Convert dlib's face-recognition ResNet (`loss_metric` network) to ONNX.
pub fn resnet_to_onnx(dat: &[u8]) -> Result<Vec<u8>, DlibError> {
    let net = parse_metric_network(dat)?;
    let (avg, rows, cols) = match net.input {
        Input::RgbSized { avg, rows, cols } => (avg, rows, cols),
        other => {
            return Err(DlibError::Unsupported(format!(
                "input layer {other:?} for a metric network"
            )));
        }
    };
    let mut c = Converter::new(rows, cols);
    c.normalise_input(avg);
    let mut layers = net.layers.iter().peekable();
    // Stem.
    c.conv_affine(&mut layers)?;
    c.expect(&mut layers, "relu", |l| matches!(l, Layer::Relu))?;
    c.relu();
    match layers.next() {
        Some(Layer::MaxPool(p)) => c.max_pool(*p)?,
        other => return Err(unexpected("max_pool", other)),
    }
    // Residual blocks until the global pooling head.
    loop {
        match layers.peek() {
            Some(Layer::Conv { .. }) => c.residual_block(&mut layers)?,
            Some(Layer::AvgPool(p)) if p.window == [0, 0] => break,
            other => {
                return Err(unexpected(
                    "a residual block or the pooling head",
                    other.copied(),
                ));
            }
        }
    }
    layers.next();
    c.global_avg_pool();
    let (inputs, outputs) = match layers.next() {
        Some(Layer::Fc {
            inputs,
            outputs,
            weights,
            bias,
        }) => {
            c.fc(*inputs, *outputs, weights, bias.as_deref())?;
            (*inputs, *outputs)
        }
        other => return Err(unexpected("fc", other)),
    };
    if let Some(extra) = layers.next() {
        return Err(unexpected("end of network", Some(extra)));
    }
    let mut g = c.finish(outputs);
    g.metadata("source", "dlib_face_recognition_resnet_model_v1.dat");
    g.metadata("fc_inputs", &inputs.to_string());
    Ok(g.to_bytes())
}

fn unexpected(wanted: &str, found: Option<&Layer>) -> DlibError {
    let found = match found {
        None => "end of network".to_owned(),
        Some(l) => layer_name(l).to_owned(),
    };
    DlibError::Unsupported(format!("network layout: expected {wanted}, found {found}"))
}

fn layer_name(l: &Layer) -> &'static str {
    match l {
        Layer::Conv { .. } => "con",
        Layer::Affine { .. } => "affine",
        Layer::Relu => "relu",
        Layer::MaxPool(_) => "max_pool",
        Layer::AvgPool(_) => "avg_pool",
        Layer::AddPrev => "add_prev",
        Layer::Fc { .. } => "fc",
    }
}

type Layers<'a> = std::iter::Peekable<std::slice::Iter<'a, Layer>>;

/// A value in the graph and its `[C, H, W]` shape.
#[derive(Debug, Clone)]
struct Value {
    name: String,
    shape: [usize; 3],
}

struct Converter {
    g: GraphBuilder,
    cur: Value,
}

impl Converter {
    fn new(rows: usize, cols: usize) -> Self {
        let mut g = GraphBuilder::new("dlib_face_recognition_resnet_model_v1");
        g.input(
            RESNET_INPUT,
            data_type::FLOAT,
            &[None, Some(3), Some(rows as i64), Some(cols as i64)],
        );
        Self {
            g,
            cur: Value {
                name: RESNET_INPUT.to_owned(),
                shape: [3, rows, cols],
            },
        }
    }

    fn expect(
        &self,
        layers: &mut Layers<'_>,
        wanted: &str,
        ok: impl Fn(&Layer) -> bool,
    ) -> Result<(), DlibError> {
        match layers.next() {
            Some(l) if ok(l) => Ok(()),
            other => Err(unexpected(wanted, other)),
        }
    }

    /// `(x − avg) / 256`, per channel, as `input_rgb_image_sized::to_tensor`.
    fn normalise_input(&mut self, avg: [f32; 3]) {
        let mean = self.g.initializer_f32("input_mean", &[1, 3, 1, 1], &avg);
        let scale = self.g.initializer_f32("input_scale", &[1], &[1.0 / 256.0]);
        let centred = self.g.op("Sub", &[&self.cur.name, &mean], vec![]);
        self.cur.name = self.g.op("Mul", &[&centred, &scale], vec![]);
    }

    /// A `con` followed by an `affine`, folded into one `Conv`.
    fn conv_affine(&mut self, layers: &mut Layers<'_>) -> Result<(), DlibError> {
        let layer = layers.next();
        let Some(Layer::Conv {
            filters,
            in_channels,
            kernel,
            stride,
            padding,
            weights,
            bias,
        }) = layer
        else {
            return Err(unexpected("con", layer));
        };
        let Some(Layer::Affine {
            gamma,
            beta,
            per_channel: true,
        }) = layers.next()
        else {
            return Err(DlibError::Unsupported(
                "network layout: con not followed by a per-channel affine".into(),
            ));
        };
        let [c, h, w] = self.cur.shape;
        if *in_channels != c || gamma.len() != *filters || beta.len() != *filters {
            return Err(DlibError::Unsupported(format!(
                "con of {in_channels}→{filters} channels on a {c}-channel input"
            )));
        }
        let (wf, bf) = fold_affine(weights, bias.as_deref(), gamma, beta);
        let wname = self.g.initializer_f32(
            "conv_w",
            &[
                *filters as i64,
                c as i64,
                kernel[0] as i64,
                kernel[1] as i64,
            ],
            &wf,
        );
        let bname = self.g.initializer_f32("conv_b", &[*filters as i64], &bf);
        let out = self.g.op(
            "Conv",
            &[&self.cur.name, &wname, &bname],
            vec![
                (
                    "kernel_shape",
                    Attr::Ints(vec![kernel[0] as i64, kernel[1] as i64]),
                ),
                (
                    "strides",
                    Attr::Ints(vec![stride[0] as i64, stride[1] as i64]),
                ),
                ("pads", Attr::Ints(pads(*padding))),
            ],
        );
        let oh = out_size(h, kernel[0], stride[0], padding[0])?;
        let ow = out_size(w, kernel[1], stride[1], padding[1])?;
        self.cur = Value {
            name: out,
            shape: [*filters, oh, ow],
        };
        Ok(())
    }

    fn relu(&mut self) {
        self.cur.name = self.g.op("Relu", &[&self.cur.name], vec![]);
    }

    fn pool(&mut self, op: &str, input: &Value, p: Pool) -> Result<Value, DlibError> {
        let [c, h, w] = input.shape;
        let name = self.g.op(
            op,
            &[&input.name],
            vec![
                (
                    "kernel_shape",
                    Attr::Ints(vec![p.window[0] as i64, p.window[1] as i64]),
                ),
                (
                    "strides",
                    Attr::Ints(vec![p.stride[0] as i64, p.stride[1] as i64]),
                ),
                ("pads", Attr::Ints(pads(p.padding))),
            ],
        );
        let oh = out_size(h, p.window[0], p.stride[0], p.padding[0])?;
        let ow = out_size(w, p.window[1], p.stride[1], p.padding[1])?;
        Ok(Value {
            name,
            shape: [c, oh, ow],
        })
    }

    fn max_pool(&mut self, p: Pool) -> Result<(), DlibError> {
        let input = self.cur.clone();
        self.cur = self.pool("MaxPool", &input, p)?;
        Ok(())
    }

    /// `con, affine, relu, con, affine, [avg_pool], add_prev, relu`.
    fn residual_block(&mut self, layers: &mut Layers<'_>) -> Result<(), DlibError> {
        let block_input = self.cur.clone();
        self.conv_affine(layers)?;
        self.expect(layers, "relu", |l| matches!(l, Layer::Relu))?;
        self.relu();
        self.conv_affine(layers)?;
        let shortcut = match layers.next() {
            Some(Layer::AvgPool(p)) => {
                self.expect(layers, "add_prev", |l| matches!(l, Layer::AddPrev))?;
                self.pool("AveragePool", &block_input, *p)?
            }
            Some(Layer::AddPrev) => block_input,
            other => return Err(unexpected("add_prev", other)),
        };
        let main = self.cur.clone();
        self.cur = self.add_zero_padded(&main, &shortcut)?;
        self.expect(layers, "relu", |l| matches!(l, Layer::Relu))?;
        self.relu();
        Ok(())
    }

    /// dlib's `tt::add` of differently shaped tensors: the result has the
    /// larger size in every dimension and missing values count as zero.
    fn add_zero_padded(&mut self, a: &Value, b: &Value) -> Result<Value, DlibError> {
        let shape = [0, 1, 2].map(|i| a.shape[i].max(b.shape[i]));
        let a_name = self.pad_to(a, shape);
        let b_name = self.pad_to(b, shape);
        let name = self.g.op("Add", &[&a_name, &b_name], vec![]);
        Ok(Value { name, shape })
    }

    fn pad_to(&mut self, v: &Value, shape: [usize; 3]) -> String {
        if v.shape == shape {
            return v.name.clone();
        }
        let mut pads = vec![0i64; 8];
        for i in 0..3 {
            pads[5 + i] = (shape[i] - v.shape[i]) as i64;
        }
        let p = self.g.initializer_i64("pads", &[8], &pads);
        self.g.op(
            "Pad",
            &[&v.name, &p],
            vec![("mode", Attr::String("constant".into()))],
        )
    }

    fn global_avg_pool(&mut self) {
        let name = self.g.op("GlobalAveragePool", &[&self.cur.name], vec![]);
        let flat = self.g.op("Flatten", &[&name], vec![("axis", Attr::Int(1))]);
        self.cur = Value {
            name: flat,
            shape: [self.cur.shape[0], 1, 1],
        };
    }

    fn fc(
        &mut self,
        inputs: usize,
        outputs: usize,
        w: &[f32],
        b: Option<&[f32]>,
    ) -> Result<(), DlibError> {
        if inputs != self.cur.shape[0] {
            return Err(DlibError::Unsupported(format!(
                "fc of {inputs} inputs on {} features",
                self.cur.shape[0]
            )));
        }
        let wname = self
            .g
            .initializer_f32("fc_w", &[inputs as i64, outputs as i64], w);
        let name = match b {
            None => self.g.node(
                "MatMul",
                &[&self.cur.name, &wname],
                &[RESNET_OUTPUT],
                vec![],
            ),
            Some(b) => {
                let mm = self.g.op("MatMul", &[&self.cur.name, &wname], vec![]);
                let bname = self.g.initializer_f32("fc_b", &[outputs as i64], b);
                self.g.node("Add", &[&mm, &bname], &[RESNET_OUTPUT], vec![])
            }
        };
        self.cur = Value {
            name,
            shape: [outputs, 1, 1],
        };
        Ok(())
    }

    fn finish(mut self, outputs: usize) -> GraphBuilder {
        self.g.output(
            RESNET_OUTPUT,
            data_type::FLOAT,
            &[None, Some(outputs as i64)],
        );
        self.g
    }
}

/// Fold `y = x·gamma + beta` (per output channel) into the convolution
/// before it: `W' = W·gamma`, `b' = b·gamma + beta`.
pub(super) fn fold_affine(
    weights: &[f32],
    bias: Option<&[f32]>,
    gamma: &[f32],
    beta: &[f32],
) -> (Vec<f32>, Vec<f32>) {
    let filters = gamma.len();
    let per_filter = weights.len() / filters.max(1);
    let mut w = weights.to_vec();
    let mut b = vec![0f32; filters];
    for f in 0..filters {
        for v in &mut w[f * per_filter..(f + 1) * per_filter] {
            *v *= gamma[f];
        }
        b[f] = bias.map_or(0.0, |b| b[f]) * gamma[f] + beta[f];
    }
    (w, b)
}

pub(super) fn pads(p: [usize; 2]) -> Vec<i64> {
    vec![p[0] as i64, p[1] as i64, p[0] as i64, p[1] as i64]
}

/// dlib's (and ONNX's floor-mode) output size: `1 + (n + 2p − k) / s`.
fn out_size(n: usize, k: usize, s: usize, p: usize) -> Result<usize, DlibError> {
    let padded = p
        .checked_mul(2)
        .and_then(|pp| pp.checked_add(n))
        .ok_or_else(|| DlibError::Unsupported(format!("padding {p} too large")))?;
    if k > padded || s == 0 {
        return Err(DlibError::Unsupported(format!(
            "window {k} larger than input {padded}"
        )));
    }
    Ok(1 + (padded - k) / s)
}
