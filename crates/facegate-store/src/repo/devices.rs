use sqlx::any::AnyRow;

use super::{flag, get};
use crate::{Device, Store, StoreError, new_id, now_ms};

const COLS: &str = "id, org_id, name, kind, location, enabled, created_at, updated_at";

fn device_from_row(row: &AnyRow) -> Result<Device, StoreError> {
    Ok(Device {
        id: get(row, "id")?,
        org_id: get(row, "org_id")?,
        name: get(row, "name")?,
        kind: get(row, "kind")?,
        location: get(row, "location")?,
        enabled: get::<i64>(row, "enabled")? != 0,
        created_at: get(row, "created_at")?,
        updated_at: get(row, "updated_at")?,
    })
}

impl Store {
    pub async fn create_device(
        &self,
        org_id: &str,
        name: &str,
        kind: &str,
        location: &str,
        enabled: bool,
    ) -> Result<Device, StoreError> {
        let id = new_id();
        sqlx::query(
            "INSERT INTO devices (id, org_id, name, kind, location, enabled, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
        )
        .bind(&id)
        .bind(org_id)
        .bind(name)
        .bind(kind)
        .bind(location)
        .bind(flag(enabled))
        .bind(now_ms())
        .execute(self.pool())
        .await?;
        self.get_device(org_id, &id).await
    }

    pub async fn get_device(&self, org_id: &str, id: &str) -> Result<Device, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {COLS} FROM devices WHERE org_id = $1 AND id = $2"
        ))
        .bind(org_id)
        .bind(id)
        .fetch_optional(self.pool())
        .await?
        .ok_or(StoreError::NotFound("device"))?;
        device_from_row(&row)
    }

    pub async fn list_devices(&self, org_id: &str) -> Result<Vec<Device>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLS} FROM devices WHERE org_id = $1 ORDER BY name, id"
        ))
        .bind(org_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(device_from_row).collect()
    }

    pub async fn update_device(&self, device: &Device) -> Result<Device, StoreError> {
        let n = sqlx::query(
            "UPDATE devices SET name = $3, kind = $4, location = $5, enabled = $6, updated_at = $7 \
             WHERE org_id = $1 AND id = $2",
        )
        .bind(&device.org_id)
        .bind(&device.id)
        .bind(&device.name)
        .bind(&device.kind)
        .bind(&device.location)
        .bind(flag(device.enabled))
        .bind(now_ms())
        .execute(self.pool())
        .await?
        .rows_affected();
        if n == 0 {
            return Err(StoreError::NotFound("device"));
        }
        self.get_device(&device.org_id, &device.id).await
    }

    pub async fn delete_device(&self, org_id: &str, id: &str) -> Result<(), StoreError> {
        let n = sqlx::query("DELETE FROM devices WHERE org_id = $1 AND id = $2")
            .bind(org_id)
            .bind(id)
            .execute(self.pool())
            .await?
            .rows_affected();
        if n == 0 {
            return Err(StoreError::NotFound("device"));
        }
        Ok(())
    }
}
