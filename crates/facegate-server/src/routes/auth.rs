//! Login, refresh-token rotation, logout and "who am I".

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use facegate_store::{Account, ApiKey, Membership, RefreshFailure, Role, now_ms};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::password::verify_password;
use crate::auth::tokens::{new_refresh_token, sha256_hex};
use crate::auth::{Caller, Principal};
use crate::client_ip::ClientIp;
use crate::error::{ApiError, ApiJson, ApiResult};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/auth/login", post(login))
        .route("/auth/refresh", post(refresh))
        .route("/auth/logout", post(logout))
        .route("/auth/me", get(me))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
    /// Organisation to act in; default: the account's first.
    pub organisation_id: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TokenResponse {
    pub access_token: String,
    pub refresh_token: String,
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    pub organisation_id: String,
    pub role: String,
}

/// Accounts checked for one email at login (each costs a password hash).
const MAX_ACCOUNTS_PER_EMAIL: i64 = 10;

/// Shared by `/api/v1/auth/login` and the compatibility `/auth/login/`.
pub async fn do_login(
    state: &AppState,
    ip: std::net::IpAddr,
    req: LoginRequest,
) -> ApiResult<TokenResponse> {
    let (account_id, membership) = authenticate(state, ip, req).await?;
    issue_tokens(
        state,
        &account_id,
        &membership.org_id,
        membership.role.as_str(),
        None,
    )
    .await
}

/// Check a login (throttled per client address, with account lockout) and
/// choose the organisation: the account id and its membership there. Shared
/// by the API's login and the web UI's, so both count against the same
/// limits.
pub async fn authenticate(
    state: &AppState,
    ip: std::net::IpAddr,
    req: LoginRequest,
) -> ApiResult<(String, Membership)> {
    state.limiter.check_login(ip)?;
    let email = req.email.trim().to_lowercase();
    if email.is_empty() || req.password.is_empty() {
        return Err(ApiError::invalid("`email` and `password` are required"));
    }
    if req.password.len() > 1024 || email.len() > 254 {
        return Err(ApiError::unauthorized(
            "invalid_credentials",
            "the email or password is wrong",
        ));
    }
    let wrong = || ApiError::unauthorized("invalid_credentials", "the email or password is wrong");
    // An email is unique per organisation, so several accounts may share it:
    // the password says which one is logging in.
    let candidates = state
        .store
        .find_accounts_by_email(&email, MAX_ACCOUNTS_PER_EMAIL)
        .await?;
    if candidates.is_empty() {
        let _ = verify_password(req.password, state.dummy_hash.clone()).await;
        return Err(wrong());
    }
    let now = now_ms();
    let unlocked: Vec<&Account> = candidates
        .iter()
        .filter(|a| a.locked_until <= now)
        .collect();
    if unlocked.is_empty() {
        let until = candidates
            .iter()
            .map(|a| a.locked_until)
            .min()
            .unwrap_or(now);
        let secs = (until - now) / 1000 + 1;
        return Err(ApiError::new(
            StatusCode::LOCKED,
            "account_locked",
            format!("too many failed logins; the account is locked for another {secs} s"),
        ));
    }
    let mut matching = Vec::new();
    for a in &unlocked {
        if verify_password(req.password.clone(), a.password_hash.clone()).await {
            matching.push(*a);
        }
    }
    if matching.is_empty() {
        let cfg = &state.config.auth;
        let mut locked_all = true;
        for a in &unlocked {
            let locked = state
                .store
                .record_login_failure(&a.id, cfg.max_failed_logins, cfg.lockout_secs as i64 * 1000)
                .await?;
            if locked.is_some() {
                tracing::warn!(account = %a.id, "account locked after repeated failed logins");
            } else {
                locked_all = false;
            }
        }
        if locked_all {
            return Err(ApiError::new(
                StatusCode::LOCKED,
                "account_locked",
                format!(
                    "too many failed logins; the account is locked for {} s",
                    cfg.lockout_secs
                ),
            ));
        }
        return Err(wrong());
    }
    // The same password on two accounts: the one in the requested
    // organisation, else the oldest.
    let mut account = matching[0];
    if let Some(org) = &req.organisation_id {
        for a in &matching {
            if state.store.membership_role(&a.id, org).await?.is_some() {
                account = a;
                break;
            }
        }
    }
    if account.disabled {
        return Err(ApiError::unauthorized(
            "account_disabled",
            "this account is disabled",
        ));
    }
    state.store.record_login_success(&account.id).await?;
    let memberships = state.store.memberships_of(&account.id).await?;
    let membership = match &req.organisation_id {
        Some(org) => memberships
            .iter()
            .find(|m| &m.org_id == org)
            .ok_or_else(|| {
                ApiError::forbidden("this account is not a member of that organisation")
            })?,
        None => memberships
            .first()
            .ok_or_else(|| ApiError::forbidden("this account belongs to no organisation"))?,
    };
    Ok((account.id.clone(), membership.clone()))
}

/// Issue an access token bound to `session`, the refresh-token row already
/// stored by a rotation, or to a new session (and refresh token) at login.
async fn issue_tokens(
    state: &AppState,
    account_id: &str,
    org_id: &str,
    role: &str,
    session: Option<&str>,
) -> ApiResult<TokenResponse> {
    let cfg = &state.config.auth;
    let (refresh_token, hash) = new_refresh_token();
    let session_id = match session {
        Some(id) => id.to_string(),
        None => {
            let family = uuid::Uuid::new_v4().to_string();
            state
                .store
                .insert_refresh_token(
                    &hash,
                    &family,
                    account_id,
                    org_id,
                    now_ms() + cfg.refresh_token_ttl_secs as i64 * 1000,
                )
                .await?
        }
    };
    let (access_token, _) =
        state
            .jwt
            .issue(account_id, org_id, &session_id, cfg.access_token_ttl_secs)?;
    Ok(TokenResponse {
        access_token,
        refresh_token,
        token_type: "Bearer",
        expires_in: cfg.access_token_ttl_secs,
        organisation_id: org_id.to_string(),
        role: role.to_string(),
    })
}

#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", request_body = LoginRequest, security(()),
    responses((status = 200, body = TokenResponse), (status = 401, description = "wrong email or password"), (status = 423, description = "locked after repeated failures")))]
async fn login(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiJson(req): ApiJson<LoginRequest>,
) -> ApiResult<Json<TokenResponse>> {
    do_login(&state, ip, req).await.map(Json)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    pub refresh_token: String,
}

/// Rotate: the presented token is consumed and a new pair issued. Presenting
/// a consumed token again revokes the whole session (it was stolen).
#[utoipa::path(post, path = "/api/v1/auth/refresh", tag = "auth", request_body = RefreshRequest, security(()),
    responses((status = 200, body = TokenResponse), (status = 401, description = "invalid, expired or reused refresh token")))]
async fn refresh(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<RefreshRequest>,
) -> ApiResult<Json<TokenResponse>> {
    if req.refresh_token.is_empty() || req.refresh_token.len() > 200 {
        return Err(ApiError::unauthorized(
            "invalid_refresh_token",
            "the refresh token is not valid",
        ));
    }
    let old_hash = sha256_hex(&req.refresh_token);
    let (new_token, new_hash) = new_refresh_token();
    let ttl = state.config.auth.refresh_token_ttl_secs as i64 * 1000;
    let grant = match state
        .store
        .rotate_refresh_token(&old_hash, &new_hash, now_ms() + ttl)
        .await?
    {
        Ok(g) => g,
        Err(RefreshFailure::Invalid) => {
            return Err(ApiError::unauthorized(
                "invalid_refresh_token",
                "the refresh token is unknown, expired or revoked; log in again",
            ));
        }
        Err(RefreshFailure::Reused) => {
            tracing::warn!("refresh token reuse detected; session revoked");
            return Err(ApiError::unauthorized(
                "refresh_token_reused",
                "this refresh token was already used; the session has been revoked for safety, log in again",
            ));
        }
    };
    let role = state
        .store
        .membership_role(&grant.account_id, &grant.org_id)
        .await?
        .ok_or_else(|| {
            ApiError::unauthorized("invalid_refresh_token", "the account no longer has access")
        })?;
    let mut tokens = issue_tokens(
        &state,
        &grant.account_id,
        &grant.org_id,
        role.as_str(),
        Some(&grant.session_id),
    )
    .await?;
    tokens.refresh_token = new_token;
    Ok(Json(tokens))
}

/// Revoke the session the refresh token belongs to.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth", request_body = RefreshRequest, security(()),
    responses((status = 204, description = "revoked"), (status = 401, description = "unknown token")))]
async fn logout(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<RefreshRequest>,
) -> ApiResult<StatusCode> {
    if req.refresh_token.len() > 200
        || !state
            .store
            .revoke_refresh_family(&sha256_hex(&req.refresh_token))
            .await?
    {
        return Err(ApiError::unauthorized(
            "invalid_refresh_token",
            "the refresh token is unknown or already revoked",
        ));
    }
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OrgRef {
    pub id: String,
    pub name: String,
}

/// The caller: an account (`account` and `organisations` are set) or an
/// API key (`api_key` is set), and its role in the organisation it acts in.
#[derive(Debug, Serialize, ToSchema)]
pub struct Me {
    pub organisation: OrgRef,
    pub role: Role,
    /// `account` or `api_key`.
    pub kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<Account>,
    /// Every organisation the account belongs to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub organisations: Option<Vec<Membership>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_key: Option<ApiKey>,
}

#[utoipa::path(get, path = "/api/v1/auth/me", tag = "auth", responses((status = 200, description = "the caller", body = Me)), security(("bearer" = []), ("api_key" = [])))]
async fn me(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Me>> {
    let org = state.store.get_org(&caller.org_id).await?;
    let mut me = Me {
        organisation: OrgRef {
            id: org.id,
            name: org.name,
        },
        role: caller.role,
        kind: "account",
        account: None,
        organisations: None,
        api_key: None,
    };
    match &caller.principal {
        Principal::Account { id } => {
            me.account = Some(state.store.get_account(id).await?);
            me.organisations = Some(state.store.memberships_of(id).await?);
        }
        Principal::ApiKey { id, .. } => {
            me.kind = "api_key";
            me.api_key = Some(state.store.get_api_key(&caller.org_id, id).await?);
        }
    }
    Ok(Json(me))
}
