//! SQLite implementation of Tabletalk's repository ports: diesel 2.3 over an r2d2 pool, bundled SQLite, the pragmas of
//! docs/architecture.md, "Storage" on every connection, and the migrations of `../../migrations` embedded in the
//! binary. Every diesel call runs on tokio's blocking pool, never on the async executor.
//!
//! Imports `tabletalk-ports` and its own technology only: never the domain, http-api, server or another
//! adapter.

mod database;
mod error;
mod migrations;
mod repositories;
mod rows;
mod schema;
mod stored_json;

pub use database::{DatabaseUrlError, SqliteDatabase, SqliteOptions, parse_database_url};
pub use error::SqliteError;
pub use migrations::MigrationReport;
