//! HTTP integration tests of the facegate service (SQLite and PostgreSQL).

mod common;

mod auth;
mod authz;
mod auto_rotate;
mod bad_input;
mod cameras;
mod compat;
mod liveness;
mod liveness_addon;
mod manage;
mod open_set;
mod openapi;
mod outputs;
mod recognition;
mod seed_compat;
mod service;
mod truncated;
mod ui;
mod ui_browser;
