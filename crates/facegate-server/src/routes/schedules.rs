//! Access schedules: weekly windows with optional date range, for one
//! person or everyone, at one device or all.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use facegate_store::{Role, Schedule};
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

use super::{check_id, required_text};
use crate::auth::{Caller, Scope};
use crate::error::{ApiError, ApiJson, ApiPath, ApiResult};
use crate::rules::parse_day;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/schedules", get(list).post(create))
        .route("/schedules/{id}", get(read).delete(remove))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSchedule {
    pub name: String,
    /// Omitted = applies to everyone.
    pub person_id: Option<String>,
    /// Omitted = applies at every device.
    pub device_id: Option<String>,
    /// Lower-case English day names or abbreviations: ["mon", "tue", ...].
    pub weekdays: Vec<String>,
    /// Local time `HH:MM`.
    pub start: String,
    /// Local time `HH:MM`, exclusive; before `start` = crosses midnight;
    /// equal to `start` = the whole day.
    pub end: String,
    /// `YYYY-MM-DD`, inclusive.
    pub valid_from: Option<String>,
    pub valid_until: Option<String>,
}

fn parse_hhmm(field: &str, s: &str) -> Result<u32, ApiError> {
    let err = || ApiError::invalid(format!("`{field}` must be a time like 08:30, got {s:?}"));
    let (h, m) = s.split_once(':').ok_or_else(err)?;
    let (h, m): (u32, u32) = (h.parse().map_err(|_| err())?, m.parse().map_err(|_| err())?);
    if h == 24 && m == 0 {
        return Ok(1440);
    }
    if h > 23 || m > 59 {
        return Err(err());
    }
    Ok(h * 60 + m)
}

fn parse_weekdays(days: &[String]) -> Result<u8, ApiError> {
    if days.is_empty() {
        return Err(ApiError::invalid("`weekdays` must name at least one day"));
    }
    let names = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
    let mut mask = 0u8;
    for d in days {
        let d = d.trim().to_lowercase();
        let i = names
            .iter()
            .position(|n| d.len() >= 3 && (d.starts_with(n)))
            .ok_or_else(|| {
                ApiError::invalid(format!(
                    "unknown weekday {d:?}; use mon, tue, wed, thu, fri, sat, sun"
                ))
            })?;
        mask |= 1 << i;
    }
    Ok(mask)
}

#[utoipa::path(post, path = "/api/v1/schedules", tag = "schedules", request_body = CreateSchedule, responses((status = 201, description = "created")))]
async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<CreateSchedule>,
) -> ApiResult<(StatusCode, Json<Schedule>)> {
    caller.require(Role::Admin, Scope::Admin)?;
    let name = required_text("name", &req.name, 200)?;
    if let Some(p) = &req.person_id {
        check_id("person", p)?;
        state.store.get_person(&caller.org_id, p).await?;
    }
    if let Some(d) = &req.device_id {
        check_id("device", d)?;
        state.store.get_device(&caller.org_id, d).await?;
    }
    let start = parse_hhmm("start", &req.start)?;
    let mut end = parse_hhmm("end", &req.end)?;
    if start == 0 && end == 1440 {
        end = 0;
    }
    if start >= 1440 {
        return Err(ApiError::invalid("`start` must be before 24:00"));
    }
    for (f, v) in [
        ("valid_from", &req.valid_from),
        ("valid_until", &req.valid_until),
    ] {
        if let Some(v) = v {
            parse_day(f, v)?;
        }
    }
    if let (Some(a), Some(b)) = (&req.valid_from, &req.valid_until)
        && a > b
    {
        return Err(ApiError::invalid("`valid_from` is after `valid_until`"));
    }
    let s = Schedule {
        id: String::new(),
        org_id: String::new(),
        name,
        person_id: req.person_id,
        device_id: req.device_id,
        weekdays: parse_weekdays(&req.weekdays)?,
        start_minute: start,
        end_minute: end % 1440,
        valid_from: req.valid_from,
        valid_until: req.valid_until,
        created_at: 0,
    };
    Ok((
        StatusCode::CREATED,
        Json(state.store.create_schedule(&caller.org_id, &s).await?),
    ))
}

#[utoipa::path(get, path = "/api/v1/schedules", tag = "schedules", responses((status = 200, description = "schedules")))]
async fn list(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Value>> {
    caller.require(Role::Viewer, Scope::Read)?;
    Ok(Json(
        json!({"items": state.store.list_schedules(&caller.org_id).await?}),
    ))
}

#[utoipa::path(get, path = "/api/v1/schedules/{id}", tag = "schedules", responses((status = 200, description = "the schedule")))]
async fn read(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<Schedule>> {
    caller.require(Role::Viewer, Scope::Read)?;
    check_id("schedule", &id)?;
    Ok(Json(state.store.get_schedule(&caller.org_id, &id).await?))
}

#[utoipa::path(delete, path = "/api/v1/schedules/{id}", tag = "schedules", responses((status = 204, description = "deleted")))]
async fn remove(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<StatusCode> {
    caller.require(Role::Admin, Scope::Admin)?;
    check_id("schedule", &id)?;
    state.store.delete_schedule(&caller.org_id, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
