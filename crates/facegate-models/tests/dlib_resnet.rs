//! Parity: dlib's face-recognition ResNet converted to ONNX and run with ONNX
//! Runtime reproduces dlib 20.0.1's own descriptors on the reference chips.

mod dlib_support;

use facegate_models::dlib::{DlibError, RESNET_INPUT, RESNET_OUTPUT, resnet_to_onnx};
use ort::session::Session;
use ort::value::Tensor;

const MODEL: &str = "dlib_face_recognition_resnet_model_v1.dat";

fn chip_tensor(chips: &[image::RgbImage]) -> ndarray::Array4<f32> {
    let mut t = ndarray::Array4::<f32>::zeros((chips.len(), 3, 150, 150));
    for (n, chip) in chips.iter().enumerate() {
        for (x, y, p) in chip.enumerate_pixels() {
            for c in 0..3 {
                t[[n, c, y as usize, x as usize]] = f32::from(p.0[c]);
            }
        }
    }
    t
}

#[test]
fn resnet_descriptors_match_dlib_on_reference_chips() {
    let Some(shared) = dlib_support::shared_dir() else {
        return;
    };
    let Some(dat) = dlib_support::model_file(MODEL) else {
        return;
    };
    let Some(env) = dlib_support::ort_env() else {
        return;
    };
    let onnx = resnet_to_onnx(&dat).expect("convert ResNet");
    let mut session = Session::builder(&env)
        .expect("session builder")
        .with_intra_threads(1)
        .expect("threads")
        .commit_from_memory(&onnx)
        .expect("load converted model");

    let dir = shared.join("datasets/reference/dlib");
    let mut chips = Vec::new();
    let mut expected = Vec::new();
    for face in dlib_support::reference_faces(&shared) {
        let Some(chip) = face.chip else { continue };
        let chip = image::open(dir.join(chip)).expect("decode chip").to_rgb8();
        assert_eq!(chip.dimensions(), (150, 150));
        assert_eq!(face.descriptor.len(), 128);
        chips.push(chip);
        expected.push(face.descriptor);
    }
    assert!(!chips.is_empty());

    // Batch of all faces: also checks the batch dimension is free.
    let input = Tensor::from_array(chip_tensor(&chips)).expect("input tensor");
    let outputs = session
        .run(ort::inputs![RESNET_INPUT => input])
        .expect("run");
    let out = outputs[RESNET_OUTPUT]
        .try_extract_array::<f32>()
        .expect("embedding")
        .to_owned();
    drop(outputs);
    assert_eq!(out.shape(), &[chips.len(), 128]);

    let mut errs = Vec::new();
    for (n, want) in expected.iter().enumerate() {
        let l2 = (0..128)
            .map(|i| (out[[n, i]] - want[i]).powi(2))
            .sum::<f32>()
            .sqrt();
        errs.push(l2);
    }
    let max = errs.iter().cloned().fold(0f32, f32::max);
    let mean = errs.iter().sum::<f32>() / errs.len() as f32;
    println!(
        "ResNet parity over {} faces: max L2 {max:.2e}, mean L2 {mean:.2e}",
        errs.len()
    );
    assert!(
        max < 1e-3,
        "descriptor L2 error {max} ≥ 1e-3 (per face: {errs:?})"
    );

    // Single-face timing on one thread (first run excluded).
    let one = Tensor::from_array(chip_tensor(&chips[..1])).expect("tensor");
    session
        .run(ort::inputs![RESNET_INPUT => one])
        .expect("warm-up");
    let runs = 10;
    let start = std::time::Instant::now();
    for _ in 0..runs {
        let one = Tensor::from_array(chip_tensor(&chips[..1])).expect("tensor");
        session.run(ort::inputs![RESNET_INPUT => one]).expect("run");
    }
    let per_face = start.elapsed() / runs;
    println!("ResNet inference, 1 face, 1 intra-op thread: {per_face:?}");
}

#[test]
fn truncated_resnet_file_is_a_clear_error() {
    let Some(dat) = dlib_support::model_file(MODEL) else {
        return;
    };
    for cut in [0, 1, 10, 300, dat.len() / 2, dat.len() - 1] {
        let err = resnet_to_onnx(&dat[..cut]).expect_err("truncated file accepted");
        assert!(
            matches!(
                err,
                DlibError::Truncated { .. } | DlibError::Malformed { .. }
            ),
            "cut at {cut}: unexpected error {err}"
        );
    }
}

#[test]
fn non_network_input_is_rejected() {
    assert!(resnet_to_onnx(b"").is_err());
    assert!(resnet_to_onnx(&[0x01, 0x01, 0x01, 0x03, b'a', b'b', b'c']).is_err());
    let Some(sp) = dlib_support::model_file("shape_predictor_5_face_landmarks.dat") else {
        return;
    };
    assert!(resnet_to_onnx(&sp).is_err());
}

/// Corrupting the structural bytes (header, first layer, last layers) must
/// give an error or a model, never a panic.
#[test]
fn corrupted_files_never_panic() {
    let Some(dat) = dlib_support::model_file(MODEL) else {
        return;
    };
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let tail = dat.len() - 400;
    for _ in 0..12 {
        let mut bad = dat.clone();
        let pos = match next() % 2 {
            0 => (next() % 400) as usize,
            _ => tail + (next() % 400) as usize,
        };
        bad[pos] = (next() & 0xff) as u8;
        let _ = resnet_to_onnx(&bad);
    }
}
