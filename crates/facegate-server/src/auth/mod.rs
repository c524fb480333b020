//! Authentication (who is calling) and authorisation (may they do this).
//!
//! Two kinds of callers: people with accounts (JWT access tokens from
//! `/auth/login`) and machines with API keys (`X-API-Key`). Both resolve to
//! a [`Caller`]: one organisation and one role in it. Every handler starts
//! by asking the caller for the role and scope it needs, and every store call
//! passes `caller.org_id`, so another organisation's data is unreachable.

pub mod caller;
pub mod password;
pub mod tokens;

pub use caller::{Caller, Principal, Scope};
