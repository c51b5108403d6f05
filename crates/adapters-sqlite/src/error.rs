//! Errors of opening and migrating the database, and the mapping of diesel errors onto the port error.

use diesel::result::{DatabaseErrorKind, Error as DieselError};
use tabletalk_ports::RepositoryError;

/// Opening, configuring or migrating the database failed.
#[derive(Debug, thiserror::Error)]
pub enum SqliteError {
    #[error("cannot open the database {path}: {reason}")]
    Open { path: String, reason: String },
    #[error("the database refused a required setting")]
    Pragma(#[source] diesel::r2d2::PoolError),
    #[error("migration failed")]
    Migration(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error(
        "the database carries migration {0} that this binary does not know (it was written by a newer \
         Tabletalk); upgrade the binary or restore a backup"
    )]
    UnknownMigration(String),
    #[error("no migration to revert")]
    NothingToRevert,
    #[error(transparent)]
    Repository(#[from] RepositoryError),
}

/// Maps a diesel error onto the port's error variants.
pub(crate) fn repository_error(error: DieselError) -> RepositoryError {
    match error {
        DieselError::DatabaseError(
            kind @ (DatabaseErrorKind::UniqueViolation
            | DatabaseErrorKind::ForeignKeyViolation
            | DatabaseErrorKind::CheckViolation
            | DatabaseErrorKind::NotNullViolation),
            info,
        ) => RepositoryError::Constraint(format!("{kind:?}: {}", info.message())),
        DieselError::DatabaseError(_, info) if is_busy(info.message()) => {
            RepositoryError::Unavailable(info.message().to_owned())
        }
        DieselError::DeserializationError(cause) => RepositoryError::Corrupt(cause.to_string()),
        other => RepositoryError::Other(Box::new(other)),
    }
}

fn is_busy(message: &str) -> bool {
    message.contains("database is locked") || message.contains("database is busy")
}
