//! Organisations: list mine, create one (the creator becomes owner), read
//! and change the current one (name and business rules), delete one.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{delete, get};
use axum::{Json, Router};
use facegate_store::{Membership, OrgSettings, Organisation, Role};
use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::responses::Items;
use super::{check_id, non_null, required_text};
use crate::auth::{Caller, Principal, Scope};
use crate::error::{ApiError, ApiJson, ApiPath, ApiResult};
use crate::rules::validate_settings;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/organisations", get(list).post(create))
        .route("/organisations/current", get(current).patch(update))
        .route("/organisations/{id}", delete(remove))
}

#[utoipa::path(get, path = "/api/v1/organisations", tag = "organisations",
    responses((status = 200, description = "organisations the caller belongs to (an API key: its own)", body = Items<Membership>)))]
async fn list(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Items<Membership>>> {
    let items = match &caller.principal {
        Principal::Account { id } => state.store.memberships_of(id).await?,
        Principal::ApiKey { .. } => {
            let org = state.store.get_org(&caller.org_id).await?;
            vec![Membership {
                org_id: org.id,
                org_name: org.name,
                role: caller.role,
            }]
        }
    };
    Ok(Json(Items { items }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateOrg {
    pub name: String,
}

#[utoipa::path(post, path = "/api/v1/organisations", tag = "organisations", request_body = CreateOrg,
    responses((status = 201, description = "created; the caller is its owner", body = Organisation)))]
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

#[utoipa::path(get, path = "/api/v1/organisations/current", tag = "organisations",
    responses((status = 200, description = "the caller's organisation and its rules", body = Organisation)))]
async fn current(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Organisation>> {
    caller.require(Role::Viewer, Scope::Read)?;
    Ok(Json(state.store.get_org(&caller.org_id).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateOrg {
    #[serde(default, deserialize_with = "non_null")]
    pub name: Option<String>,
    /// Partial business rules; omitted keys keep their value.
    #[schema(value_type = Object)]
    #[serde(default, deserialize_with = "non_null")]
    pub settings: Option<Value>,
}

#[utoipa::path(patch, path = "/api/v1/organisations/current", tag = "organisations", request_body = UpdateOrg,
    responses((status = 200, description = "updated", body = Organisation)))]
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

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteOrg {
    /// The organisation's exact name, to show the caller meant this one.
    pub confirm: String,
}

/// Delete an organisation and all its data, irreversibly: people, face
/// templates, attendance, schedules, devices, API keys, sessions,
/// memberships, its access-log hash chain (so `facegate audit verify` no
/// longer lists it), and accounts that belong to no other organisation.
/// Only an owner of that organisation, logged in (not an API key), may.
#[utoipa::path(delete, path = "/api/v1/organisations/{id}", tag = "organisations", request_body = DeleteOrg,
    responses((status = 204, description = "deleted"),
        (status = 403, description = "the caller is not an owner of this organisation"),
        (status = 404, description = "no such organisation, or the caller is not a member"),
        (status = 422, description = "`confirm` is not the organisation's name")))]
async fn remove(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(req): ApiJson<DeleteOrg>,
) -> ApiResult<StatusCode> {
    let account = caller.require_account()?;
    check_id("organisation", &id)?;
    // The path may name any organisation the account belongs to, not only
    // the one its token acts in; the role there is what counts. Non-members
    // get 404 so organisation ids cannot be probed.
    let role = state
        .store
        .membership_role(account, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("organisation"))?;
    if role < Role::Owner {
        return Err(ApiError::forbidden(format!(
            "only owners can delete an organisation; you are {role} there"
        )));
    }
    let org = state.store.get_org(&id).await?;
    // Exact match: a near miss (case, spacing) is a sign of the wrong target.
    if req.confirm != org.name {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "confirmation_mismatch",
            "`confirm` must be exactly the organisation's name; nothing was deleted",
        ));
    }
    let removed = state.store.delete_org(&id).await?;
    tracing::warn!(
        org = %id,
        by = %caller.label(),
        people = removed.people,
        templates = removed.templates,
        attendance = removed.attendance,
        access_log = removed.access_log,
        accounts = removed.accounts,
        "organisation deleted with all its data"
    );
    Ok(StatusCode::NO_CONTENT)
}
