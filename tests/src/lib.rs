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

pub mod conformance;
pub mod fake_oidc;
pub mod file_server;
pub mod plans;
pub mod scripted_server;
mod test_app;
pub mod ws_client;

pub use test_app::{ACCESS_KEY, TestApp, TestAppBuilder, json_with_status};

/// How the suite's in-process servers start their query workers: the `tabletalk` binary this package builds
/// from `crates/server/src/main.rs` (`tabletalk-under-test`, beside the test executable's `deps/` folder), or
/// `TABLETALK_TEST_WORKER` when set.
pub fn worker_command() -> tabletalk_query_engine::isolation::pool::WorkerCommand {
    let program = std::env::var_os("TABLETALK_TEST_WORKER").map_or_else(
        || {
            let test_executable = std::env::current_exe().unwrap();
            let profile_dir = test_executable
                .parent()
                .and_then(std::path::Path::parent)
                .unwrap();
            profile_dir.join("tabletalk-under-test")
        },
        std::path::PathBuf::from,
    );
    tabletalk_query_engine::isolation::pool::WorkerCommand {
        program,
        args: vec!["worker".to_owned()],
    }
}
