//! The dashboard: today's attendance, denials with reasons, unknown faces,
//! spoof events, camera health, the engine, and a 14-day chart.

use std::collections::BTreeMap;

use askama::Template;
use axum::extract::State;
use axum::response::Response;
use facegate_store::{PeopleFilter, Role, SpoofEventFilter, now_ms};

use super::{Chrome, local, render, see_other, today};
use crate::rules::day_string;
use crate::state::AppState;
use crate::ui::error::UiResult;
use crate::ui::session::Ui;
use crate::ui::svg::bar_chart;

/// One line of a table, already formatted.
pub struct Line {
    pub when: String,
    pub what: String,
    pub who: String,
    pub detail: String,
}

#[derive(Template)]
#[template(path = "dashboard.html")]
struct Dashboard {
    c: Chrome,
    today: String,
    people: i64,
    present: usize,
    records_today: i64,
    denials: usize,
    unknown_faces: usize,
    spoofs: i64,
    reasons: Vec<(String, usize)>,
    recent_denials: Vec<Line>,
    recent_spoofs: Vec<Line>,
    present_list: Vec<Line>,
    chart: String,
    engine: String,
    gallery: usize,
    cameras: Vec<super::cameras::CameraRowView>,
}

/// `GET /ui` → `/ui/`.
pub async fn redirect_root() -> Response {
    see_other("/ui/")
}

/// `GET /ui/`: the dashboard; viewers go to their own page.
pub async fn page(State(state): State<AppState>, ui: Ui) -> UiResult {
    if ui.role() < Role::Operator {
        return Ok(see_other("/ui/me"));
    }
    let org_id = ui.org_id().to_string();
    let store = &state.store;
    let org = store.get_org(&org_id).await?;
    let settings = &org.settings;
    let today_date = today(settings);
    let today_s = day_string(today_date);
    let (_, people) = store
        .list_people(
            &org_id,
            &PeopleFilter {
                limit: 1,
                ..PeopleFilter::default()
            },
        )
        .await?;
    let summary = store.daily_summary(&org_id, &today_s).await?;
    let records_today = summary.iter().map(|r| r.records).sum();
    let present_list = summary
        .iter()
        .take(20)
        .map(|r| Line {
            when: local(settings, r.first_ts),
            what: format!("{} record(s)", r.records),
            who: r.name.clone(),
            detail: format!("last {}", local(settings, r.last_ts)),
        })
        .collect();
    // The last 14 local days, oldest first.
    let mut bars = Vec::with_capacity(14);
    for back in (0..14).rev() {
        let day = day_string(today_date - chrono::Duration::days(back));
        let n: i64 = store
            .daily_summary(&org_id, &day)
            .await?
            .iter()
            .map(|r| r.records)
            .sum();
        bars.push((day, n));
    }
    // Today's refusals from the access log (newest 1000 entries at most).
    let (entries, _) = store.list_audit(&org_id, 1000, 0).await?;
    let todays: Vec<_> = entries
        .iter()
        .filter(|e| local(settings, e.ts).starts_with(&today_s))
        .filter(|e| e.decision == "denied" || e.decision == "rejected")
        .collect();
    let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
    for e in &todays {
        *reasons.entry(e.reason.clone()).or_default() += 1;
    }
    let unknown_faces = todays.iter().filter(|e| e.reason == "unknown_face").count();
    let ids: Vec<String> = todays
        .iter()
        .take(10)
        .filter_map(|e| e.person_id.clone())
        .collect();
    let names = store.people_by_ids(&org_id, &ids).await?;
    let name_of = |id: &Option<String>| {
        id.as_ref()
            .and_then(|id| names.iter().find(|p| &p.id == id))
            .map_or_else(|| "unknown".to_string(), |p| p.name.clone())
    };
    let recent_denials = todays
        .iter()
        .take(10)
        .map(|e| Line {
            when: local(settings, e.ts),
            what: format!("{} {}", e.action, e.decision),
            who: name_of(&e.person_id),
            detail: e.reason.clone(),
        })
        .collect();
    let (spoof_events, spoofs) = store
        .list_spoof_events(
            &org_id,
            &SpoofEventFilter {
                from: Some(now_ms() - 24 * 3600 * 1000),
                limit: 10,
                ..SpoofEventFilter::default()
            },
        )
        .await?;
    let recent_spoofs = spoof_events
        .iter()
        .map(|e| Line {
            when: local(settings, e.occurred_at),
            what: e.action.as_str().to_string(),
            who: e.source.as_str().to_string(),
            detail: e.score.map_or_else(
                || "no score".into(),
                |s| format!("live {s:.3} < {:.3}", e.threshold),
            ),
        })
        .collect();
    let (engine, gallery) = match &state.engine {
        Some(e) => (
            e.model_id().to_string(),
            store.gallery().people(&org_id, e.model_id()),
        ),
        None => ("not loaded: recognition is unavailable".to_string(), 0),
    };
    Ok(render(&Dashboard {
        c: Chrome::new(&ui, "dashboard"),
        chart: bar_chart(&bars, "Attendance records per day, last 14 days"),
        today: today_s,
        people,
        present: summary.len(),
        records_today,
        denials: todays.len(),
        unknown_faces,
        spoofs,
        reasons: reasons.into_iter().collect(),
        recent_denials,
        recent_spoofs,
        present_list,
        engine,
        gallery,
        cameras: super::cameras::health(&state, &ui).await?,
    }))
}
