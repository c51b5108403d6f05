//! The connection pool: one SQLite file, the required pragmas on every connection, blocking work kept off the
//! async executor.

use std::path::{Path, PathBuf};
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::r2d2::{ConnectionManager, CustomizeConnection, Pool, PooledConnection};
use diesel::sql_types::{BigInt, Text};
use diesel::{QueryableByName, RunQueryDsl, SqliteConnection};
use tabletalk_ports::RepositoryError;

use crate::SqliteError;

type SqlitePool = Pool<ConnectionManager<SqliteConnection>>;
pub(crate) type Conn = PooledConnection<ConnectionManager<SqliteConnection>>;

/// How to open the database.
#[derive(Debug, Clone)]
pub struct SqliteOptions {
    /// The database file; created when missing (its directory must exist).
    pub path: PathBuf,
    /// Connections kept in the pool.
    pub pool_size: u32,
}

impl SqliteOptions {
    /// Options for the file at `path` with a pool sized for a small server.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            pool_size: 8,
        }
    }
}

/// A `storage.database_url` value that cannot name a SQLite file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DatabaseUrlError {
    #[error("only sqlite:// URLs or plain paths are supported, got scheme {0:?}")]
    UnsupportedScheme(String),
    #[error("the URL names no file")]
    Empty,
}

/// Reads `sqlite:///<path>` (relative unless `<path>` starts with `/`), `sqlite://<path>` or a bare path.
pub fn parse_database_url(url: &str) -> Result<PathBuf, DatabaseUrlError> {
    let path = if let Some(rest) = url.strip_prefix("sqlite:///") {
        rest
    } else if let Some(rest) = url.strip_prefix("sqlite://") {
        rest
    } else if let Some((scheme, _)) = url.split_once("://") {
        return Err(DatabaseUrlError::UnsupportedScheme(scheme.to_owned()));
    } else {
        url
    };
    if path.is_empty() {
        return Err(DatabaseUrlError::Empty);
    }
    Ok(PathBuf::from(path))
}

/// The pooled SQLite database behind every repository port.
#[derive(Clone)]
pub struct SqliteDatabase {
    pool: SqlitePool,
    path: PathBuf,
}

impl std::fmt::Debug for SqliteDatabase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteDatabase")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

#[derive(Debug)]
struct RequiredPragmas;

#[derive(QueryableByName)]
struct JournalMode {
    #[diesel(sql_type = Text)]
    journal_mode: String,
}

#[derive(QueryableByName)]
struct ForeignKeys {
    #[diesel(sql_type = BigInt)]
    foreign_keys: i64,
}

impl CustomizeConnection<SqliteConnection, diesel::r2d2::Error> for RequiredPragmas {
    fn on_acquire(&self, conn: &mut SqliteConnection) -> Result<(), diesel::r2d2::Error> {
        conn.batch_execute(
            "PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;",
        )
        .map_err(diesel::r2d2::Error::QueryError)?;
        let mode: JournalMode = diesel::sql_query("PRAGMA journal_mode = WAL")
            .get_result(conn)
            .map_err(diesel::r2d2::Error::QueryError)?;
        let keys: ForeignKeys = diesel::sql_query("PRAGMA foreign_keys")
            .get_result(conn)
            .map_err(diesel::r2d2::Error::QueryError)?;
        if !mode.journal_mode.eq_ignore_ascii_case("wal") || keys.foreign_keys != 1 {
            // Surfaces as a pool build error: the server must not run without WAL and foreign keys.
            return Err(diesel::r2d2::Error::QueryError(
                diesel::result::Error::QueryBuilderError(
                    format!(
                        "journal_mode={}, foreign_keys={}",
                        mode.journal_mode, keys.foreign_keys
                    )
                    .into(),
                ),
            ));
        }
        Ok(())
    }
}

impl SqliteDatabase {
    /// Opens (creating if needed) the database file and checks every pooled connection gets WAL and foreign
    /// keys. Blocking: call it before serving, or from a blocking task.
    pub fn open(options: &SqliteOptions) -> Result<Self, SqliteError> {
        let path_text = options.path.to_string_lossy().into_owned();
        let open_error = |reason: String| SqliteError::Open {
            path: path_text.clone(),
            reason,
        };
        if let Some(parent) = options.path.parent().filter(|p| !p.as_os_str().is_empty())
            && !parent.is_dir()
        {
            return Err(open_error(format!(
                "directory {} does not exist",
                parent.display()
            )));
        }
        let manager = ConnectionManager::<SqliteConnection>::new(path_text.clone());
        let pool = Pool::builder()
            .max_size(options.pool_size.max(1))
            .connection_timeout(Duration::from_secs(10))
            .connection_customizer(Box::new(RequiredPragmas))
            .build(manager)
            .map_err(|e| open_error(e.to_string()))?;
        // `build` opens the connections; one checkout proves the pragmas held.
        pool.get().map_err(SqliteError::Pragma)?;
        Ok(Self {
            pool,
            path: options.path.clone(),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub(crate) fn connection(&self) -> Result<Conn, RepositoryError> {
        self.pool
            .get()
            .map_err(|e| RepositoryError::Unavailable(e.to_string()))
    }

    /// Runs blocking diesel work on tokio's blocking pool.
    pub(crate) async fn run<T, F>(&self, work: F) -> Result<T, RepositoryError>
    where
        T: Send + 'static,
        F: FnOnce(&mut SqliteConnection) -> Result<T, RepositoryError> + Send + 'static,
    {
        let db = self.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = db.connection()?;
            work(&mut conn)
        })
        .await
        .map_err(|join| RepositoryError::Other(Box::new(join)))?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_urls_name_files() {
        assert_eq!(
            parse_database_url("sqlite:///tabletalk.db"),
            Ok(PathBuf::from("tabletalk.db"))
        );
        assert_eq!(
            parse_database_url("sqlite:////var/lib/t.db"),
            Ok(PathBuf::from("/var/lib/t.db"))
        );
        assert_eq!(
            parse_database_url("sqlite://data/t.db"),
            Ok(PathBuf::from("data/t.db"))
        );
        assert_eq!(
            parse_database_url("/tmp/t.db"),
            Ok(PathBuf::from("/tmp/t.db"))
        );
        assert_eq!(
            parse_database_url("postgres://localhost/db"),
            Err(DatabaseUrlError::UnsupportedScheme("postgres".to_owned()))
        );
        assert_eq!(
            parse_database_url("sqlite:///"),
            Err(DatabaseUrlError::Empty)
        );
    }
}
