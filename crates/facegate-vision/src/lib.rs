//! The face engine: everything between image bytes and embeddings.
//!
//! `decode` turns untrusted bytes into an oriented RGB image within pixel
//! limits; detectors find faces with five landmarks; `align` warps each face
//! to its recognizer's template; recognizers embed batches of aligned faces;
//! liveness models score presentation attacks. [`Engine`] wires an installed
//! model pack into one shareable, thread-safe object.

pub mod dlib;
