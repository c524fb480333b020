//! Devices: kiosks, cameras, phones, doors. Access and attendance name the
//! device they happen at; schedules may be per device.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use facegate_store::{Device, Role};
use serde::Deserialize;
use utoipa::ToSchema;

use super::responses::Items;
use super::{check_id, non_null, optional_text, required_text};
use crate::auth::{Caller, Scope};
use crate::error::{ApiError, ApiJson, ApiPath, ApiResult};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/devices", get(list).post(create))
        .route("/devices/{id}", get(read).patch(update).delete(remove))
}

const KINDS: [&str; 5] = ["kiosk", "camera", "phone", "door", "other"];

fn check_kind(kind: &str) -> Result<String, ApiError> {
    if KINDS.contains(&kind) {
        Ok(kind.to_string())
    } else {
        Err(ApiError::invalid(format!(
            "`kind` must be one of {}",
            KINDS.join(", ")
        )))
    }
}

#[utoipa::path(get, path = "/api/v1/devices", tag = "devices", responses((status = 200, description = "devices", body = Items<Device>)))]
async fn list(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Items<Device>>> {
    caller.require(Role::Viewer, Scope::Read)?;
    Ok(Json(Items {
        items: state.store.list_devices(&caller.org_id).await?,
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateDevice {
    pub name: String,
    /// kiosk, camera, phone, door or other.
    pub kind: String,
    pub location: Option<String>,
    pub enabled: Option<bool>,
}

#[utoipa::path(post, path = "/api/v1/devices", tag = "devices", request_body = CreateDevice, responses((status = 201, description = "created", body = Device)))]
async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<CreateDevice>,
) -> ApiResult<(StatusCode, Json<Device>)> {
    caller.require(Role::Admin, Scope::Admin)?;
    let name = required_text("name", &req.name, 200)?;
    let kind = check_kind(&req.kind)?;
    let location = optional_text("location", req.location.as_deref().unwrap_or(""), 200)?;
    let d = state
        .store
        .create_device(
            &caller.org_id,
            &name,
            &kind,
            &location,
            req.enabled.unwrap_or(true),
        )
        .await?;
    Ok((StatusCode::CREATED, Json(d)))
}

#[utoipa::path(get, path = "/api/v1/devices/{id}", tag = "devices", responses((status = 200, description = "the device", body = Device)))]
async fn read(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<Device>> {
    caller.require(Role::Viewer, Scope::Read)?;
    check_id("device", &id)?;
    Ok(Json(state.store.get_device(&caller.org_id, &id).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateDevice {
    #[serde(default, deserialize_with = "non_null")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "non_null")]
    pub kind: Option<String>,
    #[serde(default, deserialize_with = "non_null")]
    pub location: Option<String>,
    #[serde(default, deserialize_with = "non_null")]
    pub enabled: Option<bool>,
}

#[utoipa::path(patch, path = "/api/v1/devices/{id}", tag = "devices", request_body = UpdateDevice, responses((status = 200, description = "updated", body = Device)))]
async fn update(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(req): ApiJson<UpdateDevice>,
) -> ApiResult<Json<Device>> {
    caller.require(Role::Admin, Scope::Admin)?;
    check_id("device", &id)?;
    let mut d = state.store.get_device(&caller.org_id, &id).await?;
    if let Some(n) = &req.name {
        d.name = required_text("name", n, 200)?;
    }
    if let Some(k) = &req.kind {
        d.kind = check_kind(k)?;
    }
    if let Some(l) = &req.location {
        d.location = optional_text("location", l, 200)?;
    }
    if let Some(e) = req.enabled {
        d.enabled = e;
    }
    Ok(Json(state.store.update_device(&d).await?))
}

#[utoipa::path(delete, path = "/api/v1/devices/{id}", tag = "devices", responses((status = 204, description = "deleted")))]
async fn remove(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<StatusCode> {
    caller.require(Role::Admin, Scope::Admin)?;
    check_id("device", &id)?;
    state.store.delete_device(&caller.org_id, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
