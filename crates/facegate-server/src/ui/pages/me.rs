//! Self-service: the logged-in account's own attendance. An account is
//! linked to the person of its organisation with the same email address
//! (case-insensitive); no other person's data is reachable from here.

use askama::Template;
use axum::extract::State;
use facegate_store::{AttendanceFilter, PeopleFilter, Person};

use super::{Chrome, local, render};
use crate::state::AppState;
use crate::ui::error::UiResult;
use crate::ui::session::Ui;

#[derive(Template)]
#[template(path = "me.html")]
struct MePage {
    c: Chrome,
    person: Option<Person>,
    records: Vec<(String, String, String)>,
    days: usize,
}

/// `GET /ui/me` (every role).
pub async fn page(State(state): State<AppState>, ui: Ui) -> UiResult {
    let email = ui.session.email.trim().to_lowercase();
    let (candidates, _) = state
        .store
        .list_people(
            ui.org_id(),
            &PeopleFilter {
                q: Some(email.clone()),
                limit: 50,
                ..PeopleFilter::default()
            },
        )
        .await?;
    let person = candidates
        .into_iter()
        .find(|p| !email.is_empty() && p.email.trim().to_lowercase() == email);
    let org = state.store.get_org(ui.org_id()).await?;
    let mut records = Vec::new();
    let mut days = std::collections::BTreeSet::new();
    if let Some(p) = &person {
        let (list, _) = state
            .store
            .list_attendance(
                ui.org_id(),
                &AttendanceFilter {
                    person_id: Some(p.id.clone()),
                    limit: 200,
                    ..AttendanceFilter::default()
                },
            )
            .await?;
        for r in list {
            days.insert(r.day.clone());
            records.push((local(&org.settings, r.ts), r.kind, r.day));
        }
    }
    Ok(render(&MePage {
        c: Chrome::new(&ui, "me"),
        person,
        records,
        days: days.len(),
    }))
}
