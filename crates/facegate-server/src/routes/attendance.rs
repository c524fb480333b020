//! Attendance: mark by recognition (rules applied in a transaction), list
//! and filter, daily summary, CSV export.

use std::collections::HashMap;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use facegate_store::{AttendanceFilter, AttendanceRecord, DailySummaryRow, Role, now_ms};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::responses::AttendanceMark;
use super::{Page, Paging, check_id};
use crate::auth::{Caller, Scope};
use crate::error::{ApiQuery, ApiResult};
use crate::flows::{MarkParams, mark_attendance};
use crate::image_input::ImageInput;
use crate::rules::{day_string, local_time, parse_day};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/attendance", get(list))
        .route("/attendance/mark", post(mark))
        .route("/attendance/summary", get(summary))
        .route("/attendance/export.csv", get(export))
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct MarkBody {
    pub device_id: Option<String>,
    /// `in` or `out`; omitted alternates (first of the day is `in`).
    pub kind: Option<String>,
    /// RFID/NFC code, used when the organisation does not require a face.
    pub credential: Option<String>,
}

#[utoipa::path(post, path = "/api/v1/attendance/mark", tag = "attendance",
    request_body(content_type = "multipart/form-data", description = "image (+ device_id, kind) or credential"),
    responses((status = 200, description = "`recorded` true/false with the reason", body = AttendanceMark)))]
async fn mark(
    State(state): State<AppState>,
    caller: Caller,
    input: ImageInput<MarkBody>,
) -> ApiResult<Json<Value>> {
    caller.require(Role::Operator, Scope::Attendance)?;
    let params = MarkParams {
        device_id: input.params.device_id,
        kind: input.params.kind,
        credential: input.params.credential,
        source: "api",
        identified: None,
    };
    Ok(Json(
        mark_attendance(&state, &caller.org_id, input.image, params).await?,
    ))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    pub person_id: Option<String>,
    pub device_id: Option<String>,
    /// First local day, `YYYY-MM-DD`.
    pub from: Option<String>,
    /// Last local day, inclusive.
    pub to: Option<String>,
    pub page: Option<u32>,
    pub per_page: Option<u32>,
}

fn filter_of(q: &ListQuery, limit: i64, offset: i64) -> ApiResult<AttendanceFilter> {
    if let Some(p) = &q.person_id {
        check_id("person", p)?;
    }
    if let Some(f) = &q.from {
        parse_day("from", f)?;
    }
    if let Some(t) = &q.to {
        parse_day("to", t)?;
    }
    Ok(AttendanceFilter {
        person_id: q.person_id.clone(),
        device_id: q.device_id.clone(),
        from_day: q.from.clone(),
        to_day: q.to.clone(),
        limit,
        offset,
    })
}

#[utoipa::path(get, path = "/api/v1/attendance", tag = "attendance", params(ListQuery), responses((status = 200, description = "records, newest first", body = Page<AttendanceRecord>)))]
async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> ApiResult<Json<Page<AttendanceRecord>>> {
    caller.require(Role::Viewer, Scope::Read)?;
    let (limit, offset, page, per_page) = Paging::resolve(q.page, q.per_page)?;
    let (items, total) = state
        .store
        .list_attendance(&caller.org_id, &filter_of(&q, limit, offset)?)
        .await?;
    Ok(Json(Page {
        items,
        total,
        page,
        per_page,
    }))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct SummaryQuery {
    /// Local day, default today in the organisation's time zone.
    pub date: Option<String>,
}

/// One local day's attendance, per person.
#[derive(Debug, Serialize, ToSchema)]
pub struct AttendanceSummary {
    /// `YYYY-MM-DD` in the organisation's time zone.
    pub date: String,
    /// People with at least one record that day.
    pub people: usize,
    pub items: Vec<DailySummaryRow>,
}

#[utoipa::path(get, path = "/api/v1/attendance/summary", tag = "attendance", params(SummaryQuery),
    responses((status = 200, description = "per person: records, first and last time", body = AttendanceSummary)))]
async fn summary(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<SummaryQuery>,
) -> ApiResult<Json<AttendanceSummary>> {
    caller.require(Role::Viewer, Scope::Read)?;
    let org = state.store.get_org(&caller.org_id).await?;
    let day = match &q.date {
        Some(d) => day_string(parse_day("date", d)?),
        None => day_string(local_time(&org.settings, now_ms()).date),
    };
    let rows = state.store.daily_summary(&caller.org_id, &day).await?;
    Ok(Json(AttendanceSummary {
        date: day,
        people: rows.len(),
        items: rows,
    }))
}

/// CSV cell: quoted, and defused against spreadsheet formula injection.
fn cell(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_string()
    };
    format!("\"{}\"", s.replace('"', "\"\""))
}

#[utoipa::path(get, path = "/api/v1/attendance/export.csv", tag = "attendance", params(ListQuery), responses((status = 200, description = "text/csv", content_type = "text/csv")))]
async fn export(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> ApiResult<impl IntoResponse> {
    caller.require(Role::Viewer, Scope::Read)?;
    let filter = filter_of(&q, 100_000, 0)?;
    let csv = attendance_csv(&state, &caller.org_id, &filter).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"attendance.csv\"",
            ),
        ],
        csv,
    ))
}

/// The attendance records `filter` selects as CSV (header line first).
/// Shared by the API's export and the web UI's.
pub(crate) async fn attendance_csv(
    state: &AppState,
    org_id: &str,
    filter: &AttendanceFilter,
) -> ApiResult<String> {
    let (records, _) = state.store.list_attendance(org_id, filter).await?;
    let mut names: HashMap<String, (String, String)> = HashMap::new();
    let mut csv = String::from(
        "id,person_id,external_id,name,time_utc,day,kind,confidence,liveness,liveness_flagged,device_id,source\n",
    );
    for r in &records {
        if !names.contains_key(&r.person_id) {
            let p = state.store.get_person(org_id, &r.person_id).await?;
            names.insert(r.person_id.clone(), (p.external_id, p.name));
        }
        let (ext, name) = &names[&r.person_id];
        let time = chrono::DateTime::from_timestamp_millis(r.ts)
            .map(|t| t.to_rfc3339())
            .unwrap_or_default();
        let line = [
            cell(&r.id),
            cell(&r.person_id),
            cell(ext),
            cell(name),
            cell(&time),
            cell(&r.day),
            cell(&r.kind),
            r.confidence.map(|c| format!("{c:.4}")).unwrap_or_default(),
            r.liveness.map(|c| format!("{c:.4}")).unwrap_or_default(),
            r.liveness_flagged.to_string(),
            cell(r.device_id.as_deref().unwrap_or("")),
            cell(&r.source),
        ]
        .join(",");
        csv.push_str(&line);
        csv.push('\n');
    }
    Ok(csv)
}
