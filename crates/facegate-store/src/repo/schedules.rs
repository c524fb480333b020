use sqlx::any::AnyRow;

use super::get;
use crate::{Schedule, Store, StoreError, new_id, now_ms};

const COLS: &str = "id, org_id, name, person_id, device_id, weekdays, start_minute, end_minute, valid_from, valid_until, created_at";

fn schedule_from_row(row: &AnyRow) -> Result<Schedule, StoreError> {
    let weekdays: i64 = get(row, "weekdays")?;
    let start: i64 = get(row, "start_minute")?;
    let end: i64 = get(row, "end_minute")?;
    Ok(Schedule {
        id: get(row, "id")?,
        org_id: get(row, "org_id")?,
        name: get(row, "name")?,
        person_id: get(row, "person_id")?,
        device_id: get(row, "device_id")?,
        weekdays: u8::try_from(weekdays).map_err(|_| StoreError::Corrupt("weekdays".into()))?,
        start_minute: u32::try_from(start)
            .map_err(|_| StoreError::Corrupt("start_minute".into()))?,
        end_minute: u32::try_from(end).map_err(|_| StoreError::Corrupt("end_minute".into()))?,
        valid_from: get(row, "valid_from")?,
        valid_until: get(row, "valid_until")?,
        created_at: get(row, "created_at")?,
    })
}

type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>;

/// Bind a schedule's fields, `name` to `valid_until`, as the next eight
/// parameters (in the order of `COLS`).
fn bind_fields<'q>(q: AnyQuery<'q>, s: &'q Schedule) -> AnyQuery<'q> {
    q.bind(&s.name)
        .bind(s.person_id.as_deref())
        .bind(s.device_id.as_deref())
        .bind(i64::from(s.weekdays))
        .bind(i64::from(s.start_minute))
        .bind(i64::from(s.end_minute))
        .bind(s.valid_from.as_deref())
        .bind(s.valid_until.as_deref())
}

impl Store {
    /// Insert a schedule; `s.id`, `s.org_id` and `s.created_at` are filled in here.
    pub async fn create_schedule(
        &self,
        org_id: &str,
        s: &Schedule,
    ) -> Result<Schedule, StoreError> {
        let id = new_id();
        let q = sqlx::query(
            "INSERT INTO schedules (id, org_id, name, person_id, device_id, weekdays, start_minute, end_minute, valid_from, valid_until, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(&id)
        .bind(org_id);
        bind_fields(q, s)
            .bind(now_ms())
            .execute(self.pool())
            .await?;
        self.get_schedule(org_id, &id).await
    }

    pub async fn get_schedule(&self, org_id: &str, id: &str) -> Result<Schedule, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {COLS} FROM schedules WHERE org_id = $1 AND id = $2"
        ))
        .bind(org_id)
        .bind(id)
        .fetch_optional(self.pool())
        .await?
        .ok_or(StoreError::NotFound("schedule"))?;
        schedule_from_row(&row)
    }

    pub async fn list_schedules(&self, org_id: &str) -> Result<Vec<Schedule>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLS} FROM schedules WHERE org_id = $1 ORDER BY name, id"
        ))
        .bind(org_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(schedule_from_row).collect()
    }

    /// Schedules that govern `person_id` at `device_id`: those naming the
    /// person (or nobody, i.e. everyone) and the device (or any device).
    pub async fn schedules_for(
        &self,
        org_id: &str,
        person_id: &str,
        device_id: Option<&str>,
    ) -> Result<Vec<Schedule>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLS} FROM schedules WHERE org_id = $1 \
             AND (person_id IS NULL OR person_id = $2) \
             AND (device_id IS NULL OR device_id = $3)"
        ))
        .bind(org_id)
        .bind(person_id)
        .bind(device_id.unwrap_or(""))
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(schedule_from_row).collect()
    }

    /// Replace every field of a schedule (the caller merged a partial update
    /// and validated the result). One statement, scoped by organisation and
    /// returning the row it wrote, so a concurrent delete or another tenant's
    /// id reads as not found and nothing else is read in between.
    pub async fn update_schedule(
        &self,
        org_id: &str,
        id: &str,
        s: &Schedule,
    ) -> Result<Schedule, StoreError> {
        let sql = format!(
            "UPDATE schedules SET name = $3, person_id = $4, device_id = $5, weekdays = $6, \
             start_minute = $7, end_minute = $8, valid_from = $9, valid_until = $10 \
             WHERE org_id = $1 AND id = $2 RETURNING {COLS}"
        );
        let q = sqlx::query(&sql).bind(org_id).bind(id);
        let row = bind_fields(q, s)
            .fetch_optional(self.pool())
            .await?
            .ok_or(StoreError::NotFound("schedule"))?;
        schedule_from_row(&row)
    }

    pub async fn delete_schedule(&self, org_id: &str, id: &str) -> Result<(), StoreError> {
        let n = sqlx::query("DELETE FROM schedules WHERE org_id = $1 AND id = $2")
            .bind(org_id)
            .bind(id)
            .execute(self.pool())
            .await?
            .rows_affected();
        if n == 0 {
            return Err(StoreError::NotFound("schedule"));
        }
        Ok(())
    }
}
