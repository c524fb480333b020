//! Repositories, one module per aggregate. All are `impl Store` blocks.

pub mod accounts;
pub mod api_keys;
pub mod attendance;
pub mod audit;
pub mod cameras;
pub mod devices;
pub mod orgs;
pub mod people;
pub mod privacy;
pub mod review;
pub mod schedules;
pub mod spoof_events;
pub mod templates;
pub mod tokens;
pub mod ui_sessions;

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::StoreError;

pub(crate) fn get<'r, T>(row: &'r AnyRow, col: &str) -> Result<T, StoreError>
where
    T: sqlx::Decode<'r, sqlx::Any> + sqlx::Type<sqlx::Any>,
{
    row.try_get::<T, _>(col).map_err(StoreError::Database)
}

/// Statements that bind an `Option<f64>` must not be cached per connection
/// (`.persistent(false)`): sqlx 0.8's `Any` driver sends a `None::<f64>` to
/// PostgreSQL as a `float4` NULL (its Real/Double NULL mapping is swapped),
/// a cached statement keeps the parameter types of its first execution, and
/// the next non-null `f64` on that connection then fails with "incorrect
/// binary data format". Unnamed statements are prepared with each call's
/// own types; the tests in `tests/orgs.rs` bind NULL before a value.
pub(crate) const NULLABLE_FLOATS_PERSISTENT: bool = false;

pub(crate) fn flag(v: bool) -> i64 {
    i64::from(v)
}

/// Escape `%`, `_` and `\` for a `LIKE ... ESCAPE '\'` pattern.
pub(crate) fn like_pattern(s: &str) -> String {
    let mut out = String::from("%");
    for c in s.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}
