//! dlib DNN networks (`dlib/dnn/core.h`, `layers.h`, `input.h`, `loss.h`) read
//! into a flat, typed list of layers.
//!
//! A dlib network is a nested template type serialised from the loss layer
//! down: the loss's version and details come first, then each `add_layer`,
//! `add_tag_layer` and `add_skip_layer` writes its version number before
//! recursing into its sub-network, and only on the way back up does each
//! computational layer write its details (a version tag string and its
//! parameters) followed by bookkeeping (three bools and cached tensors). Tags
//! and skips write nothing but their version, so the stream holds the
//! computational layers bottom-up (input first), and the residual wiring must
//! be recovered by the converter from the layer pattern (see `resnet.rs`).

use super::DlibError;
use super::reader::{Reader, Tensor};

/// A computational layer, in the order data flows through it.
#[derive(Debug, Clone)]
pub enum Layer {
    /// `con_`: `weights` laid out `[filters, in_channels, nr, nc]`.
    Conv {
        filters: usize,
        in_channels: usize,
        kernel: [usize; 2],
        stride: [usize; 2],
        padding: [usize; 2],
        weights: Vec<f32>,
        bias: Option<Vec<f32>>,
    },
    /// `affine_` (or a `bn_con`/`bn_fc` folded into one, as dlib does when it
    /// loads a training net into an inference net): `x · gamma + beta`.
    /// `gamma`/`beta` hold one value per channel in conv mode, or one per
    /// element of a sample in fc mode.
    Affine {
        gamma: Vec<f32>,
        beta: Vec<f32>,
        per_channel: bool,
    },
    Relu,
    MaxPool(Pool),
    AvgPool(Pool),
    /// `add_prev_`: adds the output of an earlier (tagged) layer.
    AddPrev,
    /// `fc_`: `y = x · W (+ b)` with `weights` laid out `[inputs, outputs]`.
    Fc {
        inputs: usize,
        outputs: usize,
        weights: Vec<f32>,
        bias: Option<Vec<f32>>,
    },
}

/// Pooling window; a zero window means "the whole input" (global pooling).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pool {
    pub window: [usize; 2],
    pub stride: [usize; 2],
    pub padding: [usize; 2],
}

/// The network's input layer.
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    /// `input_rgb_image_sized<NR,NC>`: `(pixel − avg) / 256` per channel.
    RgbSized {
        avg: [f32; 3],
        rows: usize,
        cols: usize,
    },
    /// `input_rgb_image_pyramid<pyramid_down<N>>` (the MMOD detector):
    /// `(pixel − avg) / 256`, images tiled as a pyramid with the given
    /// paddings between and around the levels.
    RgbPyramid {
        avg: [f32; 3],
        pyramid_padding: usize,
        pyramid_outer_padding: usize,
    },
}

/// The network's loss layer (only what inference needs).
#[derive(Debug, Clone, PartialEq)]
pub enum Loss {
    /// `loss_metric_`: the output is the embedding.
    Metric {
        margin: f32,
        distance_threshold: f32,
    },
    /// `loss_mmod_`: sliding-window detection (see [`MmodOptions`]).
    Mmod(MmodOptions),
}

/// Box-overlap test (`test_box_overlap`): two boxes overlap when their IoU
/// exceeds `iou_thresh` or either covers more than `percent_covered_thresh`
/// of the other.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BoxOverlap {
    pub iou_thresh: f64,
    pub percent_covered_thresh: f64,
}

/// One sliding-window shape of an MMOD detector.
#[derive(Debug, Clone, PartialEq)]
pub struct DetectorWindow {
    pub width: u64,
    pub height: u64,
    pub label: String,
}

/// What inference needs from `mmod_options`.
#[derive(Debug, Clone, PartialEq)]
pub struct MmodOptions {
    pub detector_windows: Vec<DetectorWindow>,
    pub overlaps_nms: BoxOverlap,
    pub overlaps_ignore: BoxOverlap,
    pub truth_match_iou_threshold: f64,
    pub use_bounding_box_regression: bool,
}

/// A whole network: loss, input and the computational layers bottom-up.
#[derive(Debug, Clone)]
pub struct Network {
    pub loss: Loss,
    pub input: Input,
    pub layers: Vec<Layer>,
}

/// The largest version number any network wrapper writes (add_layer ≤ 3,
/// tags and skips 1). The input layer's tag string length is always larger.
const MAX_WRAPPER_VERSION: i64 = 3;

/// Parse a network whose loss layer is `loss_metric_`.
pub fn parse_metric_network(bytes: &[u8]) -> Result<Network, DlibError> {
    let mut r = Reader::new(bytes);
    r.expect_int(1, "add_loss_layer version")?;
    let at = r.offset();
    let loss = match r.string()?.as_str() {
        "loss_metric_" => Loss::Metric {
            margin: 0.04,
            distance_threshold: 0.6,
        },
        "loss_metric_2" => Loss::Metric {
            margin: r.f32()?,
            distance_threshold: r.f32()?,
        },
        other => {
            return Err(DlibError::Unsupported(format!(
                "loss layer {other:?} at offset {at} (expected loss_metric_)"
            )));
        }
    };
    let (input, layers) = parse_body(&mut r)?;
    r.finish()?;
    Ok(Network {
        loss,
        input,
        layers,
    })
}

/// Parse a network whose loss layer is `loss_mmod_` (dlib's CNN detectors).
pub fn parse_mmod_network(bytes: &[u8]) -> Result<Network, DlibError> {
    let mut r = Reader::new(bytes);
    r.expect_int(1, "add_loss_layer version")?;
    let at = r.offset();
    let tag = r.string()?;
    if tag != "loss_mmod_" {
        return Err(DlibError::Unsupported(format!(
            "loss layer {tag:?} at offset {at} (expected loss_mmod_)"
        )));
    }
    let loss = Loss::Mmod(parse_mmod_options(&mut r)?);
    let (input, layers) = parse_body(&mut r)?;
    r.finish()?;
    Ok(Network {
        loss,
        input,
        layers,
    })
}

fn parse_overlap(r: &mut Reader<'_>) -> Result<BoxOverlap, DlibError> {
    Ok(BoxOverlap {
        iou_thresh: r.f64()?,
        percent_covered_thresh: r.f64()?,
    })
}

/// `mmod_options`, versions 1 (one window: `mmod_human_face_detector.dat`)
/// to 4 (several labelled windows, pyramid flag, box regression).
fn parse_mmod_options(r: &mut Reader<'_>) -> Result<MmodOptions, DlibError> {
    let at = r.offset();
    let version = r.int()?;
    let detector_windows = match version {
        1 => {
            let width = r.size()? as u64;
            let height = r.size()? as u64;
            vec![DetectorWindow {
                width,
                height,
                label: String::new(),
            }]
        }
        2..=4 => r.vec(|r| {
            // detector_window_details: version, width, height, (v2+) label
            let v = r.int()?;
            let width = r.size()? as u64;
            let height = r.size()? as u64;
            let label = if v >= 2 { r.string()? } else { String::new() };
            Ok(DetectorWindow {
                width,
                height,
                label,
            })
        })?,
        v => {
            return Err(DlibError::malformed(
                at,
                format!("mmod_options version {v}"),
            ));
        }
    };
    r.f64()?; // loss_per_false_alarm
    r.f64()?; // loss_per_missed_target
    let truth_match_iou_threshold = r.f64()?;
    let overlaps_nms = parse_overlap(r)?;
    let overlaps_ignore = parse_overlap(r)?;
    let mut use_bounding_box_regression = false;
    if version >= 3 {
        r.byte()?; // assume_image_pyramid (a raw uint8_t)
    }
    if version >= 4 {
        use_bounding_box_regression = r.bool()?;
        r.f64()?; // bbr_lambda
    }
    if detector_windows.is_empty() {
        return Err(DlibError::malformed(at, "MMOD detector without windows"));
    }
    Ok(MmodOptions {
        detector_windows,
        overlaps_nms,
        overlaps_ignore,
        truth_match_iou_threshold,
        use_bounding_box_regression,
    })
}

/// Parse everything after the loss layer's own details.
pub(crate) fn parse_body(r: &mut Reader<'_>) -> Result<(Input, Vec<Layer>), DlibError> {
    // Wrapper versions, top-down, until the input layer's tag string.
    let mut last_version = None;
    loop {
        let before = r.clone();
        let v = r.int()?;
        if v > MAX_WRAPPER_VERSION {
            *r = before;
            break;
        }
        if v < 1 {
            return Err(DlibError::malformed(
                before.offset(),
                format!("layer version {v}"),
            ));
        }
        last_version = Some(v);
    }
    // The add_layer directly above the input writes 2 or 3 (3 adds the sample
    // expansion factor at the end of its bookkeeping).
    let bottom_version =
        last_version.ok_or_else(|| DlibError::malformed(r.offset(), "network has no layers"))?;
    if !(2..=3).contains(&bottom_version) {
        return Err(DlibError::malformed(
            r.offset(),
            format!("bottom add_layer version {bottom_version}"),
        ));
    }
    let input = parse_input(r)?;
    let mut layers = Vec::new();
    while r.remaining() > 0 {
        layers.push(parse_layer(r)?);
        skip_bookkeeping(
            r,
            if layers.len() == 1 {
                Some(bottom_version)
            } else {
                None
            },
        )?;
    }
    Ok((input, layers))
}

fn parse_input(r: &mut Reader<'_>) -> Result<Input, DlibError> {
    let at = r.offset();
    match r.string()?.as_str() {
        "input_rgb_image_sized" => {
            let avg = [r.f32()?, r.f32()?, r.f32()?];
            let rows = r.size()?;
            let cols = r.size()?;
            Ok(Input::RgbSized { avg, rows, cols })
        }
        // Version 1 stores only the means; dlib then uses its default
        // paddings (10 between levels, 11 around the tiling).
        "input_rgb_image_pyramid" => {
            let avg = [r.f32()?, r.f32()?, r.f32()?];
            Ok(Input::RgbPyramid {
                avg,
                pyramid_padding: 10,
                pyramid_outer_padding: 11,
            })
        }
        "input_rgb_image_pyramid2" => {
            let avg = [r.f32()?, r.f32()?, r.f32()?];
            let pyramid_padding = r.size()?;
            let pyramid_outer_padding = r.size()?;
            Ok(Input::RgbPyramid {
                avg,
                pyramid_padding,
                pyramid_outer_padding,
            })
        }
        other => Err(DlibError::Unsupported(format!(
            "input layer {other:?} at offset {at}"
        ))),
    }
}

/// `add_layer`'s own fields after the layer details: three bools, `x_grad`,
/// `cached_output`, then `params_grad` (add_layer version 2) — or, for the
/// layer on top of the input, `grad_final` and (version 3) the sample
/// expansion factor. Inference needs none of it.
fn skip_bookkeeping(r: &mut Reader<'_>, bottom_version: Option<i64>) -> Result<(), DlibError> {
    for _ in 0..3 {
        r.bool()?;
    }
    r.tensor()?;
    r.tensor()?;
    match bottom_version {
        Some(v) => {
            r.tensor()?;
            if v >= 3 {
                r.size()?;
            }
        }
        None => {
            // Version-1 add_layers have no params_grad; a tensor starts with
            // its version 2 (bytes 01 02), a layer tag with its length (≥ 4).
            if r.peek() == Some(0x01) && r.peek_at(1) == Some(0x02) {
                r.tensor()?;
            }
        }
    }
    Ok(())
}

fn parse_layer(r: &mut Reader<'_>) -> Result<Layer, DlibError> {
    let at = r.offset();
    let tag = r.string()?;
    match tag.as_str() {
        "con_4" | "con_5" => parse_conv(r, at, tag == "con_5"),
        "affine_" => parse_affine(r, at),
        "bn_con2" | "bn_fc2" => parse_bn(r, at, tag == "bn_con2"),
        "relu_" => Ok(Layer::Relu),
        "add_prev_" => Ok(Layer::AddPrev),
        "max_pool_2" => Ok(Layer::MaxPool(parse_pool(r)?)),
        "avg_pool_2" => Ok(Layer::AvgPool(parse_pool(r)?)),
        "fc_2" | "fc_3" => parse_fc(r, at, tag == "fc_3"),
        other => Err(DlibError::Unsupported(format!(
            "layer {other:?} at offset {at}"
        ))),
    }
}

fn parse_conv(r: &mut Reader<'_>, at: usize, has_use_bias: bool) -> Result<Layer, DlibError> {
    let params = r.tensor()?;
    let filters = r.size()?;
    let kernel = [r.size()?, r.size()?];
    let stride = [r.size()?, r.size()?];
    let padding = [r.size()?, r.size()?];
    let fshape = r.alias_tensor()?;
    let bshape = r.alias_tensor()?;
    for _ in 0..4 {
        r.f64()?; // learning-rate and weight-decay multipliers
    }
    let use_bias = if has_use_bias { r.bool()? } else { true };
    if fshape[0] != filters || fshape[2] != kernel[0] || fshape[3] != kernel[1] {
        return Err(DlibError::malformed(
            at,
            format!("con_ filter shape {fshape:?} disagrees with its settings"),
        ));
    }
    if stride.contains(&0) {
        return Err(DlibError::malformed(at, "con_ stride 0"));
    }
    let wlen = shape_len(&fshape);
    let blen = if use_bias { shape_len(&bshape) } else { 0 };
    if use_bias && blen != filters {
        return Err(DlibError::malformed(
            at,
            format!("con_ bias shape {bshape:?} for {filters} filters"),
        ));
    }
    let (weights, bias) = split_params(&params, wlen, blen, at, "con_")?;
    Ok(Layer::Conv {
        filters,
        in_channels: fshape[1],
        kernel,
        stride,
        padding,
        weights,
        bias: use_bias.then_some(bias),
    })
}

fn parse_affine(r: &mut Reader<'_>, at: usize) -> Result<Layer, DlibError> {
    let params = r.tensor()?;
    let gshape = r.alias_tensor()?;
    let bshape = r.alias_tensor()?;
    // Newer dlib appends the layer mode (0 conv, 1 fc); older files end here
    // and the bookkeeping's first bool ('0'/'1') follows directly.
    let per_channel = match r.peek() {
        Some(b'0') | Some(b'1') => gshape[2].saturating_mul(gshape[3]) == 1,
        _ => r.int()? == 0,
    };
    let n = shape_len(&gshape);
    if shape_len(&bshape) != n {
        return Err(DlibError::malformed(
            at,
            "affine_ gamma and beta differ in size",
        ));
    }
    let (gamma, beta) = split_params(&params, n, n, at, "affine_")?;
    Ok(Layer::Affine {
        gamma,
        beta,
        per_channel,
    })
}

/// A batch-norm layer, folded into the affine transform dlib itself uses at
/// inference: `gamma / sqrt(running_var + eps)` and `beta − g · running_mean`.
fn parse_bn(r: &mut Reader<'_>, at: usize, per_channel: bool) -> Result<Layer, DlibError> {
    let params = r.tensor()?;
    let gshape = r.alias_tensor()?;
    let _beta_shape = r.alias_tensor()?;
    let _means = r.tensor()?;
    let _invstds = r.tensor()?;
    let running_means = r.tensor()?;
    let running_vars = r.tensor()?;
    r.size()?; // num_updates
    r.size()?; // running_stats_window_size
    for _ in 0..4 {
        r.f64()?;
    }
    let eps = r.f64()?;
    let n = shape_len(&gshape);
    if running_means.data.len() != n || running_vars.data.len() != n {
        return Err(DlibError::malformed(
            at,
            "bn_ running statistics size mismatch",
        ));
    }
    let (g0, b0) = split_params(&params, n, n, at, "bn_")?;
    let mut gamma = Vec::with_capacity(n);
    let mut beta = Vec::with_capacity(n);
    for i in 0..n {
        let g = g0[i] / (running_vars.data[i] + eps as f32).sqrt();
        gamma.push(g);
        beta.push(b0[i] - g * running_means.data[i]);
    }
    Ok(Layer::Affine {
        gamma,
        beta,
        per_channel,
    })
}

fn parse_pool(r: &mut Reader<'_>) -> Result<Pool, DlibError> {
    let at = r.offset();
    let window = [r.size()?, r.size()?];
    let stride = [r.size()?, r.size()?];
    let padding = [r.size()?, r.size()?];
    if stride.contains(&0) {
        return Err(DlibError::malformed(at, "pooling stride 0"));
    }
    Ok(Pool {
        window,
        stride,
        padding,
    })
}

fn parse_fc(r: &mut Reader<'_>, at: usize, has_use_bias: bool) -> Result<Layer, DlibError> {
    let outputs = r.size()?;
    let inputs = r.size()?;
    let params = r.tensor()?;
    let wshape = r.alias_tensor()?;
    let bshape = r.alias_tensor()?;
    let bias_mode = r.int()?; // 0: FC_HAS_BIAS, 1: FC_NO_BIAS
    for _ in 0..4 {
        r.f64()?;
    }
    let use_bias_flag = if has_use_bias { r.bool()? } else { true };
    let use_bias = use_bias_flag && bias_mode == 0;
    let wlen = inputs
        .checked_mul(outputs)
        .ok_or_else(|| DlibError::malformed(at, format!("fc_ of {inputs}×{outputs} overflows")))?;
    if shape_len(&wshape) != wlen {
        return Err(DlibError::malformed(
            at,
            format!("fc_ weight shape {wshape:?} for {inputs}→{outputs}"),
        ));
    }
    let blen = if use_bias { shape_len(&bshape) } else { 0 };
    if use_bias && blen != outputs {
        return Err(DlibError::malformed(
            at,
            format!("fc_ bias shape {bshape:?} for {outputs} outputs"),
        ));
    }
    let (weights, bias) = split_params(&params, wlen, blen, at, "fc_")?;
    Ok(Layer::Fc {
        inputs,
        outputs,
        weights,
        bias: use_bias.then_some(bias),
    })
}

/// Element count of a 4-d shape; saturates (then fails the size checks)
/// instead of overflowing on hostile input.
fn shape_len(shape: &[usize; 4]) -> usize {
    shape.iter().fold(1usize, |acc, d| acc.saturating_mul(*d))
}

/// Split a layer's parameter tensor into its two aliased parts.
fn split_params(
    params: &Tensor,
    first: usize,
    second: usize,
    at: usize,
    what: &str,
) -> Result<(Vec<f32>, Vec<f32>), DlibError> {
    let total = first.saturating_add(second);
    if params.data.len() < total {
        return Err(DlibError::malformed(
            at,
            format!("{what} has {} parameters, needs {total}", params.data.len()),
        ));
    }
    Ok((
        params.data[..first].to_vec(),
        params.data[first..total].to_vec(),
    ))
}
