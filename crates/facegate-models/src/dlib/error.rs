//! The one error type of the dlib importer.

use thiserror::Error;

/// Why a dlib `.dat` file could not be read or converted.
#[derive(Debug, Error)]
pub enum DlibError {
    /// The stream ended inside a value.
    #[error(
        "truncated dlib data: needed {needed} more byte(s) at offset {offset} while reading {what}"
    )]
    Truncated {
        offset: usize,
        needed: usize,
        what: &'static str,
    },
    /// A value was read but is not what the format allows there.
    #[error("malformed dlib data at offset {offset}: {message}")]
    Malformed { offset: usize, message: String },
    /// Well-formed dlib data describing something this importer does not handle
    /// (another layer type, another network, an unknown version tag).
    #[error("unsupported dlib content: {0}")]
    Unsupported(String),
    /// Bytes left over after the whole object was read.
    #[error("{0} trailing byte(s) after the dlib object")]
    TrailingBytes(usize),
}

impl DlibError {
    pub(crate) fn malformed(offset: usize, message: impl Into<String>) -> Self {
        Self::Malformed {
            offset,
            message: message.into(),
        }
    }
}
