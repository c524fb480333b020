//! Face templates. Embeddings are stored as little-endian `f32` bytes; the
//! gallery is updated only after the transaction commits, so it never holds
//! a template the database does not.

use facegate_core::Embedding;
use sqlx::any::AnyRow;

use super::get;
use crate::{Store, StoreError, Template, new_id, now_ms};

const COLS: &str = "id, org_id, person_id, model_id, dim, quality, status, (image IS NOT NULL) AS has_image, created_at";

fn template_from_row(row: &AnyRow) -> Result<Template, StoreError> {
    // `IS NOT NULL` is a boolean in PostgreSQL and an integer in SQLite.
    let has_image = match get::<bool>(row, "has_image") {
        Ok(v) => v,
        Err(_) => get::<i64>(row, "has_image")? != 0,
    };
    Ok(Template {
        id: get(row, "id")?,
        org_id: get(row, "org_id")?,
        person_id: get(row, "person_id")?,
        model_id: get(row, "model_id")?,
        dim: get(row, "dim")?,
        quality: get(row, "quality")?,
        status: get(row, "status")?,
        has_image,
        created_at: get(row, "created_at")?,
    })
}

pub fn embedding_to_bytes(e: &Embedding) -> Vec<u8> {
    e.as_slice().iter().flat_map(|v| v.to_le_bytes()).collect()
}

pub fn embedding_from_bytes(bytes: &[u8]) -> Result<Embedding, StoreError> {
    if !bytes.len().is_multiple_of(4) {
        return Err(StoreError::Corrupt(
            "embedding length is not a multiple of 4".into(),
        ));
    }
    let values = bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    Embedding::from_raw(values).map_err(|e| StoreError::Corrupt(format!("embedding: {e}")))
}

impl Store {
    /// Store a template for an existing person of `org_id` and index it.
    pub async fn add_template(
        &self,
        org_id: &str,
        person_id: &str,
        model_id: &str,
        embedding: &Embedding,
        quality: f64,
        image: Option<&[u8]>,
    ) -> Result<Template, StoreError> {
        // Checked here (not only by the foreign key) so that a person of another
        // organisation reads as "not found".
        self.get_person(org_id, person_id).await?;
        let id = new_id();
        sqlx::query(
            "INSERT INTO templates (id, org_id, person_id, model_id, dim, embedding, quality, status, image, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, 'active', $8, $9)",
        )
        .bind(&id)
        .bind(org_id)
        .bind(person_id)
        .bind(model_id)
        .bind(embedding.dim() as i64)
        .bind(embedding_to_bytes(embedding))
        .bind(quality)
        .bind(image.map(<[u8]>::to_vec))
        .bind(now_ms())
        .execute(self.pool())
        .await?;
        self.gallery()
            .insert(org_id, model_id, &id, person_id, embedding);
        self.get_template(org_id, &id).await
    }

    pub async fn get_template(&self, org_id: &str, id: &str) -> Result<Template, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {COLS} FROM templates WHERE org_id = $1 AND id = $2"
        ))
        .bind(org_id)
        .bind(id)
        .fetch_optional(self.pool())
        .await?
        .ok_or(StoreError::NotFound("template"))?;
        template_from_row(&row)
    }

    pub async fn list_templates(
        &self,
        org_id: &str,
        person_id: &str,
    ) -> Result<Vec<Template>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLS} FROM templates WHERE org_id = $1 AND person_id = $2 ORDER BY created_at, id"
        ))
        .bind(org_id)
        .bind(person_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(template_from_row).collect()
    }

    pub async fn delete_template(
        &self,
        org_id: &str,
        person_id: &str,
        id: &str,
    ) -> Result<(), StoreError> {
        let n =
            sqlx::query("DELETE FROM templates WHERE org_id = $1 AND person_id = $2 AND id = $3")
                .bind(org_id)
                .bind(person_id)
                .bind(id)
                .execute(self.pool())
                .await?
                .rows_affected();
        if n == 0 {
            return Err(StoreError::NotFound("template"));
        }
        self.gallery().remove_template(org_id, id);
        Ok(())
    }

    /// Delete every template of a person; returns how many.
    pub async fn delete_all_templates(
        &self,
        org_id: &str,
        person_id: &str,
    ) -> Result<u64, StoreError> {
        self.get_person(org_id, person_id).await?;
        let n = sqlx::query("DELETE FROM templates WHERE org_id = $1 AND person_id = $2")
            .bind(org_id)
            .bind(person_id)
            .execute(self.pool())
            .await?
            .rows_affected();
        self.gallery().remove_person(org_id, person_id);
        Ok(n)
    }

    /// Archive every active template of a person: kept, but no longer matched.
    pub async fn archive_all_templates(
        &self,
        org_id: &str,
        person_id: &str,
    ) -> Result<u64, StoreError> {
        self.get_person(org_id, person_id).await?;
        let n = sqlx::query(
            "UPDATE templates SET status = 'archived' WHERE org_id = $1 AND person_id = $2 AND status = 'active'",
        )
        .bind(org_id)
        .bind(person_id)
        .execute(self.pool())
        .await?
        .rows_affected();
        self.gallery().remove_person(org_id, person_id);
        Ok(n)
    }

    /// Rebuild the gallery from the database (at start).
    pub async fn reload_gallery(&self) -> Result<usize, StoreError> {
        let rows = sqlx::query(
            "SELECT t.id, t.org_id, t.person_id, t.model_id, t.embedding FROM templates t \
             JOIN people p ON p.id = t.person_id \
             WHERE t.status = 'active' AND p.status <> 'archived' ORDER BY t.created_at, t.id",
        )
        .fetch_all(self.pool())
        .await?;
        self.gallery().clear();
        let mut n = 0;
        for row in &rows {
            let bytes: Vec<u8> = get(row, "embedding")?;
            let id: String = get(row, "id")?;
            match embedding_from_bytes(&bytes) {
                Ok(e) => {
                    let org: String = get(row, "org_id")?;
                    let model: String = get(row, "model_id")?;
                    let person: String = get(row, "person_id")?;
                    if self.gallery().insert(&org, &model, &id, &person, &e) {
                        n += 1;
                    }
                }
                Err(err) => tracing::warn!(template = %id, "skipping template: {err}"),
            }
        }
        tracing::info!(templates = n, "gallery loaded");
        Ok(n)
    }
}
