//! The [`Caller`] extractor: resolves credentials on every request.
//!
//! Roles are re-read from the database on each request (not trusted from the
//! token), so demoting or removing an account takes effect immediately. The
//! same query checks the token's session (`sid`), so every event that ends a
//! session ends its access tokens too, with no cache to go stale.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use facegate_store::Role;

use crate::error::ApiError;
use crate::state::AppState;

/// What an API key may be used for. Accounts are limited by role only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Read people, devices, schedules, attendance.
    Read,
    /// Create/change people.
    People,
    /// Add or remove face templates.
    Enroll,
    /// identify / verify / detect.
    Recognize,
    /// Mark attendance.
    Attendance,
    /// Access decisions at doors.
    Access,
    /// Accounts, keys, devices, schedules, settings, the access log.
    Admin,
}

impl Scope {
    pub const ALL: [Scope; 7] = [
        Scope::Read,
        Scope::People,
        Scope::Enroll,
        Scope::Recognize,
        Scope::Attendance,
        Scope::Access,
        Scope::Admin,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::People => "people",
            Scope::Enroll => "enroll",
            Scope::Recognize => "recognize",
            Scope::Attendance => "attendance",
            Scope::Access => "access",
            Scope::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Scope> {
        Scope::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

#[derive(Debug, Clone)]
pub enum Principal {
    Account { id: String },
    ApiKey { id: String, scopes: Vec<String> },
}

#[derive(Debug, Clone)]
pub struct Caller {
    pub org_id: String,
    pub role: Role,
    pub principal: Principal,
}

impl Caller {
    /// Allow when the caller has at least `role` and (for API keys) `scope`.
    pub fn require(&self, role: Role, scope: Scope) -> Result<(), ApiError> {
        if self.role < role {
            return Err(ApiError::forbidden(format!(
                "this requires the {role} role or higher; the caller is {}",
                self.role
            )));
        }
        if let Principal::ApiKey { scopes, .. } = &self.principal
            && !scopes.iter().any(|s| s == scope.as_str())
        {
            return Err(ApiError::forbidden(format!(
                "this API key lacks the `{}` scope",
                scope.as_str()
            )));
        }
        Ok(())
    }

    /// Only accounts (not API keys) may do this, e.g. manage other accounts.
    pub fn require_account(&self) -> Result<&str, ApiError> {
        match &self.principal {
            Principal::Account { id } => Ok(id),
            Principal::ApiKey { .. } => Err(ApiError::forbidden(
                "this requires a logged-in account, not an API key",
            )),
        }
    }

    pub fn account_id(&self) -> Option<&str> {
        match &self.principal {
            Principal::Account { id } => Some(id),
            Principal::ApiKey { .. } => None,
        }
    }

    /// For logs.
    pub fn label(&self) -> String {
        match &self.principal {
            Principal::Account { id } => format!("account:{id}"),
            Principal::ApiKey { id, .. } => format!("api_key:{id}"),
        }
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let header = |name: &str| {
            parts
                .headers
                .get(name)
                .map(|v| v.to_str().map(str::trim).map(str::to_string))
        };
        let api_key = match header("x-api-key") {
            Some(Ok(k)) => Some(k),
            Some(Err(_)) => {
                return Err(ApiError::unauthorized(
                    "invalid_api_key",
                    "the X-API-Key header is not valid text",
                ));
            }
            None => None,
        };
        let bearer = match header("authorization") {
            Some(Ok(v)) => {
                let Some(token) = v
                    .strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
                else {
                    return Err(ApiError::unauthorized(
                        "invalid_authorization",
                        "the Authorization header must be `Bearer <token>`",
                    ));
                };
                Some(token.trim().to_string())
            }
            Some(Err(_)) => {
                return Err(ApiError::unauthorized(
                    "invalid_authorization",
                    "the Authorization header is not valid text",
                ));
            }
            None => None,
        };
        // An API key may also be sent as a bearer token.
        let (api_key, bearer) = match (api_key, bearer) {
            (None, Some(b)) if b.starts_with("fgk_") => (Some(b), None),
            other => other,
        };
        if let Some(key) = api_key {
            return caller_from_api_key(state, &key).await;
        }
        let Some(token) = bearer else {
            return Err(ApiError::unauthorized(
                "missing_credentials",
                "authentication required: send `Authorization: Bearer <access token>` or `X-API-Key: <key>`",
            ));
        };
        let claims = state.jwt.verify(&token)?;
        let role = state
            .store
            .session_role(&claims.sub, &claims.org, &claims.sid)
            .await?
            .ok_or_else(|| {
                ApiError::unauthorized(
                    "session_ended",
                    "this token's session has ended (logged out, refreshed, revoked, or the account is disabled or no longer a member); log in again or use the newest token",
                )
            })?;
        Ok(Caller {
            org_id: claims.org,
            role,
            principal: Principal::Account { id: claims.sub },
        })
    }
}

async fn caller_from_api_key(state: &AppState, key: &str) -> Result<Caller, ApiError> {
    if key.is_empty() || key.len() > 200 {
        return Err(ApiError::unauthorized(
            "invalid_api_key",
            "the API key is not valid",
        ));
    }
    let hash = crate::auth::tokens::sha256_hex(key);
    let found = state
        .store
        .find_api_key_by_hash(&hash)
        .await?
        .ok_or_else(|| ApiError::unauthorized("invalid_api_key", "the API key is not valid"))?;
    if found.revoked_at.is_some() {
        return Err(ApiError::unauthorized(
            "api_key_revoked",
            "the API key has been revoked",
        ));
    }
    if found
        .expires_at
        .is_some_and(|e| e <= facegate_store::now_ms())
    {
        return Err(ApiError::unauthorized(
            "api_key_expired",
            "the API key has expired",
        ));
    }
    state.limiter.check_key(&found.id)?;
    let stale = found
        .last_used_at
        .is_none_or(|t| facegate_store::now_ms() - t > 60_000);
    if stale {
        let store = state.store.clone();
        let id = found.id.clone();
        tokio::spawn(async move {
            if let Err(e) = store.touch_api_key(&id).await {
                tracing::warn!("could not record API key use: {e}");
            }
        });
    }
    Ok(Caller {
        org_id: found.org_id,
        role: found.role,
        principal: Principal::ApiKey {
            id: found.id,
            scopes: found.scopes,
        },
    })
}
