//! Why a dataset or SQL use case failed. Outcomes only: statuses and API codes are chosen by the HTTP layer.

use tabletalk_ports::{LoadError, QueryError, RepositoryError, SqlProblem};

use super::DatasetUrlError;
use crate::ConversationError;

/// How a query failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueryFailureKind {
    /// The statement was refused: it does not parse or plan, or breaks a limit checked before it runs.
    Refused,
    /// Not a read-only query.
    NotReadOnly,
    Timeout,
    MemoryExceeded,
    /// No slot to run it now; worth retrying shortly.
    Busy,
    /// A dataset's remote content could not be read.
    DatasetUnavailable,
    /// A dataset's remote content changed since it was added.
    DatasetChanged,
    /// The engine failed for a reason of its own.
    Internal,
}

/// A failed query, worded for people (docs/api.md, "SQL errors").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryFailure {
    pub kind: QueryFailureKind,
    pub message: String,
    /// The engine's own message, for people who want the technical details.
    pub raw: Option<String>,
}

/// A dataset use case failed.
#[derive(Debug, thiserror::Error)]
pub enum DatasetError {
    #[error("Conversation not found")]
    ConversationNotFound,
    #[error("Not authorized")]
    Forbidden,
    #[error("Dataset not found")]
    NotFound,
    /// 422 for one field.
    #[error("{message}")]
    Validation {
        field: &'static str,
        message: String,
    },
    #[error(transparent)]
    Url(#[from] DatasetUrlError),
    #[error("This dataset is already loaded")]
    Exists,
    #[error("A dataset named '{0}' already exists in this conversation")]
    NameTaken(String),
    #[error("Maximum {0} datasets reached")]
    LimitReached(u32),
    #[error("Only .parquet, .csv, .tsv, .csv.gz and .ndjson files are supported")]
    UnsupportedUpload,
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error("Dataset is not ready")]
    NotReady,
    #[error("Column '{0}' not found in dataset schema")]
    ColumnNotFound(String),
    #[error("sample_column is required for stratified sampling")]
    SampleColumnRequired,
    #[error("No datasets loaded in this conversation")]
    NoDatasets,
    /// A query-history entry that is not the user's.
    #[error("Query not found")]
    HistoryEntryNotFound,
    #[error("{}", .0.message)]
    Query(QueryFailure),
    #[error(transparent)]
    Storage(#[from] RepositoryError),
}

impl From<ConversationError> for DatasetError {
    fn from(error: ConversationError) -> Self {
        match error {
            ConversationError::NotFound => Self::ConversationNotFound,
            ConversationError::Forbidden => Self::Forbidden,
            ConversationError::Storage(e) => Self::Storage(e),
            // Only sharing draws random bytes; no dataset use case reaches this.
            ConversationError::Randomness(e) => Self::Storage(RepositoryError::Other(Box::new(e))),
        }
    }
}

/// `1 GiB`, `512 MiB`: the memory limit as the message shows it.
pub fn size_text(bytes: u64) -> String {
    const GIB: u64 = 1 << 30;
    const MIB: u64 = 1 << 20;
    if bytes >= GIB && bytes.is_multiple_of(GIB) {
        format!("{} GiB", bytes / GIB)
    } else {
        format!("{} MiB", bytes / MIB)
    }
}

/// What a failed query becomes for the user; `translate` words a refused statement for people.
pub fn query_failure(
    error: QueryError,
    timeout_secs: u64,
    memory_limit: u64,
    translate: impl FnOnce(&SqlProblem, &str) -> String,
) -> QueryFailure {
    use QueryFailureKind as Kind;
    let plain = |kind, message: String| QueryFailure {
        kind,
        message,
        raw: None,
    };
    match error {
        QueryError::MultipleStatements => plain(Kind::Refused, error.to_string()),
        QueryError::ReadOnlyViolation => plain(Kind::NotReadOnly, error.to_string()),
        QueryError::Sql { problem, raw } => QueryFailure {
            kind: Kind::Refused,
            message: translate(&problem, &raw),
            raw: Some(raw),
        },
        QueryError::Timeout { .. } => plain(
            Kind::Timeout,
            format!(
                "The query ran longer than {timeout_secs} s and was stopped. Add filters, select fewer columns, or \
                 aggregate before sorting."
            ),
        ),
        QueryError::MemoryExceeded => plain(
            Kind::MemoryExceeded,
            format!(
                "The query needed more than {} of memory. Filter rows, select fewer columns, or aggregate before \
                 sorting or joining.",
                size_text(memory_limit)
            ),
        ),
        QueryError::Busy => plain(Kind::Busy, error.to_string()),
        QueryError::DatasetUnavailable { .. } => plain(Kind::DatasetUnavailable, error.to_string()),
        QueryError::DatasetChanged { .. } => plain(Kind::DatasetChanged, error.to_string()),
        QueryError::JoinTooLarge { .. } => QueryFailure {
            kind: Kind::Refused,
            raw: Some(error.to_string()),
            message: error.to_string(),
        },
        QueryError::Internal { reason } => QueryFailure {
            kind: Kind::Internal,
            message: "The query engine failed while running this query. Please try again."
                .to_owned(),
            raw: Some(reason),
        },
    }
}
