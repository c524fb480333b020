//! Attendance report: filters (days, person), the per-day summary, the
//! records, and the CSV export of the same filter.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::IntoResponse;
use facegate_store::{AttendanceFilter, DailySummaryRow, Role};
use serde::Deserialize;

use super::{Chrome, local, non_empty, render, today};
use crate::routes::attendance::attendance_csv;
use crate::routes::check_id;
use crate::rules::{day_string, parse_day};
use crate::state::AppState;
use crate::ui::error::UiResult;
use crate::ui::session::Ui;

const PER_PAGE: i64 = 50;

#[derive(Debug, Deserialize)]
pub struct ReportQuery {
    from: Option<String>,
    to: Option<String>,
    person_id: Option<String>,
    page: Option<i64>,
}

/// A record as the report shows it.
pub struct Row {
    pub time: String,
    pub name: String,
    pub person_id: String,
    pub kind: String,
    pub score: String,
    pub flagged: bool,
    pub source: String,
}

#[derive(Template)]
#[template(path = "attendance.html")]
struct Report {
    c: Chrome,
    from: String,
    to: String,
    person_id: String,
    person_name: String,
    summary_day: String,
    summary: Vec<(DailySummaryRow, String, String)>,
    rows: Vec<Row>,
    total: i64,
    page: i64,
    pages: i64,
    filter_qs: String,
}

/// Validated filter (days default to the last 7 local days).
fn filter_of(
    settings: &facegate_store::OrgSettings,
    q: &ReportQuery,
) -> Result<(String, String, Option<String>), crate::error::ApiError> {
    let to = match non_empty(q.to.as_deref()) {
        Some(t) => day_string(parse_day("to", &t)?),
        None => day_string(today(settings)),
    };
    let from = match non_empty(q.from.as_deref()) {
        Some(f) => day_string(parse_day("from", &f)?),
        None => day_string(today(settings) - chrono::Duration::days(6)),
    };
    let person = non_empty(q.person_id.as_deref());
    if let Some(p) = &person {
        check_id("person", p)?;
    }
    Ok((from, to, person))
}

/// `GET /ui/attendance`.
pub async fn page(State(state): State<AppState>, ui: Ui, Query(q): Query<ReportQuery>) -> UiResult {
    ui.require(Role::Operator)?;
    let org = state.store.get_org(ui.org_id()).await?;
    let (from, to, person) = filter_of(&org.settings, &q)?;
    let page = q.page.unwrap_or(1).clamp(1, 1_000_000);
    let (records, total) = state
        .store
        .list_attendance(
            ui.org_id(),
            &AttendanceFilter {
                person_id: person.clone(),
                device_id: None,
                from_day: Some(from.clone()),
                to_day: Some(to.clone()),
                limit: PER_PAGE,
                offset: (page - 1) * PER_PAGE,
            },
        )
        .await?;
    let mut ids: Vec<String> = records.iter().map(|r| r.person_id.clone()).collect();
    ids.extend(person.clone());
    ids.sort();
    ids.dedup();
    let people = state.store.people_by_ids(ui.org_id(), &ids).await?;
    let name = |id: &str| {
        people
            .iter()
            .find(|p| p.id == id)
            .map_or_else(|| id.to_string(), |p| p.name.clone())
    };
    let rows = records
        .iter()
        .map(|r| Row {
            time: local(&org.settings, r.ts),
            name: name(&r.person_id),
            person_id: r.person_id.clone(),
            kind: r.kind.clone(),
            score: r.confidence.map(|c| format!("{c:.3}")).unwrap_or_default(),
            flagged: r.liveness_flagged,
            source: r.source.clone(),
        })
        .collect();
    let summary = state
        .store
        .daily_summary(ui.org_id(), &to)
        .await?
        .into_iter()
        .map(|r| {
            let (f, l) = (
                local(&org.settings, r.first_ts),
                local(&org.settings, r.last_ts),
            );
            (r, f, l)
        })
        .collect();
    let person_id = person.unwrap_or_default();
    let filter_qs = serde_urlencoded::to_string([
        ("from", from.as_str()),
        ("to", to.as_str()),
        ("person_id", person_id.as_str()),
    ])
    .unwrap_or_default();
    Ok(render(&Report {
        c: Chrome::new(&ui, "attendance"),
        person_name: if person_id.is_empty() {
            String::new()
        } else {
            name(&person_id)
        },
        summary_day: to.clone(),
        from,
        to,
        person_id,
        summary,
        rows,
        total,
        page,
        pages: ((total + PER_PAGE - 1) / PER_PAGE).max(1),
        filter_qs,
    }))
}

/// `GET /ui/attendance.csv`: the report's records as CSV (same columns as
/// the API's export).
pub async fn csv(State(state): State<AppState>, ui: Ui, Query(q): Query<ReportQuery>) -> UiResult {
    ui.require(Role::Operator)?;
    let org = state.store.get_org(ui.org_id()).await?;
    let (from, to, person) = filter_of(&org.settings, &q)?;
    let filter = AttendanceFilter {
        person_id: person,
        device_id: None,
        from_day: Some(from.clone()),
        to_day: Some(to.clone()),
        limit: 100_000,
        offset: 0,
    };
    let body = attendance_csv(&state, ui.org_id(), &filter).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"attendance-{from}-{to}.csv\""),
            ),
        ],
        body,
    )
        .into_response())
}
