//! Access schedules: weekly windows with optional date range, for one
//! person or everyone, at one device or all.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use facegate_store::{Role, Schedule};
use serde::Deserialize;
use utoipa::ToSchema;

use super::responses::Items;
use super::{check_id, double_option, required_text};
use crate::auth::{Caller, Scope};
use crate::error::{ApiError, ApiJson, ApiPath, ApiResult};
use crate::rules::parse_day;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/schedules", get(list).post(create))
        .route("/schedules/{id}", get(read).patch(update).delete(remove))
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

/// A schedule's fields after each was parsed on its own, before the checks
/// that look at several fields or at the database. Create fills it from the
/// request; update from the stored schedule with the sent fields on top, so
/// both go through the same checks.
struct Draft {
    name: String,
    person_id: Option<String>,
    device_id: Option<String>,
    weekdays: u8,
    /// Minutes after local midnight, 0..=1440 as parsed.
    start: u32,
    end: u32,
    valid_from: Option<String>,
    valid_until: Option<String>,
}

impl Draft {
    /// Check what spans fields, and that the person and device exist in the
    /// caller's organisation (a foreign id reads as not found).
    async fn finish(self, state: &AppState, org_id: &str) -> Result<Schedule, ApiError> {
        if let Some(p) = &self.person_id {
            check_id("person", p)?;
            state.store.get_person(org_id, p).await?;
        }
        if let Some(d) = &self.device_id {
            check_id("device", d)?;
            state.store.get_device(org_id, d).await?;
        }
        if self.start >= 1440 {
            return Err(ApiError::invalid("`start` must be before 24:00"));
        }
        for (f, v) in [
            ("valid_from", &self.valid_from),
            ("valid_until", &self.valid_until),
        ] {
            if let Some(v) = v {
                parse_day(f, v)?;
            }
        }
        if let (Some(a), Some(b)) = (&self.valid_from, &self.valid_until)
            && a > b
        {
            return Err(ApiError::invalid("`valid_from` is after `valid_until`"));
        }
        Ok(Schedule {
            id: String::new(),
            org_id: String::new(),
            name: self.name,
            person_id: self.person_id,
            device_id: self.device_id,
            weekdays: self.weekdays,
            start_minute: self.start,
            // 24:00 is stored as 0: an end equal to the start means the whole day.
            end_minute: self.end % 1440,
            valid_from: self.valid_from,
            valid_until: self.valid_until,
            created_at: 0,
        })
    }
}

#[utoipa::path(post, path = "/api/v1/schedules", tag = "schedules", request_body = CreateSchedule,
    responses((status = 201, description = "created", body = Schedule)))]
async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<CreateSchedule>,
) -> ApiResult<(StatusCode, Json<Schedule>)> {
    Ok((
        StatusCode::CREATED,
        Json(create_schedule(&state, &caller, req).await?),
    ))
}

/// Check and store a new schedule of the caller's organisation: the one
/// path for `POST /api/v1/schedules` and the web UI's schedule editor.
pub(crate) async fn create_schedule(
    state: &AppState,
    caller: &Caller,
    req: CreateSchedule,
) -> ApiResult<Schedule> {
    caller.require(Role::Admin, Scope::Admin)?;
    let draft = Draft {
        name: required_text("name", &req.name, 200)?,
        person_id: req.person_id,
        device_id: req.device_id,
        weekdays: parse_weekdays(&req.weekdays)?,
        start: parse_hhmm("start", &req.start)?,
        end: parse_hhmm("end", &req.end)?,
        valid_from: req.valid_from,
        valid_until: req.valid_until,
    };
    let s = draft.finish(state, &caller.org_id).await?;
    Ok(state.store.create_schedule(&caller.org_id, &s).await?)
}

/// Omitted fields keep their value. `null` clears the optional ones:
/// `person_id` (then it applies to everyone), `device_id` (every device),
/// `valid_from`, `valid_until`; it is refused for the others.
#[derive(Debug, Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct UpdateSchedule {
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub name: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub person_id: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub device_id: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<Vec<String>>)]
    pub weekdays: Option<Option<Vec<String>>>,
    /// `HH:MM`.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub start: Option<Option<String>>,
    /// `HH:MM`.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub end: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub valid_from: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub valid_until: Option<Option<String>>,
}

/// A field that may be omitted but not cleared: `null` would otherwise read
/// as "keep", silently ignoring what the client meant.
fn not_null<T>(field: &str, v: Option<Option<T>>) -> Result<Option<T>, ApiError> {
    match v {
        Some(None) => Err(ApiError::invalid(format!(
            "`{field}` cannot be null; omit it to keep the current value"
        ))),
        Some(Some(v)) => Ok(Some(v)),
        None => Ok(None),
    }
}

#[utoipa::path(patch, path = "/api/v1/schedules/{id}", tag = "schedules", request_body = UpdateSchedule,
    responses((status = 200, description = "updated; the same checks as create apply to the result", body = Schedule)))]
async fn update(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(req): ApiJson<UpdateSchedule>,
) -> ApiResult<Json<Schedule>> {
    caller.require(Role::Admin, Scope::Admin)?;
    check_id("schedule", &id)?;
    // Tenant check first, so another organisation's id is simply not found.
    let old = state.store.get_schedule(&caller.org_id, &id).await?;
    let draft = Draft {
        name: match not_null("name", req.name)? {
            Some(n) => required_text("name", &n, 200)?,
            None => old.name,
        },
        person_id: req.person_id.unwrap_or(old.person_id),
        device_id: req.device_id.unwrap_or(old.device_id),
        weekdays: match not_null("weekdays", req.weekdays)? {
            Some(w) => parse_weekdays(&w)?,
            None => old.weekdays,
        },
        start: match not_null("start", req.start)? {
            Some(s) => parse_hhmm("start", &s)?,
            None => old.start_minute,
        },
        end: match not_null("end", req.end)? {
            Some(e) => parse_hhmm("end", &e)?,
            None => old.end_minute,
        },
        valid_from: req.valid_from.unwrap_or(old.valid_from),
        valid_until: req.valid_until.unwrap_or(old.valid_until),
    };
    let s = draft.finish(&state, &caller.org_id).await?;
    let updated = state.store.update_schedule(&caller.org_id, &id, &s).await?;
    tracing::info!(schedule = %id, by = %caller.label(), "schedule updated");
    Ok(Json(updated))
}

#[utoipa::path(get, path = "/api/v1/schedules", tag = "schedules", responses((status = 200, description = "schedules", body = Items<Schedule>)))]
async fn list(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Items<Schedule>>> {
    caller.require(Role::Viewer, Scope::Read)?;
    Ok(Json(Items {
        items: state.store.list_schedules(&caller.org_id).await?,
    }))
}

#[utoipa::path(get, path = "/api/v1/schedules/{id}", tag = "schedules", responses((status = 200, description = "the schedule", body = Schedule)))]
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
