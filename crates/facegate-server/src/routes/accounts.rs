//! Accounts of the caller's organisation. Admins manage operators and
//! viewers; only owners touch owners and admins. The last owner cannot be
//! demoted or removed, so an organisation is never left without one.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use facegate_store::{Member, MemberUpdate, Role};
use serde::Deserialize;
use utoipa::ToSchema;

use super::responses::Items;
use super::{check_id, non_null, optional_text};
use crate::auth::password::{check_password_policy, hash_password};
use crate::auth::{Caller, Scope};
use crate::error::{ApiError, ApiJson, ApiPath, ApiResult};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/accounts", get(list).post(create))
        .route("/accounts/{id}", get(read).patch(update).delete(remove))
}

#[utoipa::path(get, path = "/api/v1/accounts", tag = "accounts", responses((status = 200, description = "members of the organisation", body = Items<Member>)))]
async fn list(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Items<Member>>> {
    caller.require(Role::Admin, Scope::Admin)?;
    Ok(Json(Items {
        items: state.store.list_members(&caller.org_id).await?,
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateAccount {
    pub email: String,
    pub password: String,
    #[schema(value_type = String, example = "operator")]
    pub role: Role,
    pub name: Option<String>,
}

/// May `caller` give or take away `role`?
fn may_manage(caller: &Caller, role: Role) -> Result<(), ApiError> {
    if role >= Role::Admin && caller.role < Role::Owner {
        return Err(ApiError::forbidden(format!(
            "only owners can manage {role} accounts"
        )));
    }
    Ok(())
}

pub fn check_email(email: &str) -> Result<String, ApiError> {
    let e = email.trim().to_lowercase();
    let valid = e.len() <= 254
        && e.split_once('@')
            .is_some_and(|(l, d)| !l.is_empty() && d.contains('.') && !d.starts_with('.'))
        && !e.chars().any(|c| c.is_whitespace() || c.is_control());
    if !valid {
        return Err(ApiError::invalid(format!(
            "`email` {email:?} is not an email address"
        )));
    }
    Ok(e)
}

#[utoipa::path(post, path = "/api/v1/accounts", tag = "accounts", request_body = CreateAccount, responses((status = 201, description = "created", body = Member), (status = 409, description = "the email is already a member of this organisation (accounts of other organisations are never revealed)")))]
async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<CreateAccount>,
) -> ApiResult<(StatusCode, Json<Member>)> {
    caller.require(Role::Admin, Scope::Admin)?;
    caller.require_account()?;
    may_manage(&caller, req.role)?;
    let email = check_email(&req.email)?;
    let name = optional_text("name", req.name.as_deref().unwrap_or(""), 200)?;
    check_password_policy(&req.password)?;
    let hash = hash_password(req.password).await?;
    let member = state
        .store
        .create_member(&caller.org_id, &email, &name, &hash, req.role)
        .await?;
    tracing::info!(account = %member.account.id, role = %req.role, by = %caller.label(), "account created");
    Ok((StatusCode::CREATED, Json(member)))
}

#[utoipa::path(get, path = "/api/v1/accounts/{id}", tag = "accounts", responses((status = 200, description = "the account", body = Member)))]
async fn read(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<Member>> {
    // Everyone may read their own account; admins read all.
    if caller.account_id() != Some(id.as_str()) {
        caller.require(Role::Admin, Scope::Admin)?;
    }
    check_id("account", &id)?;
    Ok(Json(state.store.get_member(&caller.org_id, &id).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateAccount {
    #[schema(value_type = Option<String>)]
    #[serde(default, deserialize_with = "non_null")]
    pub role: Option<Role>,
    #[serde(default, deserialize_with = "non_null")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "non_null")]
    pub password: Option<String>,
    #[serde(default, deserialize_with = "non_null")]
    pub disabled: Option<bool>,
}

#[utoipa::path(patch, path = "/api/v1/accounts/{id}", tag = "accounts", request_body = UpdateAccount, responses((status = 200, description = "updated", body = Member)))]
async fn update(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(req): ApiJson<UpdateAccount>,
) -> ApiResult<Json<Member>> {
    let own = caller.account_id() == Some(id.as_str());
    // People may change their own name and password; anything else is admin work.
    if !own || req.role.is_some() || req.disabled.is_some() {
        caller.require(Role::Admin, Scope::Admin)?;
        caller.require_account()?;
    }
    check_id("account", &id)?;
    let target = state.store.get_member(&caller.org_id, &id).await?;
    if !own || req.role.is_some() {
        may_manage(&caller, target.role)?;
    }
    if let Some(role) = req.role {
        may_manage(&caller, role)?;
        if target.role == Role::Owner
            && role != Role::Owner
            && state.store.count_owners(&caller.org_id).await? <= 1
        {
            return Err(ApiError::conflict(
                "cannot demote the last owner of the organisation",
            ));
        }
    }
    if req.disabled == Some(true)
        && target.role == Role::Owner
        && state.store.count_owners(&caller.org_id).await? <= 1
    {
        return Err(ApiError::conflict(
            "cannot disable the last owner of the organisation",
        ));
    }
    let password_hash = match req.password {
        Some(p) => {
            check_password_policy(&p)?;
            Some(hash_password(p).await?)
        }
        None => None,
    };
    let name = req
        .name
        .as_deref()
        .map(|n| optional_text("name", n, 200))
        .transpose()?;
    let update = MemberUpdate {
        name,
        role: req.role,
        password_hash,
        disabled: req.disabled,
    };
    let member = state
        .store
        .update_member(&caller.org_id, &id, &update)
        .await?;
    tracing::info!(account = %id, by = %caller.label(), "account updated");
    Ok(Json(member))
}

#[utoipa::path(delete, path = "/api/v1/accounts/{id}", tag = "accounts", responses((status = 204, description = "removed from the organisation")))]
async fn remove(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<StatusCode> {
    caller.require(Role::Admin, Scope::Admin)?;
    caller.require_account()?;
    check_id("account", &id)?;
    let target = state.store.get_member(&caller.org_id, &id).await?;
    may_manage(&caller, target.role)?;
    if target.role == Role::Owner && state.store.count_owners(&caller.org_id).await? <= 1 {
        return Err(ApiError::conflict(
            "cannot remove the last owner of the organisation",
        ));
    }
    state.store.remove_member(&caller.org_id, &id).await?;
    tracing::info!(account = %id, by = %caller.label(), "account removed");
    Ok(StatusCode::NO_CONTENT)
}
