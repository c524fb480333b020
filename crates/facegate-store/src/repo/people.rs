use sqlx::any::AnyRow;

use super::{get, like_pattern};
use crate::{PeopleFilter, Person, PersonFields, PersonStatus, Store, StoreError, new_id, now_ms};

const COLS: &str = "id, org_id, external_id, name, department, email, status, rfid_code, nfc_tag, created_at, updated_at";

fn person_from_row(row: &AnyRow) -> Result<Person, StoreError> {
    let status: String = get(row, "status")?;
    Ok(Person {
        id: get(row, "id")?,
        org_id: get(row, "org_id")?,
        external_id: get(row, "external_id")?,
        name: get(row, "name")?,
        department: get(row, "department")?,
        email: get(row, "email")?,
        status: PersonStatus::parse(&status)
            .ok_or_else(|| StoreError::Corrupt(format!("person status {status:?}")))?,
        rfid_code: get(row, "rfid_code")?,
        nfc_tag: get(row, "nfc_tag")?,
        created_at: get(row, "created_at")?,
        updated_at: get(row, "updated_at")?,
    })
}

impl Store {
    pub async fn create_person(
        &self,
        org_id: &str,
        f: &PersonFields,
    ) -> Result<Person, StoreError> {
        let id = new_id();
        let now = now_ms();
        sqlx::query(
            "INSERT INTO people (id, org_id, external_id, name, department, email, status, rfid_code, nfc_tag, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10)",
        )
        .bind(&id)
        .bind(org_id)
        .bind(&f.external_id)
        .bind(&f.name)
        .bind(&f.department)
        .bind(&f.email)
        .bind(f.status.unwrap_or(PersonStatus::Active).as_str())
        .bind(f.rfid_code.as_deref())
        .bind(f.nfc_tag.as_deref())
        .bind(now)
        .execute(self.pool())
        .await?;
        self.get_person(org_id, &id).await
    }

    pub async fn get_person(&self, org_id: &str, id: &str) -> Result<Person, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {COLS} FROM people WHERE org_id = $1 AND id = $2"
        ))
        .bind(org_id)
        .bind(id)
        .fetch_optional(self.pool())
        .await?
        .ok_or(StoreError::NotFound("person"))?;
        person_from_row(&row)
    }

    pub async fn find_person_by_external_id(
        &self,
        org_id: &str,
        external_id: &str,
    ) -> Result<Option<Person>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {COLS} FROM people WHERE org_id = $1 AND external_id = $2"
        ))
        .bind(org_id)
        .bind(external_id)
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(person_from_row).transpose()
    }

    /// Active people whose name is `name` (trimmed, ASCII case ignored), at
    /// most `limit`: the seed clients name people rather than cards, so
    /// callers need to tell "one" from "several".
    pub async fn find_active_people_by_name(
        &self,
        org_id: &str,
        name: &str,
        limit: i64,
    ) -> Result<Vec<Person>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLS} FROM people WHERE org_id = $1 AND status = 'active' \
             AND LOWER(TRIM(name)) = LOWER($2) ORDER BY created_at, id LIMIT $3"
        ))
        .bind(org_id)
        .bind(name.trim())
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(person_from_row).collect()
    }

    /// The person holding an RFID code or NFC tag.
    pub async fn find_person_by_credential(
        &self,
        org_id: &str,
        credential: &str,
    ) -> Result<Option<Person>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {COLS} FROM people WHERE org_id = $1 AND (rfid_code = $2 OR nfc_tag = $2) ORDER BY id LIMIT 1"
        ))
        .bind(org_id)
        .bind(credential)
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(person_from_row).transpose()
    }

    /// A page of people and the total number matching the filter.
    pub async fn list_people(
        &self,
        org_id: &str,
        filter: &PeopleFilter,
    ) -> Result<(Vec<Person>, i64), StoreError> {
        let mut clauses = vec!["org_id = $1".to_string()];
        let mut args: Vec<String> = vec![org_id.to_string()];
        if let Some(q) = filter.q.as_deref().filter(|q| !q.is_empty()) {
            args.push(like_pattern(q));
            let n = args.len();
            clauses.push(format!(
                "(LOWER(name) LIKE ${n} ESCAPE '\\' OR LOWER(external_id) LIKE ${n} ESCAPE '\\' \
                 OR LOWER(department) LIKE ${n} ESCAPE '\\' OR LOWER(email) LIKE ${n} ESCAPE '\\')"
            ));
        }
        if let Some(status) = filter.status {
            args.push(status.as_str().to_string());
            clauses.push(format!("status = ${}", args.len()));
        }
        if let Some(dep) = filter.department.as_deref() {
            args.push(dep.to_string());
            clauses.push(format!("department = ${}", args.len()));
        }
        let where_sql = clauses.join(" AND ");
        let count_sql = format!("SELECT COUNT(*) AS n FROM people WHERE {where_sql}");
        let mut count = sqlx::query(&count_sql);
        for a in &args {
            count = count.bind(a.as_str());
        }
        let total: i64 = get(&count.fetch_one(self.pool()).await?, "n")?;
        let list_sql = format!(
            "SELECT {COLS} FROM people WHERE {where_sql} ORDER BY name, id LIMIT ${} OFFSET ${}",
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
        let people = rows.iter().map(person_from_row).collect::<Result<_, _>>()?;
        Ok((people, total))
    }

    /// Replace a person's fields. Archiving also archives their templates, so
    /// an archived person can no longer be recognised.
    pub async fn update_person(
        &self,
        org_id: &str,
        id: &str,
        f: &PersonFields,
    ) -> Result<Person, StoreError> {
        let status = f.status.unwrap_or(PersonStatus::Active);
        let mut tx = self.pool().begin().await?;
        let n = sqlx::query(
            "UPDATE people SET external_id = $3, name = $4, department = $5, email = $6, status = $7, \
             rfid_code = $8, nfc_tag = $9, updated_at = $10 WHERE org_id = $1 AND id = $2",
        )
        .bind(org_id)
        .bind(id)
        .bind(&f.external_id)
        .bind(&f.name)
        .bind(&f.department)
        .bind(&f.email)
        .bind(status.as_str())
        .bind(f.rfid_code.as_deref())
        .bind(f.nfc_tag.as_deref())
        .bind(now_ms())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if n == 0 {
            return Err(StoreError::NotFound("person"));
        }
        if status == PersonStatus::Archived {
            sqlx::query(
                "UPDATE templates SET status = 'archived' WHERE org_id = $1 AND person_id = $2",
            )
            .bind(org_id)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        if status == PersonStatus::Archived {
            self.gallery().remove_person(org_id, id);
        }
        self.get_person(org_id, id).await
    }

    /// Delete a person with their templates, schedules and attendance.
    pub async fn delete_person(&self, org_id: &str, id: &str) -> Result<(), StoreError> {
        let n = sqlx::query("DELETE FROM people WHERE org_id = $1 AND id = $2")
            .bind(org_id)
            .bind(id)
            .execute(self.pool())
            .await?
            .rows_affected();
        if n == 0 {
            return Err(StoreError::NotFound("person"));
        }
        self.gallery().remove_person(org_id, id);
        Ok(())
    }

    /// Many people at once (for identify responses), in one query.
    pub async fn people_by_ids(
        &self,
        org_id: &str,
        ids: &[String],
    ) -> Result<Vec<Person>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let placeholders: Vec<String> = (0..ids.len()).map(|i| format!("${}", i + 2)).collect();
        let sql = format!(
            "SELECT {COLS} FROM people WHERE org_id = $1 AND id IN ({})",
            placeholders.join(", ")
        );
        let mut q = sqlx::query(&sql).bind(org_id);
        for id in ids {
            q = q.bind(id.as_str());
        }
        let rows = q.fetch_all(self.pool()).await?;
        rows.iter().map(person_from_row).collect()
    }
}
