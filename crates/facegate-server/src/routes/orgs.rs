//! Organisations: list mine, create one (the creator becomes owner), read
//! and change the current one (name and business rules).

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use facegate_store::{OrgSettings, Organisation, Role};
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

use super::required_text;
use crate::auth::{Caller, Principal, Scope};
use crate::error::{ApiError, ApiJson, ApiResult};
use crate::rules::validate_settings;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/organisations", get(list).post(create))
        .route("/organisations/current", get(current).patch(update))
}

#[utoipa::path(get, path = "/api/v1/organisations", tag = "organisations", responses((status = 200, description = "organisations the caller belongs to")))]
async fn list(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Value>> {
    match &caller.principal {
        Principal::Account { id } => Ok(Json(
            json!({"items": state.store.memberships_of(id).await?}),
        )),
        Principal::ApiKey { .. } => {
            let org = state.store.get_org(&caller.org_id).await?;
            Ok(Json(
                json!({"items": [{"org_id": org.id, "org_name": org.name, "role": caller.role}]}),
            ))
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateOrg {
    pub name: String,
}

#[utoipa::path(post, path = "/api/v1/organisations", tag = "organisations", request_body = CreateOrg, responses((status = 201, description = "created; the caller is its owner")))]
async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<CreateOrg>,
) -> ApiResult<(StatusCode, Json<Organisation>)> {
    let account = caller.require_account()?.to_string();
    let name = required_text("name", &req.name, 200)?;
    let org = state
        .store
        .create_org(&name, &OrgSettings::default(), &account)
        .await?;
    tracing::info!(org = %org.id, by = %caller.label(), "organisation created");
    Ok((StatusCode::CREATED, Json(org)))
}

#[utoipa::path(get, path = "/api/v1/organisations/current", tag = "organisations", responses((status = 200, description = "the caller's organisation and its rules")))]
async fn current(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Organisation>> {
    caller.require(Role::Viewer, Scope::Read)?;
    Ok(Json(state.store.get_org(&caller.org_id).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateOrg {
    pub name: Option<String>,
    /// Partial business rules; omitted keys keep their value.
    #[schema(value_type = Object)]
    pub settings: Option<Value>,
}

#[utoipa::path(patch, path = "/api/v1/organisations/current", tag = "organisations", request_body = UpdateOrg, responses((status = 200, description = "updated")))]
async fn update(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<UpdateOrg>,
) -> ApiResult<Json<Organisation>> {
    caller.require(Role::Admin, Scope::Admin)?;
    let org = state.store.get_org(&caller.org_id).await?;
    let name = match &req.name {
        Some(n) => required_text("name", n, 200)?,
        None => org.name.clone(),
    };
    let settings = match req.settings {
        None => org.settings.clone(),
        Some(Value::Object(patch)) => {
            let mut merged =
                serde_json::to_value(&org.settings).map_err(|_| ApiError::internal())?;
            if let Value::Object(m) = &mut merged {
                m.extend(patch);
            }
            serde_json::from_value::<OrgSettings>(merged)
                .map_err(|e| ApiError::invalid(format!("settings: {e}")))?
        }
        Some(_) => return Err(ApiError::invalid("`settings` must be an object")),
    };
    validate_settings(&settings)?;
    let updated = state
        .store
        .update_org(&caller.org_id, &name, &settings)
        .await?;
    tracing::info!(org = %caller.org_id, by = %caller.label(), "organisation updated");
    Ok(Json(updated))
}
