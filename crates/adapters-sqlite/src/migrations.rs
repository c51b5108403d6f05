//! The embedded migrations: applied at startup and by `tabletalk migrate`, reverted one at a time.

use std::collections::BTreeSet;

use diesel::SqliteConnection;
use diesel::migration::{Migration, MigrationSource};
use diesel::sqlite::Sqlite;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use crate::{SqliteDatabase, SqliteError};

const MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations");

/// What a migration run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MigrationReport {
    /// Versions applied (or, for a revert, the one reverted), oldest first.
    pub versions: Vec<String>,
}

fn known_versions() -> Result<BTreeSet<String>, SqliteError> {
    let migrations: Vec<Box<dyn Migration<Sqlite>>> =
        MIGRATIONS.migrations().map_err(SqliteError::Migration)?;
    Ok(migrations
        .iter()
        .map(|m| m.name().version().to_string())
        .collect())
}

fn refuse_unknown(conn: &mut SqliteConnection) -> Result<(), SqliteError> {
    let known = known_versions()?;
    let applied = conn.applied_migrations().map_err(SqliteError::Migration)?;
    match applied
        .iter()
        .map(ToString::to_string)
        .find(|v| !known.contains(v))
    {
        Some(unknown) => Err(SqliteError::UnknownMigration(unknown)),
        None => Ok(()),
    }
}

impl SqliteDatabase {
    /// Applies every pending migration, each in its own transaction. Refuses a database that carries a
    /// migration this binary does not know. Blocking.
    pub fn migrate(&self) -> Result<MigrationReport, SqliteError> {
        let mut conn = self.connection()?;
        refuse_unknown(&mut conn)?;
        let applied = conn
            .run_pending_migrations(MIGRATIONS)
            .map_err(SqliteError::Migration)?;
        Ok(MigrationReport {
            versions: applied.iter().map(ToString::to_string).collect(),
        })
    }

    /// Reverts the latest applied migration. Blocking.
    pub fn revert_latest(&self) -> Result<MigrationReport, SqliteError> {
        let mut conn = self.connection()?;
        refuse_unknown(&mut conn)?;
        let applied = conn.applied_migrations().map_err(SqliteError::Migration)?;
        if applied.is_empty() {
            return Err(SqliteError::NothingToRevert);
        }
        let reverted = conn
            .revert_last_migration(MIGRATIONS)
            .map_err(SqliteError::Migration)?;
        Ok(MigrationReport {
            versions: vec![reverted.to_string()],
        })
    }

    /// Versions not yet applied. Blocking.
    pub fn pending_migrations(&self) -> Result<Vec<String>, SqliteError> {
        let mut conn = self.connection()?;
        let pending = conn
            .pending_migrations(MIGRATIONS)
            .map_err(SqliteError::Migration)?;
        Ok(pending
            .iter()
            .map(|m| m.name().version().to_string())
            .collect())
    }
}
