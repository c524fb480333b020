//! dlib model importer: dlib's own serialisation, the face-recognition ResNet
//! to ONNX, and the regression-tree shape predictors.
//!
//! `face_recognition` (and dlib users generally) ship models as dlib `.dat`
//! files, which ONNX Runtime cannot load. This module reads that format
//! natively — no dlib, no Python — so facegate reproduces dlib's 128-d
//! descriptors exactly:
//! - [`reader`]: the serialisation primitives (`dlib/serialize.h`);
//! - [`net`]: a DNN file as a flat list of typed layers;
//! - [`resnet_to_onnx`]: `dlib_face_recognition_resnet_model_v1.dat` → ONNX;
//! - [`ShapePredictorModel`]: `shape_predictor_*_face_landmarks.dat`, evaluated
//!   by `facegate_vision::dlib::ShapePredictor`;
//! - [`mmod_to_onnx`]: `mmod_human_face_detector.dat` (the CNN detector) → ONNX
//!   plus what its decoder needs.

mod error;
mod mmod;
pub mod net;
pub mod reader;
mod resnet;
mod shape_predictor;

pub use error::DlibError;
pub use mmod::{
    MMOD_FACE_PYRAMID_DOWN, MMOD_INPUT, MMOD_OUTPUT, MmodModel, SpatialLayer, mmod_to_onnx,
};
pub use resnet::{RESNET_INPUT, RESNET_OUTPUT, resnet_to_onnx};
pub use shape_predictor::{RegressionTree, ShapePredictorModel, Split};
