//! Format conversion at install time, so the engine only ever loads ONNX.

use super::{Conversion, PackError};

pub fn convert(kind: Conversion, file: &str, bytes: Vec<u8>) -> Result<Vec<u8>, PackError> {
    let failed = |message: String| PackError::Conversion {
        file: file.to_owned(),
        message,
    };
    match kind {
        Conversion::None => Ok(bytes),
        Conversion::Tflite => crate::tflite::convert(&bytes).map_err(|e| failed(e.to_string())),
        Conversion::TfliteDynamicBatch => {
            let options = crate::tflite::ConvertOptions {
                dynamic_batch: true,
                ..Default::default()
            };
            crate::tflite::convert_with(&bytes, &options).map_err(|e| failed(e.to_string()))
        }
        Conversion::DlibResnet => {
            crate::dlib::resnet_to_onnx(&bytes).map_err(|e| failed(e.to_string()))
        }
    }
}
