/// Errors from the store. `NotFound`, `Conflict` and `Invalid` are the
/// caller's fault and map to 4xx; `Database`/`Migrate`/`Corrupt` are ours.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Invalid(String),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("database error: {0}")]
    Database(#[source] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &e {
            if db.is_unique_violation() {
                return StoreError::Conflict(unique_message(db.message()));
            }
            if db.is_foreign_key_violation() {
                return StoreError::Invalid("a referenced record does not exist".into());
            }
        }
        StoreError::Database(e)
    }
}

/// Turn a backend's unique-violation text into a message that names the field
/// without leaking SQL.
fn unique_message(raw: &str) -> String {
    let raw = raw.to_ascii_lowercase();
    for (needle, field) in [
        ("external_id", "external_id"),
        ("rfid_code", "rfid_code"),
        ("nfc_tag", "nfc_tag"),
        ("email", "email"),
        ("organisations", "organisation name"),
        ("devices", "device name"),
        ("name", "name"),
    ] {
        if raw.contains(needle) {
            return format!("a record with this {field} already exists");
        }
    }
    "a record with these values already exists".into()
}
