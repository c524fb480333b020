//! The facegate HTTP service.
//!
//! `/api/v1` JSON REST (OpenAPI at `/api/v1/openapi.json`), the seed
//! clients' compatibility routes, probes and metrics. Storage and the
//! gallery live in `facegate-store`, the face engine in `facegate-vision`;
//! this crate adds authentication, authorisation, validation and the
//! business rules.
//!
//! Entry points for the CLI: [`Config::load`], [`init_logging`], [`serve`],
//! [`init_organisation`], [`verify_audit`]; for tests: [`start`].

mod admin;
pub mod auth;
pub mod cameras;
pub mod challenges;
pub mod client_ip;
mod compat;
pub mod config;
pub mod config_doc;
pub mod datadir;
pub mod engine;
pub mod error;
mod flows;
mod image_input;
mod logging;
mod metrics;
mod openapi;
pub mod outputs;
pub mod ratelimit;
pub mod retention;
mod routes;
pub mod rules;
mod server;
pub mod state;
pub mod ui;

pub use admin::{InitReport, init_organisation, verify_audit};
pub use config::{Config, ConfigError};
pub use datadir::{open_store, restrict_umask};
pub use logging::init_logging;
pub use openapi::ApiDoc;
pub use server::{RunningServer, app, build_state, serve, serve_with_reload, start};
