//! End to end against dlib: image + dlib's HOG box → shape predictor → face
//! chip → converted ResNet on ONNX Runtime, compared with the descriptor
//! dlib 20.0.1 computed from the same image (face_recognition's
//! `face_encodings` with `num_jitters=0`).

#[path = "../../facegate-models/tests/dlib_support/mod.rs"]
mod dlib_support;

use facegate_core::BoundingBox;
use facegate_models::dlib::{RESNET_INPUT, RESNET_OUTPUT, resnet_to_onnx};
use facegate_vision::dlib::{FACE_CHIP_PADDING, FACE_CHIP_SIZE, ShapePredictor, face_chip};
use ort::session::Session;
use ort::value::Tensor;

#[test]
fn descriptors_from_images_match_dlib() {
    let Some(shared) = dlib_support::shared_dir() else {
        return;
    };
    let Some(sp_dat) = dlib_support::model_file("shape_predictor_5_face_landmarks.dat") else {
        return;
    };
    let Some(net_dat) = dlib_support::model_file("dlib_face_recognition_resnet_model_v1.dat")
    else {
        return;
    };
    let Some(env) = dlib_support::ort_env() else {
        return;
    };
    let sp = ShapePredictor::from_dat(&sp_dat).expect("shape predictor");
    let onnx = resnet_to_onnx(&net_dat).expect("convert ResNet");
    let mut session = Session::builder(&env)
        .expect("builder")
        .commit_from_memory(&onnx)
        .expect("session");
    let reference = dlib_support::reference(&shared);

    let faces = dlib_support::reference_faces(&shared);
    let mut batch = ndarray::Array4::<f32>::zeros((faces.len(), 3, 150, 150));
    let mut cache: Option<(String, image::RgbImage)> = None;
    let mut all_reference_pixels = true;
    for (n, face) in faces.iter().enumerate() {
        if cache.as_ref().is_none_or(|(p, _)| *p != face.image) {
            let (img, same) = dlib_support::load_as_reference(&shared, &face.image);
            all_reference_pixels &= same;
            cache = Some((face.image.clone(), img));
        }
        let Some((_, img)) = cache.as_ref() else {
            continue;
        };
        let [l, t, r, b] = face.rect_ltrb.map(|v| v as f32);
        let pts = sp
            .predict5(img, BoundingBox::new(l, t, r + 1.0, b + 1.0))
            .expect("5 points");
        let chip = face_chip(img, &pts, FACE_CHIP_SIZE, FACE_CHIP_PADDING);
        for (x, y, p) in chip.enumerate_pixels() {
            for c in 0..3 {
                batch[[n, c, y as usize, x as usize]] = f32::from(p.0[c]);
            }
        }
    }
    let outputs = session
        .run(ort::inputs![RESNET_INPUT => Tensor::from_array(batch).expect("tensor")])
        .expect("run");
    let out = outputs[RESNET_OUTPUT]
        .try_extract_array::<f32>()
        .expect("embedding");

    // descriptor_from_image, in document order (same order as `faces`).
    let from_image: Vec<Vec<f32>> = reference["images"]
        .as_array()
        .expect("images")
        .iter()
        .flat_map(|img| img["faces"].as_array().expect("faces").iter())
        .map(|f| {
            f["descriptor_from_image"]
                .as_array()
                .expect("descriptor")
                .iter()
                .map(|v| v.as_f64().unwrap_or(0.0) as f32)
                .collect()
        })
        .collect();
    assert_eq!(from_image.len(), faces.len());
    let errs: Vec<f32> = from_image
        .iter()
        .enumerate()
        .map(|(n, want)| {
            want.iter()
                .enumerate()
                .map(|(i, w)| (out[[n, i]] - w).powi(2))
                .sum::<f32>()
                .sqrt()
        })
        .collect();
    let max = errs.iter().cloned().fold(0f32, f32::max);
    let mean = errs.iter().sum::<f32>() / errs.len() as f32;
    println!(
        "end-to-end descriptors over {} faces: max L2 {max:.2e}, mean L2 {mean:.2e} (same-person threshold 0.6)",
        errs.len()
    );
    if all_reference_pixels {
        assert!(
            max < 1e-3,
            "end-to-end descriptor distance {max} on the reference pixels (per face {errs:?})"
        );
    } else {
        // With the `image` crate's JPEG decoding, ±1 pixel differences move a
        // landmark by a pixel here and there (see dlib_parity.rs), which moves
        // the chip by up to half a pixel: well below the 0.6 match threshold.
        assert!(
            max < 0.12 && mean < 0.06,
            "end-to-end descriptor distance {max} (per face {errs:?})"
        );
    }
}
