//! dlib-compatible face processing: 5-point shape predictor and face chips.
