//! People: the ones recognised. CRUD, search and paging.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use facegate_store::{PeopleFilter, Person, PersonFields, PersonStatus, Role};
use serde::Deserialize;
use utoipa::ToSchema;

use super::{Page, Paging, check_id, double_option, non_null, optional_text, required_text};
use crate::auth::{Caller, Scope};
use crate::error::{ApiError, ApiJson, ApiPath, ApiQuery, ApiResult};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/people", get(list).post(create))
        .route("/people/{id}", get(read).patch(update).delete(remove))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreatePerson {
    /// The organisation's own id (employee number, student id...), unique.
    pub external_id: String,
    pub name: String,
    pub department: Option<String>,
    pub email: Option<String>,
    /// active (default), suspended or archived.
    #[schema(value_type = Option<String>)]
    pub status: Option<PersonStatus>,
    pub rfid_code: Option<String>,
    pub nfc_tag: Option<String>,
}

fn credential(field: &str, v: Option<&str>) -> Result<Option<String>, ApiError> {
    match v {
        None => Ok(None),
        Some(s) => Ok(Some(required_text(field, s, 128)?)),
    }
}

pub fn validate_new(req: &CreatePerson) -> Result<PersonFields, ApiError> {
    Ok(PersonFields {
        external_id: required_text("external_id", &req.external_id, 128)?,
        name: required_text("name", &req.name, 200)?,
        department: optional_text("department", req.department.as_deref().unwrap_or(""), 200)?,
        email: optional_text("email", req.email.as_deref().unwrap_or(""), 254)?,
        status: req.status,
        rfid_code: credential("rfid_code", req.rfid_code.as_deref())?,
        nfc_tag: credential("nfc_tag", req.nfc_tag.as_deref())?,
    })
}

#[utoipa::path(post, path = "/api/v1/people", tag = "people", request_body = CreatePerson, responses((status = 201, description = "created", body = Person), (status = 409, description = "external_id or credential in use")))]
async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<CreatePerson>,
) -> ApiResult<(StatusCode, Json<Person>)> {
    caller.require(Role::Operator, Scope::People)?;
    let fields = validate_new(&req)?;
    let p = state.store.create_person(&caller.org_id, &fields).await?;
    Ok((StatusCode::CREATED, Json(p)))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Case-insensitive substring of name, external id, department or email.
    pub q: Option<String>,
    pub status: Option<String>,
    pub department: Option<String>,
    pub page: Option<u32>,
    pub per_page: Option<u32>,
}

#[utoipa::path(get, path = "/api/v1/people", tag = "people", params(ListQuery), responses((status = 200, description = "a page of people", body = Page<Person>)))]
async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> ApiResult<Json<Page<Person>>> {
    caller.require(Role::Viewer, Scope::Read)?;
    let (limit, offset, page, per_page) = Paging::resolve(q.page, q.per_page)?;
    let status =
        match q.status.as_deref() {
            None | Some("") => None,
            Some(s) => Some(PersonStatus::parse(s).ok_or_else(|| {
                ApiError::invalid("`status` must be active, suspended or archived")
            })?),
        };
    let q_text =
        q.q.as_deref()
            .map(|t| optional_text("q", t, 200))
            .transpose()?;
    let filter = PeopleFilter {
        q: q_text,
        status,
        department: q.department,
        limit,
        offset,
    };
    let (items, total) = state.store.list_people(&caller.org_id, &filter).await?;
    Ok(Json(Page {
        items,
        total,
        page,
        per_page,
    }))
}

#[utoipa::path(get, path = "/api/v1/people/{id}", tag = "people", responses((status = 200, description = "the person", body = Person)))]
async fn read(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<Person>> {
    caller.require(Role::Viewer, Scope::Read)?;
    check_id("person", &id)?;
    Ok(Json(state.store.get_person(&caller.org_id, &id).await?))
}

#[derive(Debug, Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct UpdatePerson {
    #[serde(default, deserialize_with = "non_null")]
    pub external_id: Option<String>,
    #[serde(default, deserialize_with = "non_null")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "non_null")]
    pub department: Option<String>,
    #[serde(default, deserialize_with = "non_null")]
    pub email: Option<String>,
    #[schema(value_type = Option<String>)]
    #[serde(default, deserialize_with = "non_null")]
    pub status: Option<PersonStatus>,
    /// `null` removes the credential.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub rfid_code: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub nfc_tag: Option<Option<String>>,
}

/// Apply a partial update to a person (shared with the compatibility routes).
pub async fn apply_update(
    state: &AppState,
    org_id: &str,
    id: &str,
    req: UpdatePerson,
) -> ApiResult<Person> {
    let p = state.store.get_person(org_id, id).await?;
    let fields = PersonFields {
        external_id: match &req.external_id {
            Some(v) => required_text("external_id", v, 128)?,
            None => p.external_id,
        },
        name: match &req.name {
            Some(v) => required_text("name", v, 200)?,
            None => p.name,
        },
        department: match &req.department {
            Some(v) => optional_text("department", v, 200)?,
            None => p.department,
        },
        email: match &req.email {
            Some(v) => optional_text("email", v, 254)?,
            None => p.email,
        },
        status: Some(req.status.unwrap_or(p.status)),
        rfid_code: match req.rfid_code {
            Some(v) => credential("rfid_code", v.as_deref())?,
            None => p.rfid_code,
        },
        nfc_tag: match req.nfc_tag {
            Some(v) => credential("nfc_tag", v.as_deref())?,
            None => p.nfc_tag,
        },
    };
    Ok(state.store.update_person(org_id, id, &fields).await?)
}

#[utoipa::path(patch, path = "/api/v1/people/{id}", tag = "people", request_body = UpdatePerson, responses((status = 200, description = "updated", body = Person)))]
async fn update(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(req): ApiJson<UpdatePerson>,
) -> ApiResult<Json<Person>> {
    caller.require(Role::Operator, Scope::People)?;
    check_id("person", &id)?;
    Ok(Json(apply_update(&state, &caller.org_id, &id, req).await?))
}

#[utoipa::path(delete, path = "/api/v1/people/{id}", tag = "people", responses((status = 204, description = "deleted with templates and attendance")))]
async fn remove(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<StatusCode> {
    caller.require(Role::Admin, Scope::People)?;
    check_id("person", &id)?;
    state.store.delete_person(&caller.org_id, &id).await?;
    state.outputs.person_removed(&id);
    tracing::info!(person = %id, by = %caller.label(), "person deleted");
    Ok(StatusCode::NO_CONTENT)
}
