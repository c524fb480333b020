//! The decisions the product exists for, shared by the v1 routes and the
//! compatibility routes: identify, mark attendance, decide access.

use std::sync::Arc;
use std::time::Instant;

use axum::http::StatusCode;
use facegate_core::{Decision, decide};
use facegate_store::{
    AttendanceInput, AttendanceRules, AuditEvent, MarkOutcome, NewSpoofEvent, OrgSettings,
    Organisation, Person, PersonStatus, SpoofAction, SpoofEvent, SpoofSource, UnknownFacePolicy,
    now_ms,
};
use facegate_vision::{Analysis, AnalyzedFace};
use serde::Serialize;
use serde_json::{Value, json};

use crate::engine::primary_face;
use crate::error::{ApiError, ApiResult};
use crate::rules::{LivenessVerdict, day_string, liveness_verdict, local_time, schedules_allow};
use crate::state::AppState;

/// A person matched to a face.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct MatchOut {
    pub person_id: String,
    pub external_id: String,
    pub name: String,
    pub status: PersonStatus,
    /// Cosine similarity with the person's mean template (their
    /// renormalised mean embedding): what the decision compares with the
    /// threshold.
    pub score: f32,
    /// The best single template's cosine similarity.
    pub best_score: f32,
    pub min_score: f32,
    pub mean_score: f32,
    pub templates: usize,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct FaceOut {
    #[serde(rename = "box")]
    #[schema(value_type = crate::routes::responses::FaceBox)]
    pub bbox: facegate_core::BoundingBox,
    pub detector_score: f32,
    #[schema(value_type = crate::routes::responses::Landmarks)]
    pub landmarks: facegate_core::Landmarks5,
    #[schema(value_type = crate::routes::responses::FaceQuality)]
    pub quality: facegate_vision::quality::Quality,
    pub liveness: Option<f32>,
    /// Candidates, best first (at most `top_k`, above or below threshold).
    pub matches: Vec<MatchOut>,
    /// `match` when the best person reaches the threshold clear of the
    /// runner-up, `ambiguous` when the runner-up is within the margin (no
    /// name is given), else `unknown`.
    pub decision: &'static str,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct IdentifyOut {
    pub faces_found: usize,
    /// `match` when any face matched, `no_match` when faces matched nobody,
    /// `no_face` when none was found.
    pub decision: &'static str,
    /// `operating_point.threshold`, kept at the top level for older clients.
    pub threshold: f32,
    pub operating_point: OperatingPointOut,
    pub model_id: String,
    pub width: u32,
    pub height: u32,
    /// Clockwise turn (0, 90, 180, 270) applied to the image before faces
    /// were found (`auto_rotate`); boxes, landmarks, `width` and `height`
    /// are those of the turned image.
    #[schema(value_type = u16)]
    pub rotation: facegate_vision::rotate::Rotation,
    pub faces: Vec<FaceOut>,
    #[schema(value_type = crate::routes::responses::SearchTimings)]
    pub timings: Value,
}

/// The organisation's liveness threshold, else the pack's, else 0.5.
pub fn liveness_threshold(state: &AppState, settings: &OrgSettings) -> f32 {
    settings
        .liveness_threshold
        .or_else(|| state.engine.as_ref().and_then(|e| e.liveness_threshold()))
        .unwrap_or(0.5)
}

/// Which flow a threshold is for: attendance may run at a looser FPIR.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Identification and access: the organisation's `fpir`.
    Access,
    /// Attendance marks: `attendance_fpir`, else `fpir`.
    Attendance,
}

/// How the match threshold of an answer was chosen, strongest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ThresholdSource {
    /// The request's `threshold` parameter.
    Request,
    /// The organisation's fixed `match_threshold`.
    Organisation,
    /// The organisation's target FPIR, the pack's FAR curve and the gallery size.
    Fpir,
    /// The pack has no FAR curve: its 1:1 best-accuracy threshold.
    Pack,
}

/// The operating point a decision was taken at. Every identify, verify,
/// access and attendance answer carries it, so a threshold is never a bare
/// number: it says which false-positive rate it stands for.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct OperatingPointOut {
    /// Cosine similarity at or above which the best person is named.
    pub threshold: f32,
    pub source: ThresholdSource,
    /// Target false-positive identification rate (`source = fpir`; for a
    /// 1:1 verification, the false-accept rate).
    pub fpir: Option<f64>,
    /// Per-comparison false-accept rate the FPIR implies for `gallery_size`.
    pub far: Option<f64>,
    /// Enrolled people (with a template for this model) the FPIR is for.
    pub gallery_size: usize,
    /// The FAR lies below the lowest point the pack measured, so the
    /// threshold was extrapolated (on the strict side).
    pub extrapolated: bool,
    /// Ambiguity margin: a best person within it of the runner-up is `ambiguous`.
    pub margin: f32,
}

/// The threshold for a decision over `gallery_size` people: the request's,
/// else the organisation's fixed one, else derived from the organisation's
/// FPIR for `purpose` and the pack's FAR curve, else the pack's 1:1 threshold.
pub fn effective_threshold(
    state: &AppState,
    settings: &OrgSettings,
    requested: Option<f32>,
    purpose: Purpose,
    gallery_size: usize,
) -> ApiResult<OperatingPointOut> {
    if let Some(t) = requested
        && !(t.is_finite() && (-1.0..=1.0).contains(&t))
    {
        return Err(ApiError::invalid("`threshold` must be between -1 and 1"));
    }
    let fixed = |threshold: f32, source: ThresholdSource| OperatingPointOut {
        threshold,
        source,
        fpir: None,
        far: None,
        gallery_size,
        extrapolated: false,
        margin: settings.ambiguity_margin,
    };
    if let Some(t) = requested {
        return Ok(fixed(t, ThresholdSource::Request));
    }
    if let Some(t) = settings.match_threshold {
        return Ok(fixed(t, ThresholdSource::Organisation));
    }
    let engine = state.engine()?;
    let fpir = match purpose {
        Purpose::Access => settings.fpir,
        Purpose::Attendance => settings.attendance_fpir.unwrap_or(settings.fpir),
    };
    let Some(curve) = engine.far_curve() else {
        return Ok(fixed(engine.match_threshold(), ThresholdSource::Pack));
    };
    let op = curve
        .for_fpir(fpir, gallery_size)
        .map_err(|e| ApiError::invalid(format!("settings.fpir: {e}")))?;
    Ok(OperatingPointOut {
        threshold: op.threshold,
        source: ThresholdSource::Fpir,
        fpir: Some(op.fpir),
        far: Some(op.far),
        gallery_size: op.gallery_size,
        extrapolated: op.extrapolated,
        margin: settings.ambiguity_margin,
    })
}

fn timings(analysis: &Analysis, search_ms: f64, started: Instant) -> Value {
    // Every engine stage the engine reports, plus search and total.
    let mut t = serde_json::to_value(analysis.timings).unwrap_or_else(|_| json!({}));
    if let Value::Object(m) = &mut t {
        m.insert("search_ms".into(), json!(search_ms));
        m.insert(
            "total_ms".into(),
            json!(started.elapsed().as_secs_f64() * 1000.0),
        );
    }
    t
}

/// 1:N search of every face in the image against the organisation's gallery.
/// The image is turned when no upright face is found only where
/// `org.settings.auto_rotate` applies to recognition (a route that takes an
/// `auto_rotate` parameter passes the organisation with it applied, see
/// [`with_auto_rotate`]).
pub async fn identify(
    state: &AppState,
    org: &Organisation,
    image: Vec<u8>,
    top_k: usize,
    threshold: Option<f32>,
    primary_only: bool,
    purpose: Purpose,
) -> ApiResult<(IdentifyOut, Analysis)> {
    let started = Instant::now();
    let engine = state.engine()?.clone();
    let gallery_size = state.store.gallery().people(&org.id, engine.model_id());
    let operating_point =
        effective_threshold(state, &org.settings, threshold, purpose, gallery_size)?;
    let threshold = operating_point.threshold;
    let options = facegate_vision::AnalyzeOptions {
        auto_rotate: org.settings.auto_rotate.applies(false),
    };
    let analysis = engine.analyze_with(Arc::new(image), options).await?;
    let search_start = Instant::now();
    let faces: Vec<&AnalyzedFace> = if primary_only {
        primary_face(&analysis).into_iter().collect()
    } else {
        analysis.faces.iter().collect()
    };
    let mut out_faces = Vec::with_capacity(faces.len());
    for face in faces {
        // Two people at least: the ambiguity rule needs the runner-up (and
        // one more in case the negative list rules one out).
        let mut hits = state.store.gallery().search(
            &org.id,
            engine.model_id(),
            &face.embedding,
            top_k.max(2) + 1,
            engine.mean_template_offsets(),
        );
        exclude_negatives(
            state,
            &org.id,
            engine.model_id(),
            &face.embedding,
            &mut hits,
        )
        .await?;
        let decision = decide(
            hits.first().map(|h| h.score),
            hits.get(1).map(|h| h.score),
            threshold,
            operating_point.margin,
        );
        hits.truncate(top_k);
        let ids: Vec<String> = hits.iter().map(|h| h.person_id.clone()).collect();
        let people = state.store.people_by_ids(&org.id, &ids).await?;
        let matches: Vec<MatchOut> = hits
            .iter()
            .filter_map(|h| {
                people
                    .iter()
                    .find(|p| p.id == h.person_id)
                    .map(|p| MatchOut {
                        person_id: p.id.clone(),
                        external_id: p.external_id.clone(),
                        name: p.name.clone(),
                        status: p.status,
                        score: h.score,
                        best_score: h.best_score,
                        min_score: h.min_score,
                        mean_score: h.mean_score,
                        templates: h.templates,
                    })
            })
            .collect();
        // A best person who is not in `matches` (removed since the search) is
        // nobody to name.
        let decision = if decision == Decision::Match && matches.is_empty() {
            Decision::Unknown
        } else {
            decision
        };
        out_faces.push(FaceOut {
            bbox: face.face.bbox,
            detector_score: face.face.score,
            landmarks: face.face.landmarks,
            quality: face.quality,
            liveness: face.liveness,
            matches,
            decision: decision.as_str(),
        });
    }
    let search_ms = search_start.elapsed().as_secs_f64() * 1000.0;
    let decision = if analysis.faces.is_empty() {
        "no_face"
    } else if out_faces.iter().any(|f| f.decision == "match") {
        "match"
    } else {
        "no_match"
    };
    state.metrics.record_recognition(
        decision,
        started.elapsed().as_secs_f64() - search_ms / 1000.0,
    );
    let out = IdentifyOut {
        faces_found: analysis.faces.len(),
        decision,
        threshold,
        operating_point,
        model_id: engine.model_id().to_string(),
        width: analysis.width,
        height: analysis.height,
        rotation: analysis.rotation,
        faces: out_faces,
        timings: timings(&analysis, search_ms, started),
    };
    Ok((out, analysis))
}

/// "This is not X" (the web UI's negative list, `person_negatives`): a
/// candidate whose negative samples are at least as close to the probe as
/// their own templates (the closer of their mean-template and best-template
/// scores) is no candidate for this face; a tie goes to the negative, the
/// operator's later word (a photo enrolled by mistake, then marked "not
/// X"). One query for the whole candidate list.
pub async fn exclude_negatives(
    state: &AppState,
    org_id: &str,
    model_id: &str,
    probe: &facegate_core::Embedding,
    hits: &mut Vec<facegate_store::GalleryHit>,
) -> ApiResult<()> {
    if hits.is_empty() {
        return Ok(());
    }
    let ids: Vec<String> = hits.iter().map(|h| h.person_id.clone()).collect();
    let negatives = state.store.negatives_for(org_id, model_id, &ids).await?;
    if negatives.is_empty() {
        return Ok(());
    }
    hits.retain(|h| {
        let own = h.score.max(h.best_score);
        !negatives.iter().any(|(p, n)| {
            *p == h.person_id && facegate_core::dot(n.as_slice(), probe.as_slice()) >= own
        })
    });
    Ok(())
}

/// `org` with a request's `auto_rotate` parameter applied to its settings
/// for this one request (None: the organisation's own setting stands).
pub fn with_auto_rotate(org: &Organisation, requested: Option<bool>) -> Organisation {
    let mut org = org.clone();
    if let Some(on) = requested {
        org.settings.auto_rotate = if on {
            facegate_store::AutoRotate::Always
        } else {
            facegate_store::AutoRotate::Never
        };
    }
    org
}

/// A face whose liveness was judged, as the spoof-event log needs it.
pub struct Sighting<'a> {
    pub source: SpoofSource,
    pub verdict: LivenessVerdict,
    pub score: Option<f32>,
    pub threshold: f32,
    pub device_id: Option<&'a str>,
    /// The person the face matched, if any.
    pub person_id: Option<&'a str>,
    /// The submitted image; kept only when the organisation keeps images.
    pub image: Option<&'a [u8]>,
}

/// Record a spoof event when the verdict is flag or reject (or, for a
/// failed challenge, when the caller says so with `Reject`). Faces that
/// matched nobody follow the organisation's unknown-face policy: `ignore`
/// sites log nothing about strangers, spoof events included. A failure to
/// store is the request's failure, as for the access log: a security record
/// must not be dropped silently.
pub async fn record_spoof(
    state: &AppState,
    org: &Organisation,
    s: Sighting<'_>,
) -> ApiResult<Option<SpoofEvent>> {
    let action = match s.verdict {
        LivenessVerdict::Pass => return Ok(None),
        LivenessVerdict::Flag => SpoofAction::Flagged,
        LivenessVerdict::Reject => SpoofAction::Rejected,
    };
    if s.person_id.is_none() && org.settings.unknown_face_policy == UnknownFacePolicy::Ignore {
        return Ok(None);
    }
    let event = state
        .store
        .insert_spoof_event(
            &org.id,
            &NewSpoofEvent {
                occurred_at: now_ms(),
                device_id: s.device_id,
                person_id: s.person_id,
                score: s.score.map(f64::from),
                threshold: f64::from(s.threshold),
                action,
                source: s.source,
                // Empty: a camera event without a face crop.
                snapshot: s
                    .image
                    .filter(|i| !i.is_empty() && org.settings.store_images),
            },
        )
        .await?;
    state
        .metrics
        .record_spoof(action.as_str(), s.source.as_str());
    tracing::info!(
        spoof_event = %event.id,
        action = action.as_str(),
        source = s.source.as_str(),
        "liveness spoof event"
    );
    Ok(Some(event))
}

/// Record a spoof event for every face of an identification whose liveness
/// verdict is flag or reject (the identify routes, which decide nothing
/// else with liveness).
pub async fn record_identify_spoofs(
    state: &AppState,
    org: &Organisation,
    out: &IdentifyOut,
    source: SpoofSource,
    image: Option<&[u8]>,
) -> ApiResult<()> {
    let threshold = liveness_threshold(state, &org.settings);
    for face in &out.faces {
        let matched = face.matches.first().filter(|_| face.decision == "match");
        record_spoof(
            state,
            org,
            Sighting {
                source,
                verdict: liveness_verdict(&org.settings, threshold, face.liveness),
                score: face.liveness,
                threshold,
                device_id: None,
                person_id: matched.map(|m| m.person_id.as_str()),
                image,
            },
        )
        .await?;
    }
    Ok(())
}

/// The spoof-event source of an attendance mark, from its `MarkParams::source`.
fn attendance_source(source: &str) -> SpoofSource {
    if source == "compat" {
        SpoofSource::Compat
    } else {
        SpoofSource::Attendance
    }
}

/// Show only the end of a credential in logs and responses.
pub fn mask_credential(c: &str) -> String {
    let chars: Vec<char> = c.chars().collect();
    let tail: String = chars[chars.len().saturating_sub(4)..].iter().collect();
    format!("****{tail}")
}

pub(crate) async fn check_device(
    state: &AppState,
    org_id: &str,
    device_id: Option<&str>,
) -> ApiResult<Option<bool>> {
    match device_id {
        None => Ok(None),
        Some(d) => {
            if uuid::Uuid::parse_str(d).is_err() {
                return Err(ApiError::not_found("device"));
            }
            Ok(Some(state.store.get_device(org_id, d).await?.enabled))
        }
    }
}

fn person_json(p: &Person) -> Value {
    json!({"id": p.id, "external_id": p.external_id, "name": p.name, "department": p.department, "status": p.status})
}

/// Inputs to an attendance mark.
#[derive(Debug, Default)]
pub struct MarkParams {
    pub device_id: Option<String>,
    pub kind: Option<String>,
    pub credential: Option<String>,
    pub source: &'static str,
    /// An identification of the same image already done by the caller.
    pub identified: Option<IdentifyOut>,
}

/// Recognise (or look up by credential) and record attendance under the
/// organisation's rules. Business refusals are `200` with `recorded: false`
/// and a `reason`; bad input is 4xx.
pub async fn mark_attendance(
    state: &AppState,
    org_id: &str,
    image: Option<Vec<u8>>,
    params: MarkParams,
) -> ApiResult<Value> {
    let started = Instant::now();
    let org = state.store.get_org(org_id).await?;
    let settings = &org.settings;
    let live_threshold = liveness_threshold(state, settings);
    if let Some(k) = &params.kind
        && k != "in"
        && k != "out"
    {
        return Err(ApiError::invalid("`kind` must be `in` or `out`"));
    }
    if check_device(state, org_id, params.device_id.as_deref()).await? == Some(false) {
        return Err(ApiError::conflict("the device is disabled"));
    }
    let mut event = AuditEvent {
        action: "attendance".into(),
        decision: "rejected".into(),
        device_id: params.device_id.clone(),
        credential: params.credential.as_deref().map(mask_credential),
        ..AuditEvent::default()
    };
    let mut faces_found = 0;
    let mut timing = Value::Null;
    let mut operating_point: Option<OperatingPointOut> = None;
    let (person, score, liveness) = match (image, &params.credential) {
        (Some(image), _) => {
            // A copy for the spoof-event snapshot, only where images are kept.
            let snapshot = settings.store_images.then(|| image.clone());
            let out = match params.identified {
                Some(out) => out,
                None => {
                    identify(state, &org, image, 1, None, true, Purpose::Attendance)
                        .await?
                        .0
                }
            };
            faces_found = out.faces_found;
            timing = out.timings.clone();
            operating_point = Some(out.operating_point.clone());
            let Some(face) = out.faces.first() else {
                return Err(ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "no_face",
                    "no face was found in the image",
                ));
            };
            let best = face.matches.first();
            event.score = best.map(|m| f64::from(m.score));
            event.liveness = face.liveness.map(f64::from);
            let matched = best.filter(|_| face.decision == "match");
            record_spoof(
                state,
                &org,
                Sighting {
                    source: attendance_source(params.source),
                    verdict: liveness_verdict(settings, live_threshold, face.liveness),
                    score: face.liveness,
                    threshold: live_threshold,
                    device_id: params.device_id.as_deref(),
                    person_id: matched.map(|m| m.person_id.as_str()),
                    image: snapshot.as_deref(),
                },
            )
            .await?;
            if face.decision != "match" {
                let (reason, message) = if face.decision == "ambiguous" {
                    (
                        "ambiguous",
                        "the face is as close to two enrolled people; nobody is named",
                    )
                } else {
                    ("unknown_face", "the face does not match anyone enrolled")
                };
                if settings.unknown_face_policy == UnknownFacePolicy::Log {
                    event.reason = reason.into();
                    state.store.append_audit(org_id, &event).await?;
                }
                return Ok(json!({
                    "recorded": false, "reason": reason,
                    "message": message,
                    "person": null, "score": event.score, "liveness": face.liveness,
                    "faces_found": faces_found, "timings": timing, "operating_point": operating_point,
                }));
            }
            let Some(best) = best else {
                return Err(ApiError::internal());
            };
            let person = state.store.get_person(org_id, &best.person_id).await?;
            (person, Some(best.score), face.liveness)
        }
        (None, Some(credential)) if !settings.require_face => {
            match state
                .store
                .find_person_by_credential(org_id, credential)
                .await?
            {
                Some(p) => (p, None, None),
                None => {
                    event.reason = "unknown_credential".into();
                    state.store.append_audit(org_id, &event).await?;
                    return Ok(json!({
                        "recorded": false, "reason": "unknown_credential",
                        "message": "no person holds this credential", "person": null,
                    }));
                }
            }
        }
        (None, Some(_)) => {
            return Err(ApiError::bad_request(
                "face_required",
                "this organisation requires a face image to record attendance",
            ));
        }
        (None, None) => return Err(crate::image_input::missing_image()),
    };
    event.person_id = Some(person.id.clone());
    let refuse = |reason: &'static str, message: String| (reason, message);
    let refusal = if person.status != PersonStatus::Active {
        Some(refuse(
            "suspended",
            format!("{} is {}", person.name, person.status.as_str()),
        ))
    } else {
        None
    };
    let verdict = if params.credential.is_some() && score.is_none() {
        LivenessVerdict::Pass
    } else {
        liveness_verdict(settings, live_threshold, liveness)
    };
    let refusal = refusal.or_else(|| {
        (verdict == LivenessVerdict::Reject).then(|| {
            refuse(
                "liveness",
                match liveness {
                    Some(l) => format!(
                        "liveness score {l:.3} is below the required {:.3}",
                        live_threshold
                    ),
                    None => "liveness is required but the model pack has no liveness model".into(),
                },
            )
        })
    });
    if let Some((reason, message)) = refusal {
        event.reason = reason.into();
        state.store.append_audit(org_id, &event).await?;
        return Ok(json!({
            "recorded": false, "reason": reason, "message": message,
            "person": person_json(&person), "score": score, "liveness": liveness,
            "faces_found": faces_found, "timings": timing, "operating_point": operating_point,
        }));
    }
    let ts = now_ms();
    let local = local_time(settings, ts);
    let rules = AttendanceRules {
        max_per_day: settings.max_attendance_per_day,
        min_interval_ms: i64::from(settings.min_interval_seconds) * 1000,
        day: day_string(local.date),
        ts,
        kind: params.kind.clone(),
    };
    let input = AttendanceInput {
        confidence: score.map(f64::from),
        liveness: liveness.map(f64::from),
        liveness_flagged: verdict == LivenessVerdict::Flag,
        device_id: params.device_id.clone(),
        source: params.source.to_string(),
    };
    let outcome = state
        .store
        .mark_attendance(org_id, &person.id, &rules, &input)
        .await?;
    let total_ms = started.elapsed().as_secs_f64() * 1000.0;
    Ok(match outcome {
        MarkOutcome::Recorded { record, audit } => json!({
            "recorded": true, "reason": if record.liveness_flagged { "liveness_flagged" } else { "ok" },
            "message": format!("{} recorded for {}", record.kind, person.name),
            "person": person_json(&person), "record": record, "score": score, "liveness": liveness,
            "log_seq": audit.seq, "faces_found": faces_found, "timings": timing, "operating_point": operating_point, "total_ms": total_ms,
        }),
        MarkOutcome::Rejected {
            reason,
            message,
            audit,
        } => json!({
            "recorded": false, "reason": reason, "message": message,
            "person": person_json(&person), "score": score, "liveness": liveness,
            "log_seq": audit.seq, "faces_found": faces_found, "timings": timing, "operating_point": operating_point, "total_ms": total_ms,
        }),
    })
}

/// Granted or denied at a device, now, with the reason; always logged
/// (unknown faces only when the organisation's policy says so).
pub async fn decide_access(
    state: &AppState,
    org_id: &str,
    image: Option<Vec<u8>>,
    credential: Option<String>,
    device_id: Option<String>,
) -> ApiResult<Value> {
    decide_access_as(state, org_id, image, credential, device_id, false, None).await
}

/// [`decide_access`] for a face already identified by the caller (a
/// camera's voted track): `image` is only the spoof-event snapshot (the
/// face crop, kept where the organisation keeps images).
pub async fn decide_access_identified(
    state: &AppState,
    org_id: &str,
    image: Vec<u8>,
    identified: IdentifyOut,
    device_id: Option<String>,
) -> ApiResult<Value> {
    decide_access_as(
        state,
        org_id,
        Some(image),
        None,
        device_id,
        false,
        Some(identified),
    )
    .await
}

/// [`decide_access`], where the credential may also be a person's name (the
/// seed clients' `POST /access {"user": NAME}`): a card or external id
/// still wins; otherwise exactly one active person of that name is matched,
/// and a name that several active people share is denied as `ambiguous`.
pub async fn decide_access_by_name(
    state: &AppState,
    org_id: &str,
    credential: String,
    device_id: Option<String>,
) -> ApiResult<Value> {
    decide_access_as(state, org_id, None, Some(credential), device_id, true, None).await
}

async fn decide_access_as(
    state: &AppState,
    org_id: &str,
    image: Option<Vec<u8>>,
    credential: Option<String>,
    device_id: Option<String>,
    match_names: bool,
    identified: Option<IdentifyOut>,
) -> ApiResult<Value> {
    if image.is_none() && credential.is_none() {
        return Err(ApiError::bad_request(
            "missing_input",
            "send a face image and/or a `credential` (RFID/NFC code or external id)",
        ));
    }
    if let Some(c) = &credential
        && (c.trim().is_empty() || c.len() > 128)
    {
        return Err(ApiError::invalid(
            "`credential` must be 1 to 128 characters",
        ));
    }
    let org = state.store.get_org(org_id).await?;
    let settings = &org.settings;
    let live_threshold = liveness_threshold(state, settings);
    let device_enabled = check_device(state, org_id, device_id.as_deref()).await?;
    let mut event = AuditEvent {
        action: "access".into(),
        decision: "denied".into(),
        device_id: device_id.clone(),
        credential: credential.as_deref().map(mask_credential),
        ..AuditEvent::default()
    };
    let mut face_person: Option<Person> = None;
    let mut score = None;
    let mut liveness = None;
    let mut timing = Value::Null;
    let mut operating_point: Option<OperatingPointOut> = None;
    let mut face_seen = false;
    let mut reason: Option<(&'static str, String)> = None;
    if device_enabled == Some(false) {
        reason = Some(("device_disabled", "the device is disabled".into()));
    }
    if reason.is_none()
        && let Some(image) = image
    {
        // A copy for the spoof-event snapshot, only where images are kept.
        let snapshot = settings.store_images.then(|| image.clone());
        let out = match identified {
            Some(out) => out,
            None => {
                identify(state, &org, image, 1, None, true, Purpose::Access)
                    .await?
                    .0
            }
        };
        timing = out.timings.clone();
        operating_point = Some(out.operating_point.clone());
        match out.faces.first() {
            None => reason = Some(("no_face", "no face was found in the image".into())),
            Some(face) => {
                face_seen = true;
                liveness = face.liveness;
                score = face.matches.first().map(|m| m.score);
                if face.decision == "match"
                    && let Some(m) = face.matches.first()
                {
                    face_person = Some(state.store.get_person(org_id, &m.person_id).await?);
                } else if face.decision == "ambiguous" {
                    reason = Some((
                        "ambiguous",
                        "the face is as close to two enrolled people; nobody is named".into(),
                    ));
                } else {
                    reason = Some(("unknown", "the face does not match anyone enrolled".into()));
                }
                record_spoof(
                    state,
                    &org,
                    Sighting {
                        source: SpoofSource::Access,
                        verdict: liveness_verdict(settings, live_threshold, liveness),
                        score: liveness,
                        threshold: live_threshold,
                        device_id: device_id.as_deref(),
                        person_id: face_person.as_ref().map(|p| p.id.as_str()),
                        image: snapshot.as_deref(),
                    },
                )
                .await?;
            }
        }
    }
    let mut cred_person: Option<Person> = None;
    if reason.is_none()
        && let Some(c) = credential.as_deref()
    {
        let c = c.trim();
        cred_person = match state.store.find_person_by_credential(org_id, c).await? {
            Some(p) => Some(p),
            None => state.store.find_person_by_external_id(org_id, c).await?,
        };
        if cred_person.is_none() && match_names {
            let mut named = state.store.find_active_people_by_name(org_id, c, 2).await?;
            if named.len() > 1 {
                reason = Some((
                    "ambiguous",
                    "several active people have this name; use their employee id or card".into(),
                ));
            } else {
                cred_person = named.pop();
            }
        }
        if cred_person.is_none() && reason.is_none() {
            reason = Some(("unknown", "no person holds this credential".into()));
        }
    }
    if reason.is_none()
        && let (Some(a), Some(b)) = (&face_person, &cred_person)
        && a.id != b.id
    {
        reason = Some((
            "mismatch",
            "the face and the credential belong to different people".into(),
        ));
    }
    if reason.is_none()
        && settings.require_second_factor
        && (face_person.is_none() || cred_person.is_none())
    {
        reason = Some((
            "second_factor_missing",
            "this organisation requires both a face and a credential".into(),
        ));
    }
    let person = face_person.or(cred_person);
    if let Some(p) = &person {
        event.person_id = Some(p.id.clone());
    }
    if reason.is_none()
        && let Some(p) = &person
    {
        if p.status != PersonStatus::Active {
            reason = Some(("suspended", format!("{} is {}", p.name, p.status.as_str())));
        } else if face_seen
            && liveness_verdict(settings, live_threshold, liveness) == LivenessVerdict::Reject
        {
            reason = Some((
                "liveness",
                match liveness {
                    Some(l) => format!(
                        "liveness score {l:.3} is below the required {:.3}",
                        live_threshold
                    ),
                    None => "liveness is required but the model pack has no liveness model".into(),
                },
            ));
        } else {
            let schedules = state
                .store
                .schedules_for(org_id, &p.id, device_id.as_deref())
                .await?;
            if !schedules_allow(&schedules, &local_time(settings, now_ms())) {
                reason = Some(("schedule", "outside the person's access schedule".into()));
            }
        }
    }
    let granted = reason.is_none();
    let (code, message) = reason.unwrap_or(("ok", "access granted".into()));
    event.decision = if granted { "granted" } else { "denied" }.into();
    event.reason = code.into();
    event.score = score.map(f64::from);
    event.liveness = liveness.map(f64::from);
    let skip_log = code == "unknown"
        && person.is_none()
        && settings.unknown_face_policy == UnknownFacePolicy::Ignore;
    let log = if skip_log {
        Value::Null
    } else {
        let e = state.store.append_audit(org_id, &event).await?;
        json!({"seq": e.seq, "hash": e.hash})
    };
    Ok(json!({
        "decision": event.decision,
        "granted": granted,
        "reason": code,
        "message": message,
        "person": person.as_ref().map(person_json),
        "score": score,
        "liveness": liveness,
        "device_id": device_id,
        "log": log,
        "operating_point": operating_point,
        "timings": timing,
    }))
}
