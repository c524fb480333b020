use super::proto::{
    AttributeProto, Dimension, DimensionValue, GraphProto, ModelProto, NodeProto,
    OperatorSetIdProto, StringStringEntryProto, TensorProto, TensorShapeProto, TypeProto,
    TypeProtoTensor, ValueInfoProto, attribute_type, data_type,
};
use prost::Message;

/// The default-domain opset every importer targets. 17 is supported by every
/// ONNX Runtime release from 1.13 on, and has all operators the importers need
/// (LayerNormalization is not used).
pub const OPSET_VERSION: i64 = 17;
const IR_VERSION: i64 = 8;

/// An attribute value for [`GraphBuilder::node`].
#[derive(Debug, Clone)]
pub enum Attr {
    Int(i64),
    Ints(Vec<i64>),
    Float(f32),
    Floats(Vec<f32>),
    String(String),
    Tensor(TensorProto),
}

/// Builds one ONNX graph node by node. Values are named by the caller or
/// given fresh unique names by [`GraphBuilder::fresh`].
#[derive(Debug, Default)]
pub struct GraphBuilder {
    graph: GraphProto,
    counter: usize,
    metadata: Vec<(String, String)>,
}

impl GraphBuilder {
    pub fn new(name: &str) -> Self {
        Self {
            graph: GraphProto {
                name: name.to_owned(),
                ..Default::default()
            },
            ..Default::default()
        }
    }

    /// A new unique value name starting with `hint`.
    pub fn fresh(&mut self, hint: &str) -> String {
        self.counter += 1;
        format!("{hint}__{}", self.counter)
    }

    /// Declare a float32 graph input. `None` in `shape` is a symbolic dimension.
    pub fn input(&mut self, name: &str, elem_type: i32, shape: &[Option<i64>]) {
        self.graph.input.push(value_info(name, elem_type, shape));
    }

    /// Declare a graph output.
    pub fn output(&mut self, name: &str, elem_type: i32, shape: &[Option<i64>]) {
        self.graph.output.push(value_info(name, elem_type, shape));
    }

    /// Add a float32 constant and return its name.
    pub fn initializer_f32(&mut self, hint: &str, dims: &[i64], values: &[f32]) -> String {
        debug_assert_eq!(dims.iter().product::<i64>() as usize, values.len());
        let name = self.fresh(hint);
        let raw = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.graph.initializer.push(TensorProto {
            name: name.clone(),
            dims: dims.to_vec(),
            data_type: data_type::FLOAT,
            raw_data: raw,
            ..Default::default()
        });
        name
    }

    /// Add an int64 constant (shapes, axes, slice bounds) and return its name.
    pub fn initializer_i64(&mut self, hint: &str, dims: &[i64], values: &[i64]) -> String {
        let name = self.fresh(hint);
        let raw = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.graph.initializer.push(TensorProto {
            name: name.clone(),
            dims: dims.to_vec(),
            data_type: data_type::INT64,
            raw_data: raw,
            ..Default::default()
        });
        name
    }

    /// Add a node; returns its first output name for chaining.
    pub fn node(
        &mut self,
        op_type: &str,
        inputs: &[&str],
        outputs: &[&str],
        attrs: Vec<(&str, Attr)>,
    ) -> String {
        let name = self.fresh(op_type);
        self.graph.node.push(NodeProto {
            input: inputs.iter().map(|s| (*s).to_owned()).collect(),
            output: outputs.iter().map(|s| (*s).to_owned()).collect(),
            name,
            op_type: op_type.to_owned(),
            attribute: attrs.into_iter().map(|(n, a)| attribute(n, a)).collect(),
            ..Default::default()
        });
        outputs.first().map(|s| (*s).to_owned()).unwrap_or_default()
    }

    /// Add a single-output node whose output gets a fresh name.
    pub fn op(&mut self, op_type: &str, inputs: &[&str], attrs: Vec<(&str, Attr)>) -> String {
        let out = self.fresh(op_type);
        self.node(op_type, inputs, &[&out], attrs)
    }

    /// Record a `metadata_props` entry (e.g. the source file's sha256).
    pub fn metadata(&mut self, key: &str, value: &str) {
        self.metadata.push((key.to_owned(), value.to_owned()));
    }

    pub fn finish(self) -> ModelProto {
        ModelProto {
            ir_version: IR_VERSION,
            producer_name: "facegate".into(),
            producer_version: env!("CARGO_PKG_VERSION").into(),
            graph: Some(self.graph),
            opset_import: vec![OperatorSetIdProto {
                domain: String::new(),
                version: OPSET_VERSION,
            }],
            metadata_props: self
                .metadata
                .into_iter()
                .map(|(key, value)| StringStringEntryProto { key, value })
                .collect(),
            ..Default::default()
        }
    }

    /// Serialise to the ONNX protobuf bytes ONNX Runtime loads.
    pub fn to_bytes(self) -> Vec<u8> {
        self.finish().encode_to_vec()
    }
}

fn value_info(name: &str, elem_type: i32, shape: &[Option<i64>]) -> ValueInfoProto {
    let dim = shape
        .iter()
        .enumerate()
        .map(|(i, d)| Dimension {
            value: Some(match d {
                Some(v) => DimensionValue::DimValue(*v),
                None => DimensionValue::DimParam(format!("{name}_dim{i}")),
            }),
        })
        .collect();
    ValueInfoProto {
        name: name.to_owned(),
        r#type: Some(TypeProto {
            tensor_type: Some(TypeProtoTensor {
                elem_type,
                shape: Some(TensorShapeProto { dim }),
            }),
        }),
    }
}

fn attribute(name: &str, value: Attr) -> AttributeProto {
    let mut a = AttributeProto {
        name: name.to_owned(),
        ..Default::default()
    };
    match value {
        Attr::Int(i) => {
            a.r#type = attribute_type::INT;
            a.i = i;
        }
        Attr::Ints(v) => {
            a.r#type = attribute_type::INTS;
            a.ints = v;
        }
        Attr::Float(f) => {
            a.r#type = attribute_type::FLOAT;
            a.f = f;
        }
        Attr::Floats(v) => {
            a.r#type = attribute_type::FLOATS;
            a.floats = v;
        }
        Attr::String(s) => {
            a.r#type = attribute_type::STRING;
            a.s = s.into_bytes();
        }
        Attr::Tensor(t) => {
            a.r#type = attribute_type::TENSOR;
            a.t = Some(t);
        }
    }
    a
}
