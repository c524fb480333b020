//! The recognition test page: upload a photo (or take one with the webcam),
//! see every face boxed with the name, score, decision and the threshold /
//! FPIR the decision used; optionally record attendance with it.

use askama::Template;
use axum::extract::{Multipart, State};
use base64::Engine as _;
use facegate_store::Role;

use super::{Chrome, render};
use crate::error::ApiError;
use crate::flows::{MarkParams, Purpose, identify, mark_attendance};
use crate::state::AppState;
use crate::ui::error::{UiError, UiResult};
use crate::ui::session::Ui;

/// One face of the result, ready to draw.
pub struct FaceView {
    pub n: usize,
    pub x: f32,
    pub y: f32,
    pub w: f32,
    pub h: f32,
    /// Where the label goes (inside the image when the box touches the top).
    pub label_y: f32,
    pub label_x: f32,
    /// SVG `text-anchor` of the label.
    pub anchor: &'static str,
    pub label: String,
    pub decision: &'static str,
    pub score: String,
    pub candidates: String,
    pub quality: String,
    pub liveness: String,
    /// "This is not …": the best candidate, and the face's embedding signed
    /// for this session (see [`NotForm`]).
    pub not: Option<NotForm>,
}

/// The hidden fields of a "this is not X" form: the probe's embedding
/// (base64 of little-endian f32) under `model_id`, and an HMAC of both and
/// the person keyed by the session's CSRF token, so the server takes back
/// only what it computed for this session (no stored state, no re-upload).
pub struct NotForm {
    pub person_id: String,
    pub name: String,
    pub model_id: String,
    pub embedding: String,
    pub sig: String,
}

fn sign(key: &str, person_id: &str, model_id: &str, embedding: &str) -> String {
    use hmac::{Hmac, Mac};
    let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(key.as_bytes())
        .expect("HMAC takes a key of any length");
    for part in ["facegate-not-x-v1", person_id, model_id, embedding] {
        mac.update(part.as_bytes());
        mac.update(&[0]);
    }
    hex::encode(mac.finalize().into_bytes())
}

/// The identification, ready to draw.
pub struct ResultView {
    pub data_url: String,
    pub width: u32,
    pub height: u32,
    pub faces: Vec<FaceView>,
    pub decision: &'static str,
    pub threshold: String,
    pub operating_point: String,
    pub font: f32,
    pub stroke: f32,
    pub attendance: Option<String>,
    pub total_ms: String,
}

#[derive(Template)]
#[template(path = "recognize.html")]
struct Page {
    c: Chrome,
    result: Option<ResultView>,
    engine: bool,
    notice: Option<&'static str>,
}

#[derive(Debug, serde::Deserialize)]
pub struct PageQuery {
    ok: Option<String>,
}

/// `GET /ui/recognize`.
pub async fn page(
    State(state): State<AppState>,
    ui: Ui,
    axum::extract::Query(q): axum::extract::Query<PageQuery>,
) -> UiResult {
    ui.require(Role::Operator)?;
    Ok(render(&Page {
        c: Chrome::new(&ui, "recognize"),
        result: None,
        engine: state.engine.is_some(),
        notice: match q.ok.as_deref() {
            Some("not") => Some(
                "Noted: that face is on the person's negative list and will not be named as them again.",
            ),
            _ => None,
        },
    }))
}

/// The "this is not X" form as posted.
#[derive(Debug, serde::Deserialize)]
pub struct NotPost {
    #[serde(default)]
    person_id: String,
    #[serde(default)]
    model_id: String,
    #[serde(default)]
    embedding: String,
    #[serde(default)]
    sig: String,
}

/// `POST /ui/recognize/not`: the tested face is not the person it was
/// named as: it joins their negative list (`flows::exclude_negatives`), so
/// the same face is not named as them again.
pub async fn not_x(
    State(state): State<AppState>,
    ui: Ui,
    super::UiForm(f): super::UiForm<NotPost>,
) -> UiResult {
    ui.require(Role::Operator)?;
    let expected = sign(&ui.csrf, &f.person_id, &f.model_id, &f.embedding);
    if f.sig.len() != expected.len()
        || !bool::from(subtle::ConstantTimeEq::ct_eq(
            f.sig.as_bytes(),
            expected.as_bytes(),
        ))
    {
        return Err(UiError::invalid(
            "This form was not made for this session: test the photo again.",
        ));
    }
    let engine = state.engine()?;
    if f.model_id != engine.model_id() {
        return Err(UiError::invalid(
            "The face model changed since the test: test the photo again.",
        ));
    }
    crate::routes::check_id("person", &f.person_id)?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(f.embedding.as_bytes())
        .map_err(|_| UiError::invalid("The face data is damaged: test the photo again."))?;
    let embedding = facegate_store::repo::templates::embedding_from_bytes(&bytes)
        .map_err(|_| UiError::invalid("The face data is damaged: test the photo again."))?;
    state
        .store
        .add_negative(ui.org_id(), &f.person_id, &f.model_id, &embedding, "test")
        .await?;
    tracing::info!(person = %f.person_id, by = %ui.caller.label(), "negative sample added (web UI test page)");
    Ok(super::see_other("/ui/recognize?ok=not"))
}

/// `POST /ui/recognize` (multipart: `photo`, optional `mark` = on).
pub async fn run(State(state): State<AppState>, ui: Ui, mut form: Multipart) -> UiResult {
    ui.require(Role::Operator)?;
    let mut photo = None;
    let mut mark = false;
    while let Some(field) = form.next_field().await.map_err(ApiError::from)? {
        match field.name() {
            Some("photo") => photo = Some(field.bytes().await.map_err(ApiError::from)?.to_vec()),
            Some("mark") => mark = true,
            _ => {}
        }
    }
    let Some(photo) = photo.filter(|p| !p.is_empty()) else {
        return Err(UiError::invalid("Choose a photo to test."));
    };
    let org = state.store.get_org(ui.org_id()).await?;
    let mime = image::guess_format(&photo)
        .map(|f| f.to_mime_type())
        .unwrap_or("application/octet-stream");
    let (out, analysis) =
        identify(&state, &org, photo.clone(), 3, None, false, Purpose::Access).await?;
    let model_id = out.model_id.clone();
    let attendance = if mark {
        let r = mark_attendance(
            &state,
            ui.org_id(),
            Some(photo.clone()),
            MarkParams {
                source: "ui",
                ..MarkParams::default()
            },
        )
        .await?;
        Some(
            r.get("message")
                .and_then(|m| m.as_str())
                .unwrap_or("no answer")
                .to_string(),
        )
    } else {
        None
    };
    let op = &out.operating_point;
    let operating_point = match (op.fpir, op.far) {
        (Some(fpir), Some(far)) => format!(
            "FPIR {fpir:e} over {} enrolled people → FAR {far:.2e} per comparison{}",
            op.gallery_size,
            if op.extrapolated {
                " (extrapolated)"
            } else {
                ""
            }
        ),
        _ => format!("{:?} threshold", op.source).to_lowercase(),
    };
    let scale = out.width.max(out.height) as f32;
    let faces = out
        .faces
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let b = f.bbox;
            let best = f.matches.first();
            let label = match (f.decision, best) {
                ("match", Some(m)) => format!("{} {:.2}", m.name, m.score),
                ("ambiguous", _) => "ambiguous".to_string(),
                _ => "unknown".to_string(),
            };
            let font = (scale / 50.0).max(12.0);
            // Labels of boxes in the right half end at the box's right edge,
            // so they stay inside the photo.
            let right_half = b.left > out.width as f32 / 2.0;
            FaceView {
                n: i + 1,
                x: b.left,
                label_x: if right_half { b.right } else { b.left },
                anchor: if right_half { "end" } else { "start" },
                y: b.top,
                w: b.right - b.left,
                h: b.bottom - b.top,
                label_y: if b.top > font * 1.2 {
                    b.top - font * 0.3
                } else {
                    b.bottom + font
                },
                label,
                decision: f.decision,
                score: best.map(|m| format!("{:.3}", m.score)).unwrap_or_default(),
                candidates: f
                    .matches
                    .iter()
                    .map(|m| format!("{} {:.3}", m.name, m.score))
                    .collect::<Vec<_>>()
                    .join(", "),
                quality: format!(
                    "eyes {:.0} px, yaw {:.0}°, sharpness {:.0}",
                    f.quality.inter_eye_px,
                    f.quality.yaw_deg + 0.0,
                    f.quality.sharpness
                ),
                liveness: f
                    .liveness
                    .map(|l| format!("{l:.3}"))
                    .unwrap_or_else(|| "–".into()),
                not: best
                    .filter(|_| f.decision == "match")
                    .zip(analysis.faces.get(i))
                    .map(|(m, a)| {
                        let embedding = base64::engine::general_purpose::STANDARD.encode(
                            facegate_store::repo::templates::embedding_to_bytes(&a.embedding),
                        );
                        NotForm {
                            sig: sign(&ui.csrf, &m.person_id, &model_id, &embedding),
                            person_id: m.person_id.clone(),
                            name: m.name.clone(),
                            model_id: model_id.clone(),
                            embedding,
                        }
                    }),
            }
        })
        .collect();
    let result = ResultView {
        data_url: format!(
            "data:{mime};base64,{}",
            base64::engine::general_purpose::STANDARD.encode(&photo)
        ),
        width: out.width,
        height: out.height,
        faces,
        decision: out.decision,
        threshold: format!("{:.3}", out.threshold),
        operating_point,
        font: (scale / 50.0).max(12.0),
        stroke: (scale / 200.0).max(2.0),
        attendance,
        total_ms: out
            .timings
            .get("total_ms")
            .and_then(|v| v.as_f64())
            .map(|t| format!("{t:.0} ms"))
            .unwrap_or_default(),
    };
    Ok(render(&Page {
        c: Chrome::new(&ui, "recognize"),
        result: Some(result),
        engine: true,
        notice: None,
    }))
}
