//! Settings for admins: accounts and roles (read), API keys (created here
//! and shown once, revoked here), devices and the organisation's rules
//! (read; changed through the API).

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use facegate_store::{ApiKey, Device, Member, OrgSettings, Role};
use serde::Deserialize;

use super::{Chrome, local, notice, render, see_other};
use crate::routes::api_keys::{CreateKey, create_key};
use crate::routes::check_id;
use crate::state::AppState;
use crate::ui::error::{UiError, UiResult};
use crate::ui::session::Ui;

/// An API key as the page lists it.
pub struct KeyRow {
    pub k: ApiKey,
    pub created: String,
    pub last_used: String,
}

#[derive(Template)]
#[template(path = "settings.html")]
struct SettingsPage {
    c: Chrome,
    members: Vec<Member>,
    keys: Vec<KeyRow>,
    devices: Vec<Device>,
    settings: OrgSettings,
    settings_json: String,
    /// A key just created: its secret, shown this once.
    new_key: Option<(String, String)>,
    notice: Option<&'static str>,
}

#[derive(Debug, Deserialize)]
pub struct OkQuery {
    ok: Option<String>,
}

async fn settings_page(
    state: &AppState,
    ui: &Ui,
    new_key: Option<(String, String)>,
    notice: Option<&'static str>,
) -> UiResult {
    ui.require(Role::Admin)?;
    let org = state.store.get_org(ui.org_id()).await?;
    let members = state.store.list_members(ui.org_id()).await?;
    let keys = state
        .store
        .list_api_keys(ui.org_id())
        .await?
        .into_iter()
        .map(|k| KeyRow {
            created: local(&org.settings, k.created_at),
            last_used: k
                .last_used_at
                .map(|t| local(&org.settings, t))
                .unwrap_or_else(|| "never".into()),
            k,
        })
        .collect();
    let devices = state.store.list_devices(ui.org_id()).await?;
    Ok(render(&SettingsPage {
        c: Chrome::new(ui, "settings"),
        members,
        keys,
        devices,
        settings_json: serde_json::to_string_pretty(&org.settings).unwrap_or_default(),
        settings: org.settings,
        new_key,
        notice,
    }))
}

/// `GET /ui/settings`.
pub async fn page(State(state): State<AppState>, ui: Ui, Query(q): Query<OkQuery>) -> UiResult {
    settings_page(&state, &ui, None, notice(q.ok.as_deref())).await
}

/// `POST /ui/settings/keys`: `name`, `role`, `scope` (repeated),
/// `expires_in_days`. Answers the settings page with the new secret, once.
pub async fn create_key_form(state: &AppState, ui: &Ui, fields: Vec<(String, String)>) -> UiResult {
    let get = |k: &str| {
        fields
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.trim().to_string())
    };
    let role: Role = get("role")
        .unwrap_or_default()
        .parse()
        .map_err(|_| UiError::invalid("Choose a role for the key."))?;
    let expires_in_days = match get("expires_in_days").filter(|s| !s.is_empty()) {
        Some(d) => Some(
            d.parse::<u32>()
                .map_err(|_| UiError::invalid("The lifetime must be a whole number of days."))?,
        ),
        None => None,
    };
    let req = CreateKey {
        name: get("name").unwrap_or_default(),
        role,
        scopes: fields
            .iter()
            .filter(|(n, _)| n == "scope")
            .map(|(_, v)| v.clone())
            .collect(),
        expires_in_days,
    };
    let created = create_key(state, &ui.caller, req).await?;
    settings_page(
        state,
        ui,
        Some((created.api_key.name.clone(), created.key)),
        None,
    )
    .await
}

/// `POST /ui/settings/keys`.
pub async fn create_key_route(
    State(state): State<AppState>,
    ui: Ui,
    Form(fields): Form<Vec<(String, String)>>,
) -> UiResult {
    ui.require(Role::Admin)?;
    create_key_form(&state, &ui, fields).await
}

/// `POST /ui/settings/keys/{id}/revoke`.
pub async fn revoke_key(State(state): State<AppState>, ui: Ui, Path(id): Path<String>) -> UiResult {
    ui.require(Role::Admin)?;
    check_id("api key", &id)?;
    state.store.revoke_api_key(ui.org_id(), &id).await?;
    tracing::info!(key = %id, by = %ui.caller.label(), "api key revoked (web UI)");
    Ok(see_other("/ui/settings?ok=revoked"))
}
