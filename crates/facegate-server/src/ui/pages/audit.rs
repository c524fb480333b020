//! The hash-chained access log with the chain's verification, and spoof
//! events.

use askama::Template;
use axum::extract::{Query, State};
use facegate_store::{Role, SpoofEventFilter};
use serde::Deserialize;

use super::{Chrome, local, render};
use crate::state::AppState;
use crate::ui::error::UiResult;
use crate::ui::session::Ui;

const PER_PAGE: i64 = 50;

#[derive(Debug, Deserialize)]
pub struct PageQuery {
    page: Option<i64>,
}

/// A log entry as the page shows it.
pub struct Entry {
    pub seq: i64,
    pub time: String,
    pub action: String,
    pub decision: String,
    pub reason: String,
    pub person: String,
    pub score: String,
    pub hash: String,
}

#[derive(Template)]
#[template(path = "access_log.html")]
struct LogPage {
    c: Chrome,
    entries: Vec<Entry>,
    chain_ok: bool,
    problems: Vec<String>,
    total: i64,
    page: i64,
    pages: i64,
}

/// `GET /ui/access-log` (admins).
pub async fn page(State(state): State<AppState>, ui: Ui, Query(q): Query<PageQuery>) -> UiResult {
    ui.require(Role::Admin)?;
    let org = state.store.get_org(ui.org_id()).await?;
    let page = q.page.unwrap_or(1).clamp(1, 1_000_000);
    let (list, total) = state
        .store
        .list_audit(ui.org_id(), PER_PAGE, (page - 1) * PER_PAGE)
        .await?;
    let ids: Vec<String> = list.iter().filter_map(|e| e.person_id.clone()).collect();
    let people = state.store.people_by_ids(ui.org_id(), &ids).await?;
    let entries = list
        .iter()
        .map(|e| Entry {
            seq: e.seq,
            time: local(&org.settings, e.ts),
            action: e.action.clone(),
            decision: e.decision.clone(),
            reason: e.reason.clone(),
            person: e
                .person_id
                .as_ref()
                .map(|id| {
                    people
                        .iter()
                        .find(|p| &p.id == id)
                        .map_or_else(|| "(erased)".to_string(), |p| p.name.clone())
                })
                .unwrap_or_default(),
            score: e.score.map(|s| format!("{s:.3}")).unwrap_or_default(),
            hash: e.hash.chars().take(12).collect(),
        })
        .collect();
    // The verification walks every organisation's chain; only this one's
    // problems are shown.
    let report = state.store.verify_audit_chain().await?;
    let problems: Vec<String> = report
        .problems
        .into_iter()
        .filter(|p| p.contains(ui.org_id()))
        .collect();
    Ok(render(&LogPage {
        c: Chrome::new(&ui, "access"),
        chain_ok: problems.is_empty(),
        problems,
        entries,
        total,
        page,
        pages: ((total + PER_PAGE - 1) / PER_PAGE).max(1),
    }))
}

/// A spoof event as the page shows it.
pub struct SpoofRow {
    pub time: String,
    pub action: &'static str,
    pub source: &'static str,
    pub score: String,
    pub threshold: String,
    pub snapshot: bool,
    pub id: String,
}

#[derive(Template)]
#[template(path = "spoof_events.html")]
struct SpoofPage {
    c: Chrome,
    rows: Vec<SpoofRow>,
    total: i64,
}

/// `GET /ui/spoof-events` (operators).
pub async fn spoof_events(State(state): State<AppState>, ui: Ui) -> UiResult {
    ui.require(Role::Operator)?;
    let org = state.store.get_org(ui.org_id()).await?;
    let (events, total) = state
        .store
        .list_spoof_events(
            ui.org_id(),
            &SpoofEventFilter {
                limit: 100,
                ..SpoofEventFilter::default()
            },
        )
        .await?;
    let rows = events
        .into_iter()
        .map(|e| SpoofRow {
            time: local(&org.settings, e.occurred_at),
            action: e.action.as_str(),
            source: e.source.as_str(),
            score: e
                .score
                .map(|s| format!("{s:.3}"))
                .unwrap_or_else(|| "–".into()),
            threshold: format!("{:.3}", e.threshold),
            snapshot: e.has_snapshot,
            id: e.id,
        })
        .collect();
    Ok(render(&SpoofPage {
        c: Chrome::new(&ui, "spoof"),
        rows,
        total,
    }))
}

/// `GET /ui/spoof-events/{id}/snapshot` (operators): the image kept with an
/// event, shown on the spoof events page.
pub async fn spoof_snapshot(
    State(state): State<AppState>,
    ui: Ui,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> UiResult {
    use axum::response::IntoResponse;
    ui.require(Role::Operator)?;
    crate::routes::check_id("spoof event", &id)?;
    let Some(bytes) = state.store.spoof_event_snapshot(ui.org_id(), &id).await? else {
        return Err(crate::ui::error::UiError::page(
            axum::http::StatusCode::NOT_FOUND,
            "Not found",
            "No image was kept for this event (the organisation's store_images setting was off).",
        ));
    };
    // Only image types are served as such; anything else is a download
    // (and `nosniff` is set service-wide).
    let content_type = image::guess_format(&bytes)
        .map(|f| f.to_mime_type())
        .unwrap_or("application/octet-stream");
    Ok((
        [
            (axum::http::header::CONTENT_TYPE, content_type),
            (axum::http::header::CONTENT_DISPOSITION, "inline"),
        ],
        bytes,
    )
        .into_response())
}
