//! Constant tensors decoded from TFLite buffers, and the small amount of
//! arithmetic the importer does on them at conversion time (dequantising,
//! permuting weights into ONNX layouts).

use super::TfliteError;
use super::schema::{Quantization, TensorType};
use crate::onnx::proto::{TensorProto, data_type};

#[derive(Debug, Clone)]
pub(crate) enum ConstData {
    F32(Vec<f32>),
    F16(Vec<u16>),
    I32(Vec<i32>),
    I64(Vec<i64>),
    I8(Vec<i8>),
    U8(Vec<u8>),
    Bool(Vec<bool>),
}

#[derive(Debug, Clone)]
pub(crate) struct Const {
    pub dims: Vec<usize>,
    pub data: ConstData,
}

/// Product of `dims`, refusing overflow (dims are input-derived).
pub(crate) fn element_count(dims: &[usize]) -> Option<usize> {
    dims.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d))
}

fn chunks<const N: usize>(bytes: &[u8]) -> impl Iterator<Item = [u8; N]> + '_ {
    bytes.chunks_exact(N).map(|c| {
        let mut a = [0u8; N];
        a.copy_from_slice(c);
        a
    })
}

impl Const {
    /// Decode a buffer as a tensor of `ty` and `shape`; the byte length must
    /// match the shape exactly, so later indexing can rely on it.
    pub(crate) fn decode(
        ty: TensorType,
        shape: &[i32],
        bytes: &[u8],
        name: &str,
    ) -> Result<Self, TfliteError> {
        let dims = shape
            .iter()
            .map(|&d| usize::try_from(d))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| {
                TfliteError::Invalid(format!("constant tensor {name:?} has a negative dimension"))
            })?;
        let count = element_count(&dims).ok_or_else(|| {
            TfliteError::Invalid(format!("constant tensor {name:?} is too large"))
        })?;
        let size = match ty {
            TensorType::Float32 | TensorType::Int32 => 4,
            TensorType::Float16 => 2,
            TensorType::Int64 => 8,
            TensorType::Int8 | TensorType::UInt8 | TensorType::Bool => 1,
            other => {
                return Err(TfliteError::Invalid(format!(
                    "constant tensor {name:?} has unsupported type {}",
                    other.name()
                )));
            }
        };
        if count.checked_mul(size) != Some(bytes.len()) {
            return Err(TfliteError::Invalid(format!(
                "constant tensor {name:?}: {} bytes of data for shape {shape:?}",
                bytes.len()
            )));
        }
        let data = match ty {
            TensorType::Float32 => {
                ConstData::F32(chunks::<4>(bytes).map(f32::from_le_bytes).collect())
            }
            TensorType::Int32 => {
                ConstData::I32(chunks::<4>(bytes).map(i32::from_le_bytes).collect())
            }
            TensorType::Float16 => {
                ConstData::F16(chunks::<2>(bytes).map(u16::from_le_bytes).collect())
            }
            TensorType::Int64 => {
                ConstData::I64(chunks::<8>(bytes).map(i64::from_le_bytes).collect())
            }
            TensorType::Int8 => ConstData::I8(bytes.iter().map(|&b| b as i8).collect()),
            TensorType::UInt8 => ConstData::U8(bytes.to_vec()),
            _ => ConstData::Bool(bytes.iter().map(|&b| b != 0).collect()),
        };
        Ok(Self { dims, data })
    }

    pub(crate) fn dims_i64(&self) -> Vec<i64> {
        self.dims.iter().map(|&d| d as i64).collect()
    }

    /// Integer contents (shapes, axes, slice bounds), whatever their width.
    pub(crate) fn as_i64s(&self) -> Option<Vec<i64>> {
        match &self.data {
            ConstData::I32(v) => Some(v.iter().map(|&x| i64::from(x)).collect()),
            ConstData::I64(v) => Some(v.clone()),
            _ => None,
        }
    }

    /// DEQUANTIZE folded at conversion time: fp16 widens exactly, and
    /// int8/uint8 use the tensor's (per-tensor or per-axis) scale and zero point.
    pub(crate) fn dequantize(&self, q: Option<&Quantization>) -> Result<Const, String> {
        let values: Vec<f32> = match &self.data {
            ConstData::F16(v) => v.iter().map(|&h| f16_to_f32(h)).collect(),
            ConstData::F32(v) => v.clone(),
            ConstData::I8(v) => affine(v.iter().map(|&x| i64::from(x)), &self.dims, q)?,
            ConstData::U8(v) => affine(v.iter().map(|&x| i64::from(x)), &self.dims, q)?,
            _ => return Err("DEQUANTIZE of a non-float, non-8-bit constant".into()),
        };
        Ok(Const {
            dims: self.dims.clone(),
            data: ConstData::F32(values),
        })
    }

    /// Reorder the axes: output axis `i` is input axis `perm[i]`.
    pub(crate) fn permuted(&self, perm: &[usize]) -> Option<Const> {
        let dims: Vec<usize> = perm
            .iter()
            .map(|&p| self.dims.get(p).copied())
            .collect::<Option<_>>()?;
        let data = match &self.data {
            ConstData::F32(v) => ConstData::F32(permute(v, &self.dims, perm)?),
            ConstData::F16(v) => ConstData::F16(permute(v, &self.dims, perm)?),
            ConstData::I32(v) => ConstData::I32(permute(v, &self.dims, perm)?),
            ConstData::I64(v) => ConstData::I64(permute(v, &self.dims, perm)?),
            ConstData::I8(v) => ConstData::I8(permute(v, &self.dims, perm)?),
            ConstData::U8(v) => ConstData::U8(permute(v, &self.dims, perm)?),
            ConstData::Bool(v) => ConstData::Bool(permute(v, &self.dims, perm)?),
        };
        Some(Const { dims, data })
    }

    /// The same data with `dims` replaced (same element count).
    pub(crate) fn reshaped(&self, dims: Vec<usize>) -> Option<Const> {
        (element_count(&dims)? == element_count(&self.dims)?).then(|| Const {
            dims,
            data: self.data.clone(),
        })
    }

    /// An ONNX tensor with this content (for `Constant` nodes).
    pub(crate) fn to_proto(&self, name: &str) -> TensorProto {
        let (ty, raw): (i32, Vec<u8>) = match &self.data {
            ConstData::F32(v) => (
                data_type::FLOAT,
                v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            ),
            ConstData::F16(v) => (
                data_type::FLOAT16,
                v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            ),
            ConstData::I32(v) => (
                data_type::INT32,
                v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            ),
            ConstData::I64(v) => (
                data_type::INT64,
                v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            ),
            ConstData::I8(v) => (data_type::INT8, v.iter().map(|&x| x as u8).collect()),
            ConstData::U8(v) => (data_type::UINT8, v.clone()),
            ConstData::Bool(v) => (data_type::BOOL, v.iter().map(|&x| u8::from(x)).collect()),
        };
        TensorProto {
            name: name.to_owned(),
            dims: self.dims_i64(),
            data_type: ty,
            raw_data: raw,
            ..Default::default()
        }
    }
}

fn affine(
    values: impl Iterator<Item = i64>,
    dims: &[usize],
    q: Option<&Quantization>,
) -> Result<Vec<f32>, String> {
    let q = q.ok_or("DEQUANTIZE of an integer constant without quantization parameters")?;
    if q.scale.is_empty() {
        return Err("DEQUANTIZE: empty quantization scale".into());
    }
    let axis =
        usize::try_from(q.quantized_dimension).map_err(|_| "negative quantized_dimension")?;
    // Per-axis quantisation: element i belongs to channel (i / inner) % dims[axis].
    let (channels, inner) = if q.scale.len() > 1 {
        let c = *dims.get(axis).ok_or("quantized_dimension out of range")?;
        if c != q.scale.len() {
            return Err("per-axis scale count does not match the quantized dimension".into());
        }
        (
            c,
            dims.get(axis + 1..)
                .map(|d| d.iter().product())
                .unwrap_or(1),
        )
    } else {
        (1, 1)
    };
    Ok(values
        .enumerate()
        .map(|(i, x)| {
            let c = (i / inner.max(1)) % channels.max(1);
            let scale = q.scale.get(c).copied().unwrap_or(1.0);
            let zp = q.zero_point.get(c).copied().unwrap_or(0);
            (x.saturating_sub(zp) as f32) * scale
        })
        .collect())
}

/// IEEE 754 binary16 to binary32, exact for every input.
pub(crate) fn f16_to_f32(h: u16) -> f32 {
    let sign = u32::from(h >> 15) << 31;
    let exp = u32::from((h >> 10) & 0x1f);
    let mant = u32::from(h & 0x3ff);
    match exp {
        0 => {
            // Zero or subnormal: mant * 2^-24, exactly representable in f32.
            let v = mant as f32 * (1.0 / 16_777_216.0);
            if sign != 0 { -v } else { v }
        }
        31 => f32::from_bits(sign | 0x7f80_0000 | (mant << 13)),
        _ => f32::from_bits(sign | ((exp + 112) << 23) | (mant << 13)),
    }
}

fn permute<T: Copy>(data: &[T], dims: &[usize], perm: &[usize]) -> Option<Vec<T>> {
    let rank = dims.len();
    if perm.len() != rank || element_count(dims)? != data.len() {
        return None;
    }
    let mut strides = vec![1usize; rank];
    for i in (0..rank.saturating_sub(1)).rev() {
        strides[i] = strides[i + 1] * dims[i + 1];
    }
    let out_dims: Vec<usize> = perm
        .iter()
        .map(|&p| dims.get(p).copied())
        .collect::<Option<_>>()?;
    let out_strides: Vec<usize> = perm.iter().map(|&p| strides[p]).collect();
    let mut out = Vec::with_capacity(data.len());
    let mut idx = vec![0usize; rank];
    for _ in 0..data.len() {
        let src: usize = idx.iter().zip(&out_strides).map(|(i, s)| i * s).sum();
        out.push(*data.get(src)?);
        for i in (0..rank).rev() {
            idx[i] += 1;
            if idx[i] < out_dims[i] {
                break;
            }
            idx[i] = 0;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn f16_conversion_is_exact() {
        assert_eq!(f16_to_f32(0x3c00), 1.0);
        assert_eq!(f16_to_f32(0xc000), -2.0);
        assert_eq!(f16_to_f32(0x7bff), 65504.0);
        assert_eq!(f16_to_f32(0x0001), 2f32.powi(-24));
        assert_eq!(f16_to_f32(0x8000).to_bits(), 0x8000_0000);
        assert!(f16_to_f32(0x7c00).is_infinite());
        assert!(f16_to_f32(0x7e00).is_nan());
        assert_eq!(f16_to_f32(0x3555), 0.333_251_95);
    }

    #[test]
    fn permute_moves_axes() {
        // [2,3] -> [3,2] transpose
        let v = permute(&[1, 2, 3, 4, 5, 6], &[2, 3], &[1, 0]).unwrap();
        assert_eq!(v, vec![1, 4, 2, 5, 3, 6]);
        // NHWC [1,1,2,3] -> NCHW [1,3,1,2]
        let v = permute(&[0, 1, 2, 10, 11, 12], &[1, 1, 2, 3], &[0, 3, 1, 2]).unwrap();
        assert_eq!(v, vec![0, 10, 1, 11, 2, 12]);
        assert!(permute(&[1, 2, 3], &[2, 2], &[1, 0]).is_none());
    }

    #[test]
    fn per_axis_dequantize() {
        let c = Const {
            dims: vec![2, 2],
            data: ConstData::I8(vec![1, 2, 3, 4]),
        };
        let q = Quantization {
            scale: vec![0.5, 2.0],
            zero_point: vec![0, 1],
            quantized_dimension: 0,
        };
        let d = c.dequantize(Some(&q)).unwrap();
        match d.data {
            ConstData::F32(v) => assert_eq!(v, vec![0.5, 1.0, 4.0, 6.0]),
            _ => panic!("not f32"),
        }
    }
}
