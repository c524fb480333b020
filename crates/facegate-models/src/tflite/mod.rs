//! TFLite flatbuffer to ONNX importer.
