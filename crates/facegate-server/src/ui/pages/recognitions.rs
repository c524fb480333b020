//! Recent recognitions and unknown faces: confirm, re-assign (in bulk),
//! dismiss, "this is not X"; and unknown faces grouped by similarity, so an
//! operator labels a whole group at once (enrolling its faces as templates
//! of an existing or a new person).
//!
//! Grouping uses the faces' embeddings, which the event processor keeps
//! with the crop only where the organisation stores images (see migration
//! 0006). Two faces are linked when their cosine reaches the organisation's
//! open-set threshold for a single comparison (its FPIR over a gallery of
//! one, on the pack's FAR curve: the same rule identification uses), and a
//! group is a connected component of those links (single linkage), so a
//! person seen from several angles ends up in one group through the frames
//! in between.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::IntoResponse;
use facegate_store::{PeopleFilter, Person, PersonStatus, Review, ReviewEvent, Role};
use serde::Deserialize;

use super::{Chrome, UiForm, local, non_empty, render, see_other};
use crate::flows::{Purpose, effective_threshold};
use crate::routes::check_id;
use crate::routes::people::{CreatePerson, validate_new};
use crate::state::AppState;
use crate::ui::error::{UiError, UiResult};
use crate::ui::session::Ui;

/// Unknown faces looked at for grouping (newest first); single linkage is
/// quadratic, and 500² dot products take a few milliseconds.
const MAX_UNKNOWN: i64 = 500;
/// Recognitions listed for review.
const MAX_RECENT: i64 = 50;
/// Thumbnails shown per group.
const THUMBS: usize = 8;

/// A face of a group or a recognition, formatted.
pub struct FaceView {
    pub id: String,
    pub when: String,
    pub camera: String,
    pub has_crop: bool,
}

/// A group of similar unknown faces.
pub struct GroupView {
    pub n: usize,
    /// Every event id of the group (the label form sends them all).
    pub ids: Vec<String>,
    pub faces: Vec<FaceView>,
    pub first: String,
    pub last: String,
    /// The enrolled person the faces came closest to, with the score.
    pub resembles: String,
}

/// A recognition to review.
pub struct RecognitionView {
    pub face: FaceView,
    pub person_id: String,
    pub name: String,
    pub score: String,
    pub has_embedding: bool,
}

#[derive(Template)]
#[template(path = "recognitions.html")]
struct Page {
    c: Chrome,
    notice: Option<&'static str>,
    groups: Vec<GroupView>,
    /// Unknown faces without a kept embedding (cannot be grouped).
    ungrouped_note: bool,
    threshold: String,
    recent: Vec<RecognitionView>,
    people: Vec<Person>,
    engine: bool,
}

#[derive(Debug, Deserialize)]
pub struct PageQuery {
    ok: Option<String>,
}

fn page_notice(code: Option<&str>) -> Option<&'static str> {
    Some(match code? {
        "labelled" => "The group's faces were enrolled as templates of the person.",
        "dismissed" => "Dismissed; the faces' embeddings were deleted.",
        "confirmed" => "Confirmed.",
        "reassigned" => {
            "Re-assigned: the faces were enrolled for the chosen person and the wrong name will not be given to them again."
        }
        "rejected" => {
            "Noted: those faces are on the person's negative list and will not be named as them again."
        }
        _ => return None,
    })
}

/// Connected components of the "cosine ≥ threshold" graph (union-find).
/// Returns groups of indices, largest first, then by first index (newest).
pub fn group_by_similarity(embeddings: &[&[f32]], threshold: f32) -> Vec<Vec<usize>> {
    let n = embeddings.len();
    let mut parent: Vec<usize> = (0..n).collect();
    fn root(parent: &mut [usize], mut i: usize) -> usize {
        while parent[i] != i {
            parent[i] = parent[parent[i]];
            i = parent[i];
        }
        i
    }
    for i in 0..n {
        for j in i + 1..n {
            if embeddings[i].len() == embeddings[j].len()
                && facegate_core::dot(embeddings[i], embeddings[j]) >= threshold
            {
                let (a, b) = (root(&mut parent, i), root(&mut parent, j));
                if a != b {
                    parent[a.max(b)] = a.min(b);
                }
            }
        }
    }
    let mut groups: std::collections::BTreeMap<usize, Vec<usize>> = Default::default();
    for i in 0..n {
        let r = root(&mut parent, i);
        groups.entry(r).or_default().push(i);
    }
    let mut out: Vec<Vec<usize>> = groups.into_values().collect();
    out.sort_by(|a, b| b.len().cmp(&a.len()).then(a[0].cmp(&b[0])));
    out
}

fn payload(e: &ReviewEvent) -> serde_json::Value {
    serde_json::from_str(&e.payload).unwrap_or_default()
}

fn face_view(e: &ReviewEvent, settings: &facegate_store::OrgSettings) -> FaceView {
    FaceView {
        id: e.id.clone(),
        when: local(settings, e.occurred_at),
        camera: payload(e)["camera_name"]
            .as_str()
            .unwrap_or("a deleted camera")
            .to_string(),
        has_crop: e.has_crop,
    }
}

/// The threshold two faces must reach to be grouped: one comparison at the
/// organisation's FPIR.
fn pair_threshold(state: &AppState, settings: &facegate_store::OrgSettings) -> UiResult<f32> {
    Ok(effective_threshold(state, settings, None, Purpose::Access, 1)?.threshold)
}

/// `GET /ui/recognitions`.
pub async fn page(State(state): State<AppState>, ui: Ui, Query(q): Query<PageQuery>) -> UiResult {
    ui.require(Role::Operator)?;
    let org = state.store.get_org(ui.org_id()).await?;
    let settings = &org.settings;
    let (people, _) = state
        .store
        .list_people(
            ui.org_id(),
            &PeopleFilter {
                status: Some(PersonStatus::Active),
                limit: 1000,
                ..PeopleFilter::default()
            },
        )
        .await?;
    let mut groups = Vec::new();
    let mut threshold = String::new();
    let mut ungrouped_note = false;
    if let Some(engine) = &state.engine {
        let unknown = state
            .store
            .events_to_review(ui.org_id(), "unknown", Some(engine.model_id()), MAX_UNKNOWN)
            .await?;
        let t = pair_threshold(&state, settings)?;
        threshold = format!("{t:.3}");
        let vectors: Vec<&[f32]> = unknown
            .iter()
            .filter_map(|e| e.embedding.as_ref().map(|v| v.as_slice()))
            .collect();
        let with: Vec<&ReviewEvent> = unknown.iter().filter(|e| e.embedding.is_some()).collect();
        let nearest_ids: Vec<String> = with
            .iter()
            .filter_map(|e| payload(e)["nearest_person_id"].as_str().map(str::to_string))
            .collect();
        let nearest = state.store.people_by_ids(ui.org_id(), &nearest_ids).await?;
        for members in group_by_similarity(&vectors, t) {
            let events: Vec<&ReviewEvent> = members.iter().map(|&i| with[i]).collect();
            let newest = events[0];
            let oldest = events[events.len() - 1];
            let p = payload(newest);
            let resembles = p["nearest_person_id"]
                .as_str()
                .and_then(|id| nearest.iter().find(|n| n.id == id))
                .map(|n| {
                    format!(
                        "closest enrolled: {} ({})",
                        n.name,
                        p["score"]
                            .as_f64()
                            .map(|s| format!("{s:.2}"))
                            .unwrap_or_default()
                    )
                })
                .unwrap_or_default();
            groups.push(GroupView {
                n: events.len(),
                ids: events.iter().map(|e| e.id.clone()).collect(),
                faces: events
                    .iter()
                    .take(THUMBS)
                    .map(|e| face_view(e, settings))
                    .collect(),
                first: local(settings, oldest.occurred_at),
                last: local(settings, newest.occurred_at),
                resembles,
            });
        }
        ungrouped_note = !state
            .store
            .events_to_review(ui.org_id(), "unknown", None, 1)
            .await?
            .is_empty()
            && !settings.store_images;
    }
    let recent_rows = state
        .store
        .events_to_review(ui.org_id(), "person", None, MAX_RECENT)
        .await?;
    let named_ids: Vec<String> = recent_rows
        .iter()
        .filter_map(|e| e.person_id.clone())
        .collect();
    let named = state.store.people_by_ids(ui.org_id(), &named_ids).await?;
    let recent = recent_rows
        .iter()
        .map(|e| {
            let person_id = e.person_id.clone().unwrap_or_default();
            RecognitionView {
                face: face_view(e, settings),
                name: named
                    .iter()
                    .find(|p| p.id == person_id)
                    .map_or_else(|| "a removed person".to_string(), |p| p.name.clone()),
                person_id,
                score: e.score.map(|s| format!("{s:.3}")).unwrap_or_default(),
                has_embedding: e.embedding.is_some(),
            }
        })
        .collect();
    Ok(render(&Page {
        c: Chrome::new(&ui, "recognitions"),
        notice: page_notice(q.ok.as_deref()),
        groups,
        ungrouped_note,
        threshold,
        recent,
        people,
        engine: state.engine.is_some(),
    }))
}

/// The posted event ids (repeated `id` fields), each checked.
fn ids_of(fields: &[(String, String)]) -> Result<Vec<String>, UiError> {
    let ids: Vec<String> = fields
        .iter()
        .filter(|(k, _)| k == "id")
        .map(|(_, v)| v.trim().to_string())
        .collect();
    if ids.is_empty() {
        return Err(UiError::invalid("Select at least one face."));
    }
    if ids.len() > MAX_UNKNOWN as usize {
        return Err(UiError::invalid(format!(
            "At most {MAX_UNKNOWN} faces at once."
        )));
    }
    for id in &ids {
        check_id("camera event", id)?;
    }
    Ok(ids)
}

fn field<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// The person a form names: an existing one (`person_id`) or a new one
/// (`new_name`, `new_external_id`).
async fn target_person(state: &AppState, ui: &Ui, fields: &[(String, String)]) -> UiResult<String> {
    if let Some(name) = non_empty(field(fields, "new_name")) {
        let external_id = non_empty(field(fields, "new_external_id")).unwrap_or_default();
        let f = validate_new(&CreatePerson {
            external_id,
            name,
            department: None,
            email: None,
            status: None,
            rfid_code: None,
            nfc_tag: None,
        })?;
        let p = state.store.create_person(ui.org_id(), &f).await?;
        tracing::info!(person = %p.id, by = %ui.caller.label(), "person created from reviewed faces (web UI)");
        return Ok(p.id);
    }
    let Some(id) = non_empty(field(fields, "person_id")) else {
        return Err(UiError::invalid(
            "Choose the person these faces are, or give a name for a new person.",
        ));
    };
    check_id("person", &id)?;
    Ok(state.store.get_person(ui.org_id(), &id).await?.id)
}

/// Enrol the kept faces of `events` as templates of `person_id`; the
/// number enrolled.
async fn enrol(
    state: &AppState,
    ui: &Ui,
    events: &[ReviewEvent],
    person_id: &str,
) -> UiResult<usize> {
    let engine = state.engine()?;
    let mut n = 0;
    for e in events {
        if let (Some(v), Some(m)) = (&e.embedding, &e.model_id)
            && m == engine.model_id()
        {
            let quality = payload(e)["quality"].as_f64().unwrap_or(0.5);
            state
                .store
                .add_template(ui.org_id(), person_id, m, v, quality, None)
                .await?;
            n += 1;
        }
    }
    Ok(n)
}

/// `POST /ui/recognitions/label`: a group of unknown faces is `person_id`
/// (or a new person): its faces become their templates. `action=dismiss`
/// dismisses the group instead.
pub async fn label(
    State(state): State<AppState>,
    ui: Ui,
    UiForm(fields): UiForm<Vec<(String, String)>>,
) -> UiResult {
    ui.require(Role::Operator)?;
    let ids = ids_of(&fields)?;
    if field(&fields, "action") == Some("dismiss") {
        state
            .store
            .set_review(ui.org_id(), &ids, Review::Dismissed, None)
            .await?;
        return Ok(see_other("/ui/recognitions?ok=dismissed"));
    }
    let events = state.store.review_events_by_ids(ui.org_id(), &ids).await?;
    if events.is_empty() {
        return Err(UiError::from(crate::error::ApiError::not_found(
            "camera event",
        )));
    }
    let person = target_person(&state, &ui, &fields).await?;
    let n = enrol(&state, &ui, &events, &person).await?;
    let ids: Vec<String> = events.iter().map(|e| e.id.clone()).collect();
    state
        .store
        .set_review(ui.org_id(), &ids, Review::Reassigned, Some(&person))
        .await?;
    tracing::info!(person = %person, faces = n, by = %ui.caller.label(), "unknown faces labelled (web UI)");
    Ok(see_other("/ui/recognitions?ok=labelled"))
}

/// `POST /ui/recognitions/review`: the selected recognitions (`id`), or the
/// one named by a row's button (`one` = `ID:ACTION`), are `confirm`ed,
/// `dismiss`ed, `reassign`ed to `person_id`, or `not` the person named
/// ("this is not X": their faces join X's negative list).
pub async fn review(
    State(state): State<AppState>,
    ui: Ui,
    UiForm(fields): UiForm<Vec<(String, String)>>,
) -> UiResult {
    ui.require(Role::Operator)?;
    let (ids, action) = match field(&fields, "one").and_then(|v| v.split_once(':')) {
        Some((id, action)) => {
            check_id("camera event", id)?;
            (vec![id.to_string()], action.to_string())
        }
        None => (
            ids_of(&fields)?,
            field(&fields, "action").unwrap_or("").to_string(),
        ),
    };
    let org = ui.org_id();
    let done = match action.as_str() {
        "confirm" => {
            state
                .store
                .set_review(org, &ids, Review::Confirmed, None)
                .await?;
            "confirmed"
        }
        "dismiss" => {
            state
                .store
                .set_review(org, &ids, Review::Dismissed, None)
                .await?;
            "dismissed"
        }
        "reassign" | "not" => {
            let events = state.store.review_events_by_ids(org, &ids).await?;
            let engine = state.engine()?;
            // The wrong name: their faces go on that person's negative list.
            for e in &events {
                if let (Some(v), Some(m), Some(p)) = (&e.embedding, &e.model_id, &e.person_id)
                    && m == engine.model_id()
                {
                    match state.store.add_negative(org, p, m, v, "camera").await {
                        Ok(_) | Err(facegate_store::StoreError::NotFound(_)) => {}
                        Err(e) => return Err(e.into()),
                    }
                }
            }
            let ids: Vec<String> = events.iter().map(|e| e.id.clone()).collect();
            if action == "reassign" {
                let person = target_person(&state, &ui, &fields).await?;
                enrol(&state, &ui, &events, &person).await?;
                state
                    .store
                    .set_review(org, &ids, Review::Reassigned, Some(&person))
                    .await?;
                "reassigned"
            } else {
                state
                    .store
                    .set_review(org, &ids, Review::Rejected, None)
                    .await?;
                "rejected"
            }
        }
        _ => {
            return Err(UiError::invalid(
                "Choose an action: confirm, re-assign, dismiss or “not this person”.",
            ));
        }
    };
    tracing::info!(events = ids.len(), action = %action, by = %ui.caller.label(), "recognitions reviewed (web UI)");
    Ok(see_other(&format!("/ui/recognitions?ok={done}")))
}

/// `GET /ui/events/{id}/crop`: an event's face crop (kept only where the
/// organisation stores images).
pub async fn crop(State(state): State<AppState>, ui: Ui, Path(id): Path<String>) -> UiResult {
    ui.require(Role::Operator)?;
    check_id("camera event", &id)?;
    let bytes = state
        .store
        .camera_event_crop(ui.org_id(), &id)
        .await?
        .ok_or_else(|| {
            UiError::page(
                axum::http::StatusCode::NOT_FOUND,
                "Not found",
                "No face image was kept with this event.",
            )
        })?;
    Ok((
        [
            (header::CONTENT_TYPE, "image/jpeg"),
            (header::CACHE_CONTROL, "private, max-age=3600"),
        ],
        bytes,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::group_by_similarity;

    fn unit(v: &[f32]) -> Vec<f32> {
        let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        v.iter().map(|x| x / n).collect()
    }

    #[test]
    fn groups_are_connected_components_largest_first() {
        let a1 = unit(&[1.0, 0.0, 0.0]);
        let a2 = unit(&[0.9, 0.3, 0.0]);
        // Linked to a1 only through a2 (single linkage).
        let a3 = unit(&[0.6, 0.8, 0.0]);
        let b = unit(&[0.0, 0.0, 1.0]);
        let c = unit(&[-1.0, 0.0, 0.1]);
        let all: Vec<&[f32]> = vec![&b, &a1, &a2, &a3, &c];
        let groups = group_by_similarity(&all, 0.8);
        assert_eq!(groups, vec![vec![1, 2, 3], vec![0], vec![4]]);
        // A threshold above every pair: one group each, in order.
        let groups = group_by_similarity(&all, 0.9999);
        assert_eq!(groups.len(), 5);
        assert!(group_by_similarity(&[], 0.5).is_empty());
    }
}
