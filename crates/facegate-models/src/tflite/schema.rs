//! The parts of the TFLite schema (`tensorflow/lite/schema/schema.fbs`) the
//! importer reads, decoded into plain structs.
//!
//! Field indices are the declaration order in `schema.fbs` (a union occupies
//! two slots: its type tag, then its value), which is what the vtable indexes.

use super::TfliteError;
use super::reader::{Buf, Table};

/// The four-byte FlatBuffers file identifier of TFLite models.
pub(crate) const FILE_IDENTIFIER: &[u8; 4] = b"TFL3";

/// `BuiltinOperator` names, indexed by code. The schema only ever appends, so
/// codes past the end of this table are reported as `UNKNOWN`.
const BUILTIN_NAMES: &[&str] = &[
    "ADD",
    "AVERAGE_POOL_2D",
    "CONCATENATION",
    "CONV_2D",
    "DEPTHWISE_CONV_2D",
    "DEPTH_TO_SPACE",
    "DEQUANTIZE",
    "EMBEDDING_LOOKUP",
    "FLOOR",
    "FULLY_CONNECTED",
    "HASHTABLE_LOOKUP",
    "L2_NORMALIZATION",
    "L2_POOL_2D",
    "LOCAL_RESPONSE_NORMALIZATION",
    "LOGISTIC",
    "LSH_PROJECTION",
    "LSTM",
    "MAX_POOL_2D",
    "MUL",
    "RELU",
    "RELU_N1_TO_1",
    "RELU6",
    "RESHAPE",
    "RESIZE_BILINEAR",
    "RNN",
    "SOFTMAX",
    "SPACE_TO_DEPTH",
    "SVDF",
    "TANH",
    "CONCAT_EMBEDDINGS",
    "SKIP_GRAM",
    "CALL",
    "CUSTOM",
    "EMBEDDING_LOOKUP_SPARSE",
    "PAD",
    "UNIDIRECTIONAL_SEQUENCE_RNN",
    "GATHER",
    "BATCH_TO_SPACE_ND",
    "SPACE_TO_BATCH_ND",
    "TRANSPOSE",
    "MEAN",
    "SUB",
    "DIV",
    "SQUEEZE",
    "UNIDIRECTIONAL_SEQUENCE_LSTM",
    "STRIDED_SLICE",
    "BIDIRECTIONAL_SEQUENCE_RNN",
    "EXP",
    "TOPK_V2",
    "SPLIT",
    "LOG_SOFTMAX",
    "DELEGATE",
    "BIDIRECTIONAL_SEQUENCE_LSTM",
    "CAST",
    "PRELU",
    "MAXIMUM",
    "ARG_MAX",
    "MINIMUM",
    "LESS",
    "NEG",
    "PADV2",
    "GREATER",
    "GREATER_EQUAL",
    "LESS_EQUAL",
    "SELECT",
    "SLICE",
    "SIN",
    "TRANSPOSE_CONV",
    "SPARSE_TO_DENSE",
    "TILE",
    "EXPAND_DIMS",
    "EQUAL",
    "NOT_EQUAL",
    "LOG",
    "SUM",
    "SQRT",
    "RSQRT",
    "SHAPE",
    "POW",
    "ARG_MIN",
    "FAKE_QUANT",
    "REDUCE_PROD",
    "REDUCE_MAX",
    "PACK",
    "LOGICAL_OR",
    "ONE_HOT",
    "LOGICAL_AND",
    "LOGICAL_NOT",
    "UNPACK",
    "REDUCE_MIN",
    "FLOOR_DIV",
    "REDUCE_ANY",
    "SQUARE",
    "ZEROS_LIKE",
    "FILL",
    "FLOOR_MOD",
    "RANGE",
    "RESIZE_NEAREST_NEIGHBOR",
    "LEAKY_RELU",
    "SQUARED_DIFFERENCE",
    "MIRROR_PAD",
    "ABS",
    "SPLIT_V",
    "UNIQUE",
    "CEIL",
    "REVERSE_V2",
    "ADD_N",
    "GATHER_ND",
    "COS",
    "WHERE",
    "RANK",
    "ELU",
    "REVERSE_SEQUENCE",
    "MATRIX_DIAG",
    "QUANTIZE",
    "MATRIX_SET_DIAG",
    "ROUND",
    "HARD_SWISH",
    "IF",
    "WHILE",
    "NON_MAX_SUPPRESSION_V4",
    "NON_MAX_SUPPRESSION_V5",
    "SCATTER_ND",
    "SELECT_V2",
    "DENSIFY",
    "SEGMENT_SUM",
    "BATCH_MATMUL",
    "PLACEHOLDER_FOR_GREATER_OP_CODES",
    "CUMSUM",
    "CALL_ONCE",
    "BROADCAST_TO",
    "RFFT2D",
    "CONV_3D",
    "IMAG",
    "REAL",
    "COMPLEX_ABS",
    "HASHTABLE",
    "HASHTABLE_FIND",
    "HASHTABLE_IMPORT",
    "HASHTABLE_SIZE",
    "REDUCE_ALL",
    "CONV_3D_TRANSPOSE",
    "VAR_HANDLE",
    "READ_VARIABLE",
    "ASSIGN_VARIABLE",
    "BROADCAST_ARGS",
    "RANDOM_STANDARD_NORMAL",
    "BUCKETIZE",
    "RANDOM_UNIFORM",
    "MULTINOMIAL",
    "GELU",
    "DYNAMIC_UPDATE_SLICE",
    "RELU_0_TO_1",
    "UNSORTED_SEGMENT_PROD",
    "UNSORTED_SEGMENT_MAX",
    "UNSORTED_SEGMENT_SUM",
    "ATAN2",
    "UNSORTED_SEGMENT_MIN",
    "SIGN",
    "BITCAST",
    "BITWISE_XOR",
    "RIGHT_SHIFT",
    "STABLEHLO_LOGISTIC",
    "STABLEHLO_ADD",
    "STABLEHLO_DIVIDE",
    "STABLEHLO_MULTIPLY",
    "STABLEHLO_MAXIMUM",
    "STABLEHLO_RESHAPE",
    "STABLEHLO_CLAMP",
    "STABLEHLO_CONCATENATE",
    "STABLEHLO_BROADCAST_IN_DIM",
    "STABLEHLO_CONVOLUTION",
    "STABLEHLO_SLICE",
    "STABLEHLO_CUSTOM_CALL",
    "STABLEHLO_REDUCE",
    "STABLEHLO_ABS",
    "STABLEHLO_AND",
    "STABLEHLO_COSINE",
    "STABLEHLO_EXPONENTIAL",
    "STABLEHLO_FLOOR",
    "STABLEHLO_LOG",
    "STABLEHLO_MINIMUM",
    "STABLEHLO_NEGATE",
    "STABLEHLO_OR",
    "STABLEHLO_POWER",
    "STABLEHLO_REMAINDER",
    "STABLEHLO_RSQRT",
    "STABLEHLO_SELECT",
    "STABLEHLO_SUBTRACT",
    "STABLEHLO_TANH",
    "STABLEHLO_SCATTER",
    "STABLEHLO_COMPARE",
    "STABLEHLO_CONVERT",
    "STABLEHLO_DYNAMIC_SLICE",
    "STABLEHLO_DYNAMIC_UPDATE_SLICE",
    "STABLEHLO_PAD",
    "STABLEHLO_IOTA",
    "STABLEHLO_DOT_GENERAL",
    "STABLEHLO_REDUCE_WINDOW",
    "STABLEHLO_SORT",
    "STABLEHLO_WHILE",
    "STABLEHLO_GATHER",
    "STABLEHLO_TRANSPOSE",
    "DILATE",
    "STABLEHLO_RNG_BIT_GENERATOR",
    "REDUCE_WINDOW",
    "STABLEHLO_COMPOSITE",
    "STABLEHLO_SHIFT_LEFT",
    "STABLEHLO_CBRT",
    "STABLEHLO_CASE",
];

/// The schema name of a builtin operator code.
pub fn builtin_name(code: i32) -> &'static str {
    usize::try_from(code)
        .ok()
        .and_then(|c| BUILTIN_NAMES.get(c))
        .copied()
        .unwrap_or("UNKNOWN")
}

/// `TensorType` values the importer knows by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TensorType {
    Float32,
    Float16,
    Int32,
    UInt8,
    Int64,
    Bool,
    Int16,
    Int8,
    Float64,
    /// Any other type (strings, complex, 4-bit, resources...), kept by code.
    Other(i8),
}

impl TensorType {
    fn from_code(code: i8) -> Self {
        match code {
            0 => Self::Float32,
            1 => Self::Float16,
            2 => Self::Int32,
            3 => Self::UInt8,
            4 => Self::Int64,
            6 => Self::Bool,
            7 => Self::Int16,
            9 => Self::Int8,
            10 => Self::Float64,
            other => Self::Other(other),
        }
    }

    /// Schema spelling, for messages and summaries.
    pub fn name(&self) -> String {
        match self {
            Self::Float32 => "FLOAT32".into(),
            Self::Float16 => "FLOAT16".into(),
            Self::Int32 => "INT32".into(),
            Self::UInt8 => "UINT8".into(),
            Self::Int64 => "INT64".into(),
            Self::Bool => "BOOL".into(),
            Self::Int16 => "INT16".into(),
            Self::Int8 => "INT8".into(),
            Self::Float64 => "FLOAT64".into(),
            Self::Other(c) => format!("TensorType({c})"),
        }
    }
}

/// Affine quantisation of a tensor (`real = scale * (q - zero_point)`).
#[derive(Debug, Clone, Default)]
pub(crate) struct Quantization {
    pub scale: Vec<f32>,
    pub zero_point: Vec<i64>,
    pub quantized_dimension: i32,
}

#[derive(Debug, Clone)]
pub(crate) struct Tensor {
    pub name: String,
    pub shape: Vec<i32>,
    /// Shape with `-1` for dimensions fixed only at `ResizeInputTensor` time.
    pub shape_signature: Option<Vec<i32>>,
    pub ty: TensorType,
    pub buffer: u32,
    pub quantization: Option<Quantization>,
    pub sparse: bool,
    /// Index into the model's external buffers (weights kept outside the
    /// file); 0 when the data is in `buffer`.
    pub external_buffer: u32,
}

#[derive(Clone)]
pub(crate) struct Operator<'a> {
    pub opcode_index: u32,
    pub inputs: Vec<i32>,
    pub outputs: Vec<i32>,
    /// The `builtin_options` union value; its type follows from the opcode.
    pub options: Option<Table<'a>>,
}

#[derive(Debug, Clone)]
pub(crate) struct OperatorCode {
    pub builtin: i32,
    pub custom_code: Option<String>,
}

pub(crate) struct SubGraph<'a> {
    pub tensors: Vec<Tensor>,
    pub inputs: Vec<i32>,
    pub outputs: Vec<i32>,
    pub operators: Vec<Operator<'a>>,
}

pub(crate) struct Model<'a> {
    pub version: u32,
    pub description: Option<String>,
    pub operator_codes: Vec<OperatorCode>,
    pub subgraphs: Vec<SubGraph<'a>>,
    /// Raw bytes of each buffer (empty for activations).
    pub buffers: Vec<&'a [u8]>,
}

impl<'a> Model<'a> {
    pub(crate) fn parse(bytes: &'a [u8]) -> Result<Self, TfliteError> {
        if bytes.len() < 8 {
            return Err(TfliteError::NotTflite(format!(
                "only {} bytes",
                bytes.len()
            )));
        }
        if &bytes[4..8] != FILE_IDENTIFIER {
            return Err(TfliteError::NotTflite(
                "missing the TFL3 file identifier".into(),
            ));
        }
        let buf = Buf::new(bytes);
        let root = buf.root()?;
        let version = root.u32(0, 0)?;
        let operator_codes = root
            .tables(1, "operator_codes")?
            .iter()
            .map(|t| {
                // Codes above 127 only fit the newer int32 field; older files
                // only have the deprecated int8 one. The real code is the larger.
                let deprecated = i32::from(t.i8(0, 0)?);
                let builtin = t.i32(3, 0)?;
                Ok(OperatorCode {
                    builtin: deprecated.max(builtin),
                    custom_code: t.string(1, "custom_code")?,
                })
            })
            .collect::<Result<Vec<_>, TfliteError>>()?;
        let subgraphs = root
            .tables(2, "subgraphs")?
            .iter()
            .map(parse_subgraph)
            .collect::<Result<Vec<_>, _>>()?;
        let description = root.string(3, "description")?;
        let buffers = root
            .tables(4, "buffers")?
            .iter()
            .map(|t| parse_buffer(&buf, t))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            version,
            description,
            operator_codes,
            subgraphs,
            buffers,
        })
    }
}

fn parse_buffer<'a>(buf: &Buf<'a>, t: &Table<'a>) -> Result<&'a [u8], TfliteError> {
    if let Some(v) = t.vector(0, 1, "buffer data")? {
        return Ok(v.bytes());
    }
    // Models over 2 GB keep weights after the flatbuffer, addressed by absolute
    // offset and size; 0 and 1 are the writer's "no data" markers.
    let offset = t.u64(1, 0)?;
    let size = t.u64(2, 0)?;
    if offset > 1 {
        let (o, s) = (usize::try_from(offset), usize::try_from(size));
        return match (o, s) {
            (Ok(o), Ok(s)) => buf.slice(o, s, "external buffer"),
            _ => Err(TfliteError::Malformed {
                what: "external buffer".into(),
                offset: t.pos(),
            }),
        };
    }
    Ok(&[])
}

fn parse_subgraph<'a>(t: &Table<'a>) -> Result<SubGraph<'a>, TfliteError> {
    let tensors = t
        .tables(0, "tensors")?
        .iter()
        .map(parse_tensor)
        .collect::<Result<Vec<_>, _>>()?;
    let inputs = t.i32s(1, "subgraph inputs")?.unwrap_or_default();
    let outputs = t.i32s(2, "subgraph outputs")?.unwrap_or_default();
    let operators = t
        .tables(3, "operators")?
        .iter()
        .map(|o| {
            Ok(Operator {
                opcode_index: o.u32(0, 0)?,
                inputs: o.i32s(1, "operator inputs")?.unwrap_or_default(),
                outputs: o.i32s(2, "operator outputs")?.unwrap_or_default(),
                options: o.table(4, "builtin_options")?,
            })
        })
        .collect::<Result<Vec<_>, TfliteError>>()?;
    Ok(SubGraph {
        tensors,
        inputs,
        outputs,
        operators,
    })
}

fn parse_tensor(t: &Table<'_>) -> Result<Tensor, TfliteError> {
    let quantization = match t.table(4, "quantization")? {
        Some(q) => Some(Quantization {
            scale: q.f32s(2, "quantization scale")?.unwrap_or_default(),
            zero_point: q.i64s(3, "quantization zero_point")?.unwrap_or_default(),
            quantized_dimension: q.i32(6, 0)?,
        }),
        None => None,
    };
    Ok(Tensor {
        name: t.string(3, "tensor name")?.unwrap_or_default(),
        shape: t.i32s(0, "tensor shape")?.unwrap_or_default(),
        shape_signature: t.i32s(7, "tensor shape_signature")?,
        ty: TensorType::from_code(t.i8(1, 0)?),
        buffer: t.u32(2, 0)?,
        quantization,
        sparse: t.table(6, "sparsity")?.is_some(),
        external_buffer: t.u32(10, 0)?,
    })
}

/// `Padding` enum.
pub(crate) const PADDING_SAME: i8 = 0;
pub(crate) const PADDING_VALID: i8 = 1;

/// Builtin-options field indices, per options table in `schema.fbs`.
pub(crate) mod field {
    pub mod conv2d {
        pub const PADDING: usize = 0;
        pub const STRIDE_W: usize = 1;
        pub const STRIDE_H: usize = 2;
        pub const ACTIVATION: usize = 3;
        pub const DILATION_W: usize = 4;
        pub const DILATION_H: usize = 5;
    }
    pub mod depthwise {
        pub const PADDING: usize = 0;
        pub const STRIDE_W: usize = 1;
        pub const STRIDE_H: usize = 2;
        pub const ACTIVATION: usize = 4;
        pub const DILATION_W: usize = 5;
        pub const DILATION_H: usize = 6;
    }
    pub mod pool2d {
        pub const PADDING: usize = 0;
        pub const STRIDE_W: usize = 1;
        pub const STRIDE_H: usize = 2;
        pub const FILTER_W: usize = 3;
        pub const FILTER_H: usize = 4;
        pub const ACTIVATION: usize = 5;
    }
    pub mod fully_connected {
        pub const ACTIVATION: usize = 0;
        pub const WEIGHTS_FORMAT: usize = 1;
        pub const KEEP_NUM_DIMS: usize = 2;
    }
    pub mod concatenation {
        pub const AXIS: usize = 0;
        pub const ACTIVATION: usize = 1;
    }
    /// Add, Sub, Mul and Div options all start with the activation.
    pub mod arithmetic {
        pub const ACTIVATION: usize = 0;
    }
    pub mod reshape {
        pub const NEW_SHAPE: usize = 0;
    }
    pub mod strided_slice {
        pub const BEGIN_MASK: usize = 0;
        pub const END_MASK: usize = 1;
        pub const ELLIPSIS_MASK: usize = 2;
        pub const NEW_AXIS_MASK: usize = 3;
        pub const SHRINK_AXIS_MASK: usize = 4;
        pub const OFFSET: usize = 5;
    }
    pub mod leaky_relu {
        pub const ALPHA: usize = 0;
    }
    pub mod reducer {
        pub const KEEP_DIMS: usize = 0;
    }
}
