//! Why a dataset or SQL use case failed, with the API code each maps to.

use tabletalk_ports::{LoadError, QueryError, RepositoryError};

use super::DatasetUrlError;
use crate::ConversationError;

/// A failed query, translated for people (behaviour.md §4.6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryFailure {
    pub code: &'static str,
    pub message: String,
    /// The engine's own message (`details.raw` of `sql_error`).
    pub raw: Option<String>,
}

impl QueryFailure {
    /// The HTTP status the code has (api.md C22).
    pub const fn status(&self) -> u16 {
        match self.code.as_bytes() {
            b"dataset_changed" => 409,
            b"dataset_unavailable" => 502,
            b"server_busy" => 503,
            b"internal_error" => 500,
            _ => 400,
        }
    }
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

/// What a failed query becomes for the user; `translate` rewrites engine messages (§4.6).
pub fn query_failure(
    error: QueryError,
    timeout_secs: u64,
    memory_limit: u64,
    translate: impl FnOnce(&str) -> String,
) -> QueryFailure {
    let plain = |code, message: String| QueryFailure {
        code,
        message,
        raw: None,
    };
    match error {
        QueryError::MultipleStatements => plain("sql_error", error.to_string()),
        QueryError::ReadOnlyViolation => plain("read_only_violation", error.to_string()),
        QueryError::Sql { raw } => QueryFailure {
            code: "sql_error",
            message: translate(&raw),
            raw: Some(raw),
        },
        QueryError::Timeout { .. } => plain(
            "query_timeout",
            format!(
                "The query ran longer than {timeout_secs} s and was stopped. Add filters, select fewer columns, or \
                 aggregate before sorting."
            ),
        ),
        QueryError::MemoryExceeded => plain(
            "query_memory_exceeded",
            format!(
                "The query needed more than {} of memory. Filter rows, select fewer columns, or aggregate before \
                 sorting or joining.",
                size_text(memory_limit)
            ),
        ),
        QueryError::Busy => plain("server_busy", error.to_string()),
        QueryError::DatasetUnavailable { .. } => plain("dataset_unavailable", error.to_string()),
        QueryError::DatasetChanged { .. } => plain("dataset_changed", error.to_string()),
        QueryError::JoinTooLarge { .. } => QueryFailure {
            code: "sql_error",
            raw: Some(error.to_string()),
            message: error.to_string(),
        },
        QueryError::Internal { .. } => plain(
            "internal_error",
            "The query engine failed while running this query. Please try again.".to_owned(),
        ),
    }
}
