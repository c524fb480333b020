//! Bounds-checked reading of FlatBuffers tables, vectors and strings.
//!
//! The model bytes come from a download, so every offset is treated as hostile:
//! each read checks its range against the buffer and reports the byte position
//! it choked on instead of panicking. Only the wire-format primitives the TFLite
//! schema uses are implemented (tables, scalar fields, vectors of scalars,
//! vectors of tables, strings); no code is generated from the schema.

use super::TfliteError;

/// A little-endian FlatBuffers buffer.
#[derive(Clone, Copy)]
pub(crate) struct Buf<'a> {
    pub(crate) bytes: &'a [u8],
}

fn malformed(what: &str, offset: usize) -> TfliteError {
    TfliteError::Malformed {
        what: what.to_owned(),
        offset,
    }
}

impl<'a> Buf<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Self { bytes }
    }

    pub(crate) fn slice(
        &self,
        pos: usize,
        len: usize,
        what: &str,
    ) -> Result<&'a [u8], TfliteError> {
        pos.checked_add(len)
            .and_then(|end| self.bytes.get(pos..end))
            .ok_or_else(|| malformed(what, pos))
    }

    fn array<const N: usize>(&self, pos: usize, what: &str) -> Result<[u8; N], TfliteError> {
        let s = self.slice(pos, N, what)?;
        let mut out = [0u8; N];
        out.copy_from_slice(s);
        Ok(out)
    }

    pub(crate) fn u8(&self, pos: usize, what: &str) -> Result<u8, TfliteError> {
        Ok(self.array::<1>(pos, what)?[0])
    }
    pub(crate) fn u16(&self, pos: usize, what: &str) -> Result<u16, TfliteError> {
        Ok(u16::from_le_bytes(self.array(pos, what)?))
    }
    pub(crate) fn u32(&self, pos: usize, what: &str) -> Result<u32, TfliteError> {
        Ok(u32::from_le_bytes(self.array(pos, what)?))
    }
    pub(crate) fn i32(&self, pos: usize, what: &str) -> Result<i32, TfliteError> {
        Ok(i32::from_le_bytes(self.array(pos, what)?))
    }
    pub(crate) fn u64(&self, pos: usize, what: &str) -> Result<u64, TfliteError> {
        Ok(u64::from_le_bytes(self.array(pos, what)?))
    }

    /// Follow the `uoffset_t` stored at `pos` (offsets are relative to where
    /// they are stored, and always point forward).
    fn follow(&self, pos: usize, what: &str) -> Result<usize, TfliteError> {
        let rel = self.u32(pos, what)? as usize;
        let target = pos.checked_add(rel).ok_or_else(|| malformed(what, pos))?;
        if target >= self.bytes.len() {
            return Err(malformed(what, pos));
        }
        Ok(target)
    }

    /// The root table: the buffer starts with the offset of it.
    pub(crate) fn root(&self) -> Result<Table<'a>, TfliteError> {
        let pos = self.follow(0, "root table offset")?;
        Table::at(*self, pos, "root table")
    }
}

/// One table: its position and the vtable that says where its fields are.
#[derive(Clone, Copy)]
pub(crate) struct Table<'a> {
    buf: Buf<'a>,
    pos: usize,
    vtable: usize,
    vtable_len: usize,
}

impl<'a> Table<'a> {
    fn at(buf: Buf<'a>, pos: usize, what: &str) -> Result<Self, TfliteError> {
        // The vtable is found through a *signed* offset subtracted from the
        // table position, so it may lie before or after the table.
        let soff = i64::from(buf.i32(pos, what)?);
        let vtable = i64::try_from(pos)
            .ok()
            .and_then(|p| p.checked_sub(soff))
            .and_then(|v| usize::try_from(v).ok())
            .ok_or_else(|| malformed(what, pos))?;
        let vtable_len = usize::from(buf.u16(vtable, what)?);
        let table_len = usize::from(buf.u16(vtable + 2, what)?);
        if vtable_len < 4 || vtable_len % 2 != 0 {
            return Err(malformed(what, vtable));
        }
        buf.slice(vtable, vtable_len, what)?;
        buf.slice(pos, table_len.max(4), what)?;
        Ok(Self {
            buf,
            pos,
            vtable,
            vtable_len,
        })
    }

    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    /// Position of field `index`, or `None` when the field is absent (which
    /// means "default value" in FlatBuffers).
    fn field(&self, index: usize) -> Result<Option<usize>, TfliteError> {
        let slot = 4 + 2 * index;
        if slot + 2 > self.vtable_len {
            return Ok(None);
        }
        let off = usize::from(self.buf.u16(self.vtable + slot, "vtable entry")?);
        if off == 0 {
            Ok(None)
        } else {
            Ok(Some(self.pos + off))
        }
    }

    pub(crate) fn u8(&self, index: usize, default: u8) -> Result<u8, TfliteError> {
        match self.field(index)? {
            Some(p) => self.buf.u8(p, "u8 field"),
            None => Ok(default),
        }
    }
    pub(crate) fn i8(&self, index: usize, default: i8) -> Result<i8, TfliteError> {
        Ok(self.u8(index, default as u8)? as i8)
    }
    pub(crate) fn bool(&self, index: usize, default: bool) -> Result<bool, TfliteError> {
        Ok(self.u8(index, u8::from(default))? != 0)
    }
    pub(crate) fn i32(&self, index: usize, default: i32) -> Result<i32, TfliteError> {
        match self.field(index)? {
            Some(p) => self.buf.i32(p, "i32 field"),
            None => Ok(default),
        }
    }
    pub(crate) fn u32(&self, index: usize, default: u32) -> Result<u32, TfliteError> {
        match self.field(index)? {
            Some(p) => self.buf.u32(p, "u32 field"),
            None => Ok(default),
        }
    }
    pub(crate) fn u64(&self, index: usize, default: u64) -> Result<u64, TfliteError> {
        match self.field(index)? {
            Some(p) => self.buf.u64(p, "u64 field"),
            None => Ok(default),
        }
    }
    pub(crate) fn f32(&self, index: usize, default: f32) -> Result<f32, TfliteError> {
        match self.field(index)? {
            Some(p) => Ok(f32::from_bits(self.buf.u32(p, "f32 field")?)),
            None => Ok(default),
        }
    }

    pub(crate) fn table(&self, index: usize, what: &str) -> Result<Option<Table<'a>>, TfliteError> {
        match self.field(index)? {
            Some(p) => {
                let target = self.buf.follow(p, what)?;
                Ok(Some(Table::at(self.buf, target, what)?))
            }
            None => Ok(None),
        }
    }

    /// A vector field whose elements are `elem_size` bytes each.
    pub(crate) fn vector(
        &self,
        index: usize,
        elem_size: usize,
        what: &str,
    ) -> Result<Option<Vector<'a>>, TfliteError> {
        match self.field(index)? {
            Some(p) => {
                let start = self.buf.follow(p, what)?;
                let len = self.buf.u32(start, what)? as usize;
                let bytes = len
                    .checked_mul(elem_size)
                    .ok_or_else(|| malformed(what, start))?;
                self.buf.slice(start + 4, bytes, what)?;
                Ok(Some(Vector {
                    buf: self.buf,
                    start: start + 4,
                    len,
                    elem_size,
                }))
            }
            None => Ok(None),
        }
    }

    pub(crate) fn string(&self, index: usize, what: &str) -> Result<Option<String>, TfliteError> {
        Ok(self
            .vector(index, 1, what)?
            .map(|v| String::from_utf8_lossy(v.bytes()).into_owned()))
    }

    pub(crate) fn i32s(&self, index: usize, what: &str) -> Result<Option<Vec<i32>>, TfliteError> {
        match self.vector(index, 4, what)? {
            Some(v) => Ok(Some(
                (0..v.len).map(|i| v.i32(i)).collect::<Result<_, _>>()?,
            )),
            None => Ok(None),
        }
    }

    pub(crate) fn f32s(&self, index: usize, what: &str) -> Result<Option<Vec<f32>>, TfliteError> {
        match self.vector(index, 4, what)? {
            Some(v) => Ok(Some(
                (0..v.len)
                    .map(|i| v.i32(i).map(|x| f32::from_bits(x as u32)))
                    .collect::<Result<_, _>>()?,
            )),
            None => Ok(None),
        }
    }

    pub(crate) fn i64s(&self, index: usize, what: &str) -> Result<Option<Vec<i64>>, TfliteError> {
        match self.vector(index, 8, what)? {
            Some(v) => Ok(Some(
                (0..v.len)
                    .map(|i| v.buf.u64(v.start + 8 * i, what).map(|x| x as i64))
                    .collect::<Result<_, _>>()?,
            )),
            None => Ok(None),
        }
    }

    /// A vector of tables (stored as offsets to each table).
    pub(crate) fn tables(&self, index: usize, what: &str) -> Result<Vec<Table<'a>>, TfliteError> {
        match self.vector(index, 4, what)? {
            Some(v) => (0..v.len)
                .map(|i| {
                    let p = v.start + 4 * i;
                    let target = v.buf.follow(p, what)?;
                    Table::at(v.buf, target, what)
                })
                .collect(),
            None => Ok(Vec::new()),
        }
    }
}

/// A bounds-checked vector of fixed-size elements.
#[derive(Clone, Copy)]
pub(crate) struct Vector<'a> {
    buf: Buf<'a>,
    start: usize,
    pub(crate) len: usize,
    elem_size: usize,
}

impl<'a> Vector<'a> {
    pub(crate) fn bytes(&self) -> &'a [u8] {
        // Checked to be in range when the vector was created.
        self.buf
            .bytes
            .get(self.start..self.start + self.len * self.elem_size)
            .unwrap_or(&[])
    }
    fn i32(&self, i: usize) -> Result<i32, TfliteError> {
        self.buf.i32(self.start + 4 * i, "vector element")
    }
}
