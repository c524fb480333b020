//! Model packs and weight importers.
//!
//! A *pack* is a directory with a `pack.toml` manifest naming the models the
//! face engine runs (detector, landmarks, recognizer, liveness), each with its
//! file, sha256, licence, source and preprocessing. This crate knows how to
//! fetch, convert, verify and describe packs; it never runs a model — that is
//! `facegate-vision`'s job.
//!
//! Registry-shipped weights come in formats ONNX Runtime cannot load (TFLite
//! flatbuffers, dlib's own serialisation), so the importers here rewrite them
//! as ONNX graphs at install time.

pub mod dlib;
pub mod onnx;
pub mod pack;
pub mod runtime;
pub mod swagger_ui;
pub mod tflite;
