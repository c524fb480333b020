//! Development aid: every frame of a clip with each face's box, track,
//! quality and nearest known person. `cargo run -p facegate-streams
//! --example trace_clip -- CLIP NAME=PHOTO...` (FACEGATE_DATA_DIR set).

use std::sync::Arc;

use facegate_streams::{
    DecodeSettings, FfmpegSource, SourceSpec, StreamError, Tracker, TrackerConfig,
};
use facegate_vision::{Engine, EngineOptions};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let data = std::env::var("FACEGATE_DATA_DIR").expect("FACEGATE_DATA_DIR");
    let pack = facegate_models::pack::resolve(std::path::Path::new(&data), "auto");
    let engine =
        Arc::new(Engine::load_installed(&pack, &EngineOptions::new(&data)).expect("engine"));
    let known: Vec<(String, facegate_core::Embedding)> = args[1..]
        .iter()
        .map(|a| {
            let (name, path) = a.split_once('=').expect("NAME=PHOTO");
            let analysis = engine
                .analyze(&std::fs::read(path).expect("photo"))
                .expect("analyse");
            (name.to_owned(), analysis.faces[0].embedding.clone())
        })
        .collect();
    let mut reader =
        FfmpegSource::open(&SourceSpec::new(&args[0]), &DecodeSettings::default()).expect("open");
    let mut tracker = Tracker::new(TrackerConfig::default());
    loop {
        let frame = match reader.read() {
            Ok(f) => f,
            Err(StreamError::Ended) => break,
            Err(e) => panic!("{e}"),
        };
        let faces = engine.detect(&frame.image).expect("detect");
        let update = tracker.update(frame.media_ms, &faces);
        let (analyzed, _) = engine.embed_faces(&frame.image, &faces).expect("embed");
        for ((face, id), a) in faces.iter().zip(&update.assigned).zip(&analyzed) {
            let best = known
                .iter()
                .map(|(n, e)| {
                    (
                        n.as_str(),
                        facegate_core::dot(e.as_slice(), a.embedding.as_slice()),
                    )
                })
                .max_by(|x, y| x.1.total_cmp(&y.1));
            println!(
                "{:>5} ms track {id:>2} box w {:>5.0} score {:.2} eye {:>5.1} yaw {:>6.1} sharp {:>7.1} live {:?} best {:?}",
                frame.media_ms,
                face.bbox.width(),
                face.score,
                a.quality.inter_eye_px,
                a.quality.yaw_deg,
                a.quality.sharpness,
                a.liveness.map(|l| (l * 100.0).round() / 100.0),
                best
            );
        }
        if faces.is_empty() {
            println!("{:>5} ms no face", frame.media_ms);
        }
    }
}
