//! Graph-level conversion: tensor bookkeeping and the NHWC/NCHW layout
//! tracking that lets the per-operator code in `ops.rs` stay short.
//!
//! Layout strategy: a TFLite activation may exist in the ONNX graph in its
//! native (TFLite) layout, in NCHW (rank-4 only), or both. Convolutions and
//! pools produce NCHW; layout-agnostic operators (element-wise, activations,
//! casts) keep whatever form their input has; layout-sensitive ones (RESHAPE,
//! STRIDED_SLICE, FULLY_CONNECTED...) ask for the native form. Each form is
//! materialised at most once, so a chain of convolutions pays no transposes,
//! and graph outputs are always native, so callers see TFLite's shapes.

use std::collections::{HashMap, HashSet};

use sha2::{Digest, Sha256};

use super::schema::{Model, Operator, SubGraph, Tensor, TensorType, builtin_name};
use super::tensor::{Const, ConstData};
use super::{ConvertOptions, SUPPORTED_OPERATORS, TfliteError};
use crate::onnx::proto::data_type;
use crate::onnx::{Attr, GraphBuilder};

/// NHWC -> NCHW and back.
pub(crate) const TO_NCHW: [usize; 4] = [0, 3, 1, 2];
pub(crate) const TO_NHWC: [usize; 4] = [0, 2, 3, 1];
/// Where an NHWC axis ends up in NCHW.
pub(crate) const NHWC_AXIS_IN_NCHW: [usize; 4] = [0, 2, 3, 1];

#[derive(Debug, Clone, Default)]
pub(crate) struct Dyn {
    pub native: Option<String>,
    pub nchw: Option<String>,
}

#[derive(Debug, Clone)]
pub(crate) enum Val {
    /// Not produced (yet): a graph that reads it is malformed.
    Missing,
    Const(Const),
    /// A buffer that could not be decoded; an error only if something reads it.
    BadConst(String),
    Dyn(Dyn),
}

pub(crate) struct Converter<'m> {
    pub g: GraphBuilder,
    pub sg: &'m SubGraph<'m>,
    pub vals: Vec<Val>,
    /// Initializers already emitted for constants: (tensor, in NCHW?) -> name.
    const_names: HashMap<(usize, bool), String>,
    io_names: HashSet<String>,
    /// Whether the tensor shapes recorded in the file hold at run time. When
    /// not (dynamic inputs), SAME padding is left to ONNX's `auto_pad`.
    pub static_shapes: bool,
    /// The declared batch size when it is made symbolic
    /// ([`ConvertOptions::dynamic_batch`]); spatial shapes stay static.
    pub dynamic_batch: Option<i64>,
    /// The operator being converted, for error messages.
    pub cur_op: &'static str,
    pub cur_index: usize,
}

/// The ONNX element type of a TFLite tensor type.
pub(crate) fn onnx_type(ty: TensorType) -> Option<i32> {
    Some(match ty {
        TensorType::Float32 => data_type::FLOAT,
        TensorType::Float16 => data_type::FLOAT16,
        TensorType::Int32 => data_type::INT32,
        TensorType::Int64 => data_type::INT64,
        TensorType::UInt8 => data_type::UINT8,
        TensorType::Int8 => data_type::INT8,
        TensorType::Bool => data_type::BOOL,
        _ => return None,
    })
}

/// The operator's schema name, or `Err(UnsupportedOperator)` naming it.
pub(crate) fn check_operator(
    model: &Model<'_>,
    op: &Operator<'_>,
    index: usize,
) -> Result<&'static str, TfliteError> {
    let code = model
        .operator_codes
        .get(op.opcode_index as usize)
        .ok_or_else(|| {
            TfliteError::Invalid(format!(
                "operator #{index}: opcode index {} out of range",
                op.opcode_index
            ))
        })?;
    let name = builtin_name(code.builtin);
    if !SUPPORTED_OPERATORS.contains(&name) {
        return Err(TfliteError::UnsupportedOperator {
            op: name,
            custom: code.custom_code.clone(),
            index,
        });
    }
    Ok(name)
}

pub(crate) fn convert_model(
    bytes: &[u8],
    options: &ConvertOptions,
) -> Result<Vec<u8>, TfliteError> {
    let model = Model::parse(bytes)?;
    let sg = model
        .subgraphs
        .first()
        .ok_or_else(|| TfliteError::Invalid("the model has no subgraph".into()))?;
    // Refuse unsupported operators before anything else, so the error names
    // the operator rather than some consequence of it.
    for (i, op) in sg.operators.iter().enumerate() {
        check_operator(&model, op, i)?;
    }

    let mut c = Converter::new(&model, sg, options)?;
    for (i, op) in sg.operators.iter().enumerate() {
        c.cur_op = check_operator(&model, op, i)?;
        c.cur_index = i;
        c.convert_op(op)?;
    }
    c.finish_outputs()?;

    let mut g = c.g;
    g.metadata("converted_from", "tflite");
    g.metadata("tflite_sha256", &hex::encode(Sha256::digest(bytes)));
    if let Some(d) = model.description.as_deref().filter(|d| !d.is_empty()) {
        g.metadata("tflite_description", d);
    }
    // TFLite spells PReLU as relu(x) + c·(x − |x|). Folding that into ONNX
    // `PRelu` was tried and measured: 30% faster on ONNX Runtime 1.20, but
    // 1.7× slower on the pinned 1.31.1, whose PRelu kernel is slow; so the
    // five element-wise operators stay.
    Ok(g.to_bytes())
}

impl<'m> Converter<'m> {
    fn new(
        model: &'m Model<'m>,
        sg: &'m SubGraph<'m>,
        options: &ConvertOptions,
    ) -> Result<Self, TfliteError> {
        let vals = sg
            .tensors
            .iter()
            .map(|t| {
                if t.external_buffer != 0 {
                    return Val::BadConst(format!(
                        "tensor {:?} keeps its data in an external file",
                        t.name
                    ));
                }
                let data = model.buffers.get(t.buffer as usize).copied().unwrap_or(&[]);
                if data.is_empty() {
                    return Val::Missing;
                }
                if t.sparse {
                    return Val::BadConst(format!("tensor {:?} is sparse", t.name));
                }
                match Const::decode(t.ty, &t.shape, data, &t.name) {
                    Ok(k) => Val::Const(k),
                    Err(e) => Val::BadConst(e.to_string()),
                }
            })
            .collect();
        let dynamic_inputs = sg.inputs.iter().any(|&i| {
            usize::try_from(i)
                .ok()
                .and_then(|i| sg.tensors.get(i))
                .and_then(|t| t.shape_signature.as_ref())
                .is_some_and(|s| s.iter().any(|&d| d < 0))
        });
        let mut c = Self {
            g: GraphBuilder::new("tflite"),
            sg,
            vals,
            const_names: HashMap::new(),
            io_names: HashSet::new(),
            static_shapes: !options.dynamic_spatial && !dynamic_inputs,
            dynamic_batch: None,
            cur_op: "",
            cur_index: 0,
        };
        for &i in &sg.inputs {
            let t = c.tensor(i)?;
            let ty = onnx_type(t.ty).ok_or_else(|| {
                TfliteError::Invalid(format!(
                    "input {:?} has unsupported type {}",
                    t.name,
                    t.ty.name()
                ))
            })?;
            let mut shape: Vec<Option<i64>> = t.shape.iter().map(|&d| Some(i64::from(d))).collect();
            if let Some(sig) = &t.shape_signature {
                for (s, &d) in shape.iter_mut().zip(sig) {
                    if d < 0 {
                        *s = None;
                    }
                }
            }
            if options.dynamic_spatial && shape.len() == 4 {
                shape[1] = None;
                shape[2] = None;
            }
            if options.dynamic_batch {
                let declared = shape.first().copied().flatten().ok_or_else(|| {
                    TfliteError::Invalid(format!(
                        "input {:?} has no fixed batch dimension to make dynamic",
                        t.name
                    ))
                })?;
                if c.dynamic_batch.is_some_and(|b| b != declared) {
                    return Err(TfliteError::Invalid(
                        "inputs declare different batch sizes".into(),
                    ));
                }
                c.dynamic_batch = Some(declared);
                shape[0] = None;
            }
            let name = c.io_name(i)?;
            c.g.input(&name, ty, &shape);
            let idx = c.index(i)?;
            c.vals[idx] = Val::Dyn(Dyn {
                native: Some(name),
                nchw: None,
            });
        }
        Ok(c)
    }

    /// Graph outputs keep their TFLite names, layout and (when static) shapes.
    /// The ONNX name of a graph input or output: the TFLite name, which must
    /// be unique among them since ONNX addresses values by name.
    fn io_name(&mut self, i: i32) -> Result<String, TfliteError> {
        let t = self.tensor(i)?;
        let name = if t.name.is_empty() {
            format!("tensor_{i}")
        } else {
            t.name.clone()
        };
        if !self.io_names.insert(name.clone()) {
            return Err(TfliteError::Invalid(format!(
                "{name:?} is used for more than one graph input or output"
            )));
        }
        Ok(name)
    }

    fn finish_outputs(&mut self) -> Result<(), TfliteError> {
        self.cur_op = "graph output";
        for &o in &self.sg.outputs.clone() {
            let mut t = self.tensor(o)?.clone();
            t.name = self.io_name(o)?;
            let ty = onnx_type(t.ty).ok_or_else(|| {
                TfliteError::Invalid(format!(
                    "output {:?} has unsupported type {}",
                    t.name,
                    t.ty.name()
                ))
            })?;
            let idx = self.index(o)?;
            let produced_nchw = match &self.vals[idx] {
                Val::Dyn(d) => d.native.is_none().then(|| d.nchw.clone()).flatten(),
                _ => None,
            };
            match produced_nchw {
                Some(n) => {
                    self.g.node(
                        "Transpose",
                        &[&n],
                        &[&t.name],
                        vec![("perm", perm_attr(&TO_NHWC))],
                    );
                }
                None => {
                    let n = self.native(o)?;
                    if n != t.name {
                        self.g.node("Identity", &[&n], &[&t.name], vec![]);
                    }
                }
            }
            let mut shape: Vec<Option<i64>> = t
                .shape
                .iter()
                .map(|&d| (self.static_shapes && d >= 0).then_some(i64::from(d)))
                .collect();
            if self.dynamic_batch.is_some()
                && let Some(batch) = shape.first_mut()
            {
                *batch = None;
            }
            self.g.output(&t.name, ty, &shape);
        }
        Ok(())
    }

    pub(crate) fn index(&self, i: i32) -> Result<usize, TfliteError> {
        usize::try_from(i)
            .ok()
            .filter(|&i| i < self.sg.tensors.len())
            .ok_or_else(|| self.invalid(format!("tensor index {i} out of range")))
    }

    pub(crate) fn tensor(&self, i: i32) -> Result<&'m Tensor, TfliteError> {
        let idx = self.index(i)?;
        Ok(&self.sg.tensors[idx])
    }

    /// `op.inputs[n]`, which must be present.
    pub(crate) fn input(&self, op: &Operator<'_>, n: usize) -> Result<i32, TfliteError> {
        op.inputs
            .get(n)
            .copied()
            .filter(|&i| i >= 0)
            .ok_or_else(|| self.invalid(format!("missing input {n}")))
    }

    /// `op.inputs[n]` if present (TFLite marks omitted optional inputs -1).
    pub(crate) fn optional_input(&self, op: &Operator<'_>, n: usize) -> Option<i32> {
        op.inputs.get(n).copied().filter(|&i| i >= 0)
    }

    pub(crate) fn output(&self, op: &Operator<'_>, n: usize) -> Result<i32, TfliteError> {
        let o = op
            .outputs
            .get(n)
            .copied()
            .ok_or_else(|| self.invalid(format!("missing output {n}")))?;
        self.index(o)?;
        Ok(o)
    }

    pub(crate) fn invalid(&self, detail: impl std::fmt::Display) -> TfliteError {
        TfliteError::Invalid(format!(
            "operator #{} ({}): {detail}",
            self.cur_index, self.cur_op
        ))
    }

    pub(crate) fn unsupported(&self, detail: impl Into<String>) -> TfliteError {
        TfliteError::UnsupportedFeature {
            op: self.cur_op,
            index: self.cur_index,
            detail: detail.into(),
        }
    }

    pub(crate) fn konst(&self, i: i32) -> Option<&Const> {
        match self.index(i).ok().and_then(|i| self.vals.get(i)) {
            Some(Val::Const(k)) => Some(k),
            _ => None,
        }
    }

    /// A constant integer vector input (axes, shapes, slice bounds).
    pub(crate) fn const_ints(&self, i: i32, what: &str) -> Result<Vec<i64>, TfliteError> {
        self.konst(i)
            .and_then(Const::as_i64s)
            .ok_or_else(|| self.unsupported(format!("{what} must be a constant integer tensor")))
    }

    pub(crate) fn rank(&self, i: i32) -> Result<usize, TfliteError> {
        Ok(self.tensor(i)?.shape.len())
    }

    /// Whether the value already exists in NCHW (so staying NCHW is free).
    pub(crate) fn has_nchw(&self, i: i32) -> bool {
        matches!(
            self.index(i).ok().and_then(|i| self.vals.get(i)),
            Some(Val::Dyn(Dyn { nchw: Some(_), .. }))
        )
    }

    /// Whether the value can take part in an NCHW computation: rank-4
    /// activations, and constants that broadcast against rank 4.
    pub(crate) fn can_nchw(&self, i: i32) -> bool {
        let rank = self.tensor(i).map(|t| t.shape.len()).unwrap_or(usize::MAX);
        match self.index(i).ok().and_then(|i| self.vals.get(i)) {
            Some(Val::Const(_)) => rank <= 4,
            Some(Val::Dyn(_)) => rank == 4,
            _ => false,
        }
    }

    pub(crate) fn set_native(&mut self, i: i32, name: String) -> Result<(), TfliteError> {
        let idx = self.index(i)?;
        self.vals[idx] = Val::Dyn(Dyn {
            native: Some(name),
            nchw: None,
        });
        Ok(())
    }

    pub(crate) fn set_nchw(&mut self, i: i32, name: String) -> Result<(), TfliteError> {
        let idx = self.index(i)?;
        if self.rank(i)? != 4 {
            return Err(self.invalid("an NCHW result must have rank 4"));
        }
        self.vals[idx] = Val::Dyn(Dyn {
            native: None,
            nchw: Some(name),
        });
        Ok(())
    }

    pub(crate) fn set(&mut self, i: i32, name: String, nchw: bool) -> Result<(), TfliteError> {
        if nchw {
            self.set_nchw(i, name)
        } else {
            self.set_native(i, name)
        }
    }

    pub(crate) fn set_const(&mut self, i: i32, k: Const) -> Result<(), TfliteError> {
        let idx = self.index(i)?;
        self.vals[idx] = Val::Const(k);
        Ok(())
    }

    /// Emit a constant as an initializer (float, int64) or a `Constant` node.
    pub(crate) fn emit_const(&mut self, hint: &str, k: &Const) -> String {
        let dims = k.dims_i64();
        match &k.data {
            ConstData::F32(v) => self.g.initializer_f32(hint, &dims, v),
            ConstData::I64(v) => self.g.initializer_i64(hint, &dims, v),
            _ => {
                let name = self.g.fresh(hint);
                let proto = k.to_proto(&name);
                self.g.node(
                    "Constant",
                    &[],
                    &[&name],
                    vec![("value", Attr::Tensor(proto))],
                )
            }
        }
    }

    pub(crate) fn i64s(&mut self, hint: &str, v: &[i64]) -> String {
        self.g.initializer_i64(hint, &[v.len() as i64], v)
    }

    pub(crate) fn scalar_f32(&mut self, hint: &str, v: f32) -> String {
        self.g.initializer_f32(hint, &[], &[v])
    }

    fn const_val(&self, i: i32) -> Result<Option<&Const>, TfliteError> {
        let idx = self.index(i)?;
        match &self.vals[idx] {
            Val::Const(k) => Ok(Some(k)),
            Val::BadConst(e) => Err(self.invalid(e)),
            Val::Missing => Err(self.invalid(format!(
                "tensor {:?} is read before it is written",
                self.sg.tensors[idx].name
            ))),
            Val::Dyn(_) => Ok(None),
        }
    }

    /// The value in TFLite's own layout.
    pub(crate) fn native(&mut self, i: i32) -> Result<String, TfliteError> {
        let idx = self.index(i)?;
        if let Some(k) = self.const_val(i)? {
            if let Some(n) = self.const_names.get(&(idx, false)) {
                return Ok(n.clone());
            }
            let k = k.clone();
            let n = self.emit_const("const", &k);
            self.const_names.insert((idx, false), n.clone());
            return Ok(n);
        }
        let Val::Dyn(d) = &self.vals[idx] else {
            return Err(self.invalid("value with no form"));
        };
        if let Some(n) = &d.native {
            return Ok(n.clone());
        }
        let src = d
            .nchw
            .clone()
            .ok_or_else(|| self.invalid("value with no form"))?;
        let n = self
            .g
            .op("Transpose", &[&src], vec![("perm", perm_attr(&TO_NHWC))]);
        if let Val::Dyn(d) = &mut self.vals[idx] {
            d.native = Some(n.clone());
        }
        Ok(n)
    }

    /// The value in NCHW: rank-4 activations are transposed (once), constants
    /// of lower rank are first given leading 1s so they broadcast as TFLite's would.
    pub(crate) fn nchw(&mut self, i: i32) -> Result<String, TfliteError> {
        let idx = self.index(i)?;
        if let Some(k) = self.const_val(i)? {
            if let Some(n) = self.const_names.get(&(idx, true)) {
                return Ok(n.clone());
            }
            if k.dims.len() > 4 {
                return Err(self.invalid("constant of rank > 4 in an NCHW computation"));
            }
            let mut dims = vec![1usize; 4 - k.dims.len()];
            dims.extend_from_slice(&k.dims);
            let p = k
                .reshaped(dims)
                .and_then(|k| k.permuted(&TO_NCHW))
                .ok_or_else(|| self.invalid("bad constant"))?;
            let n = self.emit_const("const_nchw", &p);
            self.const_names.insert((idx, true), n.clone());
            return Ok(n);
        }
        if self.rank(i)? != 4 {
            return Err(self.invalid("NCHW form of a tensor whose rank is not 4"));
        }
        let Val::Dyn(d) = &self.vals[idx] else {
            return Err(self.invalid("value with no form"));
        };
        if let Some(n) = &d.nchw {
            return Ok(n.clone());
        }
        let src = d
            .native
            .clone()
            .ok_or_else(|| self.invalid("value with no form"))?;
        let n = self
            .g
            .op("Transpose", &[&src], vec![("perm", perm_attr(&TO_NCHW))]);
        if let Val::Dyn(d) = &mut self.vals[idx] {
            d.nchw = Some(n.clone());
        }
        Ok(n)
    }
}

pub(crate) fn perm_attr(p: &[usize]) -> Attr {
    Attr::Ints(p.iter().map(|&x| x as i64).collect())
}
