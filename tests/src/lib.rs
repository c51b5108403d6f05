//! Support for Tabletalk's end-to-end suite: [`TestApp`] runs the real wiring (`build_state`, real SQLite
//! with the production migrations) behind a real HTTP server on 127.0.0.1:0, and `e2e/binary.rs` runs the
//! `tabletalk` binary itself as a process.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::missing_panics_doc,
    reason = "test support: a failed step is a failed test"
)]

pub mod fake_oidc;
pub mod file_server;
pub mod plans;
pub mod scripted_server;
mod test_app;
pub mod ws_client;

pub use test_app::{ACCESS_KEY, TestApp, TestAppBuilder, json_with_status};
