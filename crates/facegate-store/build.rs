//! `sqlx::migrate!` embeds `migrations/` at compile time but cannot tell
//! cargo to watch the folder; without this a new migration file would not
//! be picked up until something else made the crate rebuild.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
