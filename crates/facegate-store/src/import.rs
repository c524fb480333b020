//! Migration from face_recognition deployments: read the templates that
//! existing installations already have, so nobody has to re-enrol.
//!
//! Two formats, both parsed from bytes already in memory:
//!
//! * **`encodings.pickle`** — what the common face_recognition enrolment
//!   scripts write: `pickle.dump({"encodings": [...], "names": [...]}, f)`
//!   where each encoding is a numpy `float64` array of 128 values (a list of
//!   floats, a `float32` array and one N×D 2-D array are accepted too).
//!   Pickle is a program for a stack machine that can call any Python
//!   function, so it is **never** handed to a general unpickler. Instead
//!   [`parse_encodings_pickle`] runs a small interpreter for protocols 2–5
//!   that knows only the opcodes such a file contains and only the five
//!   "globals" numpy's array reconstruction uses (`numpy[._]core.multiarray._reconstruct`,
//!   `numpy[._]core.numeric._frombuffer`, `numpy.ndarray`, `numpy.dtype` and,
//!   for protocol 2's bytes, `_codecs.encode`). Those are not called: each is
//!   a tag the interpreter recognises and evaluates itself as data. Anything
//!   else (`os.system`, `builtins.eval`, persistent ids, extension codes,
//!   `NEWOBJ`, protocol 0/1 text opcodes, out-of-band buffers) is refused with
//!   [`ImportError::ForbiddenGlobal`] or [`ImportError::ForbiddenOpcode`].
//!   Sizes are bounded by [`ImportLimits`]; every read is bounds-checked, so
//!   truncated or hostile input gives an error, never a panic.
//!
//! * **`facebank.csv`** — UTF-8 (a leading BOM is ignored), comma-separated,
//!   RFC 4180 quoting (`"..."`, `""` for a quote, so names may contain commas).
//!   One face per row, in one of two shapes:
//!   - *wide*: `name,v1,v2,...,vD`;
//!   - *list*: `name,"[v1, v2, ..., vD]"` (what pandas writes for a column
//!     of lists; commas and/or whitespace separate the values).
//!
//!   The first row is a header, and skipped, exactly when its second field is
//!   not a number (or a bracketed list of numbers); its content is otherwise
//!   ignored. Blank lines are skipped. Every row has the same dimension D.
//!   Surrounding spaces of names and values are trimmed. Values are parsed as
//!   `f64` and then rounded to `f32`, the same rounding the pickle path
//!   applies to numpy's `float64`, so the same encodings exported both ways
//!   import identically.
//!
//! The values are returned as stored (face_recognition encodings are not unit
//! vectors): normalising and tagging them with the dlib pack's model id is the
//! caller's job. They are comparable with facegate's `dlib` pack, whose
//! recognizer is the same network, not with other packs.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};

/// One enrolled face from another system.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportedTemplate {
    pub name: String,
    pub embedding: Vec<f32>,
}

/// Bounds on what an import may cost. The defaults take a gallery of a
/// million faces. Memory stays below about `max_input_bytes` (copies of the
/// strings and byte buffers) + 16 bytes × `max_pickle_items` (the
/// interpreter's values) + `max_output_bytes` (the templates) + one decoded
/// array, whatever the file; time is linear in those.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImportLimits {
    /// Largest file accepted.
    pub max_input_bytes: usize,
    /// Most templates in one file.
    pub max_templates: usize,
    /// Largest embedding dimension.
    pub max_dim: usize,
    /// Most values the pickle interpreter may create (pushes onto its stack).
    pub max_pickle_items: usize,
    /// Deepest nesting of pickle MARKs.
    pub max_pickle_depth: usize,
    /// Longest name, in UTF-8 bytes.
    pub max_name_bytes: usize,
    /// Most bytes of names and `f32` values all templates together may take
    /// (a pickle can reference one object many times).
    pub max_output_bytes: usize,
}

impl Default for ImportLimits {
    fn default() -> Self {
        Self {
            max_input_bytes: 512 << 20,
            max_templates: 1_000_000,
            max_dim: 4096,
            max_pickle_items: 16_000_000,
            max_pickle_depth: 64,
            max_name_bytes: 1024,
            max_output_bytes: 1 << 30,
        }
    }
}

/// Why an import failed. Every variant is about the input file, never an
/// internal fault, so a server maps them all to 4xx.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImportError {
    #[error("the file is {size} bytes; the import limit is {limit}")]
    TooLarge { size: u64, limit: usize },
    #[error("not a pickle of protocol 2 to 5: {0}")]
    UnsupportedPickle(String),
    #[error("the pickle is truncated: {what} at byte {offset} runs past the end")]
    Truncated { offset: usize, what: &'static str },
    #[error(
        "pickle opcode {name} ({opcode:#04x}) at byte {offset} is not allowed: an encodings file never needs it"
    )]
    ForbiddenOpcode {
        opcode: u8,
        name: &'static str,
        offset: usize,
    },
    #[error(
        "the pickle at byte {offset} refers to `{module}.{name}`, which is refused: only numpy array reconstruction is allowed"
    )]
    ForbiddenGlobal {
        module: String,
        name: String,
        offset: usize,
    },
    #[error("malformed pickle at byte {offset}: {message}")]
    Malformed { offset: usize, message: String },
    #[error("the pickle exceeds an import limit: {0}")]
    LimitExceeded(String),
    #[error("not a face_recognition encodings file: {0}")]
    Layout(String),
    #[error("CSV line {line}: {message}")]
    Csv { line: usize, message: String },
    #[error("{0}: unknown format (expected a pickle or a CSV file)")]
    UnknownFormat(PathBuf),
    #[error("reading {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Which importer a file needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportFormat {
    Pickle,
    Csv,
}

/// Guess the format from the content: pickles of protocol 2+ start with the
/// PROTO opcode (0x80), which is never the first byte of UTF-8 text.
pub fn detect_format(bytes: &[u8]) -> ImportFormat {
    if bytes.first() == Some(&PROTO) {
        ImportFormat::Pickle
    } else {
        ImportFormat::Csv
    }
}

/// Read and parse a migration file (pickle or CSV, by content).
pub fn import_file(
    path: &Path,
    limits: &ImportLimits,
) -> Result<Vec<ImportedTemplate>, ImportError> {
    let io = |source| ImportError::Io {
        path: path.to_owned(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let size = file.metadata().map_err(io)?.len();
    if size > limits.max_input_bytes as u64 {
        return Err(ImportError::TooLarge {
            size,
            limit: limits.max_input_bytes,
        });
    }
    let mut bytes = Vec::new();
    // `take` guards against a file that grows after the size check.
    file.take(limits.max_input_bytes as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(io)?;
    if bytes.is_empty() {
        return Err(ImportError::UnknownFormat(path.to_owned()));
    }
    match detect_format(&bytes) {
        ImportFormat::Pickle => parse_encodings_pickle_with(&bytes, limits),
        ImportFormat::Csv => parse_facebank_csv_with(&bytes, limits),
    }
}

/// Parse a face_recognition `encodings.pickle` with the default limits.
pub fn parse_encodings_pickle(bytes: &[u8]) -> Result<Vec<ImportedTemplate>, ImportError> {
    parse_encodings_pickle_with(bytes, &ImportLimits::default())
}

/// Parse a face_recognition `encodings.pickle`.
pub fn parse_encodings_pickle_with(
    bytes: &[u8],
    limits: &ImportLimits,
) -> Result<Vec<ImportedTemplate>, ImportError> {
    check_size(bytes, limits)?;
    let mut machine = Machine::new(bytes, limits);
    let root = machine.run()?;
    machine.templates(root)
}

/// Parse a `facebank.csv` (format in the module docs) with the default limits.
pub fn parse_facebank_csv(bytes: &[u8]) -> Result<Vec<ImportedTemplate>, ImportError> {
    parse_facebank_csv_with(bytes, &ImportLimits::default())
}

/// Parse a `facebank.csv` (format in the module docs).
pub fn parse_facebank_csv_with(
    bytes: &[u8],
    limits: &ImportLimits,
) -> Result<Vec<ImportedTemplate>, ImportError> {
    check_size(bytes, limits)?;
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let line = 1 + bytes[..e.valid_up_to()]
            .iter()
            .filter(|&&b| b == b'\n')
            .count();
        ImportError::Csv {
            line,
            message: "not UTF-8 text".into(),
        }
    })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut out: Vec<ImportedTemplate> = Vec::new();
    let mut dim: Option<usize> = None;
    let mut first = true;
    for record in CsvRecords::new(text) {
        let (line, fields) = record?;
        if fields.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        let is_first = std::mem::replace(&mut first, false);
        let csv_err = |message: String| ImportError::Csv { line, message };
        let name = fields[0].trim();
        let values = match csv_values(&fields[1..]) {
            Ok(values) if !values.is_empty() => values,
            // A first row whose second field is not a number is the header.
            _ if is_first => continue,
            Ok(_) => return Err(csv_err("expected a name and embedding values".into())),
            Err(message) => return Err(csv_err(message)),
        };
        if name.is_empty() {
            return Err(csv_err("empty name".into()));
        }
        if name.len() > limits.max_name_bytes {
            return Err(csv_err(format!(
                "name longer than {} bytes",
                limits.max_name_bytes
            )));
        }
        if values.len() > limits.max_dim {
            return Err(csv_err(format!(
                "{} values; expected 1 to {}",
                values.len(),
                limits.max_dim
            )));
        }
        match dim {
            Some(d) if d != values.len() => {
                return Err(csv_err(format!(
                    "{} values, but earlier rows have {d}",
                    values.len()
                )));
            }
            _ => dim = Some(values.len()),
        }
        if out.len() >= limits.max_templates {
            return Err(csv_err(format!(
                "more than {} templates",
                limits.max_templates
            )));
        }
        let embedding = to_f32(&values).map_err(csv_err)?;
        out.push(ImportedTemplate {
            name: name.to_owned(),
            embedding,
        });
    }
    Ok(out)
}

fn check_size(bytes: &[u8], limits: &ImportLimits) -> Result<(), ImportError> {
    if bytes.len() > limits.max_input_bytes {
        return Err(ImportError::TooLarge {
            size: bytes.len() as u64,
            limit: limits.max_input_bytes,
        });
    }
    Ok(())
}

/// `f64` values to `f32`, refusing NaN and values that do not fit.
fn to_f32(values: &[f64]) -> Result<Vec<f32>, String> {
    values
        .iter()
        .enumerate()
        .map(|(i, &v)| {
            let f = v as f32;
            if f.is_finite() {
                Ok(f)
            } else {
                Err(format!("value {} ({v}) is not a finite float32", i + 1))
            }
        })
        .collect()
}

/// The embedding of one CSV row: the fields after the name, or one bracketed
/// list in the field after the name.
fn csv_values(rest: &[std::borrow::Cow<'_, str>]) -> Result<Vec<f64>, String> {
    let parse = |s: &str| -> Result<f64, String> {
        s.parse::<f64>()
            .map_err(|_| format!("{s:?} is not a number"))
    };
    if let [only] = rest
        && let Some(inner) = only.trim().strip_prefix('[')
    {
        let inner = inner
            .strip_suffix(']')
            .ok_or_else(|| "a list without its closing ']'".to_owned())?;
        return inner
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|s| !s.is_empty())
            .map(parse)
            .collect();
    }
    rest.iter().map(|s| parse(s.trim())).collect()
}

/// RFC 4180 records with the line each starts on. Fields borrow from the
/// text except where quoting needs unescaping.
struct CsvRecords<'a> {
    text: &'a str,
    pos: usize,
    line: usize,
}

impl<'a> CsvRecords<'a> {
    fn new(text: &'a str) -> Self {
        Self {
            text,
            pos: 0,
            line: 1,
        }
    }
}

impl<'a> Iterator for CsvRecords<'a> {
    type Item = Result<(usize, Vec<std::borrow::Cow<'a, str>>), ImportError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.pos >= self.text.len() {
            return None;
        }
        let start_line = self.line;
        let bytes = self.text.as_bytes();
        let mut fields = Vec::new();
        loop {
            // One field starting at self.pos.
            if bytes.get(self.pos) == Some(&b'"') {
                let mut value = String::new();
                let mut i = self.pos + 1;
                loop {
                    let Some(q) = self.text[i..].find('"') else {
                        return Some(Err(ImportError::Csv {
                            line: start_line,
                            message: "unterminated quoted field".into(),
                        }));
                    };
                    let chunk = &self.text[i..i + q];
                    self.line += chunk.matches('\n').count();
                    value.push_str(chunk);
                    i += q + 1;
                    if bytes.get(i) == Some(&b'"') {
                        value.push('"');
                        i += 1;
                    } else {
                        break;
                    }
                }
                // Only spaces may follow the closing quote before the separator.
                let end = self.text[i..]
                    .find([',', '\n', '\r'])
                    .map_or(self.text.len(), |e| i + e);
                if !self.text[i..end].trim().is_empty() {
                    return Some(Err(ImportError::Csv {
                        line: self.line,
                        message: "text after a closing quote".into(),
                    }));
                }
                fields.push(std::borrow::Cow::Owned(value));
                self.pos = end;
            } else {
                let end = self.text[self.pos..]
                    .find([',', '\n', '\r'])
                    .map_or(self.text.len(), |e| self.pos + e);
                fields.push(std::borrow::Cow::Borrowed(&self.text[self.pos..end]));
                self.pos = end;
            }
            match bytes.get(self.pos) {
                Some(b',') => self.pos += 1,
                Some(b'\r') => {
                    self.pos += 1;
                    if bytes.get(self.pos) == Some(&b'\n') {
                        self.pos += 1;
                    }
                    self.line += 1;
                    break;
                }
                Some(b'\n') => {
                    self.pos += 1;
                    self.line += 1;
                    break;
                }
                _ => break,
            }
        }
        Some(Ok((start_line, fields)))
    }
}

// ---------------------------------------------------------------------------
// The pickle interpreter.
// ---------------------------------------------------------------------------

const MARK: u8 = b'(';
const STOP: u8 = b'.';
const POP: u8 = b'0';
const POP_MARK: u8 = b'1';
const DUP: u8 = b'2';
const BININT: u8 = b'J';
const BININT1: u8 = b'K';
const BININT2: u8 = b'M';
const NONE: u8 = b'N';
const REDUCE: u8 = b'R';
const BINSTRING: u8 = b'T';
const SHORT_BINSTRING: u8 = b'U';
const BINUNICODE: u8 = b'X';
const APPEND: u8 = b'a';
const BUILD: u8 = b'b';
const GLOBAL: u8 = b'c';
const DICT: u8 = b'd';
const EMPTY_DICT: u8 = b'}';
const APPENDS: u8 = b'e';
const BINGET: u8 = b'h';
const LONG_BINGET: u8 = b'j';
const LIST: u8 = b'l';
const EMPTY_LIST: u8 = b']';
const BINPUT: u8 = b'q';
const LONG_BINPUT: u8 = b'r';
const SETITEM: u8 = b's';
const TUPLE: u8 = b't';
const EMPTY_TUPLE: u8 = b')';
const SETITEMS: u8 = b'u';
const BINFLOAT: u8 = b'G';
const PROTO: u8 = 0x80;
const TUPLE1: u8 = 0x85;
const TUPLE2: u8 = 0x86;
const TUPLE3: u8 = 0x87;
const NEWTRUE: u8 = 0x88;
const NEWFALSE: u8 = 0x89;
const LONG1: u8 = 0x8a;
const LONG4: u8 = 0x8b;
const BINBYTES: u8 = b'B';
const SHORT_BINBYTES: u8 = b'C';
const SHORT_BINUNICODE: u8 = 0x8c;
const BINUNICODE8: u8 = 0x8d;
const BINBYTES8: u8 = 0x8e;
const STACK_GLOBAL: u8 = 0x93;
const MEMOIZE: u8 = 0x94;
const FRAME: u8 = 0x95;
const BYTEARRAY8: u8 = 0x96;

/// Names of the opcodes that are refused, for the error message.
fn refused_opcode_name(op: u8) -> &'static str {
    match op {
        b'F' => "FLOAT",
        b'I' => "INT",
        b'L' => "LONG",
        b'P' => "PERSID",
        b'Q' => "BINPERSID",
        b'S' => "STRING",
        b'V' => "UNICODE",
        b'g' => "GET",
        b'i' => "INST",
        b'o' => "OBJ",
        b'p' => "PUT",
        0x81 => "NEWOBJ",
        0x82 => "EXT1",
        0x83 => "EXT2",
        0x84 => "EXT4",
        0x8f => "EMPTY_SET",
        0x90 => "ADDITEMS",
        0x91 => "FROZENSET",
        0x92 => "NEWOBJ_EX",
        0x97 => "NEXT_BUFFER",
        0x98 => "READONLY_BUFFER",
        _ => "unknown",
    }
}

/// A stack value. Containers, strings and numpy objects live in the arena
/// and are referred to by index, which gives pickle's shared-reference
/// semantics (a memoised dtype that a later BUILD updates is seen updated
/// through every reference) without copying anything on GET.
#[derive(Debug, Clone, Copy)]
enum Value {
    None,
    Bool(bool),
    Int(i64),
    Float(f64),
    Obj(usize),
}

#[derive(Debug)]
enum Obj {
    Str(String),
    /// `bytes` and `bytearray`.
    Bytes(Vec<u8>),
    /// Python 2 `str` (BINSTRING): bytes that may also stand for text.
    LegacyStr(Vec<u8>),
    Tuple(Vec<Value>),
    List(Vec<Value>),
    Dict(Vec<(Value, Value)>),
    Global(Global),
    Dtype(Dtype),
    Array(Array),
}

impl Obj {
    fn kind(&self) -> &'static str {
        match self {
            Obj::Str(_) => "str",
            Obj::Bytes(_) => "bytes",
            Obj::LegacyStr(_) => "str (Python 2)",
            Obj::Tuple(_) => "tuple",
            Obj::List(_) => "list",
            Obj::Dict(_) => "dict",
            Obj::Global(_) => "global",
            Obj::Dtype(_) => "numpy.dtype",
            Obj::Array(_) => "numpy.ndarray",
        }
    }
}

/// The only globals a numpy array pickle needs. They are tags, not calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Global {
    /// `numpy.core.multiarray._reconstruct` (numpy 1.x) or
    /// `numpy._core.multiarray._reconstruct` (2.x): an empty array that BUILD fills.
    Reconstruct,
    /// `numpy.core.numeric._frombuffer` / `numpy._core.numeric._frombuffer`:
    /// protocol 5's array from (buffer, dtype, shape, order).
    FromBuffer,
    /// `numpy.ndarray`, the class `_reconstruct` is given.
    NdarrayType,
    /// `numpy.dtype`, called with (descr, align, copy) and then BUILD.
    DtypeType,
    /// `_codecs.encode(str, "latin1")`: how protocol 2 writes bytes.
    CodecsEncode,
}

fn lookup_global(module: &str, name: &str) -> Option<Global> {
    match (module, name) {
        ("numpy.core.multiarray" | "numpy._core.multiarray", "_reconstruct") => {
            Some(Global::Reconstruct)
        }
        ("numpy.core.numeric" | "numpy._core.numeric", "_frombuffer") => Some(Global::FromBuffer),
        ("numpy", "ndarray") => Some(Global::NdarrayType),
        ("numpy", "dtype") => Some(Global::DtypeType),
        ("_codecs", "encode") => Some(Global::CodecsEncode),
        _ => None,
    }
}

#[derive(Debug)]
struct Dtype {
    /// Type code as numpy pickles it: "f8", "f4", ...
    descr: String,
    /// '<', '>', '|' or '=' (set by BUILD; '=' until then).
    byteorder: u8,
    /// Structured or sub-array dtypes, which an encoding never is.
    structured: bool,
}

#[derive(Debug)]
struct Array {
    shape: Vec<usize>,
    /// A `Value::Obj` of a dtype once known.
    dtype: Option<Value>,
    fortran: bool,
    /// A `Value::Obj` of bytes once known.
    data: Option<Value>,
}

struct Machine<'a> {
    input: &'a [u8],
    pos: usize,
    limits: &'a ImportLimits,
    stack: Vec<Value>,
    marks: Vec<usize>,
    memo: HashMap<u32, Value>,
    arena: Vec<Obj>,
    items: usize,
}

impl<'a> Machine<'a> {
    fn new(input: &'a [u8], limits: &'a ImportLimits) -> Self {
        Self {
            input,
            pos: 0,
            limits,
            stack: Vec::new(),
            marks: Vec::new(),
            memo: HashMap::new(),
            arena: Vec::new(),
            items: 0,
        }
    }

    fn malformed(&self, offset: usize, message: impl Into<String>) -> ImportError {
        ImportError::Malformed {
            offset,
            message: message.into(),
        }
    }

    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], ImportError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.input.len())
            .ok_or(ImportError::Truncated {
                offset: self.pos,
                what,
            })?;
        let input: &'a [u8] = self.input;
        let out = &input[self.pos..end];
        self.pos = end;
        Ok(out)
    }

    fn u8(&mut self, what: &'static str) -> Result<u8, ImportError> {
        Ok(self.take(1, what)?[0])
    }

    fn u16(&mut self, what: &'static str) -> Result<u16, ImportError> {
        let b = self.take(2, what)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }

    fn u32(&mut self, what: &'static str) -> Result<u32, ImportError> {
        let b = self.take(4, what)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn u64(&mut self, what: &'static str) -> Result<u64, ImportError> {
        let b = self.take(8, what)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }

    /// A length prefix, checked against what is left before anything is allocated.
    fn length(&mut self, len: u64, what: &'static str) -> Result<usize, ImportError> {
        let remaining = (self.input.len() - self.pos) as u64;
        if len > remaining {
            return Err(ImportError::Truncated {
                offset: self.pos,
                what,
            });
        }
        usize::try_from(len).map_err(|_| ImportError::Truncated {
            offset: self.pos,
            what,
        })
    }

    /// A `\n`-terminated ASCII line of GLOBAL, at most 256 bytes.
    fn line(&mut self) -> Result<String, ImportError> {
        let start = self.pos;
        let input: &'a [u8] = self.input;
        let rest = &input[self.pos..];
        let n = rest
            .iter()
            .take(257)
            .position(|&b| b == b'\n')
            .ok_or_else(|| {
                if rest.len() < 257 {
                    ImportError::Truncated {
                        offset: start,
                        what: "GLOBAL name",
                    }
                } else {
                    self.malformed(start, "GLOBAL name longer than 256 bytes")
                }
            })?;
        let line = &rest[..n];
        self.pos += n + 1;
        if !line.iter().all(|b| b.is_ascii_graphic()) {
            return Err(self.malformed(start, "GLOBAL name is not printable ASCII"));
        }
        Ok(String::from_utf8_lossy(line).into_owned())
    }

    fn push(&mut self, v: Value) -> Result<(), ImportError> {
        self.items += 1;
        if self.items > self.limits.max_pickle_items {
            return Err(ImportError::LimitExceeded(format!(
                "more than {} values",
                self.limits.max_pickle_items
            )));
        }
        self.stack.push(v);
        Ok(())
    }

    fn alloc(&mut self, obj: Obj) -> Value {
        self.arena.push(obj);
        Value::Obj(self.arena.len() - 1)
    }

    fn push_obj(&mut self, obj: Obj) -> Result<(), ImportError> {
        let v = self.alloc(obj);
        self.push(v)
    }

    fn pop(&mut self, at: usize) -> Result<Value, ImportError> {
        if self.marks.last().is_some_and(|&m| m >= self.stack.len()) {
            return Err(self.malformed(at, "pop across a MARK"));
        }
        self.stack
            .pop()
            .ok_or_else(|| self.malformed(at, "stack underflow"))
    }

    /// The top of the stack, which must be above the innermost MARK (as in
    /// Python, where MARK starts a fresh stack).
    fn top(&self, at: usize) -> Result<Value, ImportError> {
        if self.marks.last().is_some_and(|&m| m >= self.stack.len()) {
            return Err(self.malformed(at, "no value above the MARK"));
        }
        self.stack
            .last()
            .copied()
            .ok_or_else(|| self.malformed(at, "stack underflow"))
    }

    fn pop_mark(&mut self, at: usize) -> Result<Vec<Value>, ImportError> {
        let mark = self
            .marks
            .pop()
            .ok_or_else(|| self.malformed(at, "no MARK to pop to"))?;
        if mark > self.stack.len() {
            return Err(self.malformed(at, "MARK above the stack"));
        }
        Ok(self.stack.split_off(mark))
    }

    fn obj(&self, v: Value) -> Option<&Obj> {
        match v {
            Value::Obj(i) => self.arena.get(i),
            _ => None,
        }
    }

    fn obj_mut(&mut self, v: Value, at: usize) -> Result<&mut Obj, ImportError> {
        match v {
            Value::Obj(i) if i < self.arena.len() => Ok(&mut self.arena[i]),
            _ => Err(self.malformed(at, format!("expected an object, got {}", describe(v)))),
        }
    }

    fn kind(&self, v: Value) -> &'static str {
        self.obj(v).map_or_else(|| describe(v), Obj::kind)
    }

    fn string(&self, v: Value) -> Option<&str> {
        match self.obj(v)? {
            Obj::Str(s) => Some(s),
            Obj::LegacyStr(b) => std::str::from_utf8(b).ok(),
            _ => None,
        }
    }

    fn memo_get(&self, key: u32, at: usize) -> Result<Value, ImportError> {
        self.memo
            .get(&key)
            .copied()
            .ok_or_else(|| self.malformed(at, format!("memo key {key} is not set")))
    }

    fn memo_put(&mut self, key: u32, at: usize) -> Result<(), ImportError> {
        let v = self.top(at)?;
        if self.memo.len() >= self.limits.max_pickle_items {
            return Err(ImportError::LimitExceeded("too many memo entries".into()));
        }
        self.memo.insert(key, v);
        Ok(())
    }

    /// Run to STOP and return the one value left.
    fn run(&mut self) -> Result<Value, ImportError> {
        match self.input {
            [PROTO, 2..=5, ..] => self.pos = 2,
            [PROTO, p, ..] => {
                return Err(ImportError::UnsupportedPickle(format!("protocol {p}")));
            }
            [] => return Err(ImportError::UnsupportedPickle("the file is empty".into())),
            _ => {
                return Err(ImportError::UnsupportedPickle(
                    "no PROTO opcode at the start (protocol 0/1 or not a pickle)".into(),
                ));
            }
        }
        loop {
            let at = self.pos;
            let op = self.u8("opcode")?;
            match op {
                STOP => {
                    if !self.marks.is_empty() || self.stack.len() != 1 {
                        return Err(self.malformed(at, "STOP with an unbalanced stack"));
                    }
                    if self.pos != self.input.len() {
                        return Err(self.malformed(self.pos, "data after STOP"));
                    }
                    return self.pop(at);
                }
                FRAME => {
                    let len = self.u64("FRAME length")?;
                    self.length(len, "FRAME")?;
                }
                PROTO => return Err(self.malformed(at, "PROTO after the start")),
                MARK => {
                    if self.marks.len() >= self.limits.max_pickle_depth {
                        return Err(ImportError::LimitExceeded(format!(
                            "MARKs nested deeper than {}",
                            self.limits.max_pickle_depth
                        )));
                    }
                    self.marks.push(self.stack.len());
                }
                POP => {
                    self.pop(at)?;
                }
                POP_MARK => {
                    self.pop_mark(at)?;
                }
                DUP => {
                    let v = self.top(at)?;
                    self.push(v)?;
                }
                NONE => self.push(Value::None)?,
                NEWTRUE => self.push(Value::Bool(true))?,
                NEWFALSE => self.push(Value::Bool(false))?,
                BININT => {
                    let v = self.u32("BININT")? as i32;
                    self.push(Value::Int(i64::from(v)))?;
                }
                BININT1 => {
                    let v = self.u8("BININT1")?;
                    self.push(Value::Int(i64::from(v)))?;
                }
                BININT2 => {
                    let v = self.u16("BININT2")?;
                    self.push(Value::Int(i64::from(v)))?;
                }
                LONG1 | LONG4 => {
                    let n = if op == LONG1 {
                        u64::from(self.u8("LONG1 length")?)
                    } else {
                        u64::from(self.u32("LONG4 length")?)
                    };
                    let n = self.length(n, "LONG")?;
                    if n > 8 {
                        return Err(self.malformed(at, "integer wider than 64 bits"));
                    }
                    let b = self.take(n, "LONG")?;
                    let mut v: i64 = 0;
                    for (i, &byte) in b.iter().enumerate() {
                        v |= i64::from(byte) << (8 * i);
                    }
                    if n > 0 && n < 8 && b[n - 1] & 0x80 != 0 {
                        v -= 1i64 << (8 * n);
                    }
                    self.push(Value::Int(v))?;
                }
                BINFLOAT => {
                    let b = self.take(8, "BINFLOAT")?;
                    let mut a = [0u8; 8];
                    a.copy_from_slice(b);
                    self.push(Value::Float(f64::from_be_bytes(a)))?;
                }
                SHORT_BINUNICODE | BINUNICODE | BINUNICODE8 => {
                    let len = match op {
                        SHORT_BINUNICODE => u64::from(self.u8("string length")?),
                        BINUNICODE => u64::from(self.u32("string length")?),
                        _ => self.u64("string length")?,
                    };
                    let len = self.length(len, "string")?;
                    let b = self.take(len, "string")?;
                    let s = std::str::from_utf8(b)
                        .map_err(|_| self.malformed(at, "string is not UTF-8"))?;
                    self.push_obj(Obj::Str(s.to_owned()))?;
                }
                SHORT_BINBYTES | BINBYTES | BINBYTES8 | BYTEARRAY8 => {
                    let len = match op {
                        SHORT_BINBYTES => u64::from(self.u8("bytes length")?),
                        BINBYTES => u64::from(self.u32("bytes length")?),
                        _ => self.u64("bytes length")?,
                    };
                    let len = self.length(len, "bytes")?;
                    let b = self.take(len, "bytes")?;
                    self.push_obj(Obj::Bytes(b.to_vec()))?;
                }
                SHORT_BINSTRING | BINSTRING => {
                    let len = if op == SHORT_BINSTRING {
                        u64::from(self.u8("string length")?)
                    } else {
                        let n = self.u32("string length")? as i32;
                        u64::try_from(n)
                            .map_err(|_| self.malformed(at, "negative BINSTRING length"))?
                    };
                    let len = self.length(len, "string")?;
                    let b = self.take(len, "string")?;
                    self.push_obj(Obj::LegacyStr(b.to_vec()))?;
                }
                EMPTY_LIST => self.push_obj(Obj::List(Vec::new()))?,
                EMPTY_DICT => self.push_obj(Obj::Dict(Vec::new()))?,
                EMPTY_TUPLE => self.push_obj(Obj::Tuple(Vec::new()))?,
                LIST => {
                    let items = self.pop_mark(at)?;
                    self.push_obj(Obj::List(items))?;
                }
                TUPLE => {
                    let items = self.pop_mark(at)?;
                    self.push_obj(Obj::Tuple(items))?;
                }
                TUPLE1 | TUPLE2 | TUPLE3 => {
                    let n = usize::from(op - TUPLE1 + 1);
                    let mut items = Vec::with_capacity(n);
                    for _ in 0..n {
                        items.push(self.pop(at)?);
                    }
                    items.reverse();
                    self.push_obj(Obj::Tuple(items))?;
                }
                DICT => {
                    let items = self.pop_mark(at)?;
                    let pairs = self.pairs(items, at)?;
                    self.push_obj(Obj::Dict(pairs))?;
                }
                APPEND => {
                    let v = self.pop(at)?;
                    let list = self.top(at)?;
                    self.extend_list(list, vec![v], at)?;
                }
                APPENDS => {
                    let items = self.pop_mark(at)?;
                    let list = self.top(at)?;
                    self.extend_list(list, items, at)?;
                }
                SETITEM => {
                    let value = self.pop(at)?;
                    let key = self.pop(at)?;
                    let dict = self.top(at)?;
                    self.extend_dict(dict, vec![(key, value)], at)?;
                }
                SETITEMS => {
                    let items = self.pop_mark(at)?;
                    let pairs = self.pairs(items, at)?;
                    let dict = self.top(at)?;
                    self.extend_dict(dict, pairs, at)?;
                }
                BINPUT => {
                    let k = self.u8("BINPUT")?;
                    self.memo_put(u32::from(k), at)?;
                }
                LONG_BINPUT => {
                    let k = self.u32("LONG_BINPUT")?;
                    self.memo_put(k, at)?;
                }
                MEMOIZE => {
                    let k = u32::try_from(self.memo.len())
                        .map_err(|_| ImportError::LimitExceeded("too many memo entries".into()))?;
                    self.memo_put(k, at)?;
                }
                BINGET => {
                    let k = self.u8("BINGET")?;
                    let v = self.memo_get(u32::from(k), at)?;
                    self.push(v)?;
                }
                LONG_BINGET => {
                    let k = self.u32("LONG_BINGET")?;
                    let v = self.memo_get(k, at)?;
                    self.push(v)?;
                }
                GLOBAL => {
                    let module = self.line()?;
                    let name = self.line()?;
                    self.global(module, name, at)?;
                }
                STACK_GLOBAL => {
                    let name = self.pop(at)?;
                    let module = self.pop(at)?;
                    let (Some(module), Some(name)) = (self.string(module), self.string(name))
                    else {
                        return Err(self.malformed(at, "STACK_GLOBAL needs two strings"));
                    };
                    let (module, name) = (module.to_owned(), name.to_owned());
                    self.global(module, name, at)?;
                }
                REDUCE => {
                    let args = self.pop(at)?;
                    let callable = self.pop(at)?;
                    let result = self.reduce(callable, args, at)?;
                    self.push(result)?;
                }
                BUILD => {
                    let state = self.pop(at)?;
                    let target = self.top(at)?;
                    self.build(target, state, at)?;
                }
                _ => {
                    return Err(ImportError::ForbiddenOpcode {
                        opcode: op,
                        name: refused_opcode_name(op),
                        offset: at,
                    });
                }
            }
        }
    }

    fn pairs(&self, items: Vec<Value>, at: usize) -> Result<Vec<(Value, Value)>, ImportError> {
        if !items.len().is_multiple_of(2) {
            return Err(self.malformed(at, "odd number of dict items"));
        }
        Ok(items.chunks_exact(2).map(|p| (p[0], p[1])).collect())
    }

    fn extend_list(
        &mut self,
        list: Value,
        items: Vec<Value>,
        at: usize,
    ) -> Result<(), ImportError> {
        let kind = self.kind(list);
        match self.obj_mut(list, at)? {
            Obj::List(l) => {
                l.extend(items);
                Ok(())
            }
            _ => Err(self.malformed(at, format!("APPEND to a {kind}"))),
        }
    }

    fn extend_dict(
        &mut self,
        dict: Value,
        pairs: Vec<(Value, Value)>,
        at: usize,
    ) -> Result<(), ImportError> {
        let kind = self.kind(dict);
        match self.obj_mut(dict, at)? {
            Obj::Dict(d) => {
                d.extend(pairs);
                Ok(())
            }
            _ => Err(self.malformed(at, format!("SETITEM on a {kind}"))),
        }
    }

    fn global(&mut self, module: String, name: String, at: usize) -> Result<(), ImportError> {
        match lookup_global(&module, &name) {
            Some(g) => self.push_obj(Obj::Global(g)),
            None => Err(ImportError::ForbiddenGlobal {
                module,
                name,
                offset: at,
            }),
        }
    }

    fn tuple(&self, v: Value) -> Option<&[Value]> {
        match self.obj(v)? {
            Obj::Tuple(t) => Some(t),
            _ => None,
        }
    }

    fn shape(&self, v: Value, at: usize) -> Result<Vec<usize>, ImportError> {
        let dims = self
            .tuple(v)
            .ok_or_else(|| self.malformed(at, "array shape is not a tuple"))?;
        if dims.len() > 32 {
            return Err(self.malformed(at, "array has more than 32 dimensions"));
        }
        dims.iter()
            .map(|&d| match d {
                Value::Int(n) => {
                    usize::try_from(n).map_err(|_| self.malformed(at, "negative array dimension"))
                }
                _ => Err(self.malformed(at, "array dimension is not an integer")),
            })
            .collect()
    }

    fn bytes_like(&self, v: Value) -> bool {
        matches!(self.obj(v), Some(Obj::Bytes(_) | Obj::LegacyStr(_)))
    }

    /// REDUCE: evaluate one of the allowed globals on its arguments, as data.
    fn reduce(&mut self, callable: Value, args: Value, at: usize) -> Result<Value, ImportError> {
        let Some(Obj::Global(g)) = self.obj(callable) else {
            return Err(self.malformed(at, format!("REDUCE on a {}", self.kind(callable))));
        };
        let g = *g;
        let args: Vec<Value> = self
            .tuple(args)
            .ok_or_else(|| self.malformed(at, "REDUCE arguments are not a tuple"))?
            .to_vec();
        match (g, args.as_slice()) {
            (Global::Reconstruct, [class, _shape, _tag]) => {
                if !matches!(self.obj(*class), Some(Obj::Global(Global::NdarrayType))) {
                    return Err(
                        self.malformed(at, "_reconstruct of something other than numpy.ndarray")
                    );
                }
                Ok(self.alloc(Obj::Array(Array {
                    shape: Vec::new(),
                    dtype: None,
                    fortran: false,
                    data: None,
                })))
            }
            (Global::FromBuffer, [buffer, dtype, shape, order]) => {
                if !self.bytes_like(*buffer) {
                    return Err(self.malformed(at, "_frombuffer without a byte buffer"));
                }
                let fortran = match self.string(*order) {
                    Some("C") => false,
                    Some("F") => true,
                    _ => return Err(self.malformed(at, "_frombuffer order is not 'C' or 'F'")),
                };
                let shape = self.shape(*shape, at)?;
                Ok(self.alloc(Obj::Array(Array {
                    shape,
                    dtype: Some(*dtype),
                    fortran,
                    data: Some(*buffer),
                })))
            }
            (Global::DtypeType, [descr, ..]) if args.len() == 3 => {
                let descr = self
                    .string(*descr)
                    .ok_or_else(|| self.malformed(at, "numpy.dtype without a type code"))?;
                if descr.len() > 32 {
                    return Err(self.malformed(at, "numpy.dtype type code too long"));
                }
                let descr = descr.to_owned();
                Ok(self.alloc(Obj::Dtype(Dtype {
                    descr,
                    byteorder: b'=',
                    structured: false,
                })))
            }
            (Global::CodecsEncode, [text, encoding]) => {
                if !matches!(
                    self.string(*encoding),
                    Some("latin1" | "latin-1" | "iso-8859-1")
                ) {
                    return Err(
                        self.malformed(at, "_codecs.encode with an encoding other than latin1")
                    );
                }
                let text = self
                    .string(*text)
                    .ok_or_else(|| self.malformed(at, "_codecs.encode of a non-string"))?;
                let bytes = text
                    .chars()
                    .map(|c| u8::try_from(u32::from(c)))
                    .collect::<Result<Vec<u8>, _>>()
                    .map_err(|_| self.malformed(at, "latin1 text with a character above U+00FF"))?;
                Ok(self.alloc(Obj::Bytes(bytes)))
            }
            (g, _) => {
                Err(self.malformed(at, format!("{g:?} called with {} arguments", args.len())))
            }
        }
    }

    /// BUILD: set the state of a dtype or of an array from `_reconstruct`.
    fn build(&mut self, target: Value, state: Value, at: usize) -> Result<(), ImportError> {
        let fields: Vec<Value> = self
            .tuple(state)
            .ok_or_else(|| self.malformed(at, "BUILD state is not a tuple"))?
            .to_vec();
        match self.obj(target) {
            Some(Obj::Dtype(_)) => {
                // (version, byteorder, subarray, names, fields, elsize, alignment, flags[, metadata])
                if !(8..=9).contains(&fields.len()) {
                    return Err(self.malformed(at, "unexpected numpy.dtype state"));
                }
                let byteorder = match self.string(fields[1]) {
                    Some("<") => b'<',
                    Some(">") => b'>',
                    Some("|") => b'|',
                    Some("=") => b'=',
                    _ => {
                        return Err(
                            self.malformed(at, "numpy.dtype byte order is not one of < > | =")
                        );
                    }
                };
                let structured = fields[2..5].iter().any(|v| !matches!(v, Value::None));
                if let Obj::Dtype(d) = self.obj_mut(target, at)? {
                    d.byteorder = byteorder;
                    d.structured = structured;
                }
                Ok(())
            }
            Some(Obj::Array(a)) if a.dtype.is_none() => {
                // (version, shape, dtype, is_fortran, data) or, older, without the version.
                let rest = match fields.as_slice() {
                    [Value::Int(_), rest @ ..] if rest.len() == 4 => rest,
                    rest if rest.len() == 4 => rest,
                    _ => return Err(self.malformed(at, "unexpected numpy.ndarray state")),
                };
                let shape = self.shape(rest[0], at)?;
                let dtype = rest[1];
                if !matches!(self.obj(dtype), Some(Obj::Dtype(_))) {
                    return Err(self.malformed(at, "numpy.ndarray state without a dtype"));
                }
                let fortran = match rest[2] {
                    Value::Bool(b) => b,
                    Value::Int(i) => i != 0,
                    _ => return Err(self.malformed(at, "numpy.ndarray order flag is not a bool")),
                };
                let data = rest[3];
                if !self.bytes_like(data) {
                    return Err(ImportError::Layout(format!(
                        "a numpy array holds {} data instead of raw numbers (an object array?)",
                        self.kind(data)
                    )));
                }
                if let Obj::Array(a) = self.obj_mut(target, at)? {
                    a.shape = shape;
                    a.dtype = Some(dtype);
                    a.fortran = fortran;
                    a.data = Some(data);
                }
                Ok(())
            }
            _ => Err(self.malformed(at, format!("BUILD on a {}", self.kind(target)))),
        }
    }

    // -- From the unpickled value to templates ------------------------------

    fn templates(&self, root: Value) -> Result<Vec<ImportedTemplate>, ImportError> {
        let Some(Obj::Dict(pairs)) = self.obj(root) else {
            return Err(ImportError::Layout(format!(
                "the top-level object is a {}, not a dict with \"encodings\" and \"names\"",
                self.kind(root)
            )));
        };
        // Later keys win, as in Python.
        let get = |key: &str| {
            pairs
                .iter()
                .rev()
                .find(|(k, _)| self.string(*k) == Some(key))
                .map(|(_, v)| *v)
        };
        let names = get("names").ok_or_else(|| ImportError::Layout("no \"names\" key".into()))?;
        let encodings =
            get("encodings").ok_or_else(|| ImportError::Layout("no \"encodings\" key".into()))?;
        let names = self.sequence(names).ok_or_else(|| {
            ImportError::Layout(format!("\"names\" is a {}, not a list", self.kind(names)))
        })?;
        // Either one N×D array, decoded once (its data is in the input, so
        // its size is bounded by the input's), or a sequence of vectors,
        // each decoded in turn below.
        let dense: Option<(usize, Vec<f64>)> = match self.obj(encodings) {
            Some(Obj::Array(a)) => {
                let (shape, values) = self.array(a, usize::MAX)?;
                let [_, cols] = shape[..] else {
                    return Err(ImportError::Layout(format!(
                        "\"encodings\" is a {}-dimensional array; expected a list or an N×D array",
                        shape.len()
                    )));
                };
                Some((cols, values))
            }
            _ => None,
        };
        let items: &[Value] = match &dense {
            Some(_) => &[],
            None => self.sequence(encodings).ok_or_else(|| {
                ImportError::Layout(format!(
                    "\"encodings\" is a {}, not a list",
                    self.kind(encodings)
                ))
            })?,
        };
        let count = match &dense {
            Some((0, _)) => 0,
            Some((cols, values)) => values.len() / cols,
            None => items.len(),
        };
        if names.len() != count {
            return Err(ImportError::Layout(format!(
                "{} names but {count} encodings",
                names.len()
            )));
        }
        if count > self.limits.max_templates {
            return Err(ImportError::LimitExceeded(format!(
                "more than {} templates",
                self.limits.max_templates
            )));
        }
        // Shared references can make a small pickle name one big object many
        // times; this caps what the output may cost.
        let mut output_bytes = 0usize;
        let mut out = Vec::with_capacity(count);
        let mut dim = None;
        for (i, &name) in names.iter().enumerate() {
            let name = match self.string(name) {
                Some(s) if s.trim().is_empty() => {
                    return Err(ImportError::Layout(format!("name {i} is empty")));
                }
                Some(s) if s.len() > self.limits.max_name_bytes => {
                    return Err(ImportError::Layout(format!(
                        "name {i} is longer than {} bytes",
                        self.limits.max_name_bytes
                    )));
                }
                Some(s) => s,
                None => {
                    return Err(ImportError::Layout(format!(
                        "name {i} is a {}, not a string",
                        self.kind(name)
                    )));
                }
            };
            let values: std::borrow::Cow<'_, [f64]> = match &dense {
                Some((cols, values)) => {
                    std::borrow::Cow::Borrowed(&values[i * cols..(i + 1) * cols])
                }
                None => std::borrow::Cow::Owned(
                    self.encoding(items[i])
                        .map_err(|m| ImportError::Layout(format!("encoding {i}: {m}")))?,
                ),
            };
            let d = *dim.get_or_insert(values.len());
            if values.len() != d {
                return Err(ImportError::Layout(format!(
                    "encoding {i} has {} values, the first has {d}",
                    values.len()
                )));
            }
            if d == 0 || d > self.limits.max_dim {
                return Err(ImportError::Layout(format!(
                    "encodings have {d} values; expected 1 to {}",
                    self.limits.max_dim
                )));
            }
            output_bytes = output_bytes.saturating_add(name.len() + 4 * d);
            if output_bytes > self.limits.max_output_bytes {
                return Err(ImportError::LimitExceeded(format!(
                    "the templates would take more than {} bytes",
                    self.limits.max_output_bytes
                )));
            }
            let embedding =
                to_f32(&values).map_err(|e| ImportError::Layout(format!("encoding {i}: {e}")))?;
            out.push(ImportedTemplate {
                name: name.to_owned(),
                embedding,
            });
        }
        Ok(out)
    }

    fn sequence(&self, v: Value) -> Option<&[Value]> {
        match self.obj(v)? {
            Obj::List(items) | Obj::Tuple(items) => Some(items),
            _ => None,
        }
    }

    /// One encoding: a vector array (or 1×D), or a list of numbers.
    fn encoding(&self, v: Value) -> Result<Vec<f64>, String> {
        match self.obj(v) {
            Some(Obj::Array(a)) => {
                let (shape, values) = self
                    .array(a, self.limits.max_dim)
                    .map_err(|e| e.to_string())?;
                if shape.len() != 1 && !(shape.len() == 2 && shape[0] == 1) {
                    return Err(format!("an array of shape {shape:?}; expected one vector"));
                }
                Ok(values)
            }
            Some(Obj::List(items) | Obj::Tuple(items)) => {
                if items.len() > self.limits.max_dim {
                    return Err(format!(
                        "{} values; the limit is {}",
                        items.len(),
                        self.limits.max_dim
                    ));
                }
                items
                    .iter()
                    .map(|&x| match x {
                        Value::Float(f) => Ok(f),
                        Value::Int(i) => Ok(i as f64),
                        other => Err(format!("a list holding a {}", self.kind(other))),
                    })
                    .collect()
            }
            _ => Err(format!("a {}, not an array", self.kind(v))),
        }
    }

    /// A numeric array's shape and values in row-major order, as `f64`;
    /// refused before decoding when it holds more than `max_count` values.
    fn array(&self, a: &Array, max_count: usize) -> Result<(Vec<usize>, Vec<f64>), ImportError> {
        let (Some(dtype), Some(data)) = (a.dtype, a.data) else {
            return Err(ImportError::Layout(
                "a numpy array that was never filled in".into(),
            ));
        };
        let Some(Obj::Dtype(dtype)) = self.obj(dtype) else {
            return Err(ImportError::Layout("a numpy array without a dtype".into()));
        };
        let bytes: &[u8] = match self.obj(data) {
            Some(Obj::Bytes(b) | Obj::LegacyStr(b)) => b,
            _ => {
                return Err(ImportError::Layout("a numpy array without raw data".into()));
            }
        };
        if dtype.structured {
            return Err(ImportError::Layout("a structured numpy array".into()));
        }
        let size = match dtype.descr.as_str() {
            "f8" => 8,
            "f4" => 4,
            other => {
                return Err(ImportError::Layout(format!(
                    "numpy dtype {other:?}; encodings must be float64 or float32"
                )));
            }
        };
        let big_endian = dtype.byteorder == b'>';
        let count = a
            .shape
            .iter()
            .try_fold(1usize, |n, &d| n.checked_mul(d))
            .ok_or_else(|| ImportError::LimitExceeded("numpy array too large".into()))?;
        if count > max_count {
            return Err(ImportError::Layout(format!(
                "a numpy array of shape {:?}; expected at most {max_count} values",
                a.shape
            )));
        }
        if count.checked_mul(size) != Some(bytes.len()) {
            return Err(ImportError::Layout(format!(
                "numpy array of shape {:?} has {} bytes of data; expected {}",
                a.shape,
                bytes.len(),
                count.saturating_mul(size)
            )));
        }
        let mut values: Vec<f64> = bytes
            .chunks_exact(size)
            .map(|c| match (size, big_endian) {
                (8, false) => f64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]),
                (8, true) => f64::from_be_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]),
                (_, false) => f64::from(f32::from_le_bytes([c[0], c[1], c[2], c[3]])),
                (_, true) => f64::from(f32::from_be_bytes([c[0], c[1], c[2], c[3]])),
            })
            .collect();
        if a.fortran && a.shape.len() == 2 {
            let (rows, cols) = (a.shape[0], a.shape[1]);
            let mut c_order = Vec::with_capacity(values.len());
            for r in 0..rows {
                for c in 0..cols {
                    c_order.push(values[c * rows + r]);
                }
            }
            values = c_order;
        } else if a.fortran && a.shape.iter().filter(|&&d| d > 1).count() > 1 {
            return Err(ImportError::Layout(
                "a Fortran-ordered array of more than two dimensions".into(),
            ));
        }
        Ok((a.shape.clone(), values))
    }
}

fn describe(v: Value) -> &'static str {
    match v {
        Value::None => "None",
        Value::Bool(_) => "bool",
        Value::Int(_) => "int",
        Value::Float(_) => "float",
        Value::Obj(_) => "object",
    }
}
