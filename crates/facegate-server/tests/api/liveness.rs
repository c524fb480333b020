//! Liveness over HTTP: the spoof-event log (filters, paging, snapshots,
//! tenant isolation) and challenge liveness (issue, answer, reuse, expiry,
//! bad uploads). The first scenario needs no model pack; the others use the
//! real engine and `../shared`'s Silent-Face photos and skip (with a message)
//! without them.

use std::path::Path;

use facegate_store::{NewSpoofEvent, SpoofAction, SpoofSource};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::both_backends;
use crate::common::*;

/// A live photo (640×480 JPEG, EXIF-rotated) from Silent-Face's samples.
fn live_photo(shared: &Path) -> Vec<u8> {
    let p = shared.join("datasets/liveness/silent-face/image_T1.jpg");
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

async fn multipart_image(
    srv: &TestServer,
    path: &str,
    auth: &Auth,
    bytes: &[u8],
    fields: &[(&str, &str)],
) -> (StatusCode, Value) {
    srv.post_image(path, auth, bytes.to_vec(), "face.jpg", "image/jpeg", fields)
        .await
}

/// Send the photo where it is expected to be taken (200) and return the answer.
async fn photo_ok(
    srv: &TestServer,
    path: &str,
    auth: &Auth,
    photo: &[u8],
    fields: &[(&str, &str)],
) -> Value {
    let (s, body) = multipart_image(srv, path, auth, photo, fields).await;
    assert_eq!(s, StatusCode::OK, "{path}: {body}");
    body
}

/// Answer a challenge with `frames` as `frame` file fields.
async fn answer(srv: &TestServer, id: &str, auth: &Auth, frames: &[&[u8]]) -> (StatusCode, Value) {
    let mut form = reqwest::multipart::Form::new();
    for (i, f) in frames.iter().enumerate() {
        form = form.part(
            "frame",
            reqwest::multipart::Part::bytes(f.to_vec())
                .file_name(format!("frame{i}.jpg"))
                .mime_str("image/jpeg")
                .unwrap(),
        );
    }
    let resp = srv
        .req(
            Method::POST,
            &format!("/api/v1/liveness/challenges/{id}"),
            auth,
        )
        .multipart(form)
        .send()
        .await
        .unwrap();
    read(resp).await
}

async fn settings(srv: &TestServer, org: &Org, settings: Value) {
    let (s, b) = srv
        .call(
            Method::PATCH,
            "/api/v1/organisations/current",
            &org.owner,
            Some(json!({ "settings": settings })),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
}

async fn events(srv: &TestServer, auth: &Auth, query: &str) -> Value {
    let (s, b) = srv
        .get(&format!("/api/v1/liveness/events{query}"), auth)
        .await;
    assert_eq!(s, StatusCode::OK, "{query}: {b}");
    b
}

/// The routes without the engine: the event list reads what the store holds.
async fn routes(db: Db) {
    let Some(srv) = TestServer::start(db, false, |_| {}).await else {
        return;
    };
    let a = srv.init_org("Alpha", "owner@alpha.test").await;
    let b = srv.init_org("Bravo", "owner@bravo.test").await;
    let viewer = srv.member(&a, "viewer@alpha.test", "viewer").await;
    let operator = srv.member(&a, "operator@alpha.test", "operator").await;
    let door = srv.device(&a, "Door", "door").await;

    let empty = events(&srv, &viewer, "").await;
    assert_eq!(
        (empty["total"].as_i64(), empty["page"].as_i64()),
        (Some(0), Some(1)),
        "{empty}"
    );
    assert_eq!(empty["items"], json!([]));

    let store = &srv.state().store;
    let jpeg = b"\xFF\xD8\xFF\xE0 not really a jpeg";
    let first = store
        .insert_spoof_event(
            &a.id,
            &NewSpoofEvent {
                occurred_at: 1_000,
                device_id: Some(&door),
                person_id: None,
                score: Some(0.25),
                threshold: 0.5,
                action: SpoofAction::Rejected,
                source: SpoofSource::Access,
                snapshot: Some(jpeg),
            },
        )
        .await
        .unwrap();
    let second = store
        .insert_spoof_event(
            &a.id,
            &NewSpoofEvent {
                occurred_at: 2_000,
                device_id: None,
                person_id: None,
                score: None,
                threshold: 0.5,
                action: SpoofAction::Flagged,
                source: SpoofSource::Identify,
                snapshot: None,
            },
        )
        .await
        .unwrap();

    let all = events(&srv, &viewer, "").await;
    assert_eq!(all["total"], 2, "{all}");
    assert_eq!(all["items"][0]["id"], second.id.as_str(), "newest first");
    let e = &all["items"][1];
    assert_eq!(e["id"], first.id.as_str());
    assert_eq!(e["device_id"], door.as_str());
    assert_eq!(e["action"], "rejected");
    assert_eq!(e["source"], "access");
    assert_eq!(e["score"], 0.25);
    assert_eq!(e["threshold"], 0.5);
    assert_eq!(e["has_snapshot"], true);
    assert!(
        e.get("snapshot").is_none(),
        "lists carry no image bytes: {e}"
    );
    for (query, expect) in [
        ("?action=flagged", vec![second.id.as_str()]),
        ("?source=access", vec![first.id.as_str()]),
        (&format!("?device_id={door}"), vec![first.id.as_str()]),
        ("?from=1500", vec![second.id.as_str()]),
        ("?from=0&to=1000", vec![first.id.as_str()]),
        ("?per_page=1&page=2", vec![first.id.as_str()]),
    ] {
        let got = events(&srv, &viewer, query).await;
        let ids: Vec<&str> = got["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|e| e["id"].as_str())
            .collect();
        assert_eq!(ids, expect, "{query}: {got}");
    }
    assert_eq!(events(&srv, &viewer, "?per_page=1").await["total"], 2);

    // Invalid filters are 4xx JSON errors that name the problem.
    for (query, status, code) in [
        ("?colour=red", StatusCode::BAD_REQUEST, "invalid_query"),
        ("?from=soon", StatusCode::BAD_REQUEST, "invalid_query"),
        (
            "?action=ignored",
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
        ),
        (
            "?source=doorbell",
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
        ),
        (
            "?from=5&to=1",
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
        ),
        (
            "?device_id=door",
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
        ),
        (
            "?per_page=0",
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
        ),
    ] {
        let (s, body) = srv
            .get(&format!("/api/v1/liveness/events{query}"), &viewer)
            .await;
        assert_eq!(assert_error(s, &body, status), code, "{query}");
    }

    // The snapshot: bytes as kept, typed by their magic; 404 when none.
    let resp = srv
        .req(
            Method::GET,
            &format!("/api/v1/liveness/events/{}/snapshot", first.id),
            &viewer,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["content-type"], "image/jpeg");
    assert_eq!(&resp.bytes().await.unwrap()[..], &jpeg[..]);
    for id in [
        second.id.as_str(),
        "00000000-0000-4000-8000-000000000000",
        "x",
    ] {
        let (s, body) = srv
            .get(&format!("/api/v1/liveness/events/{id}/snapshot"), &viewer)
            .await;
        assert_eq!(assert_error(s, &body, StatusCode::NOT_FOUND), "not_found");
    }

    // Another organisation sees nothing of Alpha's.
    let other = events(&srv, &b.owner, "").await;
    assert_eq!(other["total"], 0, "{other}");
    let (s, body) = srv
        .get(
            &format!("/api/v1/liveness/events/{}/snapshot", first.id),
            &b.owner,
        )
        .await;
    assert_error(s, &body, StatusCode::NOT_FOUND);

    // Challenges: viewers may not create or answer; without an engine
    // creating is 503, answering an unknown id 404.
    let (s, body) = srv
        .post("/api/v1/liveness/challenges", &viewer, json!({}))
        .await;
    assert_error(s, &body, StatusCode::FORBIDDEN);
    let (s, body) = answer(&srv, "00000000-0000-4000-8000-000000000000", &viewer, &[]).await;
    assert_error(s, &body, StatusCode::FORBIDDEN);
    let (s, body) = srv
        .post("/api/v1/liveness/challenges", &operator, json!({}))
        .await;
    assert_eq!(
        assert_error(s, &body, StatusCode::SERVICE_UNAVAILABLE),
        "engine_unavailable"
    );
    let (s, body) = answer(
        &srv,
        "00000000-0000-4000-8000-000000000000",
        &operator,
        &[b"x".as_slice()],
    )
    .await;
    assert_error(s, &body, StatusCode::NOT_FOUND);

    // The OpenAPI document lists the routes.
    let (_, doc) = srv.get("/api/v1/openapi.json", &Auth::None).await;
    for (path, method) in [
        ("/api/v1/liveness/events", "get"),
        ("/api/v1/liveness/events/{id}/snapshot", "get"),
        ("/api/v1/liveness/challenges", "post"),
        ("/api/v1/liveness/challenges/{id}", "post"),
    ] {
        assert!(
            doc["paths"][path][method].is_object(),
            "{method} {path} missing from the OpenAPI document"
        );
    }
    srv.stop().await;
}

both_backends!(liveness_routes, routes);

/// A server with the engine and `../shared`, or `None` (skip, with a message).
async fn engine_server(
    db: Db,
    what: &str,
    tweak: impl FnOnce(&mut facegate_server::Config),
) -> Option<(TestServer, std::path::PathBuf)> {
    let Some(shared) = shared_dir() else {
        eprintln!("SKIP {what}: ../shared (test images) is not present");
        return None;
    };
    let srv = TestServer::start(db, true, tweak).await?;
    if !srv.has_engine() {
        eprintln!(
            "SKIP {what}: model pack {:?} is not installed in {} (run `facegate models install default`)",
            srv.state().config.pack,
            models_dir().display()
        );
        srv.stop().await;
        return None;
    }
    Some((srv, shared))
}

fn has_liveness_model(srv: &TestServer) -> bool {
    srv.state()
        .engine
        .as_ref()
        .is_some_and(|e| e.liveness_threshold().is_some())
}

/// Policy `reject` with a threshold of 1.0: no real face reaches it (or, with
/// a pack without a liveness model, no face can be shown live at all), so
/// every flow that sees a face records a rejected spoof event.
async fn flows(db: Db) {
    let Some((srv, shared)) = engine_server(db, "spoof events from the flows", |_| {}).await else {
        return;
    };
    let with_model = has_liveness_model(&srv);
    let a = srv.init_org("Alpha", "owner@alpha.test").await;
    let b = srv.init_org("Bravo", "owner@bravo.test").await;
    let op = srv.member(&a, "op@alpha.test", "operator").await;
    let viewer = srv.member(&a, "viewer@alpha.test", "viewer").await;
    settings(
        &srv,
        &a,
        json!({"liveness_policy": "reject", "liveness_threshold": 1.0, "store_images": true,
               "min_interval_seconds": 0}),
    )
    .await;
    let photo = live_photo(&shared);
    let ada = srv.person(&a, "ada", "Ada").await;
    let (s, body) = multipart_image(
        &srv,
        &format!("/api/v1/people/{ada}/templates"),
        &op,
        &photo,
        &[],
    )
    .await;
    assert_eq!(
        s,
        StatusCode::CREATED,
        "enrolment applies no liveness: {body}"
    );
    let door = srv.device(&a, "Door", "door").await;

    // Attendance is refused for liveness and the event names who and where.
    let mark = photo_ok(
        &srv,
        "/api/v1/attendance/mark",
        &op,
        &photo,
        &[("device_id", &door)],
    )
    .await;
    assert_eq!(
        (mark["recorded"].as_bool(), mark["reason"].as_str()),
        (Some(false), Some("liveness")),
        "{mark}"
    );
    let list = events(&srv, &viewer, "").await;
    assert_eq!(list["total"], 1, "{list}");
    let e = &list["items"][0];
    assert_eq!(e["source"], "attendance", "{e}");
    assert_eq!(e["action"], "rejected");
    assert_eq!(e["person_id"], ada.as_str());
    assert_eq!(e["device_id"], door.as_str());
    assert_eq!(e["threshold"], 1.0);
    assert_eq!(e["org_id"], a.id.as_str());
    assert_eq!(e["has_snapshot"], true);
    if with_model {
        let score = e["score"].as_f64().expect("a liveness score");
        assert!((0.0..1.0).contains(&score), "{e}");
        assert!((score - mark["liveness"].as_f64().unwrap()).abs() < 1e-4);
    } else {
        assert!(e["score"].is_null(), "no liveness model, no score: {e}");
    }
    let occurred = e["occurred_at"].as_i64().unwrap();
    assert!((facegate_store::now_ms() - occurred).abs() < 600_000, "{e}");
    let event_id = e["id"].as_str().unwrap().to_string();
    let resp = srv
        .req(
            Method::GET,
            &format!("/api/v1/liveness/events/{event_id}/snapshot"),
            &viewer,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["content-type"], "image/jpeg");
    assert_eq!(
        resp.bytes().await.unwrap().to_vec(),
        photo,
        "the image as sent"
    );

    // Another organisation cannot see or fetch it.
    assert_eq!(events(&srv, &b.owner, "").await["total"], 0);
    let (s, body) = srv
        .get(
            &format!("/api/v1/liveness/events/{event_id}/snapshot"),
            &b.owner,
        )
        .await;
    assert_error(s, &body, StatusCode::NOT_FOUND);

    // Identify, access and the compatibility route record theirs too.
    photo_ok(&srv, "/api/v1/recognition/identify", &op, &photo, &[]).await;
    let body = photo_ok(
        &srv,
        "/api/v1/access/decide",
        &op,
        &photo,
        &[("device_id", &door)],
    )
    .await;
    assert_eq!(
        (body["decision"].as_str(), body["reason"].as_str()),
        (Some("denied"), Some("liveness")),
        "{body}"
    );
    let resp = srv
        .req(Method::POST, "/liveness", &op)
        .header("Content-Type", "application/octet-stream")
        .body(photo.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let list = events(&srv, &viewer, "").await;
    let sources: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["source"].as_str())
        .collect();
    assert_eq!(
        sources,
        ["compat", "access", "identify", "attendance"],
        "{list}"
    );
    let identify_event = &list["items"][2];
    assert_eq!(identify_event["person_id"], ada.as_str(), "best match");
    assert!(identify_event["device_id"].is_null());
    assert!(
        list["items"][0]["person_id"].is_null(),
        "/liveness identifies nobody"
    );
    assert_eq!(
        events(&srv, &viewer, &format!("?device_id={door}")).await["total"],
        2
    );
    assert_eq!(events(&srv, &viewer, "?action=flagged").await["total"], 0);

    // Policy `flag` without keeping images: flagged, no snapshot.
    settings(
        &srv,
        &a,
        json!({"liveness_policy": "flag", "store_images": false}),
    )
    .await;
    photo_ok(&srv, "/api/v1/recognition/identify", &op, &photo, &[]).await;
    let flagged = events(&srv, &viewer, "?action=flagged").await;
    if with_model {
        // `flag` needs a score to hold against the threshold.
        assert_eq!(flagged["total"], 1, "{flagged}");
        let e = &flagged["items"][0];
        assert_eq!(e["has_snapshot"], false);
        let (s, body) = srv
            .get(
                &format!(
                    "/api/v1/liveness/events/{}/snapshot",
                    e["id"].as_str().unwrap()
                ),
                &viewer,
            )
            .await;
        assert_error(s, &body, StatusCode::NOT_FOUND);
    } else {
        assert_eq!(flagged["total"], 0, "no score, nothing to flag: {flagged}");
    }

    // Policy `off`: nothing is recorded.
    settings(&srv, &a, json!({"liveness_policy": "off"})).await;
    let before = events(&srv, &viewer, "").await["total"].clone();
    photo_ok(&srv, "/api/v1/recognition/identify", &op, &photo, &[]).await;
    assert_eq!(events(&srv, &viewer, "").await["total"], before);
    srv.stop().await;
}

both_backends!(liveness_spoof_events, flows);

/// The challenge lifetime in this scenario: long enough to upload and decode
/// a few frames on a slow machine, short enough to wait out.
const TTL_SECS: u64 = 5;

async fn issue(srv: &TestServer, auth: &Auth, body: Value) -> Value {
    let (s, c) = srv.post("/api/v1/liveness/challenges", auth, body).await;
    assert_eq!(s, StatusCode::CREATED, "{c}");
    c
}

async fn challenges(db: Db) {
    let Some((srv, shared)) = engine_server(db, "liveness challenges", |c| {
        c.liveness.challenge_ttl_secs = TTL_SECS;
    })
    .await
    else {
        return;
    };
    let with_model = has_liveness_model(&srv);
    let a = srv.init_org("Alpha", "owner@alpha.test").await;
    let b = srv.init_org("Bravo", "owner@bravo.test").await;
    let op = srv.member(&a, "op@alpha.test", "operator").await;
    let viewer = srv.member(&a, "viewer@alpha.test", "viewer").await;
    let b_op = srv.member(&b, "op@bravo.test", "operator").await;
    // A threshold no real face reaches, so a passive failure is recorded
    // (when the pack has a passive model), with the first frame kept.
    settings(
        &srv,
        &a,
        json!({"liveness_threshold": 1.0, "store_images": true}),
    )
    .await;
    let kiosk = srv.device(&a, "Kiosk", "kiosk").await;
    let photo = live_photo(&shared);

    // Viewers may not; operators and keys with `recognize` may.
    let (s, body) = srv
        .post("/api/v1/liveness/challenges", &viewer, json!({}))
        .await;
    assert_error(s, &body, StatusCode::FORBIDDEN);
    let (_, read_key) = srv.api_key(&a, "operator", &["read"]).await;
    let (s, body) = srv
        .post(
            "/api/v1/liveness/challenges",
            &Auth::Key(read_key),
            json!({}),
        )
        .await;
    assert_error(s, &body, StatusCode::FORBIDDEN);
    let (_, key) = srv.api_key(&a, "operator", &["recognize"]).await;
    let resp = srv
        .req(Method::POST, "/api/v1/liveness/challenges", &Auth::Key(key))
        .send()
        .await
        .unwrap();
    let (s, c) = read(resp).await;
    assert_eq!(s, StatusCode::CREATED, "an empty body is fine: {c}");
    assert!(c["device_id"].is_null());
    let (s, body) = srv
        .post("/api/v1/liveness/challenges", &op, json!({"device": kiosk}))
        .await;
    assert_error(s, &body, StatusCode::UNPROCESSABLE_ENTITY);
    let (s, body) = srv
        .post(
            "/api/v1/liveness/challenges",
            &b_op,
            json!({"device_id": kiosk}),
        )
        .await;
    assert_error(s, &body, StatusCode::NOT_FOUND);

    // The issued challenge: a known prompt, a short lifetime, frame limits.
    let mut turn = None;
    for _ in 0..40 {
        let c = issue(&srv, &op, json!({"device_id": kiosk})).await;
        let prompt = c["prompt"].as_str().unwrap().to_string();
        assert!(
            ["turn-left", "turn-right", "blink"].contains(&prompt.as_str()),
            "{c}"
        );
        let now = facegate_store::now_ms();
        let expires = c["expires_at"].as_i64().unwrap();
        assert!(
            expires > now && expires <= now + (TTL_SECS as i64) * 1000 + 1000,
            "{c}"
        );
        assert_eq!(
            (c["max_frames"].as_u64(), c["min_frames"].as_u64()),
            (Some(16), Some(3))
        );
        assert_eq!(c["device_id"], kiosk.as_str());
        if prompt.starts_with("turn") {
            turn = Some(c);
            break;
        }
    }
    let c = turn.expect("a turn prompt among 40 random prompts");
    let id = c["id"].as_str().unwrap().to_string();
    // Both bodies are what the OpenAPI document says they are.
    let (_, doc) = srv.get("/api/v1/openapi.json", &Auth::None).await;
    let mut schema_problems = crate::openapi::mismatches(
        &doc,
        "post",
        "/api/v1/liveness/challenges",
        StatusCode::CREATED,
        &c,
    );

    // The same still photo four times: no turn, so it fails on motion.
    let frames: Vec<&[u8]> = vec![photo.as_slice(); 4];
    let (s, r) = answer(&srv, &id, &op, &frames).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    schema_problems.extend(crate::openapi::mismatches(
        &doc,
        "post",
        "/api/v1/liveness/challenges/{id}",
        s,
        &r,
    ));
    assert!(schema_problems.is_empty(), "{schema_problems:#?}");
    assert_eq!(r["passed"], false, "{r}");
    assert_eq!(r["prompt"], c["prompt"]);
    assert_eq!(r["id"], id.as_str());
    let reasons: Vec<&str> = r["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        reasons.iter().any(|m| m.contains("did not turn")),
        "a motion reason: {r}"
    );
    assert_eq!(r["motion"]["ok"], false, "{r}");
    assert_eq!(r["motion"]["measure"], "yaw_change");
    assert!(
        r["motion"]["value"].as_f64().unwrap().abs() < 0.05,
        "a still photo: {r}"
    );
    assert_eq!(r["same_person"], true, "{r}");
    assert_eq!(
        (r["frames_received"].as_u64(), r["faces_found"].as_u64()),
        (Some(4), Some(4))
    );
    assert_eq!(r["frames"].as_array().unwrap().len(), 4);
    assert!(r["timings"]["total_ms"].as_f64().unwrap() > 0.0);
    assert!(r["timings"]["evaluate_ms"].as_f64().unwrap() > 0.0);
    if with_model {
        assert!(r["median_liveness"].as_f64().is_some(), "{r}");
        assert_eq!(r["liveness"]["ok"], false, "{r}");
        assert_eq!(r["liveness"]["threshold"], 1.0);
        assert_eq!(
            reasons
                .iter()
                .filter(|m| m.contains("do not look live"))
                .count(),
            1,
            "one passive reason, the organisation's: {r}"
        );
        let event_id = r["spoof_event_id"].as_str().expect("a spoof event");
        let list = events(&srv, &viewer, "?source=challenge").await;
        assert_eq!(list["total"], 1, "{list}");
        let e = &list["items"][0];
        assert_eq!(e["id"], event_id);
        assert_eq!(e["action"], "rejected");
        assert_eq!(e["device_id"], kiosk.as_str());
        assert!(e["person_id"].is_null());
        assert_eq!(e["threshold"], 1.0);
        assert_eq!(e["has_snapshot"], true);
        assert_eq!(events(&srv, &b_op, "").await["total"], 0);
    } else {
        assert!(r["median_liveness"].is_null() && r["liveness"]["ok"].is_null());
        assert!(
            r["spoof_event_id"].is_null(),
            "motion alone is no spoof: {r}"
        );
    }

    // Single use; unknown ids; another organisation's challenge.
    let (s, body) = answer(&srv, &id, &op, &frames).await;
    assert_eq!(
        assert_error(s, &body, StatusCode::CONFLICT),
        "challenge_used"
    );
    let (s, body) = answer(&srv, "00000000-0000-4000-8000-000000000000", &op, &frames).await;
    assert_error(s, &body, StatusCode::NOT_FOUND);
    // Refusals read the rest of the upload first: a client still sending
    // its frames gets the answer, not a connection reset under it.
    let many: Vec<&[u8]> = vec![photo.as_slice(); 16];
    for _ in 0..5 {
        let (s, body) = answer(&srv, &id, &op, &many).await;
        assert_error(s, &body, StatusCode::CONFLICT);
    }
    let (s, body) = answer(&srv, "not-a-uuid", &op, &frames).await;
    assert_error(s, &body, StatusCode::NOT_FOUND);
    let fresh = issue(&srv, &op, json!({})).await;
    let fresh = fresh["id"].as_str().unwrap().to_string();
    let (s, body) = answer(&srv, &fresh, &b_op, &frames).await;
    assert_error(s, &body, StatusCode::NOT_FOUND);

    // Bad uploads are 4xx JSON errors and leave the challenge answerable.
    let too_many: Vec<&[u8]> = vec![photo.as_slice(); 17];
    let (s, body) = answer(&srv, &fresh, &op, &too_many).await;
    assert_eq!(
        assert_error(s, &body, StatusCode::UNPROCESSABLE_ENTITY),
        "invalid_frame_count"
    );
    let (s, body) = answer(&srv, &fresh, &op, &frames[..2]).await;
    assert_eq!(
        assert_error(s, &body, StatusCode::UNPROCESSABLE_ENTITY),
        "invalid_frame_count"
    );
    let junk: &[u8] = b"this is not an image";
    let (s, body) = answer(
        &srv,
        &fresh,
        &op,
        &[photo.as_slice(), junk, photo.as_slice()],
    )
    .await;
    assert_eq!(
        assert_error(s, &body, StatusCode::UNPROCESSABLE_ENTITY),
        "invalid_image"
    );
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("frame 2"),
        "names the frame: {body}"
    );
    let (s, body) = srv
        .post(
            &format!("/api/v1/liveness/challenges/{fresh}"),
            &op,
            json!({"frames": []}),
        )
        .await;
    assert_eq!(
        assert_error(s, &body, StatusCode::UNSUPPORTED_MEDIA_TYPE),
        "unsupported_media_type"
    );
    let (s, body) = answer(&srv, &fresh, &viewer, &frames).await;
    assert_error(s, &body, StatusCode::FORBIDDEN);

    // Past its lifetime the challenge is gone: 410.
    tokio::time::sleep(std::time::Duration::from_millis(TTL_SECS * 1000 + 300)).await;
    let (s, body) = answer(&srv, &fresh, &op, &frames).await;
    assert_eq!(
        assert_error(s, &body, StatusCode::GONE),
        "challenge_expired"
    );
    srv.stop().await;
}

both_backends!(liveness_challenges, challenges);
