//! API keys: shown once at creation, stored hashed, scoped, revocable.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{delete, get};
use axum::{Json, Router};
use facegate_store::{ApiKey, NewApiKey, Role, now_ms};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::responses::Items;
use super::{check_id, required_text};
use crate::auth::tokens::new_api_key;
use crate::auth::{Caller, Scope};
use crate::error::{ApiError, ApiJson, ApiPath, ApiResult};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api-keys", get(list).post(create))
        .route("/api-keys/{id}", delete(revoke).get(read))
}

#[utoipa::path(get, path = "/api/v1/api-keys", tag = "api-keys", responses((status = 200, description = "keys (never the secrets)", body = Items<ApiKey>)))]
async fn list(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Items<ApiKey>>> {
    caller.require(Role::Admin, Scope::Admin)?;
    Ok(Json(Items {
        items: state.store.list_api_keys(&caller.org_id).await?,
    }))
}

#[utoipa::path(get, path = "/api/v1/api-keys/{id}", tag = "api-keys", responses((status = 200, description = "one key", body = ApiKey)))]
async fn read(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<ApiKey>> {
    caller.require(Role::Admin, Scope::Admin)?;
    check_id("api key", &id)?;
    Ok(Json(state.store.get_api_key(&caller.org_id, &id).await?))
}

/// A new key: its record plus the secret, which is shown only here.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedApiKey {
    #[serde(flatten)]
    pub api_key: ApiKey,
    /// The secret (`fgk_...`); store it now, it cannot be read again.
    pub key: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateKey {
    pub name: String,
    /// viewer, operator or admin (not above the creator's role; never owner).
    #[schema(value_type = String, example = "operator")]
    pub role: Role,
    /// Any of read, people, enroll, recognize, attendance, access, admin.
    pub scopes: Vec<String>,
    /// Lifetime in days; omitted = no expiry.
    pub expires_in_days: Option<u32>,
}

#[utoipa::path(post, path = "/api/v1/api-keys", tag = "api-keys", request_body = CreateKey, responses((status = 201, description = "created; `key` is shown only in this response", body = CreatedApiKey)))]
async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<CreateKey>,
) -> ApiResult<(StatusCode, Json<CreatedApiKey>)> {
    Ok((
        StatusCode::CREATED,
        Json(create_key(&state, &caller, req).await?),
    ))
}

/// Check and create an API key for `caller`'s organisation. Shared by the
/// API and the web UI.
pub(crate) async fn create_key(
    state: &AppState,
    caller: &Caller,
    req: CreateKey,
) -> ApiResult<CreatedApiKey> {
    caller.require(Role::Admin, Scope::Admin)?;
    let name = required_text("name", &req.name, 200)?;
    if req.role == Role::Owner {
        return Err(ApiError::invalid("API keys cannot have the owner role"));
    }
    if req.role > caller.role {
        return Err(ApiError::forbidden(
            "cannot create a key with a higher role than your own",
        ));
    }
    if req.scopes.is_empty() {
        return Err(ApiError::invalid(
            "`scopes` must name at least one of: read, people, enroll, recognize, attendance, access, admin",
        ));
    }
    let mut scopes = Vec::new();
    for s in &req.scopes {
        let scope = Scope::parse(s).ok_or_else(|| {
            ApiError::invalid(format!(
                "unknown scope {s:?}; use read, people, enroll, recognize, attendance, access or admin"
            ))
        })?;
        if !scopes.contains(&scope.as_str().to_string()) {
            scopes.push(scope.as_str().to_string());
        }
    }
    let expires_at = match req.expires_in_days {
        Some(0) => return Err(ApiError::invalid("`expires_in_days` must be at least 1")),
        Some(d) if d > 3650 => {
            return Err(ApiError::invalid("`expires_in_days` must be at most 3650"));
        }
        Some(d) => Some(now_ms() + i64::from(d) * 86_400_000),
        None => None,
    };
    let (key, prefix, hash) = new_api_key();
    let created = state
        .store
        .create_api_key(NewApiKey {
            org_id: &caller.org_id,
            name: &name,
            prefix: &prefix,
            key_hash: &hash,
            role: req.role,
            scopes: &scopes,
            created_by: caller.account_id(),
            expires_at,
        })
        .await?;
    tracing::info!(key = %created.id, by = %caller.label(), "api key created");
    Ok(CreatedApiKey {
        api_key: created,
        key,
    })
}

#[utoipa::path(delete, path = "/api/v1/api-keys/{id}", tag = "api-keys", responses((status = 200, description = "revoked; the key's record", body = ApiKey)))]
async fn revoke(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<ApiKey>> {
    caller.require(Role::Admin, Scope::Admin)?;
    check_id("api key", &id)?;
    let key = state.store.revoke_api_key(&caller.org_id, &id).await?;
    tracing::info!(key = %id, by = %caller.label(), "api key revoked");
    Ok(Json(key))
}
