//! One function per supported TFLite operator, each emitting the equivalent
//! ONNX (opset 17) nodes. Semantics follow the TFLite reference kernels.

use super::TfliteError;
use super::convert::{Converter, NHWC_AXIS_IN_NCHW, TO_NCHW, onnx_type, perm_attr};
use super::schema::{Operator, PADDING_SAME, PADDING_VALID, field};
use crate::onnx::Attr;

/// Explicit ONNX pads, or `auto_pad` when the spatial size is unknown.
enum Pads {
    Explicit([i64; 4]),
    SameUpper,
}

impl Converter<'_> {
    pub(crate) fn convert_op(&mut self, op: &Operator<'_>) -> Result<(), TfliteError> {
        match self.cur_op {
            "CONV_2D" => self.conv(op, false),
            "DEPTHWISE_CONV_2D" => self.conv(op, true),
            "MAX_POOL_2D" => self.pool(op, "MaxPool"),
            "AVERAGE_POOL_2D" => self.pool(op, "AveragePool"),
            "FULLY_CONNECTED" => self.fully_connected(op),
            "ADD" => self.binary(op, "Add", true),
            "SUB" => self.binary(op, "Sub", true),
            "MUL" => self.binary(op, "Mul", true),
            "DIV" => self.binary(op, "Div", true),
            "GREATER_EQUAL" => self.binary(op, "GreaterOrEqual", false),
            "LESS" => self.binary(op, "Less", false),
            "RELU" => self.unary(op, "Relu", vec![]),
            "ABS" => self.unary(op, "Abs", vec![]),
            "NEG" => self.unary(op, "Neg", vec![]),
            "EXP" => self.unary(op, "Exp", vec![]),
            "LEAKY_RELU" => {
                // 0.0 is the schema default, hence what an omitted field means.
                let alpha = match &op.options {
                    Some(t) => t.f32(field::leaky_relu::ALPHA, 0.0)?,
                    None => 0.0,
                };
                self.unary(op, "LeakyRelu", vec![("alpha", Attr::Float(alpha))])
            }
            "CAST" => {
                let out = self.output(op, 0)?;
                let ty = self.tensor(out)?.ty;
                let to = onnx_type(ty)
                    .ok_or_else(|| self.unsupported(format!("cast to {}", ty.name())))?;
                self.unary(op, "Cast", vec![("to", Attr::Int(i64::from(to)))])
            }
            "DEQUANTIZE" => self.dequantize(op),
            "RESHAPE" => self.reshape(op),
            "STRIDED_SLICE" => self.strided_slice(op),
            "CONCATENATION" => self.concatenation(op),
            "REDUCE_MAX" => self.reduce(op, "ReduceMax"),
            "SUM" => self.reduce(op, "ReduceSum"),
            other => Err(TfliteError::UnsupportedOperator {
                op: other,
                custom: None,
                index: self.cur_index,
            }),
        }
    }

    fn options_i8(&self, op: &Operator<'_>, index: usize, default: i8) -> Result<i8, TfliteError> {
        match &op.options {
            Some(t) => t.i8(index, default),
            None => Ok(default),
        }
    }

    fn options_i32(
        &self,
        op: &Operator<'_>,
        index: usize,
        default: i32,
    ) -> Result<i32, TfliteError> {
        match &op.options {
            Some(t) => t.i32(index, default),
            None => Ok(default),
        }
    }

    fn options_bool(
        &self,
        op: &Operator<'_>,
        index: usize,
        default: bool,
    ) -> Result<bool, TfliteError> {
        match &op.options {
            Some(t) => t.bool(index, default),
            None => Ok(default),
        }
    }

    /// Apply a fused activation (`ActivationFunctionType`).
    fn activation(&mut self, x: String, act: i8) -> Result<String, TfliteError> {
        Ok(match act {
            0 => x,
            1 => self.g.op("Relu", &[&x], vec![]),
            2 | 3 => {
                let (lo, hi) = if act == 2 { (-1.0, 1.0) } else { (0.0, 6.0) };
                let lo = self.scalar_f32("clip_min", lo);
                let hi = self.scalar_f32("clip_max", hi);
                self.g.op("Clip", &[&x, &lo, &hi], vec![])
            }
            // TANH and SIGN_BIT exist in the schema, but the TFLite float
            // kernels silently skip them; neither choice is safe to guess.
            4 => return Err(self.unsupported("fused TANH activation")),
            5 => return Err(self.unsupported("fused SIGN_BIT activation")),
            other => return Err(self.unsupported(format!("fused activation {other}"))),
        })
    }

    /// A positive integer option. FlatBuffers omits fields equal to their
    /// schema default, so `default` must be the schema's (0 for strides and
    /// filter sizes, which makes an omitted one invalid; 1 for dilations).
    fn positive(
        &self,
        op: &Operator<'_>,
        index: usize,
        default: i32,
        what: &str,
    ) -> Result<i64, TfliteError> {
        let v = self.options_i32(op, index, default)?;
        if v < 1 {
            return Err(self.invalid(format!("{what} {v}")));
        }
        Ok(i64::from(v))
    }

    /// TFLite SAME puts the odd padding pixel at the bottom/right, which is
    /// ONNX's SAME_UPPER; explicit pads are emitted when the input size is known.
    fn pads(
        &self,
        padding: i8,
        input: i32,
        kernel: [i64; 2],
        stride: [i64; 2],
        dilation: [i64; 2],
    ) -> Result<Pads, TfliteError> {
        match padding {
            PADDING_VALID => Ok(Pads::Explicit([0; 4])),
            // With stride 1 SAME pads are (k_eff - 1) whatever the input size.
            PADDING_SAME if !self.static_shapes && stride == [1, 1] => {
                let total = [
                    (kernel[0] - 1).saturating_mul(dilation[0]),
                    (kernel[1] - 1).saturating_mul(dilation[1]),
                ];
                Ok(Pads::Explicit([
                    total[0] / 2,
                    total[1] / 2,
                    total[0] - total[0] / 2,
                    total[1] - total[1] / 2,
                ]))
            }
            // ONNX Runtime refuses auto_pad together with dilation.
            PADDING_SAME if !self.static_shapes && dilation != [1, 1] => Err(self.unsupported(
                "SAME padding with both stride and dilation on inputs of dynamic size",
            )),
            PADDING_SAME if !self.static_shapes => Ok(Pads::SameUpper),
            PADDING_SAME => {
                let shape = &self.tensor(input)?.shape;
                if shape.len() != 4 {
                    return Err(self.invalid("input must be rank 4"));
                }
                let mut begin = [0i64; 2];
                let mut end = [0i64; 2];
                for a in 0..2 {
                    // i128: sizes, kernels and strides are arbitrary i32s from the file.
                    let (size, s) = (i128::from(shape[1 + a]), i128::from(stride[a]));
                    let out = (size + s - 1) / s;
                    let eff = (i128::from(kernel[a]) - 1) * i128::from(dilation[a]) + 1;
                    let total = i64::try_from(((out - 1) * s + eff - size).max(0))
                        .map_err(|_| self.invalid("padding out of range"))?;
                    begin[a] = total / 2;
                    end[a] = total - total / 2;
                }
                Ok(Pads::Explicit([begin[0], begin[1], end[0], end[1]]))
            }
            other => Err(self.invalid(format!("padding {other}"))),
        }
    }

    fn pad_attrs(p: Pads, attrs: &mut Vec<(&str, Attr)>) {
        match p {
            Pads::Explicit(p) => attrs.push(("pads", Attr::Ints(p.to_vec()))),
            Pads::SameUpper => attrs.push(("auto_pad", Attr::String("SAME_UPPER".into()))),
        }
    }

    /// CONV_2D (filter OHWI) and DEPTHWISE_CONV_2D (filter 1,H,W,C*M) as ONNX
    /// Conv (filter OIHW); depthwise is a grouped Conv with one group per
    /// input channel, whose output channel c*M+m matches TFLite's order.
    fn conv(&mut self, op: &Operator<'_>, depthwise: bool) -> Result<(), TfliteError> {
        let (x, w, out) = (self.input(op, 0)?, self.input(op, 1)?, self.output(op, 0)?);
        let bias = self.optional_input(op, 2);
        let (f_pad, f_sw, f_sh, f_act, f_dw, f_dh) = if depthwise {
            use field::depthwise as f;
            (
                f::PADDING,
                f::STRIDE_W,
                f::STRIDE_H,
                f::ACTIVATION,
                f::DILATION_W,
                f::DILATION_H,
            )
        } else {
            use field::conv2d as f;
            (
                f::PADDING,
                f::STRIDE_W,
                f::STRIDE_H,
                f::ACTIVATION,
                f::DILATION_W,
                f::DILATION_H,
            )
        };
        let padding = self.options_i8(op, f_pad, PADDING_SAME)?;
        let stride = [
            self.positive(op, f_sh, 0, "stride")?,
            self.positive(op, f_sw, 0, "stride")?,
        ];
        let dilation = [
            self.positive(op, f_dh, 1, "dilation")?,
            self.positive(op, f_dw, 1, "dilation")?,
        ];
        let act = self.options_i8(op, f_act, 0)?;

        let x_shape = self.tensor(x)?.shape.clone();
        let w_shape = self.tensor(w)?.shape.clone();
        if x_shape.len() != 4 || w_shape.len() != 4 {
            return Err(self.invalid("input and filter must be rank 4"));
        }
        let in_channels = i64::from(x_shape[3]);
        let kernel = [i64::from(w_shape[1]), i64::from(w_shape[2])];
        if kernel.iter().any(|&k| k < 1) {
            return Err(self.invalid("empty filter"));
        }
        let (perm, group) = if depthwise {
            let cm = i64::from(w_shape[3]);
            if w_shape[0] != 1 || in_channels <= 0 || cm % in_channels != 0 {
                return Err(self.invalid("depthwise filter does not match the input channels"));
            }
            ([3usize, 0, 1, 2], in_channels)
        } else {
            let per_group = i64::from(w_shape[3]);
            if per_group <= 0 || in_channels % per_group != 0 {
                return Err(self.invalid("filter depth does not divide the input channels"));
            }
            (TO_NCHW, in_channels / per_group)
        };

        let xin = self.nchw(x)?;
        let wname = match self.konst(w) {
            Some(k) => {
                let k = k
                    .permuted(&perm)
                    .ok_or_else(|| self.invalid("bad filter constant"))?;
                self.emit_const("filter", &k)
            }
            None => {
                let wn = self.native(w)?;
                self.g
                    .op("Transpose", &[&wn], vec![("perm", perm_attr(&perm))])
            }
        };
        let mut inputs = vec![xin, wname];
        if let Some(b) = bias {
            inputs.push(self.native(b)?);
        }
        let mut attrs = vec![
            ("kernel_shape", Attr::Ints(kernel.to_vec())),
            ("strides", Attr::Ints(stride.to_vec())),
            ("dilations", Attr::Ints(dilation.to_vec())),
            ("group", Attr::Int(group)),
        ];
        Self::pad_attrs(self.pads(padding, x, kernel, stride, dilation)?, &mut attrs);
        let refs: Vec<&str> = inputs.iter().map(String::as_str).collect();
        let y = self.g.op("Conv", &refs, attrs);
        let y = self.activation(y, act)?;
        self.set_nchw(out, y)
    }

    fn pool(&mut self, op: &Operator<'_>, onnx: &str) -> Result<(), TfliteError> {
        use field::pool2d as f;
        let (x, out) = (self.input(op, 0)?, self.output(op, 0)?);
        let padding = self.options_i8(op, f::PADDING, PADDING_SAME)?;
        let stride = [
            self.positive(op, f::STRIDE_H, 0, "stride")?,
            self.positive(op, f::STRIDE_W, 0, "stride")?,
        ];
        let kernel = [
            self.positive(op, f::FILTER_H, 0, "filter size")?,
            self.positive(op, f::FILTER_W, 0, "filter size")?,
        ];
        let act = self.options_i8(op, f::ACTIVATION, 0)?;
        if self.rank(x)? != 4 {
            return Err(self.invalid("input must be rank 4"));
        }
        let xin = self.nchw(x)?;
        let mut attrs = vec![
            ("kernel_shape", Attr::Ints(kernel.to_vec())),
            ("strides", Attr::Ints(stride.to_vec())),
        ];
        if onnx == "AveragePool" {
            // TFLite averages over the valid (unpadded) pixels only.
            attrs.push(("count_include_pad", Attr::Int(0)));
        }
        Self::pad_attrs(self.pads(padding, x, kernel, stride, [1, 1])?, &mut attrs);
        let y = self.g.op(onnx, &[&xin], attrs);
        let y = self.activation(y, act)?;
        self.set_nchw(out, y)
    }

    /// Element-wise binary operators with NumPy-style broadcasting. Stays in
    /// NCHW when an operand already is and the other can follow it there.
    fn binary(&mut self, op: &Operator<'_>, onnx: &str, fused: bool) -> Result<(), TfliteError> {
        let (a, b, out) = (self.input(op, 0)?, self.input(op, 1)?, self.output(op, 0)?);
        let act = if fused {
            self.options_i8(op, field::arithmetic::ACTIVATION, 0)?
        } else {
            0
        };
        let nchw = self.rank(out)? == 4
            && (self.has_nchw(a) || self.has_nchw(b))
            && self.can_nchw(a)
            && self.can_nchw(b);
        let (x, y) = if nchw {
            (self.nchw(a)?, self.nchw(b)?)
        } else {
            (self.native(a)?, self.native(b)?)
        };
        let r = self.g.op(onnx, &[&x, &y], vec![]);
        let r = self.activation(r, act)?;
        self.set(out, r, nchw)
    }

    /// Layout-agnostic single-input operators keep their input's layout.
    fn unary(
        &mut self,
        op: &Operator<'_>,
        onnx: &str,
        attrs: Vec<(&str, Attr)>,
    ) -> Result<(), TfliteError> {
        let (x, out) = (self.input(op, 0)?, self.output(op, 0)?);
        let nchw = self.has_nchw(x) && self.rank(out)? == 4;
        let xin = if nchw { self.nchw(x)? } else { self.native(x)? };
        let y = self.g.op(onnx, &[&xin], attrs);
        self.set(out, y, nchw)
    }

    /// Constant weights (the fp16 weights of FaceAntiSpoofing) are folded now,
    /// so convolutions see float32 filters they can permute.
    fn dequantize(&mut self, op: &Operator<'_>) -> Result<(), TfliteError> {
        let (x, out) = (self.input(op, 0)?, self.output(op, 0)?);
        if let Some(k) = self.konst(x) {
            let q = self.tensor(x)?.quantization.as_ref();
            let f = k.dequantize(q).map_err(|e| self.unsupported(e))?;
            return self.set_const(out, f);
        }
        let ty = self.tensor(x)?.ty;
        if ty != super::TensorType::Float16 {
            return Err(
                self.unsupported(format!("DEQUANTIZE of a non-constant {} tensor", ty.name()))
            );
        }
        let to = Attr::Int(i64::from(crate::onnx::proto::data_type::FLOAT));
        self.unary(op, "Cast", vec![("to", to)])
    }

    /// With a symbolic batch, a constant reshape target must carry the batch
    /// in front (it becomes `-1`) and infer nothing else.
    fn batch_free_shape(&self, mut shape: Vec<i64>) -> Result<Vec<i64>, TfliteError> {
        let Some(batch) = self.dynamic_batch else {
            return Ok(shape);
        };
        if shape.first() != Some(&batch) || shape.contains(&-1) {
            return Err(self.unsupported(
                "reshape whose target does not start with the batch (the model cannot take a dynamic batch)",
            ));
        }
        shape[0] = -1;
        Ok(shape)
    }

    fn reshape(&mut self, op: &Operator<'_>) -> Result<(), TfliteError> {
        let (x, out) = (self.input(op, 0)?, self.output(op, 0)?);
        let xin = self.native(x)?;
        let shape_input = self.optional_input(op, 1);
        let shape = match shape_input {
            Some(s) if self.konst(s).is_some() => {
                let v = self.const_ints(s, "shape")?;
                Some(v)
            }
            Some(_) => None,
            None => match &op.options {
                Some(t) => t
                    .i32s(field::reshape::NEW_SHAPE, "new_shape")?
                    .map(|v| v.into_iter().map(i64::from).collect()),
                None => None,
            },
        };
        let shape_name = match (shape, shape_input) {
            (Some(v), _) => {
                if v.contains(&0) {
                    // ONNX would read 0 as "copy this dimension".
                    return Err(self.unsupported("reshape to a zero-sized dimension"));
                }
                let v = self.batch_free_shape(v)?;
                self.i64s("shape", &v)
            }
            (None, Some(s)) => {
                let sn = self.native(s)?;
                let to = Attr::Int(i64::from(crate::onnx::proto::data_type::INT64));
                self.g.op("Cast", &[&sn], vec![("to", to)])
            }
            (None, None) => return Err(self.invalid("no target shape")),
        };
        let y = self.g.op("Reshape", &[&xin, &shape_name], vec![]);
        self.set_native(out, y)
    }

    fn strided_slice(&mut self, op: &Operator<'_>) -> Result<(), TfliteError> {
        use field::strided_slice as f;
        let (x, out) = (self.input(op, 0)?, self.output(op, 0)?);
        let begin = self.const_ints(self.input(op, 1)?, "begin")?;
        let end = self.const_ints(self.input(op, 2)?, "end")?;
        let strides = match self.optional_input(op, 3) {
            Some(s) => self.const_ints(s, "strides")?,
            None => vec![1; begin.len()],
        };
        let begin_mask = self.options_i32(op, f::BEGIN_MASK, 0)?;
        let end_mask = self.options_i32(op, f::END_MASK, 0)?;
        let shrink_mask = self.options_i32(op, f::SHRINK_AXIS_MASK, 0)?;
        if self.options_i32(op, f::ELLIPSIS_MASK, 0)? != 0
            || self.options_i32(op, f::NEW_AXIS_MASK, 0)? != 0
        {
            return Err(self.unsupported("ellipsis_mask / new_axis_mask"));
        }
        let offset = self.options_bool(op, f::OFFSET, false)?;
        let n = begin.len();
        if end.len() != n || strides.len() != n || n > self.rank(x)? || n > 31 {
            return Err(self.invalid("begin, end and strides disagree with the input rank"));
        }
        let (mut starts, mut ends, mut steps, mut squeeze) = (vec![], vec![], vec![], vec![]);
        for i in 0..n {
            let bit = 1i32 << i;
            let step = strides[i];
            if step == 0 {
                return Err(self.invalid("zero stride"));
            }
            let mut b = begin[i];
            let mut e = if offset {
                begin[i].saturating_add(end[i])
            } else {
                end[i]
            };
            // Masked bounds mean "from the very start/end" in the direction of travel.
            if begin_mask & bit != 0 {
                b = if step > 0 { 0 } else { i64::MAX };
            }
            if end_mask & bit != 0 {
                e = if step > 0 { i64::MAX } else { i64::MIN };
            }
            let mut s = step;
            if shrink_mask & bit != 0 {
                // A single element at `begin` (masks do not apply); -1 must
                // not become the empty range [-1, 0).
                b = begin[i];
                e = if b == -1 {
                    i64::MAX
                } else {
                    b.saturating_add(1)
                };
                s = 1;
                squeeze.push(i as i64);
            }
            starts.push(b);
            ends.push(e);
            steps.push(s);
        }
        let xin = self.native(x)?;
        let axes: Vec<i64> = (0..n as i64).collect();
        let names = [
            self.i64s("starts", &starts),
            self.i64s("ends", &ends),
            self.i64s("axes", &axes),
            self.i64s("steps", &steps),
        ];
        let mut y = self.g.op(
            "Slice",
            &[&xin, &names[0], &names[1], &names[2], &names[3]],
            vec![],
        );
        if !squeeze.is_empty() {
            let ax = self.i64s("squeeze_axes", &squeeze);
            y = self.g.op("Squeeze", &[&y, &ax], vec![]);
        }
        self.set_native(out, y)
    }

    fn concatenation(&mut self, op: &Operator<'_>) -> Result<(), TfliteError> {
        use field::concatenation as f;
        let out = self.output(op, 0)?;
        let rank = self.rank(out)? as i64;
        let axis = i64::from(self.options_i32(op, f::AXIS, 0)?);
        let axis = if axis < 0 { axis + rank } else { axis };
        if !(0..rank).contains(&axis) {
            return Err(self.invalid(format!("axis {axis} out of range")));
        }
        let act = self.options_i8(op, f::ACTIVATION, 0)?;
        let inputs: Vec<i32> = (0..op.inputs.len())
            .map(|n| self.input(op, n))
            .collect::<Result<_, _>>()?;
        if inputs.is_empty() {
            return Err(self.invalid("no inputs"));
        }
        let nchw = rank == 4
            && inputs.iter().any(|&i| self.has_nchw(i))
            && inputs
                .iter()
                .all(|&i| self.can_nchw(i) && self.rank(i).ok() == Some(4));
        let names = inputs
            .iter()
            .map(|&i| if nchw { self.nchw(i) } else { self.native(i) })
            .collect::<Result<Vec<_>, _>>()?;
        let onnx_axis = if nchw {
            NHWC_AXIS_IN_NCHW[axis as usize] as i64
        } else {
            axis
        };
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let y = self
            .g
            .op("Concat", &refs, vec![("axis", Attr::Int(onnx_axis))]);
        let y = self.activation(y, act)?;
        self.set(out, y, nchw)
    }

    /// REDUCE_MAX and SUM. Opset 17 takes ReduceMax's axes as an attribute but
    /// ReduceSum's as an input.
    fn reduce(&mut self, op: &Operator<'_>, onnx: &str) -> Result<(), TfliteError> {
        let (x, out) = (self.input(op, 0)?, self.output(op, 0)?);
        let rank = self.rank(x)? as i64;
        let keep = self.options_bool(op, field::reducer::KEEP_DIMS, false)?;
        let mut axes = self.const_ints(self.input(op, 1)?, "axes")?;
        for a in axes.iter_mut() {
            if *a < 0 {
                *a += rank;
            }
            if !(0..rank).contains(a) {
                return Err(self.invalid(format!("axis {a} out of range")));
            }
        }
        axes.sort_unstable();
        axes.dedup();
        let nchw = keep && rank == 4 && self.has_nchw(x);
        let xin = if nchw { self.nchw(x)? } else { self.native(x)? };
        if axes.is_empty() {
            let y = self.g.op("Identity", &[&xin], vec![]);
            return self.set(out, y, nchw);
        }
        if nchw {
            axes = axes
                .iter()
                .map(|&a| NHWC_AXIS_IN_NCHW[a as usize] as i64)
                .collect();
        }
        let keepdims = ("keepdims", Attr::Int(i64::from(keep)));
        let y = if onnx == "ReduceSum" {
            let ax = self.i64s("axes", &axes);
            self.g.op(onnx, &[&xin, &ax], vec![keepdims])
        } else {
            self.g
                .op(onnx, &[&xin], vec![("axes", Attr::Ints(axes)), keepdims])
        };
        self.set(out, y, nchw)
    }

    /// TFLite flattens the input to [-1, K] (K = filter columns), multiplies by
    /// the transposed [N, K] filter, and optionally restores the leading dims.
    fn fully_connected(&mut self, op: &Operator<'_>) -> Result<(), TfliteError> {
        use field::fully_connected as f;
        let (x, w, out) = (self.input(op, 0)?, self.input(op, 1)?, self.output(op, 0)?);
        let bias = self.optional_input(op, 2);
        let act = self.options_i8(op, f::ACTIVATION, 0)?;
        if self.options_i8(op, f::WEIGHTS_FORMAT, 0)? != 0 {
            return Err(self.unsupported("shuffled weights format"));
        }
        let keep_dims = self.options_bool(op, f::KEEP_NUM_DIMS, false)?;
        let w_shape = self.tensor(w)?.shape.clone();
        if w_shape.len() != 2 {
            return Err(self.invalid("filter must be rank 2"));
        }
        let k = i64::from(w_shape[1]);
        let xin = self.native(x)?;
        let x_shape = self.tensor(x)?.shape.clone();
        let flat = if x_shape.len() == 2 && i64::from(x_shape[1]) == k {
            xin.clone()
        } else {
            let s = self.i64s("fc_shape", &[-1, k]);
            self.g.op("Reshape", &[&xin, &s], vec![])
        };
        let wn = self.native(w)?;
        let mut inputs = vec![flat, wn];
        if let Some(b) = bias {
            inputs.push(self.native(b)?);
        }
        let refs: Vec<&str> = inputs.iter().map(String::as_str).collect();
        let mut y = self.g.op("Gemm", &refs, vec![("transB", Attr::Int(1))]);
        let out_shape: Vec<i64> = self
            .tensor(out)?
            .shape
            .iter()
            .map(|&d| i64::from(d))
            .collect();
        if keep_dims && out_shape.len() != 2 {
            let s = if self.static_shapes {
                self.i64s("fc_out_shape", &out_shape)
            } else {
                // The input's leading dims, then the number of units.
                let shape = self.g.op("Shape", &[&xin], vec![]);
                let (start, end) = (self.i64s("zero", &[0]), self.i64s("minus_one", &[-1]));
                let lead = self.g.op("Slice", &[&shape, &start, &end], vec![]);
                let units = self.i64s("units", &[i64::from(w_shape[0])]);
                self.g
                    .op("Concat", &[&lead, &units], vec![("axis", Attr::Int(0))])
            };
            y = self.g.op("Reshape", &[&y, &s], vec![]);
        }
        let y = self.activation(y, act)?;
        self.set_native(out, y)
    }
}
