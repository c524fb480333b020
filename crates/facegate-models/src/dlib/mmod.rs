//! `mmod_human_face_detector.dat` (dlib's CNN face detector,
//! `dnn_mmod_face_detection_ex.cpp`) → ONNX.
//!
//! The network is a plain chain: three stride-2 5×5 convolutions
//! (`con5d`, each with batch-norm folded to `affine` and `relu`), three
//! stride-1 5×5 convolutions (`rcon5`) and a 9×9 convolution to one score
//! map per detector window. It is fully convolutional, so the ONNX graph
//! takes any `H × W`.
//!
//! dlib does not run it on the image itself but on a *tiled pyramid*: the
//! image and its `pyramid_down<6>` downscalings packed into one canvas
//! (`input_rgb_image_pyramid`). Building that canvas, mapping score-map
//! positions back through the layers and the pyramid, and non-max
//! suppression are the decoder's job (`facegate_vision::dlib::{tiled_pyramid,
//! decode_mmod}`); [`MmodModel`] carries what it needs.

use super::DlibError;
use super::net::{Input, Layer, Loss, MmodOptions, parse_mmod_network};
use super::resnet::{fold_affine, pads};
use crate::onnx::proto::data_type;
use crate::onnx::{Attr, GraphBuilder};

/// Graph input: float32 `[N, 3, H, W]`, raw RGB `0..=255`, any `H`, `W`.
pub const MMOD_INPUT: &str = "input";
/// Graph output: float32 `[N, windows, H', W']` detection scores.
pub const MMOD_OUTPUT: &str = "scores";
/// The pyramid factor of `mmod_human_face_detector.dat`
/// (`input_rgb_image_pyramid<pyramid_down<6>>`, each level 5/6 of the
/// previous). It is a template parameter, so it is not in the file.
pub const MMOD_FACE_PYRAMID_DOWN: u32 = 6;

/// One spatial layer's geometry, bottom-up, for mapping score-map positions
/// back to input positions (dlib's `map_output_to_input`:
/// `p·stride − padding + kernel/2`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpatialLayer {
    pub kernel: [usize; 2],
    pub stride: [usize; 2],
    pub padding: [usize; 2],
}

/// A converted MMOD detector.
#[derive(Debug, Clone)]
pub struct MmodModel {
    /// The ONNX model ([`MMOD_INPUT`] → [`MMOD_OUTPUT`]).
    pub onnx: Vec<u8>,
    /// Detector windows and overlap tests from the loss layer.
    pub options: MmodOptions,
    /// Padding between pyramid levels in the tiled canvas.
    pub pyramid_padding: usize,
    /// Padding around the tiled canvas.
    pub pyramid_outer_padding: usize,
    /// Per-channel means (the graph subtracts them; kept for reference).
    pub mean_rgb: [f32; 3],
    /// The spatial layers, input first.
    pub layers: Vec<SpatialLayer>,
}

impl MmodModel {
    /// Map a score-map position `(x, y)` to input-canvas coordinates.
    pub fn output_to_input(&self, p: [f64; 2]) -> [f64; 2] {
        let mut p = p;
        for l in self.layers.iter().rev() {
            // Layer settings are [rows, cols]: x uses index 1, y index 0.
            for (v, axis) in p.iter_mut().zip([1, 0]) {
                *v = *v * l.stride[axis] as f64 - l.padding[axis] as f64
                    + (l.kernel[axis] / 2) as f64;
            }
        }
        p
    }
}

/// Convert dlib's MMOD CNN face detector to ONNX.
pub fn mmod_to_onnx(dat: &[u8]) -> Result<MmodModel, DlibError> {
    let net = parse_mmod_network(dat)?;
    let Loss::Mmod(options) = net.loss else {
        return Err(DlibError::Unsupported("not an MMOD network".into()));
    };
    let (avg, pyramid_padding, pyramid_outer_padding) = match net.input {
        Input::RgbPyramid {
            avg,
            pyramid_padding,
            pyramid_outer_padding,
        } => (avg, pyramid_padding, pyramid_outer_padding),
        other => {
            return Err(DlibError::Unsupported(format!(
                "input layer {other:?} for an MMOD network"
            )));
        }
    };
    let mut g = GraphBuilder::new("mmod_human_face_detector");
    g.input(MMOD_INPUT, data_type::FLOAT, &[None, Some(3), None, None]);
    let mean = g.initializer_f32("input_mean", &[1, 3, 1, 1], &avg);
    let scale = g.initializer_f32("input_scale", &[1], &[1.0 / 256.0]);
    let centred = g.op("Sub", &[MMOD_INPUT, &mean], vec![]);
    let mut cur = g.op("Mul", &[&centred, &scale], vec![]);
    let mut channels = 3usize;
    let mut spatial = Vec::new();
    let mut layers = net.layers.iter().peekable();
    while let Some(layer) = layers.next() {
        match layer {
            Layer::Conv {
                filters,
                in_channels,
                kernel,
                stride,
                padding,
                weights,
                bias,
            } => {
                if *in_channels != channels {
                    return Err(DlibError::Unsupported(format!(
                        "con of {in_channels} inputs on {channels} channels"
                    )));
                }
                let (w, b) = match layers.peek() {
                    Some(Layer::Affine {
                        gamma,
                        beta,
                        per_channel: true,
                    }) if gamma.len() == *filters => {
                        layers.next();
                        fold_affine(weights, bias.as_deref(), gamma, beta)
                    }
                    _ => (
                        weights.clone(),
                        bias.clone().unwrap_or_else(|| vec![0.0; *filters]),
                    ),
                };
                let wname = g.initializer_f32(
                    "conv_w",
                    &[
                        *filters as i64,
                        channels as i64,
                        kernel[0] as i64,
                        kernel[1] as i64,
                    ],
                    &w,
                );
                let bname = g.initializer_f32("conv_b", &[*filters as i64], &b);
                let attrs = vec![
                    (
                        "kernel_shape",
                        Attr::Ints(vec![kernel[0] as i64, kernel[1] as i64]),
                    ),
                    (
                        "strides",
                        Attr::Ints(vec![stride[0] as i64, stride[1] as i64]),
                    ),
                    ("pads", Attr::Ints(pads(*padding))),
                ];
                cur = if layers.peek().is_none() {
                    g.node("Conv", &[&cur, &wname, &bname], &[MMOD_OUTPUT], attrs)
                } else {
                    g.op("Conv", &[&cur, &wname, &bname], attrs)
                };
                channels = *filters;
                spatial.push(SpatialLayer {
                    kernel: *kernel,
                    stride: *stride,
                    padding: *padding,
                });
            }
            Layer::Relu => cur = g.op("Relu", &[&cur], vec![]),
            other => {
                return Err(DlibError::Unsupported(format!(
                    "MMOD layer {other:?} (only con, affine, relu chains)"
                )));
            }
        }
    }
    if channels != options.detector_windows.len() || spatial.is_empty() {
        return Err(DlibError::Unsupported(format!(
            "MMOD net ends in {channels} channels for {} windows",
            options.detector_windows.len()
        )));
    }
    if !matches!(net.layers.last(), Some(Layer::Conv { .. })) {
        return Err(DlibError::Unsupported(
            "MMOD net must end in a convolution".into(),
        ));
    }
    g.output(
        MMOD_OUTPUT,
        data_type::FLOAT,
        &[None, Some(channels as i64), None, None],
    );
    g.metadata("source", "mmod_human_face_detector.dat");
    g.metadata("pyramid_down", &MMOD_FACE_PYRAMID_DOWN.to_string());
    Ok(MmodModel {
        onnx: g.to_bytes(),
        options,
        pyramid_padding,
        pyramid_outer_padding,
        mean_rgb: avg,
        layers: spatial,
    })
}
