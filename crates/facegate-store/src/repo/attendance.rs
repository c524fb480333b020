//! Attendance with its rules enforced in the same transaction as the insert.
//!
//! The transaction starts by touching the person's row: in PostgreSQL that
//! takes a row lock, in SQLite the database write lock. Concurrent marks for
//! the same person therefore run one after another, and the count/interval
//! checks see every committed record, so the per-day maximum cannot be
//! exceeded by racing requests.

use sqlx::any::AnyRow;

use super::audit::{AuditEvent, append_in};
use super::get;
use crate::{
    AccessLogEntry, AttendanceFilter, AttendanceRecord, DailySummaryRow, Store, StoreError, new_id,
    now_ms,
};

/// The rules of the person's organisation, resolved by the caller (which
/// knows the organisation's time zone and so the local `day`).
#[derive(Debug, Clone)]
pub struct AttendanceRules {
    pub max_per_day: u32,
    pub min_interval_ms: i64,
    /// Local date `YYYY-MM-DD` of `ts`.
    pub day: String,
    pub ts: i64,
    /// `in`/`out`; `None` alternates (first of the day is `in`).
    pub kind: Option<String>,
}

/// What the caller observed.
#[derive(Debug, Clone, Default)]
pub struct AttendanceInput {
    pub confidence: Option<f64>,
    pub liveness: Option<f64>,
    pub liveness_flagged: bool,
    pub device_id: Option<String>,
    /// `face`, `credential`, `manual`, `compat`...
    pub source: String,
}

#[derive(Debug, Clone)]
pub enum MarkOutcome {
    Recorded {
        record: AttendanceRecord,
        audit: AccessLogEntry,
    },
    Rejected {
        /// `max_per_day` or `min_interval`.
        reason: String,
        /// Human-readable explanation.
        message: String,
        audit: AccessLogEntry,
    },
}

const COLS: &str = "id, org_id, person_id, ts, day, kind, confidence, liveness, liveness_flagged, device_id, source, created_at";

fn record_from_row(row: &AnyRow) -> Result<AttendanceRecord, StoreError> {
    Ok(AttendanceRecord {
        id: get(row, "id")?,
        org_id: get(row, "org_id")?,
        person_id: get(row, "person_id")?,
        ts: get(row, "ts")?,
        day: get(row, "day")?,
        kind: get(row, "kind")?,
        confidence: get(row, "confidence")?,
        liveness: get(row, "liveness")?,
        liveness_flagged: get::<i64>(row, "liveness_flagged")? != 0,
        device_id: get(row, "device_id")?,
        source: get(row, "source")?,
        created_at: get(row, "created_at")?,
    })
}

fn push_filter(f: &AttendanceFilter, clauses: &mut Vec<String>, args: &mut Vec<String>) {
    if let Some(p) = &f.person_id {
        args.push(p.clone());
        clauses.push(format!("a.person_id = ${}", args.len()));
    }
    if let Some(d) = &f.device_id {
        args.push(d.clone());
        clauses.push(format!("a.device_id = ${}", args.len()));
    }
    if let Some(d) = &f.from_day {
        args.push(d.clone());
        clauses.push(format!("a.day >= ${}", args.len()));
    }
    if let Some(d) = &f.to_day {
        args.push(d.clone());
        clauses.push(format!("a.day <= ${}", args.len()));
    }
}

impl Store {
    pub async fn mark_attendance(
        &self,
        org_id: &str,
        person_id: &str,
        rules: &AttendanceRules,
        input: &AttendanceInput,
    ) -> Result<MarkOutcome, StoreError> {
        let mut tx = self.pool().begin().await?;
        let locked =
            sqlx::query("UPDATE people SET updated_at = updated_at WHERE org_id = $1 AND id = $2")
                .bind(org_id)
                .bind(person_id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
        if locked == 0 {
            return Err(StoreError::NotFound("person"));
        }
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM attendance WHERE org_id = $1 AND person_id = $2 AND day = $3",
        )
        .bind(org_id)
        .bind(person_id)
        .bind(&rules.day)
        .fetch_one(&mut *tx)
        .await?;
        let today: i64 = get(&row, "n")?;
        let row = sqlx::query(
            "SELECT MAX(ts) AS last FROM attendance WHERE org_id = $1 AND person_id = $2",
        )
        .bind(org_id)
        .bind(person_id)
        .fetch_one(&mut *tx)
        .await?;
        let last: Option<i64> = get(&row, "last")?;

        let mut event = AuditEvent {
            action: "attendance".into(),
            person_id: Some(person_id.to_string()),
            device_id: input.device_id.clone(),
            score: input.confidence,
            liveness: input.liveness,
            ..AuditEvent::default()
        };
        let rejection = if today >= i64::from(rules.max_per_day) {
            Some((
                "max_per_day",
                format!(
                    "already {today} attendance record(s) on {}; the maximum is {} per day",
                    rules.day, rules.max_per_day
                ),
            ))
        } else if let Some(last) = last.filter(|l| rules.ts - l < rules.min_interval_ms) {
            let wait = (rules.min_interval_ms - (rules.ts - last)).max(0) / 1000 + 1;
            Some((
                "min_interval",
                format!(
                    "the previous record is too recent; records must be at least {} s apart (try again in {wait} s)",
                    rules.min_interval_ms / 1000
                ),
            ))
        } else {
            None
        };
        if let Some((reason, message)) = rejection {
            event.decision = "rejected".into();
            event.reason = reason.into();
            let audit = append_in(&mut tx, org_id, &event).await?;
            tx.commit().await?;
            return Ok(MarkOutcome::Rejected {
                reason: reason.into(),
                message,
                audit,
            });
        }
        let kind = rules.kind.clone().unwrap_or_else(|| {
            if today % 2 == 0 {
                "in".into()
            } else {
                "out".into()
            }
        });
        let id = new_id();
        sqlx::query(&format!(
            "INSERT INTO attendance ({COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
        ))
        .bind(&id)
        .bind(org_id)
        .bind(person_id)
        .bind(rules.ts)
        .bind(&rules.day)
        .bind(&kind)
        .bind(input.confidence)
        .bind(input.liveness)
        .bind(i64::from(input.liveness_flagged))
        .bind(input.device_id.as_deref())
        .bind(&input.source)
        .bind(now_ms())
        .persistent(super::NULLABLE_FLOATS_PERSISTENT)
        .execute(&mut *tx)
        .await?;
        event.decision = "recorded".into();
        event.reason = if input.liveness_flagged {
            "liveness_flagged".into()
        } else {
            "ok".into()
        };
        let audit = append_in(&mut tx, org_id, &event).await?;
        tx.commit().await?;
        let record = self.get_attendance(org_id, &id).await?;
        Ok(MarkOutcome::Recorded { record, audit })
    }

    pub async fn get_attendance(
        &self,
        org_id: &str,
        id: &str,
    ) -> Result<AttendanceRecord, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {COLS} FROM attendance WHERE org_id = $1 AND id = $2"
        ))
        .bind(org_id)
        .bind(id)
        .fetch_optional(self.pool())
        .await?
        .ok_or(StoreError::NotFound("attendance record"))?;
        record_from_row(&row)
    }

    /// Newest first, with the total matching the filter.
    pub async fn list_attendance(
        &self,
        org_id: &str,
        filter: &AttendanceFilter,
    ) -> Result<(Vec<AttendanceRecord>, i64), StoreError> {
        let mut clauses = vec!["a.org_id = $1".to_string()];
        let mut args = vec![org_id.to_string()];
        push_filter(filter, &mut clauses, &mut args);
        let where_sql = clauses.join(" AND ");
        let count_sql = format!("SELECT COUNT(*) AS n FROM attendance a WHERE {where_sql}");
        let mut q = sqlx::query(&count_sql);
        for a in &args {
            q = q.bind(a.as_str());
        }
        let total: i64 = get(&q.fetch_one(self.pool()).await?, "n")?;
        let cols = COLS
            .split(", ")
            .map(|c| format!("a.{c}"))
            .collect::<Vec<_>>()
            .join(", ");
        let list_sql = format!(
            "SELECT {cols} FROM attendance a WHERE {where_sql} ORDER BY a.ts DESC, a.id LIMIT ${} OFFSET ${}",
            args.len() + 1,
            args.len() + 2
        );
        let mut q = sqlx::query(&list_sql);
        for a in &args {
            q = q.bind(a.as_str());
        }
        let rows = q
            .bind(filter.limit)
            .bind(filter.offset)
            .fetch_all(self.pool())
            .await?;
        Ok((
            rows.iter().map(record_from_row).collect::<Result<_, _>>()?,
            total,
        ))
    }

    /// Per person: number of records and first/last time on a local day.
    pub async fn daily_summary(
        &self,
        org_id: &str,
        day: &str,
    ) -> Result<Vec<DailySummaryRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT a.person_id, p.name, p.external_id, COUNT(*) AS n, MIN(a.ts) AS first_ts, MAX(a.ts) AS last_ts \
             FROM attendance a JOIN people p ON p.id = a.person_id AND p.org_id = a.org_id \
             WHERE a.org_id = $1 AND a.day = $2 GROUP BY a.person_id, p.name, p.external_id ORDER BY p.name, a.person_id",
        )
        .bind(org_id)
        .bind(day)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(DailySummaryRow {
                    person_id: get(r, "person_id")?,
                    name: get(r, "name")?,
                    external_id: get(r, "external_id")?,
                    records: get(r, "n")?,
                    first_ts: get(r, "first_ts")?,
                    last_ts: get(r, "last_ts")?,
                })
            })
            .collect()
    }
}
