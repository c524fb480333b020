//! Spoof events: faces the liveness policy flagged or rejected, and failed
//! challenges whose passive score failed. Written by the server's flows,
//! listed by administrators; the optional snapshot is read on its own so
//! lists never carry image bytes.

use sqlx::any::AnyRow;

use super::get;
use crate::{
    NewSpoofEvent, SpoofAction, SpoofEvent, SpoofEventFilter, SpoofSource, Store, StoreError,
    new_id, now_ms,
};

const COLS: &str = "id, org_id, occurred_at, device_id, person_id, score, threshold, action, source, \
                    (snapshot IS NOT NULL) AS has_snapshot, created_at";

fn event_from_row(row: &AnyRow) -> Result<SpoofEvent, StoreError> {
    // `IS NOT NULL` is a boolean in PostgreSQL and an integer in SQLite.
    let has_snapshot = match get::<bool>(row, "has_snapshot") {
        Ok(v) => v,
        Err(_) => get::<i64>(row, "has_snapshot")? != 0,
    };
    let action: String = get(row, "action")?;
    let source: String = get(row, "source")?;
    Ok(SpoofEvent {
        id: get(row, "id")?,
        org_id: get(row, "org_id")?,
        occurred_at: get(row, "occurred_at")?,
        device_id: get(row, "device_id")?,
        person_id: get(row, "person_id")?,
        score: get(row, "score")?,
        threshold: get(row, "threshold")?,
        action: SpoofAction::parse(&action)
            .ok_or_else(|| StoreError::Corrupt(format!("unknown spoof action {action:?}")))?,
        source: SpoofSource::parse(&source)
            .ok_or_else(|| StoreError::Corrupt(format!("unknown spoof source {source:?}")))?,
        has_snapshot,
        created_at: get(row, "created_at")?,
    })
}

/// A bind value of a dynamically built filter (text and integer columns).
enum Arg {
    Text(String),
    Int(i64),
}

fn push_filter(f: &SpoofEventFilter, clauses: &mut Vec<String>, args: &mut Vec<Arg>) {
    if let Some(t) = f.from {
        args.push(Arg::Int(t));
        clauses.push(format!("occurred_at >= ${}", args.len()));
    }
    if let Some(t) = f.to {
        args.push(Arg::Int(t));
        clauses.push(format!("occurred_at <= ${}", args.len()));
    }
    if let Some(d) = &f.device_id {
        args.push(Arg::Text(d.clone()));
        clauses.push(format!("device_id = ${}", args.len()));
    }
    if let Some(a) = f.action {
        args.push(Arg::Text(a.as_str().into()));
        clauses.push(format!("action = ${}", args.len()));
    }
    if let Some(s) = f.source {
        args.push(Arg::Text(s.as_str().into()));
        clauses.push(format!("source = ${}", args.len()));
    }
}

fn bind_all<'q>(
    mut q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    args: &'q [Arg],
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    for a in args {
        q = match a {
            Arg::Text(s) => q.bind(s.as_str()),
            Arg::Int(i) => q.bind(*i),
        };
    }
    q
}

impl Store {
    /// Store an event of `org_id`. The device and person must belong to the
    /// organisation (a foreign key alone would accept another tenant's id).
    pub async fn insert_spoof_event(
        &self,
        org_id: &str,
        event: &NewSpoofEvent<'_>,
    ) -> Result<SpoofEvent, StoreError> {
        if event.score.is_some_and(|s| !s.is_finite()) || !event.threshold.is_finite() {
            return Err(StoreError::Invalid(
                "spoof event score and threshold must be finite numbers".into(),
            ));
        }
        if let Some(d) = event.device_id {
            self.get_device(org_id, d).await?;
        }
        if let Some(p) = event.person_id {
            self.get_person(org_id, p).await?;
        }
        let id = new_id();
        sqlx::query(
            "INSERT INTO spoof_events (id, org_id, occurred_at, device_id, person_id, score, threshold, action, source, snapshot, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(&id)
        .bind(org_id)
        .bind(event.occurred_at)
        .bind(event.device_id)
        .bind(event.person_id)
        .bind(event.score)
        .bind(event.threshold)
        .bind(event.action.as_str())
        .bind(event.source.as_str())
        .bind(event.snapshot.map(<[u8]>::to_vec))
        .bind(now_ms())
        .persistent(super::NULLABLE_FLOATS_PERSISTENT)
        .execute(self.pool())
        .await?;
        self.get_spoof_event(org_id, &id).await
    }

    pub async fn get_spoof_event(&self, org_id: &str, id: &str) -> Result<SpoofEvent, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {COLS} FROM spoof_events WHERE org_id = $1 AND id = $2"
        ))
        .bind(org_id)
        .bind(id)
        .fetch_optional(self.pool())
        .await?
        .ok_or(StoreError::NotFound("spoof event"))?;
        event_from_row(&row)
    }

    /// Newest first, with the total matching the filter.
    pub async fn list_spoof_events(
        &self,
        org_id: &str,
        filter: &SpoofEventFilter,
    ) -> Result<(Vec<SpoofEvent>, i64), StoreError> {
        let mut clauses = vec!["org_id = $1".to_string()];
        let mut args = vec![Arg::Text(org_id.to_string())];
        push_filter(filter, &mut clauses, &mut args);
        let where_sql = clauses.join(" AND ");
        let count_sql = format!("SELECT COUNT(*) AS n FROM spoof_events WHERE {where_sql}");
        let total: i64 = get(
            &bind_all(sqlx::query(&count_sql), &args)
                .fetch_one(self.pool())
                .await?,
            "n",
        )?;
        let list_sql = format!(
            "SELECT {COLS} FROM spoof_events WHERE {where_sql} ORDER BY occurred_at DESC, id LIMIT ${} OFFSET ${}",
            args.len() + 1,
            args.len() + 2
        );
        let rows = bind_all(sqlx::query(&list_sql), &args)
            .bind(filter.limit)
            .bind(filter.offset)
            .fetch_all(self.pool())
            .await?;
        Ok((
            rows.iter().map(event_from_row).collect::<Result<_, _>>()?,
            total,
        ))
    }

    /// The kept image of an event: `NotFound` when the event is not this
    /// organisation's, `None` when no image was kept.
    pub async fn spoof_event_snapshot(
        &self,
        org_id: &str,
        id: &str,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        let row = sqlx::query("SELECT snapshot FROM spoof_events WHERE org_id = $1 AND id = $2")
            .bind(org_id)
            .bind(id)
            .fetch_optional(self.pool())
            .await?
            .ok_or(StoreError::NotFound("spoof event"))?;
        get(&row, "snapshot")
    }
}
