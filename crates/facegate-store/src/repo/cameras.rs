//! Cameras and the events their recognition produced.
//!
//! A camera row keeps its source URL with any credentials in it: these
//! types deliberately do not derive `Serialize`, so nothing can hand the
//! URL to a client by accident; the server answers with its own type that
//! carries the URL redacted.
//!
//! [`Store::list_enabled_cameras`] is the one read across organisations:
//! the service starts every organisation's cameras when it boots.

use sqlx::any::AnyRow;

use super::{NULLABLE_FLOATS_PERSISTENT, flag, get};
use crate::{Store, StoreError, new_id, now_ms};

/// A camera as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Camera {
    pub id: String,
    pub org_id: String,
    pub fields: CameraFields,
    pub created_at: i64,
    pub updated_at: i64,
}

/// What an administrator sets on a camera (validated by the server).
#[derive(Debug, Clone, PartialEq)]
pub struct CameraFields {
    pub name: String,
    /// With credentials, if the camera needs them.
    pub source_url: String,
    /// `tcp` or `udp`.
    pub rtsp_transport: String,
    pub device_id: Option<String>,
    /// `attendance`, `access` or `watch`.
    pub purpose: String,
    pub detection_fps: f64,
    pub min_face_px: i64,
    /// Frames whose aligned face is blurrier than this (variance of the
    /// Laplacian) are not recognised.
    pub min_sharpness: f64,
    pub fpir: Option<f64>,
    pub match_threshold: Option<f64>,
    pub cooldown_s: i64,
    pub enabled: bool,
}

/// A recognition event to store.
#[derive(Debug, Clone)]
pub struct NewCameraEvent<'a> {
    /// Chosen by the caller, so the event can be published under the id it is stored with.
    pub id: &'a str,
    pub camera_id: &'a str,
    pub track_id: i64,
    /// `person` or `unknown`.
    pub kind: &'a str,
    /// `match`, `unknown` or `ambiguous`.
    pub decision: &'a str,
    pub person_id: Option<&'a str>,
    pub score: Option<f64>,
    /// JSON.
    pub operating_point: &'a str,
    pub liveness: Option<f64>,
    pub latency_ms: f64,
    /// The attendance or access outcome, JSON.
    pub outcome: Option<&'a str>,
    /// The event as the API shows it, JSON.
    pub payload: &'a str,
    /// The face crop (JPEG); stored only when the organisation keeps images.
    pub crop: Option<&'a [u8]>,
    /// The track's face embedding and its model id, kept on the same
    /// condition as the crop (grouping and enrolling reviewed faces).
    pub embedding: Option<(&'a facegate_core::Embedding, &'a str)>,
    pub occurred_at: i64,
}

/// A stored event: its API payload and whether a crop was kept.
#[derive(Debug, Clone, PartialEq)]
pub struct CameraEventRow {
    pub id: String,
    pub camera_id: Option<String>,
    pub person_id: Option<String>,
    pub kind: String,
    pub occurred_at: i64,
    /// JSON text, as stored.
    pub payload: String,
    pub has_crop: bool,
}

/// Filters of the event log; every bound optional.
#[derive(Debug, Clone, Default)]
pub struct CameraEventFilter {
    pub camera_id: Option<String>,
    pub person_id: Option<String>,
    pub kind: Option<String>,
    /// Inclusive lower bound of `occurred_at` (Unix ms).
    pub since: Option<i64>,
    /// Inclusive upper bound of `occurred_at` (Unix ms).
    pub until: Option<i64>,
    pub limit: i64,
    pub offset: i64,
}

const COLS: &str = "id, org_id, name, source_url, rtsp_transport, device_id, purpose, detection_fps, \
                    min_face_px, min_sharpness, fpir, match_threshold, cooldown_s, enabled, created_at, updated_at";

fn camera_from_row(row: &AnyRow) -> Result<Camera, StoreError> {
    Ok(Camera {
        id: get(row, "id")?,
        org_id: get(row, "org_id")?,
        fields: CameraFields {
            name: get(row, "name")?,
            source_url: get(row, "source_url")?,
            rtsp_transport: get(row, "rtsp_transport")?,
            device_id: get(row, "device_id")?,
            purpose: get(row, "purpose")?,
            detection_fps: get(row, "detection_fps")?,
            min_face_px: get(row, "min_face_px")?,
            min_sharpness: get(row, "min_sharpness")?,
            fpir: get(row, "fpir")?,
            match_threshold: get(row, "match_threshold")?,
            cooldown_s: get(row, "cooldown_s")?,
            enabled: get::<i64>(row, "enabled")? != 0,
        },
        created_at: get(row, "created_at")?,
        updated_at: get(row, "updated_at")?,
    })
}

/// A bind value of a dynamically built filter.
enum Arg {
    Text(String),
    Int(i64),
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

fn check_numbers(f: &CameraFields) -> Result<(), StoreError> {
    let finite = |v: Option<f64>| v.is_none_or(f64::is_finite);
    if !f.detection_fps.is_finite()
        || !f.min_sharpness.is_finite()
        || !finite(f.fpir)
        || !finite(f.match_threshold)
    {
        return Err(StoreError::Invalid("camera numbers must be finite".into()));
    }
    Ok(())
}

impl Store {
    /// Create a camera of `org_id`. A linked device must belong to the
    /// organisation (a foreign key alone would accept another tenant's).
    pub async fn create_camera(
        &self,
        org_id: &str,
        f: &CameraFields,
    ) -> Result<Camera, StoreError> {
        check_numbers(f)?;
        if let Some(d) = &f.device_id {
            self.get_device(org_id, d).await?;
        }
        let id = new_id();
        sqlx::query(
            "INSERT INTO cameras (id, org_id, name, source_url, rtsp_transport, device_id, purpose, \
             detection_fps, min_face_px, min_sharpness, fpir, match_threshold, cooldown_s, enabled, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $15)",
        )
        .bind(&id)
        .bind(org_id)
        .bind(&f.name)
        .bind(&f.source_url)
        .bind(&f.rtsp_transport)
        .bind(f.device_id.as_deref())
        .bind(&f.purpose)
        .bind(f.detection_fps)
        .bind(f.min_face_px)
        .bind(f.min_sharpness)
        .bind(f.fpir)
        .bind(f.match_threshold)
        .bind(f.cooldown_s)
        .bind(flag(f.enabled))
        .bind(now_ms())
        .persistent(NULLABLE_FLOATS_PERSISTENT)
        .execute(self.pool())
        .await?;
        self.get_camera(org_id, &id).await
    }

    pub async fn get_camera(&self, org_id: &str, id: &str) -> Result<Camera, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {COLS} FROM cameras WHERE org_id = $1 AND id = $2"
        ))
        .bind(org_id)
        .bind(id)
        .fetch_optional(self.pool())
        .await?
        .ok_or(StoreError::NotFound("camera"))?;
        camera_from_row(&row)
    }

    pub async fn list_cameras(&self, org_id: &str) -> Result<Vec<Camera>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLS} FROM cameras WHERE org_id = $1 ORDER BY name, id"
        ))
        .bind(org_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(camera_from_row).collect()
    }

    /// Every organisation's enabled cameras, oldest first (started at boot).
    pub async fn list_enabled_cameras(&self) -> Result<Vec<Camera>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLS} FROM cameras WHERE enabled = 1 ORDER BY created_at, id"
        ))
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(camera_from_row).collect()
    }

    pub async fn update_camera(
        &self,
        org_id: &str,
        id: &str,
        f: &CameraFields,
    ) -> Result<Camera, StoreError> {
        check_numbers(f)?;
        if let Some(d) = &f.device_id {
            self.get_device(org_id, d).await?;
        }
        let n = sqlx::query(
            "UPDATE cameras SET name = $3, source_url = $4, rtsp_transport = $5, device_id = $6, \
             purpose = $7, detection_fps = $8, min_face_px = $9, min_sharpness = $10, fpir = $11, \
             match_threshold = $12, cooldown_s = $13, enabled = $14, updated_at = $15 \
             WHERE org_id = $1 AND id = $2",
        )
        .bind(org_id)
        .bind(id)
        .bind(&f.name)
        .bind(&f.source_url)
        .bind(&f.rtsp_transport)
        .bind(f.device_id.as_deref())
        .bind(&f.purpose)
        .bind(f.detection_fps)
        .bind(f.min_face_px)
        .bind(f.min_sharpness)
        .bind(f.fpir)
        .bind(f.match_threshold)
        .bind(f.cooldown_s)
        .bind(flag(f.enabled))
        .bind(now_ms())
        .persistent(NULLABLE_FLOATS_PERSISTENT)
        .execute(self.pool())
        .await?
        .rows_affected();
        if n == 0 {
            return Err(StoreError::NotFound("camera"));
        }
        self.get_camera(org_id, id).await
    }

    pub async fn delete_camera(&self, org_id: &str, id: &str) -> Result<(), StoreError> {
        let n = sqlx::query("DELETE FROM cameras WHERE org_id = $1 AND id = $2")
            .bind(org_id)
            .bind(id)
            .execute(self.pool())
            .await?
            .rows_affected();
        if n == 0 {
            return Err(StoreError::NotFound("camera"));
        }
        Ok(())
    }

    /// Store an event of one of `org_id`'s cameras.
    pub async fn insert_camera_event(
        &self,
        org_id: &str,
        e: &NewCameraEvent<'_>,
    ) -> Result<(), StoreError> {
        let finite = |v: Option<f64>| v.is_none_or(f64::is_finite);
        if !finite(e.score) || !finite(e.liveness) || !e.latency_ms.is_finite() {
            return Err(StoreError::Invalid(
                "camera event numbers must be finite".into(),
            ));
        }
        // The camera must be this organisation's.
        self.get_camera(org_id, e.camera_id).await?;
        sqlx::query(
            "INSERT INTO camera_events (id, org_id, camera_id, track_id, kind, decision, person_id, score, \
             operating_point, liveness, latency_ms, outcome, payload, crop, occurred_at, created_at, embedding, model_id) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)",
        )
        .bind(e.id)
        .bind(org_id)
        .bind(e.camera_id)
        .bind(e.track_id)
        .bind(e.kind)
        .bind(e.decision)
        .bind(e.person_id)
        .bind(e.score)
        .bind(e.operating_point)
        .bind(e.liveness)
        .bind(e.latency_ms)
        .bind(e.outcome)
        .bind(e.payload)
        .bind(e.crop.map(<[u8]>::to_vec))
        .bind(e.occurred_at)
        .bind(now_ms())
        .bind(e.embedding.map(|(v, _)| super::templates::embedding_to_bytes(v)))
        .bind(e.embedding.map(|(_, m)| m))
        .persistent(NULLABLE_FLOATS_PERSISTENT)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Newest first, with the total matching the filter.
    pub async fn list_camera_events(
        &self,
        org_id: &str,
        f: &CameraEventFilter,
    ) -> Result<(Vec<CameraEventRow>, i64), StoreError> {
        let mut clauses = vec!["org_id = $1".to_string()];
        let mut args = vec![Arg::Text(org_id.to_string())];
        for (col, v) in [
            ("camera_id", &f.camera_id),
            ("person_id", &f.person_id),
            ("kind", &f.kind),
        ] {
            if let Some(v) = v {
                args.push(Arg::Text(v.clone()));
                clauses.push(format!("{col} = ${}", args.len()));
            }
        }
        for (op, v) in [(">=", f.since), ("<=", f.until)] {
            if let Some(v) = v {
                args.push(Arg::Int(v));
                clauses.push(format!("occurred_at {op} ${}", args.len()));
            }
        }
        let n = args.len();
        let where_sql = clauses.join(" AND ");
        let count_sql = format!("SELECT COUNT(*) AS n FROM camera_events WHERE {where_sql}");
        let total: i64 = get(
            &bind_all(sqlx::query(&count_sql), &args)
                .fetch_one(self.pool())
                .await?,
            "n",
        )?;
        let list_sql = format!(
            "SELECT id, camera_id, person_id, kind, occurred_at, payload, (crop IS NOT NULL) AS has_crop \
             FROM camera_events WHERE {where_sql} ORDER BY occurred_at DESC, id LIMIT ${} OFFSET ${}",
            n + 1,
            n + 2
        );
        let rows = bind_all(sqlx::query(&list_sql), &args)
            .bind(f.limit)
            .bind(f.offset)
            .fetch_all(self.pool())
            .await?;
        let items = rows
            .iter()
            .map(|row| {
                // `IS NOT NULL` is a boolean in PostgreSQL and an integer in SQLite.
                let has_crop = match get::<bool>(row, "has_crop") {
                    Ok(v) => v,
                    Err(_) => get::<i64>(row, "has_crop")? != 0,
                };
                Ok(CameraEventRow {
                    id: get(row, "id")?,
                    camera_id: get(row, "camera_id")?,
                    person_id: get(row, "person_id")?,
                    kind: get(row, "kind")?,
                    occurred_at: get(row, "occurred_at")?,
                    payload: get(row, "payload")?,
                    has_crop,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok((items, total))
    }

    /// An event's kept face crop: `NotFound` when the event is not this
    /// organisation's, `None` when no crop was kept.
    pub async fn camera_event_crop(
        &self,
        org_id: &str,
        id: &str,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        let row = sqlx::query("SELECT crop FROM camera_events WHERE org_id = $1 AND id = $2")
            .bind(org_id)
            .bind(id)
            .fetch_optional(self.pool())
            .await?
            .ok_or(StoreError::NotFound("camera event"))?;
        get(&row, "crop")
    }
}
