//! Domain types shared by every facegate crate.
//!
//! This crate has no I/O and no heavy dependencies: it is the vocabulary the
//! vision, models, store and server crates speak to each other in. Geometry is
//! in pixel coordinates of the *oriented* source image (after EXIF rotation),
//! with `x` to the right and `y` down.

pub mod calibration;
mod embedding;
mod geometry;
pub mod plausibility;

pub use calibration::{Decision, FarCurve, FarPoint, OperatingPoint, decide};
pub use embedding::{Embedding, EmbeddingError, dot};
pub use geometry::{BoundingBox, DetectedFace, Landmarks5, Point};
