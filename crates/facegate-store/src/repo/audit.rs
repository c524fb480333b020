//! The access log: one row per decision, hash-chained per organisation.
//!
//! `hash = sha256(prev_hash | seq | org | ts | action | decision | reason |
//! person | device | credential | score | liveness)`. Editing, deleting or
//! reordering any row breaks the chain at that row; `verify_audit_chain`
//! finds the first break. The organisation row holds the head (seq + hash):
//! updating it first in the appending transaction serialises appends.

use sha2::{Digest, Sha256};
use sqlx::AnyConnection;
use sqlx::any::AnyRow;

use super::get;
use crate::{AccessLogEntry, Store, StoreError, new_id, now_ms};

/// What happened, before it is chained.
#[derive(Debug, Clone, Default)]
pub struct AuditEvent {
    /// `access`, `attendance`, `recognition`...
    pub action: String,
    /// `granted`/`denied` or `recorded`/`rejected`.
    pub decision: String,
    /// Why: `ok`, `unknown_face`, `schedule`, `suspended`, `liveness`...
    pub reason: String,
    pub person_id: Option<String>,
    pub device_id: Option<String>,
    /// Masked credential (never the full code).
    pub credential: Option<String>,
    pub score: Option<f64>,
    pub liveness: Option<f64>,
}

/// Result of verifying every organisation's chain.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct ChainReport {
    pub organisations: usize,
    pub entries: u64,
    /// One line per problem found; empty means the chain is intact.
    pub problems: Vec<String>,
}

impl ChainReport {
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }
}

fn opt_f(v: Option<f64>) -> String {
    v.map(|x| format!("{x:?}")).unwrap_or_default()
}

#[allow(clippy::too_many_arguments)]
fn chain_hash(prev: &str, seq: i64, org: &str, ts: i64, e: &AuditEvent) -> String {
    let mut h = Sha256::new();
    for part in [
        prev,
        &seq.to_string(),
        org,
        &ts.to_string(),
        &e.action,
        &e.decision,
        &e.reason,
        e.person_id.as_deref().unwrap_or(""),
        e.device_id.as_deref().unwrap_or(""),
        e.credential.as_deref().unwrap_or(""),
        &opt_f(e.score),
        &opt_f(e.liveness),
    ] {
        h.update((part.len() as u64).to_le_bytes());
        h.update(part.as_bytes());
    }
    hex::encode(h.finalize())
}

fn entry_from_row(row: &AnyRow) -> Result<AccessLogEntry, StoreError> {
    Ok(AccessLogEntry {
        id: get(row, "id")?,
        org_id: get(row, "org_id")?,
        seq: get(row, "seq")?,
        ts: get(row, "ts")?,
        action: get(row, "action")?,
        decision: get(row, "decision")?,
        reason: get(row, "reason")?,
        person_id: get(row, "person_id")?,
        device_id: get(row, "device_id")?,
        credential: get(row, "credential")?,
        score: get(row, "score")?,
        liveness: get(row, "liveness")?,
        prev_hash: get(row, "prev_hash")?,
        hash: get(row, "hash")?,
    })
}

const COLS: &str = "id, org_id, seq, ts, action, decision, reason, person_id, device_id, credential, score, liveness, prev_hash, hash";

/// Append inside the caller's transaction.
pub(crate) async fn append_in(
    conn: &mut AnyConnection,
    org_id: &str,
    event: &AuditEvent,
) -> Result<AccessLogEntry, StoreError> {
    let ts = now_ms();
    let n = sqlx::query("UPDATE organisations SET audit_seq = audit_seq + 1 WHERE id = $1")
        .bind(org_id)
        .execute(&mut *conn)
        .await?
        .rows_affected();
    if n == 0 {
        return Err(StoreError::NotFound("organisation"));
    }
    let row = sqlx::query("SELECT audit_seq, audit_head FROM organisations WHERE id = $1")
        .bind(org_id)
        .fetch_one(&mut *conn)
        .await?;
    let seq: i64 = get(&row, "audit_seq")?;
    let prev: String = get(&row, "audit_head")?;
    let hash = chain_hash(&prev, seq, org_id, ts, event);
    let id = new_id();
    sqlx::query(
        "INSERT INTO access_log (id, org_id, seq, ts, action, decision, reason, person_id, device_id, credential, score, liveness, prev_hash, hash) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
    )
    .bind(&id)
    .bind(org_id)
    .bind(seq)
    .bind(ts)
    .bind(&event.action)
    .bind(&event.decision)
    .bind(&event.reason)
    .bind(event.person_id.as_deref())
    .bind(event.device_id.as_deref())
    .bind(event.credential.as_deref())
    .bind(event.score)
    .bind(event.liveness)
    .bind(&prev)
    .bind(&hash)
    .persistent(super::NULLABLE_FLOATS_PERSISTENT)
    .execute(&mut *conn)
    .await?;
    sqlx::query("UPDATE organisations SET audit_head = $2 WHERE id = $1")
        .bind(org_id)
        .bind(&hash)
        .execute(&mut *conn)
        .await?;
    Ok(AccessLogEntry {
        id,
        org_id: org_id.to_string(),
        seq,
        ts,
        action: event.action.clone(),
        decision: event.decision.clone(),
        reason: event.reason.clone(),
        person_id: event.person_id.clone(),
        device_id: event.device_id.clone(),
        credential: event.credential.clone(),
        score: event.score,
        liveness: event.liveness,
        prev_hash: prev,
        hash,
    })
}

impl Store {
    /// Append one decision to an organisation's chain in its own transaction.
    pub async fn append_audit(
        &self,
        org_id: &str,
        event: &AuditEvent,
    ) -> Result<AccessLogEntry, StoreError> {
        let mut tx = self.pool().begin().await?;
        let entry = append_in(&mut tx, org_id, event).await?;
        tx.commit().await?;
        Ok(entry)
    }

    /// Newest first.
    pub async fn list_audit(
        &self,
        org_id: &str,
        limit: i64,
        offset: i64,
    ) -> Result<(Vec<AccessLogEntry>, i64), StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLS} FROM access_log WHERE org_id = $1 ORDER BY seq DESC LIMIT $2 OFFSET $3"
        ))
        .bind(org_id)
        .bind(limit)
        .bind(offset)
        .fetch_all(self.pool())
        .await?;
        let total = sqlx::query("SELECT COUNT(*) AS n FROM access_log WHERE org_id = $1")
            .bind(org_id)
            .fetch_one(self.pool())
            .await?;
        Ok((
            rows.iter().map(entry_from_row).collect::<Result<_, _>>()?,
            get(&total, "n")?,
        ))
    }

    /// Recompute every organisation's chain from the first entry.
    ///
    /// Safe while the service is writing: each chain is checked up to the
    /// head read first (rows and head are committed together), and rows
    /// beyond the head read afterwards are reported as forged.
    pub async fn verify_audit_chain(&self) -> Result<ChainReport, StoreError> {
        let mut report = ChainReport::default();
        let orgs = sqlx::query("SELECT id FROM organisations ORDER BY id")
            .fetch_all(self.pool())
            .await?;
        for org in &orgs {
            report.organisations += 1;
            let org_id: String = get(org, "id")?;
            let (head_seq, head) = self.audit_head(&org_id).await?;
            let rows = sqlx::query(&format!(
                "SELECT {COLS} FROM access_log WHERE org_id = $1 AND seq <= $2 ORDER BY seq"
            ))
            .bind(&org_id)
            .bind(head_seq)
            .fetch_all(self.pool())
            .await?;
            let mut prev = String::new();
            let mut expected_seq = 1;
            for row in &rows {
                let e = entry_from_row(row)?;
                report.entries += 1;
                if e.seq != expected_seq {
                    report.problems.push(format!(
                        "organisation {org_id}: entry {} has seq {} but {expected_seq} was expected (row missing or inserted)",
                        e.id, e.seq
                    ));
                }
                if e.prev_hash != prev {
                    report.problems.push(format!(
                        "organisation {org_id}: entry seq {} does not link to the previous entry",
                        e.seq
                    ));
                }
                let event = AuditEvent {
                    action: e.action.clone(),
                    decision: e.decision.clone(),
                    reason: e.reason.clone(),
                    person_id: e.person_id.clone(),
                    device_id: e.device_id.clone(),
                    credential: e.credential.clone(),
                    score: e.score,
                    liveness: e.liveness,
                };
                let recomputed = chain_hash(&e.prev_hash, e.seq, &e.org_id, e.ts, &event);
                if recomputed != e.hash {
                    report.problems.push(format!(
                        "organisation {org_id}: entry seq {} was modified (hash mismatch)",
                        e.seq
                    ));
                }
                prev = e.hash;
                expected_seq = e.seq + 1;
            }
            if prev != head || expected_seq - 1 != head_seq {
                report.problems.push(format!(
                    "organisation {org_id}: the chain ends at seq {} but the recorded head is seq {head_seq} (entries removed?)",
                    expected_seq - 1
                ));
            }
            let max = sqlx::query("SELECT MAX(seq) AS m FROM access_log WHERE org_id = $1")
                .bind(&org_id)
                .fetch_one(self.pool())
                .await?;
            let max: Option<i64> = get(&max, "m")?;
            let (head_now, _) = self.audit_head(&org_id).await?;
            if max.is_some_and(|m| m > head_now) {
                report.problems.push(format!(
                    "organisation {org_id}: entries after the recorded head (seq {head_now}) were inserted"
                ));
            }
        }
        Ok(report)
    }

    async fn audit_head(&self, org_id: &str) -> Result<(i64, String), StoreError> {
        let row = sqlx::query("SELECT audit_seq, audit_head FROM organisations WHERE id = $1")
            .bind(org_id)
            .fetch_one(self.pool())
            .await?;
        Ok((get(&row, "audit_seq")?, get(&row, "audit_head")?))
    }
}
