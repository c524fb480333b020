//! Writing ONNX models.
//!
//! `proto` holds the subset of `onnx.proto` the importers emit, as prost
//! messages declared by hand: the full schema would pull in `protoc` at build
//! time for about a tenth of its messages. `builder` is a small graph builder
//! that names values, adds initializers and serialises the model.

mod builder;
pub mod proto;

pub use builder::{Attr, GraphBuilder, OPSET_VERSION};
