//! The hash-chained access log: read it and verify it over HTTP.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use facegate_store::{AccessLogEntry, Role};
use serde::Serialize;
use utoipa::ToSchema;

use super::{Page, Paging};
use crate::auth::{Caller, Scope};
use crate::error::{ApiQuery, ApiResult};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/access-log", get(list))
        .route("/access-log/verify", get(verify))
}

#[utoipa::path(get, path = "/api/v1/access-log", tag = "access", params(Paging), responses((status = 200, description = "entries, newest first", body = Page<AccessLogEntry>)))]
async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(p): ApiQuery<Paging>,
) -> ApiResult<Json<Page<AccessLogEntry>>> {
    caller.require(Role::Admin, Scope::Admin)?;
    let (limit, offset, page, per_page) = Paging::resolve(p.page, p.per_page)?;
    let (items, total) = state
        .store
        .list_audit(&caller.org_id, limit, offset)
        .await?;
    Ok(Json(Page {
        items,
        total,
        page,
        per_page,
    }))
}

/// The result of recomputing the caller's organisation's chain.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChainStatus {
    pub ok: bool,
    /// The first altered, inserted or removed entries, in words.
    pub problems: Vec<String>,
}

/// Verifies the caller's organisation's chain.
#[utoipa::path(get, path = "/api/v1/access-log/verify", tag = "access", responses((status = 200, description = "chain status", body = ChainStatus)))]
async fn verify(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<ChainStatus>> {
    caller.require(Role::Admin, Scope::Admin)?;
    let report = state.store.verify_audit_chain().await?;
    let prefix = format!("organisation {}:", caller.org_id);
    let problems: Vec<String> = report
        .problems
        .into_iter()
        .filter(|p| p.starts_with(&prefix))
        .collect();
    Ok(Json(ChainStatus {
        ok: problems.is_empty(),
        problems,
    }))
}
