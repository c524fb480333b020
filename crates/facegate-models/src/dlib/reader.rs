//! Reading dlib's serialisation format (`dlib/serialize.h`).
//!
//! dlib writes everything through a handful of primitives:
//! - integers as one control byte (low nibble: byte count, bit 7: negative)
//!   followed by that many little-endian magnitude bytes;
//! - floating-point values as a `float_details` pair — an integer mantissa and
//!   an integer exponent, the value being `mantissa · 2^exponent` (exponents
//!   32000/32001/32002 mean +inf/−inf/NaN);
//! - `bool` as the ASCII character `'1'` or `'0'`;
//! - `std::string` and `std::vector` as an integer length then the items;
//! - `matrix` as its row and column counts (negated by current dlib) then the
//!   elements in row-major order;
//! - DNN tensors (`resizable_tensor`, version 2) as four dimensions then raw
//!   little-endian IEEE `f32` values.

use super::DlibError;

/// The `float_details` exponent marking +infinity.
const EXP_INF: i64 = 32000;
/// The `float_details` exponent marking −infinity.
const EXP_NINF: i64 = 32001;
/// The `float_details` exponent marking NaN.
const EXP_NAN: i64 = 32002;

/// A cursor over a dlib byte stream. Every read checks bounds and returns a
/// [`DlibError`] instead of panicking.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

/// A 4-d DNN tensor: dimensions `[num_samples, k, nr, nc]` and its values.
#[derive(Debug, Clone, PartialEq)]
pub struct Tensor {
    pub dims: [usize; 4],
    pub data: Vec<f32>,
}

/// A dlib matrix read as `f32`: `rows × cols` values in row-major order.
#[derive(Debug, Clone, PartialEq)]
pub struct Matrix {
    pub rows: usize,
    pub cols: usize,
    pub data: Vec<f32>,
}

impl<'a> Reader<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, pos: 0 }
    }

    /// Current offset in the stream.
    pub fn offset(&self) -> usize {
        self.pos
    }

    /// Bytes not read yet.
    pub fn remaining(&self) -> usize {
        self.bytes.len() - self.pos
    }

    /// Fail unless the whole stream has been consumed.
    pub fn finish(&self) -> Result<(), DlibError> {
        match self.remaining() {
            0 => Ok(()),
            n => Err(DlibError::TrailingBytes(n)),
        }
    }

    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], DlibError> {
        if self.remaining() < n {
            return Err(DlibError::Truncated {
                offset: self.pos,
                needed: n - self.remaining(),
                what,
            });
        }
        let out = &self.bytes[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    /// The next byte, without consuming it.
    pub fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    /// The byte `n` places ahead, without consuming anything.
    pub fn peek_at(&self, n: usize) -> Option<u8> {
        self.bytes.get(self.pos + n).copied()
    }

    /// A signed integer of at most 8 magnitude bytes (`int`, `long`, `int64`).
    pub fn int(&mut self) -> Result<i64, DlibError> {
        let at = self.pos;
        let ctl = self.take(1, "integer control byte")?[0];
        if ctl & 0x70 != 0 {
            return Err(DlibError::malformed(
                at,
                format!("invalid integer control byte 0x{ctl:02x}"),
            ));
        }
        let size = usize::from(ctl & 0x0f);
        if size > 8 {
            return Err(DlibError::malformed(at, format!("integer of {size} bytes")));
        }
        let raw = self.take(size, "integer")?;
        let magnitude = raw
            .iter()
            .rev()
            .fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
        let magnitude = i64::try_from(magnitude)
            .map_err(|_| DlibError::malformed(at, "integer magnitude overflows i64"))?;
        Ok(if ctl & 0x80 != 0 {
            -magnitude
        } else {
            magnitude
        })
    }

    /// A non-negative integer used as a count, size or index.
    pub fn size(&mut self) -> Result<usize, DlibError> {
        let at = self.pos;
        let v = self.int()?;
        usize::try_from(v)
            .map_err(|_| DlibError::malformed(at, format!("expected a size, found {v}")))
    }

    /// The raw `float_details` pair: `(mantissa, exponent)`.
    fn float_details(&mut self) -> Result<(i64, i64), DlibError> {
        let at = self.pos;
        if let Some(b) = self.peek()
            && b & 0x70 != 0
        {
            return Err(DlibError::Unsupported(format!(
                "pre-2013 ASCII floating-point encoding at offset {at}"
            )));
        }
        let mantissa = self.int()?;
        let exponent = self.int()?;
        if !(-2000..=2000).contains(&exponent) && !(EXP_INF..=EXP_NAN).contains(&exponent) {
            return Err(DlibError::malformed(
                at,
                format!("float exponent {exponent} out of range"),
            ));
        }
        Ok((mantissa, exponent))
    }

    /// A `float_details`-encoded value read into a `double`.
    pub fn f64(&mut self) -> Result<f64, DlibError> {
        Ok(match self.float_details()? {
            (_, EXP_INF) => f64::INFINITY,
            (_, EXP_NINF) => f64::NEG_INFINITY,
            (_, EXP_NAN) => f64::NAN,
            (m, e) => ldexp(m as f64, e as i32),
        })
    }

    /// A `float_details`-encoded value read into a `float`, as dlib does:
    /// the mantissa is converted to `f32` first, then scaled.
    pub fn f32(&mut self) -> Result<f32, DlibError> {
        Ok(match self.float_details()? {
            (_, EXP_INF) => f32::INFINITY,
            (_, EXP_NINF) => f32::NEG_INFINITY,
            (_, EXP_NAN) => f32::NAN,
            (m, e) => ldexp(f64::from(m as f32), e as i32) as f32,
        })
    }

    /// One raw byte (`char`, `unsigned char`, `uint8_t`).
    pub fn byte(&mut self) -> Result<u8, DlibError> {
        Ok(self.take(1, "byte")?[0])
    }

    /// A `bool`, written by dlib as ASCII `'1'` or `'0'`.
    pub fn bool(&mut self) -> Result<bool, DlibError> {
        let at = self.pos;
        match self.take(1, "bool")?[0] {
            b'1' => Ok(true),
            b'0' => Ok(false),
            b => Err(DlibError::malformed(
                at,
                format!("invalid bool byte 0x{b:02x}"),
            )),
        }
    }

    /// A `std::string` (length, then bytes). Non-UTF-8 bytes are replaced.
    pub fn string(&mut self) -> Result<String, DlibError> {
        let len = self.size()?;
        let raw = self.take(len, "string")?;
        Ok(String::from_utf8_lossy(raw).into_owned())
    }

    /// A string that must equal `expected` (dlib's version tags).
    pub fn expect_tag(&mut self, expected: &str) -> Result<(), DlibError> {
        let at = self.pos;
        let tag = self.string()?;
        if tag == expected {
            Ok(())
        } else {
            Err(DlibError::malformed(
                at,
                format!("expected tag {expected:?}, found {tag:?}"),
            ))
        }
    }

    /// An integer that must equal `expected` (dlib's numeric versions).
    pub fn expect_int(&mut self, expected: i64, what: &str) -> Result<(), DlibError> {
        let at = self.pos;
        let v = self.int()?;
        if v == expected {
            Ok(())
        } else {
            Err(DlibError::malformed(
                at,
                format!("expected {what} {expected}, found {v}"),
            ))
        }
    }

    /// A `std::vector<T>`: its length, then each item read by `item`.
    pub fn vec<T>(
        &mut self,
        mut item: impl FnMut(&mut Self) -> Result<T, DlibError>,
    ) -> Result<Vec<T>, DlibError> {
        let len = self.size()?;
        // Every item takes at least one byte: a cheap guard against absurd lengths.
        if len > self.remaining() {
            return Err(DlibError::Truncated {
                offset: self.pos,
                needed: len - self.remaining(),
                what: "vector",
            });
        }
        let mut out = Vec::with_capacity(len);
        for _ in 0..len {
            out.push(item(self)?);
        }
        Ok(out)
    }

    /// A `matrix<float>` or `matrix<double>` (read as `f32`). Current dlib
    /// writes negated dimensions; older files positive ones.
    pub fn matrix(&mut self) -> Result<Matrix, DlibError> {
        let at = self.pos;
        let rows = self.int()?.unsigned_abs();
        let cols = self.int()?.unsigned_abs();
        let count = rows
            .checked_mul(cols)
            .filter(|n| *n <= self.remaining() as u64)
            .ok_or_else(|| {
                DlibError::malformed(at, format!("matrix of {rows}×{cols} does not fit the data"))
            })?;
        let data = (0..count)
            .map(|_| self.f32())
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Matrix {
            rows: rows as usize,
            cols: cols as usize,
            data,
        })
    }

    /// A `dlib::vector<float,2>` (x then y).
    pub fn point2(&mut self) -> Result<[f32; 2], DlibError> {
        Ok([self.f32()?, self.f32()?])
    }

    /// A DNN `resizable_tensor` (version 2: raw little-endian `f32` data).
    pub fn tensor(&mut self) -> Result<Tensor, DlibError> {
        self.expect_int(2, "resizable_tensor version")?;
        let at = self.pos;
        let dims = [self.size()?, self.size()?, self.size()?, self.size()?];
        let count = dims
            .iter()
            .try_fold(1usize, |acc, d| acc.checked_mul(*d))
            .ok_or_else(|| DlibError::malformed(at, format!("tensor dims {dims:?} overflow")))?;
        let bytes_len = count
            .checked_mul(4)
            .ok_or_else(|| DlibError::malformed(at, format!("tensor dims {dims:?} overflow")))?;
        let raw = self.take(bytes_len, "tensor data")?;
        let data = raw
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        Ok(Tensor { dims, data })
    }

    /// An `alias_tensor` (a shape only): `[num_samples, k, nr, nc]`.
    pub fn alias_tensor(&mut self) -> Result<[usize; 4], DlibError> {
        self.expect_int(1, "alias_tensor version")?;
        Ok([self.size()?, self.size()?, self.size()?, self.size()?])
    }
}

/// `x · 2^e` without overflow in the intermediate power.
fn ldexp(x: f64, e: i32) -> f64 {
    let mut x = x;
    let mut e = e;
    while e > 1000 {
        x *= 2f64.powi(1000);
        e -= 1000;
    }
    while e < -1000 {
        x *= 2f64.powi(-1000);
        e += 1000;
    }
    x * 2f64.powi(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_use_a_control_byte_and_little_endian_magnitude() {
        let bytes = [0x01, 0x02, 0x02, 0x00, 0x01, 0x81, 0x0a, 0x00, 0x01, 0x00];
        let mut r = Reader::new(&bytes);
        assert_eq!(r.int().unwrap(), 2);
        assert_eq!(r.int().unwrap(), 256);
        assert_eq!(r.int().unwrap(), -10);
        assert_eq!(r.int().unwrap(), 0);
        assert_eq!(r.int().unwrap(), 0);
        r.finish().unwrap();
    }

    #[test]
    fn integer_with_reserved_bits_is_rejected() {
        assert!(matches!(
            Reader::new(&[0x31]).int(),
            Err(DlibError::Malformed { .. })
        ));
    }

    #[test]
    fn truncated_integer_is_an_error() {
        assert!(matches!(
            Reader::new(&[0x02, 0x01]).int(),
            Err(DlibError::Truncated { .. })
        ));
        assert!(matches!(
            Reader::new(&[]).int(),
            Err(DlibError::Truncated { .. })
        ));
    }

    #[test]
    fn floats_are_mantissa_and_exponent() {
        // 0.04 as written by dlib for a float: 0xa3d70a · 2^-28.
        let bytes = [0x03, 0x0a, 0xd7, 0xa3, 0x81, 0x1c];
        assert_eq!(Reader::new(&bytes).f32().unwrap(), 0.04f32);
        // 1.0 as a double: 16 · 2^-4; 0.0: 0 · 2^11.
        let mut r = Reader::new(&[0x01, 0x10, 0x81, 0x04, 0x01, 0x00, 0x01, 0x0b]);
        assert_eq!(r.f64().unwrap(), 1.0);
        assert_eq!(r.f64().unwrap(), 0.0);
        // Special exponents.
        let inf = [0x00, 0x02, 0x00, 0x7d, 0x00, 0x02, 0x02, 0x7d];
        let mut r = Reader::new(&inf);
        assert_eq!(r.f32().unwrap(), f32::INFINITY);
        assert!(r.f32().unwrap().is_nan());
    }

    #[test]
    fn ascii_float_encoding_is_reported_unsupported() {
        assert!(matches!(
            Reader::new(b"1.5 ").f64(),
            Err(DlibError::Unsupported(_))
        ));
    }

    #[test]
    fn bools_strings_and_vectors() {
        let mut bytes = vec![b'1', b'0', 0x01, 0x03];
        bytes.extend_from_slice(b"abc");
        bytes.extend_from_slice(&[0x01, 0x02, 0x01, 0x05, 0x01, 0x07]);
        let mut r = Reader::new(&bytes);
        assert!(r.bool().unwrap());
        assert!(!r.bool().unwrap());
        assert_eq!(r.string().unwrap(), "abc");
        assert_eq!(r.vec(|r| r.int()).unwrap(), vec![5, 7]);
        r.finish().unwrap();
        assert!(Reader::new(b"x").bool().is_err());
    }

    #[test]
    fn vector_length_beyond_the_data_is_truncation() {
        assert!(matches!(
            Reader::new(&[0x01, 0x09, 0x01]).vec(|r| r.int()),
            Err(DlibError::Truncated { .. })
        ));
    }

    #[test]
    fn matrices_accept_negated_dimensions() {
        // 2×1 column: [1.0, -0.5]
        let bytes = [
            0x81, 0x02, 0x81, 0x01, 0x01, 0x01, 0x00, 0x81, 0x01, 0x81, 0x01,
        ];
        let m = Reader::new(&bytes).matrix().unwrap();
        assert_eq!((m.rows, m.cols), (2, 1));
        assert_eq!(m.data, vec![1.0, -0.5]);
    }

    #[test]
    fn tensors_hold_raw_little_endian_floats() {
        let mut bytes = vec![0x01, 0x02, 0x01, 0x02, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01];
        bytes.extend_from_slice(&1.5f32.to_le_bytes());
        bytes.extend_from_slice(&(-2.0f32).to_le_bytes());
        let t = Reader::new(&bytes).tensor().unwrap();
        assert_eq!(t.dims, [2, 1, 1, 1]);
        assert_eq!(t.data, vec![1.5, -2.0]);
        // Same header, data cut short.
        assert!(matches!(
            Reader::new(&bytes[..bytes.len() - 1]).tensor(),
            Err(DlibError::Truncated { .. })
        ));
        // Wrong version.
        assert!(Reader::new(&[0x01, 0x01]).tensor().is_err());
    }

    #[test]
    fn alias_tensors_are_shapes() {
        let bytes = [0x01, 0x01, 0x00, 0x01, 0x20, 0x01, 0x01, 0x01, 0x01];
        assert_eq!(Reader::new(&bytes).alias_tensor().unwrap(), [0, 32, 1, 1]);
    }
}
