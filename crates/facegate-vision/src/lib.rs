//! The face engine: everything between image bytes and embeddings.
//!
//! `decode` turns untrusted bytes into an oriented RGB image within pixel
//! limits; `detect` finds faces with five landmarks; `align` warps each face
//! to its recognizer's template; `embed` runs recognizers over batches of
//! aligned faces. [`Engine`] wires an installed model pack into one
//! shareable, thread-safe object. Models run on ONNX Runtime, loaded
//! dynamically by `runtime`.

pub mod align;
pub mod decode;
pub mod detect;
pub mod dlib;
pub mod embed;
mod engine;
mod error;
pub mod liveness;
pub mod quality;
pub mod resize;
pub mod rotate;
pub mod runtime;
pub mod session;

pub use engine::{
    Analysis, AnalyzeOptions, AnalyzedFace, Engine, EngineOptions, Timings, default_data_dir,
    dlib_box_for,
};
pub use error::VisionError;
