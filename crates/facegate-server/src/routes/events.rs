//! Camera recognition events: the stored log (`GET /api/v1/events`), the
//! live feed as Server-Sent Events (`GET /api/v1/events/stream`) and an
//! event's face crop. Both show an event the same way (the payload the
//! processor built: the track's decision, operating point, person, and the
//! attendance or access outcome), and only the caller's organisation's.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use facegate_store::{CameraEventFilter, Role};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::broadcast::error::RecvError;
use utoipa::ToSchema;

use super::Paging;
use crate::auth::{Caller, Scope};
use crate::error::{ApiError, ApiPath, ApiQuery, ApiResult};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/events", get(list))
        .route("/events/stream", get(stream))
        .route("/events/{id}/crop", get(crop))
}

pub(crate) fn check_kind(kind: Option<&str>) -> ApiResult<()> {
    match kind {
        None | Some("person" | "unknown") => Ok(()),
        Some(_) => Err(ApiError::invalid("`kind` must be `person` or `unknown`")),
    }
}

pub(crate) fn check_uuid(field: &str, v: Option<&str>) -> ApiResult<()> {
    if let Some(v) = v
        && uuid::Uuid::parse_str(v).is_err()
    {
        return Err(ApiError::invalid(format!("`{field}` must be an id (UUID)")));
    }
    Ok(())
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct EventsQuery {
    pub camera_id: Option<String>,
    pub person_id: Option<String>,
    /// `person` or `unknown`.
    pub kind: Option<String>,
    /// Earliest event time, Unix milliseconds (inclusive).
    pub since: Option<i64>,
    /// Latest event time, Unix milliseconds (inclusive).
    pub until: Option<i64>,
    pub page: Option<u32>,
    pub per_page: Option<u32>,
}

/// One page of camera events, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventPage {
    /// Each event as SSE shows it: `id`, `camera_id`, `camera_name`,
    /// `purpose`, `track_id`, `kind`, `decision`, `person_id`, `name`,
    /// `external_id`, `score`, `second_score`, `nearest_person_id`,
    /// `operating_point`, `samples`, `liveness`, `live`, `bbox`,
    /// `frame_width`, `frame_height`, `first_seen_ms`, `media_ms`,
    /// `latency_ms`, `at`, `attendance`, `access`, `has_crop`.
    #[schema(value_type = Vec<Object>)]
    pub items: Vec<Value>,
    pub total: i64,
    pub page: u32,
    pub per_page: u32,
}

#[utoipa::path(get, path = "/api/v1/events", tag = "events", params(EventsQuery),
    responses((status = 200, description = "camera events of the caller's organisation, newest first", body = EventPage),
        (status = 422, description = "invalid filter")))]
async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<EventsQuery>,
) -> ApiResult<Json<EventPage>> {
    caller.require(Role::Viewer, Scope::Read)?;
    let (limit, offset, page, per_page) = Paging::resolve(q.page, q.per_page)?;
    check_kind(q.kind.as_deref())?;
    check_uuid("camera_id", q.camera_id.as_deref())?;
    check_uuid("person_id", q.person_id.as_deref())?;
    if let (Some(s), Some(u)) = (q.since, q.until)
        && s > u
    {
        return Err(ApiError::invalid("`since` must not be after `until`"));
    }
    let (rows, total) = state
        .store
        .list_camera_events(
            &caller.org_id,
            &CameraEventFilter {
                camera_id: q.camera_id,
                person_id: q.person_id,
                kind: q.kind,
                since: q.since,
                until: q.until,
                limit,
                offset,
            },
        )
        .await?;
    let items = rows
        .into_iter()
        .map(|r| serde_json::from_str(&r.payload).unwrap_or(Value::Null))
        .collect();
    Ok(Json(EventPage {
        items,
        total,
        page,
        per_page,
    }))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct StreamQuery {
    /// Only this camera's events.
    pub camera_id: Option<String>,
    /// `person` or `unknown`.
    pub kind: Option<String>,
}

/// Keep-alive comments every this many seconds keep proxies from closing an idle feed.
const SSE_KEEPALIVE: Duration = Duration::from_secs(15);

#[utoipa::path(get, path = "/api/v1/events/stream", tag = "events", params(StreamQuery),
    responses((status = 200, description = "Server-Sent Events: `event: camera_event`, `id`, `data` = the event as `GET /api/v1/events` shows it; `event: lagged` with `{\"skipped\": n}` when this client fell behind; a comment every 15 s", content_type = "text/event-stream")))]
async fn stream(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<StreamQuery>,
) -> ApiResult<Response> {
    caller.require(Role::Viewer, Scope::Read)?;
    check_kind(q.kind.as_deref())?;
    check_uuid("camera_id", q.camera_id.as_deref())?;
    Ok(sse_response(state, caller.org_id.clone(), q))
}

/// The live feed of one organisation's camera events as Server-Sent Events
/// (filters already checked): `GET /api/v1/events/stream` and the web UI's
/// session-authenticated `/ui/events/stream` both answer with it.
pub(crate) fn sse_response(state: AppState, org: String, q: StreamQuery) -> Response {
    let rx = state.cameras.subscribe();
    let cancel = state.cameras.cancel_token();
    let events =
        futures_util::stream::unfold((rx, state, org, q), |(mut rx, state, org, q)| async move {
            loop {
                match rx.recv().await {
                    Ok(e) => {
                        if e.org_id != org
                            || q.camera_id.as_ref().is_some_and(|c| *c != e.camera_id)
                            || q.kind.as_ref().is_some_and(|k| *k != e.kind)
                        {
                            continue;
                        }
                        let event = Event::default()
                            .event("camera_event")
                            .id(e.id.clone())
                            .data(e.json.clone());
                        return Some((Ok::<_, Infallible>(event), (rx, state, org, q)));
                    }
                    Err(RecvError::Lagged(n)) => {
                        state.cameras.record_lag(n);
                        let event = Event::default()
                            .event("lagged")
                            .data(format!("{{\"skipped\":{n}}}"));
                        return Some((Ok(event), (rx, state, org, q)));
                    }
                    Err(RecvError::Closed) => return None,
                }
            }
        })
        .take_until(cancel.cancelled_owned());
    let mut response = Sse::new(events)
        .keep_alive(KeepAlive::new().interval(SSE_KEEPALIVE))
        .into_response();
    let headers = response.headers_mut();
    headers.insert("x-accel-buffering", "no".parse().expect("a header value"));
    headers.insert(
        header::CACHE_CONTROL,
        "no-cache".parse().expect("a header value"),
    );
    response
}

#[utoipa::path(get, path = "/api/v1/events/{id}/crop", tag = "events",
    params(("id" = String, Path, description = "camera event id")),
    responses((status = 200, description = "the face crop kept with the event", content_type = "image/jpeg"),
        (status = 404, description = "no such event, or no crop was kept (`store_images` was off)")))]
async fn crop(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Response> {
    caller.require(Role::Viewer, Scope::Read)?;
    super::check_id("camera event", &id)?;
    let bytes = state
        .store
        .camera_event_crop(&caller.org_id, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("face crop of this event"))?;
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, "image/jpeg")],
        bytes,
    )
        .into_response())
}
