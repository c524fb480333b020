//! dlib-compatible face processing: the regression-tree shape predictor and
//! dlib's face chips — the two steps between a face box and dlib's ResNet.
//!
//! With `facegate_models::dlib::resnet_to_onnx` this reproduces
//! face_recognition's `face_encodings` without dlib: box → [`ShapePredictor`]
//! (5 points, dlib order) → [`face_chip`] (150 × 150, padding 0.25) → the
//! converted ResNet (raw RGB NCHW in, 128-d descriptor out). Each step
//! follows dlib's arithmetic so the results match dlib's own.
//!
//! dlib's CNN face detector is covered too: [`tiled_pyramid`] builds its
//! input canvas and [`decode_mmod`] turns the converted network's score map
//! into boxes.

mod chip;
mod geometry;
mod landmarks;
mod mmod;
mod shape_predictor;

pub use chip::{DLIB_TEMPLATE_5, face_chip, face_chip_68};
pub use landmarks::landmarks5_from_dlib;
pub use mmod::{MmodDetection, TiledPyramid, decode_mmod, tiled_pyramid};
pub use shape_predictor::ShapePredictor;

/// face_recognition's chip size for the ResNet.
pub const FACE_CHIP_SIZE: u32 = 150;
/// face_recognition's chip padding for the ResNet.
pub const FACE_CHIP_PADDING: f32 = 0.25;
