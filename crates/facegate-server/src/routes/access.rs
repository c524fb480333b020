//! Access decisions at a device: granted or denied, with the reason.

use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use facegate_store::Role;
use serde::Deserialize;
use serde_json::Value;

use crate::auth::{Caller, Scope};
use crate::error::ApiResult;
use crate::flows::decide_access;
use crate::image_input::ImageInput;
use crate::routes::responses::AccessDecision;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/access/decide", post(decide))
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct DecideBody {
    pub device_id: Option<String>,
    /// RFID/NFC code (or external id) presented at the device.
    pub credential: Option<String>,
}

#[utoipa::path(post, path = "/api/v1/access/decide", tag = "access",
    request_body(content_type = "multipart/form-data", description = "image and/or credential, device_id"),
    responses((status = 200, description = "granted/denied with reason: unknown, ambiguous, schedule, suspended, liveness, second_factor_missing, mismatch, no_face, device_disabled", body = AccessDecision)))]
async fn decide(
    State(state): State<AppState>,
    caller: Caller,
    input: ImageInput<DecideBody>,
) -> ApiResult<Json<Value>> {
    caller.require(Role::Operator, Scope::Access)?;
    Ok(Json(
        decide_access(
            &state,
            &caller.org_id,
            input.image,
            input.params.credential,
            input.params.device_id,
        )
        .await?,
    ))
}
