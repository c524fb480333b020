//! The `/api/v1` routes, one module per resource.

pub mod access;
pub mod accounts;
pub mod api_keys;
pub mod attendance;
pub mod audit;
pub mod auth;
pub mod cameras;
pub mod devices;
pub mod events;
pub mod health;
pub mod liveness;
pub mod orgs;
pub mod people;
pub mod recognition;
pub mod responses;
pub mod schedules;
pub mod templates;

use axum::Router;
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::state::AppState;

pub fn v1() -> Router<AppState> {
    Router::new()
        .merge(auth::router())
        .merge(orgs::router())
        .merge(accounts::router())
        .merge(api_keys::router())
        .merge(devices::router())
        .merge(people::router())
        .merge(templates::router())
        .merge(schedules::router())
        .merge(recognition::router())
        .merge(attendance::router())
        .merge(access::router())
        .merge(audit::router())
        .merge(liveness::router())
        .merge(cameras::router())
        .merge(events::router())
}

/// `?page=&per_page=` on list routes.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct Paging {
    pub page: Option<u32>,
    pub per_page: Option<u32>,
}

impl Paging {
    /// (limit, offset, page, per_page) after validation.
    pub fn resolve(
        page: Option<u32>,
        per_page: Option<u32>,
    ) -> Result<(i64, i64, u32, u32), ApiError> {
        let page = page.unwrap_or(1);
        let per_page = per_page.unwrap_or(50);
        if page == 0 {
            return Err(ApiError::invalid("`page` starts at 1"));
        }
        if !(1..=500).contains(&per_page) {
            return Err(ApiError::invalid("`per_page` must be between 1 and 500"));
        }
        let offset = i64::from(page - 1) * i64::from(per_page);
        Ok((i64::from(per_page), offset, page, per_page))
    }
}

/// One page of a paged list.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Page<T: Serialize> {
    pub items: Vec<T>,
    pub total: i64,
    pub page: u32,
    pub per_page: u32,
}

/// Trim and check a required text field.
pub fn required_text(field: &str, value: &str, max: usize) -> Result<String, ApiError> {
    let v = value.trim();
    if v.is_empty() {
        return Err(ApiError::invalid(format!("`{field}` must not be empty")));
    }
    optional_text(field, v, max)
}

/// Check an optional text field (may be empty).
pub fn optional_text(field: &str, value: &str, max: usize) -> Result<String, ApiError> {
    let v = value.trim();
    if v.chars().count() > max {
        return Err(ApiError::invalid(format!(
            "`{field}` must be at most {max} characters"
        )));
    }
    if v.chars().any(char::is_control) {
        return Err(ApiError::invalid(format!(
            "`{field}` must not contain control characters"
        )));
    }
    Ok(v.to_string())
}

/// Ids in paths are UUIDs; anything else cannot exist, so say so early.
pub fn check_id(what: &str, id: &str) -> Result<(), ApiError> {
    if uuid::Uuid::parse_str(id).is_err() {
        return Err(ApiError::not_found(what));
    }
    Ok(())
}

/// Deserialize `null` as `Some(None)` and absent as `None` (PATCH semantics).
pub fn double_option<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// For PATCH fields that cannot be cleared: absent is `None` (keep the
/// value), `null` is refused rather than silently read as "keep". Use with
/// `#[serde(default, deserialize_with = "non_null")]`; the JSON extractor
/// names the field in the 422 it answers.
pub fn non_null<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    match Option::<T>::deserialize(d)? {
        Some(v) => Ok(Some(v)),
        None => Err(serde::de::Error::custom(
            "must not be null: leave the field out to keep its value",
        )),
    }
}
