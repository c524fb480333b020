//! Consent and retention records of a person's biometric data.
//!
//! Kept in their own table (`person_privacy`), one row per person, so the
//! people API's shape is unchanged; the row goes with the person (erasure
//! deletes it by cascade).

use serde::Serialize;

use super::get;
use crate::{Store, StoreError, now_ms};

/// A person's consent and retention record (all empty when none was made).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PersonPrivacy {
    /// When consent to process the face was given (Unix ms).
    pub consent_at: Option<i64>,
    /// How and by whom consent was recorded.
    pub consent_note: String,
    /// Local day (`YYYY-MM-DD`) after which the templates must be deleted.
    pub retain_until: Option<String>,
}

impl Store {
    /// The record of `person_id` in `org_id` (empty when none was made).
    /// `NotFound` when the person is not this organisation's.
    pub async fn person_privacy(
        &self,
        org_id: &str,
        person_id: &str,
    ) -> Result<PersonPrivacy, StoreError> {
        self.get_person(org_id, person_id).await?;
        let row = sqlx::query(
            "SELECT consent_at, consent_note, retain_until FROM person_privacy \
             WHERE org_id = $1 AND person_id = $2",
        )
        .bind(org_id)
        .bind(person_id)
        .fetch_optional(self.pool())
        .await?;
        let Some(r) = row else {
            return Ok(PersonPrivacy::default());
        };
        Ok(PersonPrivacy {
            consent_at: get(&r, "consent_at")?,
            consent_note: get(&r, "consent_note")?,
            retain_until: get(&r, "retain_until")?,
        })
    }

    /// Replace the record of `person_id` in `org_id`.
    pub async fn set_person_privacy(
        &self,
        org_id: &str,
        person_id: &str,
        p: &PersonPrivacy,
    ) -> Result<(), StoreError> {
        self.get_person(org_id, person_id).await?;
        let mut tx = self.pool().begin().await?;
        sqlx::query("DELETE FROM person_privacy WHERE org_id = $1 AND person_id = $2")
            .bind(org_id)
            .bind(person_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO person_privacy (person_id, org_id, consent_at, consent_note, retain_until, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(person_id)
        .bind(org_id)
        .bind(p.consent_at)
        .bind(&p.consent_note)
        .bind(p.retain_until.as_deref())
        .bind(now_ms())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Every person, across organisations, whose retention day is before
    /// `before_day` (`YYYY-MM-DD`): (org id, person id, retain_until). The
    /// caller compares each day with its organisation's local date.
    pub async fn retention_due(
        &self,
        before_day: &str,
    ) -> Result<Vec<(String, String, String)>, StoreError> {
        let rows = sqlx::query(
            "SELECT org_id, person_id, retain_until FROM person_privacy \
             WHERE retain_until IS NOT NULL AND retain_until < $1 ORDER BY org_id, person_id",
        )
        .bind(before_day)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    get(r, "org_id")?,
                    get(r, "person_id")?,
                    get(r, "retain_until")?,
                ))
            })
            .collect()
    }

    /// Delete a person's face data (templates and negative samples) and the
    /// face embeddings kept with camera events naming them: what a retention
    /// period ending means. The person, their attendance and the consent
    /// record stay. Returns the number of templates deleted.
    pub async fn erase_face_data(&self, org_id: &str, person_id: &str) -> Result<u64, StoreError> {
        let n = self.delete_all_templates(org_id, person_id).await?;
        sqlx::query("DELETE FROM person_negatives WHERE org_id = $1 AND person_id = $2")
            .bind(org_id)
            .bind(person_id)
            .execute(self.pool())
            .await?;
        sqlx::query(
            "UPDATE camera_events SET embedding = NULL, crop = NULL WHERE org_id = $1 AND person_id = $2",
        )
        .bind(org_id)
        .bind(person_id)
        .execute(self.pool())
        .await?;
        Ok(n)
    }
}
