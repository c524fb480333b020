//! Face templates of a person: enrol from an image, list, delete one,
//! delete all, archive all.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use facegate_core::BoundingBox;
use facegate_store::{PersonStatus, Role, Template};
use facegate_vision::quality::Quality;
use facegate_vision::rotate::Rotation;
use facegate_vision::{Analysis, AnalyzeOptions, AnalyzedFace, Timings};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::check_id;
use super::responses::{Archived, Deleted, Items};
use crate::auth::{Caller, Scope};
use crate::engine::{primary_face, quality_score};
use crate::error::{ApiError, ApiPath, ApiResult};
use crate::image_input::ImageInput;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/people/{id}/templates",
            get(list).post(enrol).delete(delete_all),
        )
        .route("/people/{id}/templates/archive", post(archive_all))
        .route("/people/{id}/templates/{template_id}", delete(delete_one))
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct EnrolParams {
    /// Which face of a photo with several: `largest` or an index from the
    /// `multiple_faces` answer. Without it such a photo is refused.
    pub face: Option<FaceParam>,
    /// Older spelling: `false` = `face=largest`, `true` = refuse (the default).
    pub single_face: Option<bool>,
    /// Retry the image turned by 90°, 270° and 180° when no upright face is
    /// found (default: the organisation's `auto_rotate`, which is on for enrolment).
    pub auto_rotate: Option<bool>,
}

/// `face` as sent: a number in JSON, text in forms and query strings.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum FaceParam {
    Index(u64),
    Text(String),
}

/// Which face of an enrolment photo to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FaceChoice {
    /// The photo must show one face; several answer 422 `multiple_faces`
    /// with their boxes, so a group photo never enrols the wrong person.
    #[default]
    Only,
    /// The largest face.
    Largest,
    /// The face at this index of the detector's list (as in the 422).
    Index(usize),
}

impl FaceChoice {
    /// From the request's `face` (and the older `single_face`).
    pub fn from_params(
        face: Option<&FaceParam>,
        single_face: Option<bool>,
    ) -> Result<FaceChoice, ApiError> {
        let bad =
            || ApiError::invalid("`face` must be `largest` or the index of a face (0, 1, ...)");
        match face {
            Some(FaceParam::Index(i)) => usize::try_from(*i)
                .map(FaceChoice::Index)
                .map_err(|_| bad()),
            Some(FaceParam::Text(t)) => {
                let t = t.trim();
                if t.eq_ignore_ascii_case("largest") {
                    Ok(FaceChoice::Largest)
                } else {
                    t.parse().map(FaceChoice::Index).map_err(|_| bad())
                }
            }
            None if single_face == Some(false) => Ok(FaceChoice::Largest),
            None => Ok(FaceChoice::Only),
        }
    }

    /// The chosen face, or the 422 to answer.
    fn pick(self, analysis: &Analysis) -> Result<&AnalyzedFace, ApiError> {
        let faces = &analysis.faces;
        match self {
            FaceChoice::Only if faces.len() > 1 => Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "multiple_faces",
                format!(
                    "{} faces were found; send a photo of one face, or choose one with `face` = `largest` or its index (see `details.faces`)",
                    faces.len()
                ),
            )
            .with_details(faces_found(analysis))),
            FaceChoice::Index(i) => faces.get(i).ok_or_else(|| {
                ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "no_such_face",
                    format!("`face` = {i}, but the photo has {} face(s)", faces.len()),
                )
                .with_details(faces_found(analysis))
            }),
            FaceChoice::Only | FaceChoice::Largest => {
                primary_face(analysis).ok_or_else(ApiError::internal)
            }
        }
    }
}

/// `{"faces": [{index, box, score}], "rotation"}` for a 422 about faces.
fn faces_found(analysis: &Analysis) -> serde_json::Value {
    // Through the f32's shortest decimal form, so a box reads exactly as it
    // does in a success answer (a JSON `Value` would widen 297.85754 to
    // 297.8575439453125) and clients can compare the two.
    let num = |x: f32| {
        x.to_string()
            .parse::<f64>()
            .map_or(serde_json::Value::Null, serde_json::Value::from)
    };
    let faces: Vec<serde_json::Value> = analysis
        .faces
        .iter()
        .enumerate()
        .map(|(index, f)| {
            let b = f.face.bbox;
            serde_json::json!({
                "index": index,
                "box": {"left": num(b.left), "top": num(b.top), "right": num(b.right), "bottom": num(b.bottom)},
                "score": num(f.face.score),
            })
        })
        .collect();
    serde_json::json!({"faces": faces, "rotation": analysis.rotation})
}

/// The face an enrolment used.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EnrolledFace {
    pub faces_found: usize,
    #[serde(rename = "box")]
    #[schema(value_type = super::responses::FaceBox)]
    pub bbox: BoundingBox,
    pub detector_score: f32,
    #[schema(value_type = super::responses::FaceQuality)]
    pub quality: Quality,
    /// Clockwise turn (0, 90, 180, 270) applied to the image before the
    /// face was found (`auto_rotate`); `box` is in the turned image.
    #[schema(value_type = u16)]
    pub rotation: Rotation,
    #[schema(value_type = super::responses::EngineTimings)]
    pub timings: Timings,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Enrolment {
    pub template: Template,
    pub face: EnrolledFace,
}

/// Enrol the chosen face of an image for a person, turning the image when
/// the organisation's `auto_rotate` says so for enrolment. Shared with the
/// compatibility routes.
pub async fn enrol_image(
    state: &AppState,
    org_id: &str,
    person_id: &str,
    image: Vec<u8>,
    face: FaceChoice,
) -> ApiResult<(Template, EnrolledFace)> {
    enrol_image_with(state, org_id, person_id, image, face, None).await
}

/// [`enrol_image`] with the request's `auto_rotate` (None: the organisation's).
pub async fn enrol_image_with(
    state: &AppState,
    org_id: &str,
    person_id: &str,
    image: Vec<u8>,
    choice: FaceChoice,
    auto_rotate: Option<bool>,
) -> ApiResult<(Template, EnrolledFace)> {
    let engine = state.engine()?.clone();
    let person = state.store.get_person(org_id, person_id).await?;
    if person.status == PersonStatus::Archived {
        return Err(ApiError::conflict(
            "the person is archived; set them active before enrolling faces",
        ));
    }
    let org = state.store.get_org(org_id).await?;
    let image = Arc::new(image);
    let options = AnalyzeOptions {
        auto_rotate: auto_rotate.unwrap_or(org.settings.auto_rotate.applies(true)),
    };
    let analysis = engine.analyze_with(image.clone(), options).await?;
    if analysis.faces.is_empty() {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "no_face",
            "no face was found in the image",
        ));
    }
    let face = choice.pick(&analysis)?;
    let stored_image = org.settings.store_images.then(|| image.as_slice());
    let template = state
        .store
        .add_template(
            org_id,
            person_id,
            engine.model_id(),
            &face.embedding,
            quality_score(face),
            stored_image,
        )
        .await?;
    let details = EnrolledFace {
        faces_found: analysis.faces.len(),
        bbox: face.face.bbox,
        detector_score: face.face.score,
        quality: face.quality,
        rotation: analysis.rotation,
        timings: analysis.timings,
    };
    Ok((template, details))
}

#[utoipa::path(post, path = "/api/v1/people/{id}/templates", tag = "templates",
    request_body(content_type = "multipart/form-data", description = "image as multipart `image`, JSON base64 `image`, or raw bytes"),
    params(("face" = Option<String>, Query, description = "which face of a photo with several: `largest` or an index from the `multiple_faces` answer's `details.faces`; without it such a photo answers 422 `multiple_faces`")),
    responses((status = 201, description = "template stored", body = Enrolment), (status = 422, description = "not an image, no face, or several faces and none chosen (`multiple_faces`, with `details.faces`)")))]
async fn enrol(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    mut input: ImageInput<EnrolParams>,
) -> ApiResult<(StatusCode, Json<Enrolment>)> {
    caller.require(Role::Operator, Scope::Enroll)?;
    check_id("person", &id)?;
    // Tenant check before anything else, so foreign ids read as not found.
    state.store.get_person(&caller.org_id, &id).await?;
    let choice = FaceChoice::from_params(input.params.face.as_ref(), input.params.single_face)?;
    let image = input.require_image()?;
    let (template, details) = enrol_image_with(
        &state,
        &caller.org_id,
        &id,
        image,
        choice,
        input.params.auto_rotate,
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(Enrolment {
            template,
            face: details,
        }),
    ))
}

#[utoipa::path(get, path = "/api/v1/people/{id}/templates", tag = "templates", responses((status = 200, description = "templates (no embeddings)", body = Items<Template>)))]
async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<Items<Template>>> {
    caller.require(Role::Viewer, Scope::Read)?;
    check_id("person", &id)?;
    state.store.get_person(&caller.org_id, &id).await?;
    Ok(Json(Items {
        items: state.store.list_templates(&caller.org_id, &id).await?,
    }))
}

#[utoipa::path(delete, path = "/api/v1/people/{id}/templates", tag = "templates", responses((status = 200, description = "all templates deleted", body = Deleted)))]
async fn delete_all(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<Deleted>> {
    caller.require(Role::Operator, Scope::Enroll)?;
    check_id("person", &id)?;
    let n = state
        .store
        .delete_all_templates(&caller.org_id, &id)
        .await?;
    Ok(Json(Deleted { deleted: n }))
}

#[utoipa::path(post, path = "/api/v1/people/{id}/templates/archive", tag = "templates", responses((status = 200, description = "all templates archived", body = Archived)))]
async fn archive_all(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<Archived>> {
    caller.require(Role::Operator, Scope::Enroll)?;
    check_id("person", &id)?;
    let n = state
        .store
        .archive_all_templates(&caller.org_id, &id)
        .await?;
    Ok(Json(Archived { archived: n }))
}

#[utoipa::path(delete, path = "/api/v1/people/{id}/templates/{template_id}", tag = "templates", responses((status = 204, description = "deleted")))]
async fn delete_one(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((id, template_id)): ApiPath<(String, String)>,
) -> ApiResult<StatusCode> {
    caller.require(Role::Operator, Scope::Enroll)?;
    check_id("person", &id)?;
    check_id("template", &template_id)?;
    state
        .store
        .delete_template(&caller.org_id, &id, &template_id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
