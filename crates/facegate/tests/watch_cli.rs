//! `facegate watch` and `facegate eval stream` on the real clip, through the
//! real binary: events name the enrolled person, `--json` gives one event
//! per line, `--annotate` writes frames, bad sources are clear errors.

mod common;

use common::{facegate, no_panic, ready, s};
use serde_json::Value;

#[test]
fn watch_names_lin_manuel_miranda_in_the_clip_and_annotates() {
    let Some(shared) = ready("yunet") else {
        return;
    };
    let known = tempfile::tempdir().unwrap();
    let examples = shared.join("datasets/peers/face_recognition/examples");
    for photo in ["lin-manuel-miranda.png", "biden.jpg"] {
        std::fs::copy(examples.join(photo), known.path().join(photo)).unwrap();
    }
    let frames = tempfile::tempdir().unwrap();
    let clip = shared.join("datasets/video/hamilton_clip.mp4");
    let out = facegate(
        "yunet",
        &[
            "watch",
            "--json",
            s(&clip),
            "--known",
            s(known.path()),
            "--duration",
            "1.5",
            "--annotate",
            s(frames.path()),
        ],
    );
    no_panic(&out);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let events: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON event per line"))
        .collect();
    let lin = events
        .iter()
        .find(|e| e["person_id"] == "lin-manuel-miranda")
        .unwrap_or_else(|| panic!("Lin-Manuel Miranda not named: {events:?}"));
    assert_eq!(lin["kind"], "person");
    assert_eq!(lin["operating_point"]["source"], "fpir");
    assert_eq!(lin["operating_point"]["gallery_size"], 2);
    assert!(events.iter().all(|e| e["person_id"] != "biden"));
    let written = std::fs::read_dir(frames.path()).unwrap().count();
    assert!(
        written >= 7,
        "{written} annotated frames for 1.5 s at 5 fps"
    );
}

#[test]
fn watch_refuses_bad_sources_clearly() {
    let Some(shared) = ready("yunet") else {
        return;
    };
    for (source, expected) in [
        ("/nonexistent/clip.mp4", "no such file"),
        ("gopher://camera/1", "unsupported source"),
        ("push", "push"),
    ] {
        let out = facegate("yunet", &["watch", source]);
        no_panic(&out);
        // A source that cannot work is a usage error (2), as a bad flag is.
        assert_eq!(out.status.code(), Some(2), "{source}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(expected), "{source}: {err}");
    }
    // A folder is not a clip; the annotated output may not overwrite the clip.
    let dir = tempfile::tempdir().unwrap();
    let out = facegate("yunet", &["watch", s(dir.path())]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("is a folder"));
    let clip = dir.path().join("clip.mp4");
    std::fs::write(&clip, b"not a video").unwrap();
    let out = facegate("yunet", &["watch", s(&clip), "--annotate", s(&clip)]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is the source itself"));
    assert_eq!(std::fs::read(&clip).unwrap(), b"not a video");
    let out = facegate("yunet", &["watch", "clip.mp4", "--fps", "0"]);
    assert_ne!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--fps"));
    // An --annotate name with an extension that is not a video is refused
    // before anything runs, not made into a folder called `out.gif`.
    let real_clip = shared.join("datasets/video/hamilton_clip.mp4");
    let gif = dir.path().join("out.gif");
    let out = facegate("yunet", &["watch", s(&real_clip), "--annotate", s(&gif)]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not a video format"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!gif.exists());
    // A video in a folder that does not exist is refused before the run.
    let nowhere = dir.path().join("no/such/folder/out.mp4");
    let out = facegate(
        "yunet",
        &["watch", s(&real_clip), "--annotate", s(&nowhere)],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("does not exist"), "{err}");
    assert!(
        out.stdout.is_empty(),
        "it ran anyway: {}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// A live source that never sends a frame is a failure, not a quiet
/// success after `--duration`, and plain text (no colour codes) when
/// stderr is not a terminal.
#[test]
fn watch_reports_a_live_source_that_sent_nothing() {
    if ready("yunet").is_none() {
        return;
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("rtsp://cam:secret@127.0.0.1:{port}/nothing");
    let out = facegate("yunet", &["watch", &url, "--duration", "3"]);
    no_panic(&out);
    assert!(String::from_utf8_lossy(&out.stderr).contains("no frame arrived"));
    // Without --duration it gives up after its first-frame deadline rather
    // than retrying for ever.
    let out = facegate("yunet", &["watch", &url]);
    no_panic(&out);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("no frame arrived"), "{err}");
    assert!(!err.contains("secret"), "the password leaked: {err}");
    assert!(!err.contains('\u{1b}'), "colour codes in a pipe: {err:?}");
}

#[test]
fn eval_stream_scores_the_hamilton_clip() {
    let Some(_) = ready("yunet") else {
        return;
    };
    let answers = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../facegate-streams/tests/clips/hamilton.toml");
    let out = facegate("yunet", &["eval", "stream", "--json", s(&answers)]);
    no_panic(&out);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let score = &v["clips"][0]["score"];
    assert_eq!(score["precision"], 1.0, "{v}");
    assert_eq!(score["recall"], 1.0, "{v}");
}
