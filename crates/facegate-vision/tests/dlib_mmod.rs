//! dlib's CNN (MMOD) face detector converted to ONNX, run on its tiled
//! pyramid and decoded: sanity against face_recognition's documented facts.

#[path = "../../facegate-models/tests/dlib_support/mod.rs"]
mod dlib_support;

use facegate_models::dlib::{MMOD_FACE_PYRAMID_DOWN, MMOD_INPUT, MMOD_OUTPUT, mmod_to_onnx};
use facegate_vision::dlib::{MmodDetection, decode_mmod, tiled_pyramid};
use ort::session::Session;
use ort::value::Tensor;

fn detect(
    session: &mut Session,
    model: &facegate_models::dlib::MmodModel,
    img: &image::RgbImage,
) -> Vec<MmodDetection> {
    let pyr = tiled_pyramid(img, model, MMOD_FACE_PYRAMID_DOWN);
    let input = ndarray::Array4::from_shape_vec((1, 3, pyr.height, pyr.width), pyr.data.clone())
        .expect("canvas shape");
    let outputs = session
        .run(ort::inputs![MMOD_INPUT => Tensor::from_array(input).expect("tensor")])
        .expect("run");
    let (shape, scores) = outputs[MMOD_OUTPUT]
        .try_extract_tensor::<f32>()
        .expect("scores");
    let dims = [shape[1] as usize, shape[2] as usize, shape[3] as usize];
    decode_mmod(model, &pyr, scores, dims, 0.0)
}

#[test]
fn cnn_detector_finds_the_documented_faces() {
    let Some(shared) = dlib_support::shared_dir() else {
        return;
    };
    let Some(dat) = dlib_support::model_file("mmod_human_face_detector.dat") else {
        return;
    };
    let Some(env) = dlib_support::ort_env() else {
        return;
    };
    let model = mmod_to_onnx(&dat).expect("convert MMOD");
    assert_eq!(model.options.detector_windows.len(), 1);
    let mut session = Session::builder(&env)
        .expect("builder")
        .commit_from_memory(&model.onnx)
        .expect("session");

    // face_recognition's test suite: one face in obama.jpg, CNN box
    // (top, right, bottom, left) = (144, 608, 389, 363) ± 25 px.
    let img = dlib_support::load_image(&shared, "peers/face_recognition/test_images/obama.jpg");
    let start = std::time::Instant::now();
    let dets = detect(&mut session, &model, &img);
    println!("obama.jpg: {dets:?} in {:?}", start.elapsed());
    assert_eq!(dets.len(), 1, "{dets:?}");
    let b = dets[0].bbox;
    let (top, right, bottom, left) = (b.top, b.right - 1.0, b.bottom - 1.0, b.left);
    for (got, want) in [(top, 144.0), (right, 608.0), (bottom, 389.0), (left, 363.0)] {
        assert!(
            (got - want).abs() <= 25.0,
            "box {b:?} vs (144, 608, 389, 363)"
        );
    }

    // face-api.js faces.jpg: a group of six.
    let img = dlib_support::load_image(&shared, "peers/face-api.js/test_images/faces.jpg");
    let dets = detect(&mut session, &model, &img);
    println!("faces.jpg: {} faces: {dets:?}", dets.len());
    assert_eq!(dets.len(), 6, "{dets:?}");
}

#[test]
fn truncated_mmod_file_is_an_error() {
    let Some(dat) = dlib_support::model_file("mmod_human_face_detector.dat") else {
        return;
    };
    for cut in [0, 5, 40, dat.len() / 2, dat.len() - 1] {
        assert!(mmod_to_onnx(&dat[..cut]).is_err(), "cut at {cut} accepted");
    }
    let Some(resnet) = dlib_support::model_file("dlib_face_recognition_resnet_model_v1.dat") else {
        return;
    };
    assert!(mmod_to_onnx(&resnet).is_err());
}
