//! Reviewing camera events (the web UI's recent recognitions and unknown
//! faces) and the per-person negative list ("this is not X").
//!
//! A reviewed event keeps its row (the log is a log) but loses its
//! embedding when the operator dismissed it or its face became a template:
//! an embedding is biometric data and is kept no longer than it is needed.

use facegate_core::Embedding;
use sqlx::any::AnyRow;

use super::get;
use super::templates::{embedding_from_bytes, embedding_to_bytes};
use crate::{Store, StoreError, new_id, now_ms};

/// A camera event as review needs it.
#[derive(Debug, Clone)]
pub struct ReviewEvent {
    pub id: String,
    pub camera_id: Option<String>,
    /// `person` or `unknown`.
    pub kind: String,
    pub person_id: Option<String>,
    pub score: Option<f64>,
    pub occurred_at: i64,
    /// JSON text: the event as the API shows it.
    pub payload: String,
    pub has_crop: bool,
    /// The track's face, when kept (see `camera_events.embedding`).
    pub embedding: Option<Embedding>,
    pub model_id: Option<String>,
    /// `None` until reviewed.
    pub review: Option<String>,
}

/// How an operator settled an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Review {
    /// The name was right.
    Confirmed,
    /// It was someone else (or an unknown face was labelled).
    Reassigned,
    /// Not worth keeping (a poster, a blur): the embedding is dropped.
    Dismissed,
    /// "This is not X": the face joined X's negative list.
    Rejected,
}

impl Review {
    pub fn as_str(self) -> &'static str {
        match self {
            Review::Confirmed => "confirmed",
            Review::Reassigned => "reassigned",
            Review::Dismissed => "dismissed",
            Review::Rejected => "rejected",
        }
    }
}

const COLS: &str = "id, camera_id, kind, person_id, score, occurred_at, payload, \
                    (crop IS NOT NULL) AS has_crop, embedding, model_id, review";

fn from_row(row: &AnyRow) -> Result<ReviewEvent, StoreError> {
    // `IS NOT NULL` is a boolean in PostgreSQL and an integer in SQLite.
    let has_crop = match get::<bool>(row, "has_crop") {
        Ok(v) => v,
        Err(_) => get::<i64>(row, "has_crop")? != 0,
    };
    let embedding = get::<Option<Vec<u8>>>(row, "embedding")?
        .map(|b| embedding_from_bytes(&b))
        .transpose()?;
    Ok(ReviewEvent {
        id: get(row, "id")?,
        camera_id: get(row, "camera_id")?,
        kind: get(row, "kind")?,
        person_id: get(row, "person_id")?,
        score: get(row, "score")?,
        occurred_at: get(row, "occurred_at")?,
        payload: get(row, "payload")?,
        has_crop,
        embedding,
        model_id: get(row, "model_id")?,
        review: get(row, "review")?,
    })
}

fn placeholders(from: usize, n: usize) -> String {
    (0..n)
        .map(|i| format!("${}", from + i))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Store {
    /// Unreviewed events of `kind` (`person` or `unknown`), newest first.
    /// `with_embedding` keeps only events whose face embedding under
    /// `model_id` was kept (the ones unknown-face grouping can use).
    pub async fn events_to_review(
        &self,
        org_id: &str,
        kind: &str,
        with_embedding: Option<&str>,
        limit: i64,
    ) -> Result<Vec<ReviewEvent>, StoreError> {
        let filter = if with_embedding.is_some() {
            " AND embedding IS NOT NULL AND model_id = $3"
        } else {
            ""
        };
        let sql = format!(
            "SELECT {COLS} FROM camera_events WHERE org_id = $1 AND kind = $2 AND review IS NULL{filter} \
             ORDER BY occurred_at DESC, id LIMIT {}",
            limit.clamp(1, 10_000)
        );
        let mut q = sqlx::query(&sql).bind(org_id).bind(kind);
        if let Some(m) = with_embedding {
            q = q.bind(m);
        }
        let rows = q.fetch_all(self.pool()).await?;
        rows.iter().map(from_row).collect()
    }

    /// The events of `org_id` among `ids` (others' are silently absent).
    pub async fn review_events_by_ids(
        &self,
        org_id: &str,
        ids: &[String],
    ) -> Result<Vec<ReviewEvent>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT {COLS} FROM camera_events WHERE org_id = $1 AND id IN ({})",
            placeholders(2, ids.len())
        );
        let mut q = sqlx::query(&sql).bind(org_id);
        for id in ids {
            q = q.bind(id.as_str());
        }
        let rows = q.fetch_all(self.pool()).await?;
        rows.iter().map(from_row).collect()
    }

    /// Settle events: record the review and, for a re-assignment, the person
    /// it really was. Every review but `Confirmed` drops the embedding (a
    /// re-assigned face lives on as a template, a rejected one in the
    /// negative list). Returns the number of events changed.
    pub async fn set_review(
        &self,
        org_id: &str,
        ids: &[String],
        review: Review,
        person_id: Option<&str>,
    ) -> Result<u64, StoreError> {
        if ids.is_empty() {
            return Ok(0);
        }
        if let Some(p) = person_id {
            self.get_person(org_id, p).await?;
        }
        let drop_embedding = if review == Review::Confirmed {
            ""
        } else {
            ", embedding = NULL"
        };
        let person = if person_id.is_some() {
            ", person_id = $4, kind = 'person'"
        } else {
            ""
        };
        let first = if person_id.is_some() { 5 } else { 4 };
        let sql = format!(
            "UPDATE camera_events SET review = $2, reviewed_at = $3{drop_embedding}{person} \
             WHERE org_id = $1 AND id IN ({})",
            placeholders(first, ids.len())
        );
        let mut q = sqlx::query(&sql)
            .bind(org_id)
            .bind(review.as_str())
            .bind(now_ms());
        if let Some(p) = person_id {
            q = q.bind(p);
        }
        for id in ids {
            q = q.bind(id.as_str());
        }
        Ok(q.execute(self.pool()).await?.rows_affected())
    }

    /// Add a face to `person_id`'s negative list ("this is not them").
    pub async fn add_negative(
        &self,
        org_id: &str,
        person_id: &str,
        model_id: &str,
        embedding: &Embedding,
        source: &str,
    ) -> Result<String, StoreError> {
        self.get_person(org_id, person_id).await?;
        let id = new_id();
        sqlx::query(
            "INSERT INTO person_negatives (id, org_id, person_id, model_id, dim, embedding, source, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&id)
        .bind(org_id)
        .bind(person_id)
        .bind(model_id)
        .bind(embedding.dim() as i64)
        .bind(embedding_to_bytes(embedding))
        .bind(source)
        .bind(now_ms())
        .execute(self.pool())
        .await?;
        Ok(id)
    }

    /// The negative samples of the given people under `model_id`, as
    /// (person id, embedding); one query for a whole candidate list.
    pub async fn negatives_for(
        &self,
        org_id: &str,
        model_id: &str,
        person_ids: &[String],
    ) -> Result<Vec<(String, Embedding)>, StoreError> {
        if person_ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT person_id, embedding FROM person_negatives WHERE org_id = $1 AND model_id = $2 \
             AND person_id IN ({})",
            placeholders(3, person_ids.len())
        );
        let mut q = sqlx::query(&sql).bind(org_id).bind(model_id);
        for p in person_ids {
            q = q.bind(p.as_str());
        }
        let rows = q.fetch_all(self.pool()).await?;
        rows.iter()
            .map(|r| {
                Ok((
                    get::<String>(r, "person_id")?,
                    embedding_from_bytes(&get::<Vec<u8>>(r, "embedding")?)?,
                ))
            })
            .collect()
    }

    /// Every negative sample of `org_id` under `model_id` (at most `limit`,
    /// newest first): the camera identifier's in-memory copy.
    pub async fn all_negatives(
        &self,
        org_id: &str,
        model_id: &str,
        limit: i64,
    ) -> Result<Vec<(String, Embedding)>, StoreError> {
        let sql = format!(
            "SELECT person_id, embedding FROM person_negatives WHERE org_id = $1 AND model_id = $2 \
             ORDER BY created_at DESC, id LIMIT {}",
            limit.clamp(1, 1_000_000)
        );
        let rows = sqlx::query(&sql)
            .bind(org_id)
            .bind(model_id)
            .fetch_all(self.pool())
            .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    get::<String>(r, "person_id")?,
                    embedding_from_bytes(&get::<Vec<u8>>(r, "embedding")?)?,
                ))
            })
            .collect()
    }

    /// How many negative samples `person_id` has (shown on the person page).
    pub async fn count_negatives(&self, org_id: &str, person_id: &str) -> Result<i64, StoreError> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM person_negatives WHERE org_id = $1 AND person_id = $2",
        )
        .bind(org_id)
        .bind(person_id)
        .fetch_one(self.pool())
        .await?;
        get(&row, "n")
    }
}
