//! Enforcing people's retention day (`person_privacy.retain_until`, set on
//! the web UI's person page): once the organisation's local date is past
//! it, the person's face data is deleted (templates, negative samples, the
//! crops and embeddings kept with camera events naming them); the person
//! record, attendance and consent record stay, as the field says ("keep
//! face data until").
//!
//! A sweep runs when the server starts and then every hour, racing the
//! server's shutdown signal; [`sweep`] is public so tests (and an operator's
//! tooling) can run it at once.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::rules::{day_string, local_time};
use crate::state::AppState;

/// How often the sweep runs.
const EVERY: Duration = Duration::from_secs(3600);

/// Erase the face data of everyone whose retention day has passed in their
/// organisation's time zone; returns how many people were swept.
pub async fn sweep(state: &AppState) -> Result<usize, facegate_store::StoreError> {
    let now = facegate_store::now_ms();
    // A day ahead of UTC covers every time zone; each organisation's own
    // local date decides below.
    let tomorrow = day_string((chrono::Utc::now() + chrono::Duration::days(1)).date_naive());
    let due = state.store.retention_due(&tomorrow).await?;
    let mut swept = 0;
    let mut org_cache: Option<(String, facegate_store::OrgSettings)> = None;
    for (org_id, person_id, until) in due {
        let settings = match &org_cache {
            Some((id, s)) if *id == org_id => s.clone(),
            _ => {
                let org = state.store.get_org(&org_id).await?;
                org_cache = Some((org_id.clone(), org.settings.clone()));
                org.settings
            }
        };
        let today = day_string(local_time(&settings, now).date);
        if until >= today {
            continue;
        }
        match state.store.erase_face_data(&org_id, &person_id).await {
            Ok(n) => {
                swept += 1;
                if n > 0 {
                    tracing::info!(org = %org_id, person = %person_id, templates = n, retain_until = %until,
                        "retention day passed: face data erased");
                }
            }
            Err(facegate_store::StoreError::NotFound(_)) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(swept)
}

/// Run [`sweep`] now and every hour until `cancel` fires.
pub fn spawn(state: AppState, cancel: CancellationToken) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tokio::select! {
                () = cancel.cancelled() => break,
                _ = tick.tick() => {
                    if let Err(e) = sweep(&state).await {
                        tracing::warn!("retention sweep failed: {e}");
                    }
                }
            }
        }
    });
}
