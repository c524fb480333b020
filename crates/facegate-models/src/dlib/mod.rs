//! dlib model importer: dlib's serialisation, ResNet to ONNX, shape predictors.
