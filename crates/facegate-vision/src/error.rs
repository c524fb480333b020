use crate::decode::DecodeError;

/// Errors of the face engine. [`VisionError::is_bad_input`] separates the
/// caller's mistakes (map to HTTP 4xx) from failures of the engine itself.
#[derive(Debug, thiserror::Error)]
pub enum VisionError {
    #[error(transparent)]
    Decode(#[from] DecodeError),
    #[error("ONNX Runtime: {0}")]
    Runtime(#[from] crate::runtime::RuntimeError),
    #[error(transparent)]
    Pack(#[from] facegate_models::pack::PackError),
    #[error("model {model}: {message}")]
    Model { model: String, message: String },
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl VisionError {
    pub(crate) fn internal(message: impl Into<String>) -> Self {
        VisionError::Internal(message.into())
    }

    /// True when the error is about the input, not the engine.
    pub fn is_bad_input(&self) -> bool {
        matches!(
            self,
            VisionError::Decode(_) | VisionError::InvalidArgument(_)
        )
    }
}
