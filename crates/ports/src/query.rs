//! The query port: run one read-only SQL statement over a conversation's tables and get back a neutral table
//! (columns with types, rows as JSON values encoded per docs/api.md, "Result cells"). Arrow stays inside the engine.

use std::path::PathBuf;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::{Compression, DatasetFormat, UploadId, UserId};

/// Where a table's content is read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TableLocation {
    /// A file on this machine given by path (tools and tests).
    File(PathBuf),
    /// A kept upload.
    Upload(UploadId),
    /// A URL dataset: Parquet is read with range requests through the SSRF guard; other formats come from the
    /// file cache, downloaded again (and checked against `version`) when evicted.
    Remote {
        url: String,
        etag: Option<String>,
        size: Option<u64>,
        version: String,
    },
}

/// One table registered for a query, under its lower-case name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryTable {
    /// The dataset's name as stored (registered lower-cased).
    pub name: String,
    pub location: TableLocation,
    pub format: DatasetFormat,
    pub compression: Compression,
    /// The stored schema (name and SQL type per column), so text formats are not inferred again; empty to infer.
    pub columns: Vec<QueryColumn>,
    /// `(column, min, max)` of integer columns, from the dataset's own statistics pass: bounds on how many
    /// distinct values a column can hold, so the engine can choose plans that are only cheap for few values.
    pub integer_ranges: Vec<(String, i64, i64)>,
    /// Rows in the table as recorded when it was added, when known: the engine refuses joins whose row
    /// combinations would exceed its limit before running them.
    pub row_count: Option<u64>,
}

/// A statement after the read-only checks, printed back by the parser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CanonicalSql {
    /// Canonical spacing, comments dropped: the result-cache key's SQL.
    pub text: String,
    /// Calls a volatile function (`random`, `now`, …): never cached.
    pub volatile: bool,
}

/// Row limits of one query (docs/api.md, "Result cells").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RowLimits {
    /// `query.auto_limit`: more rows than this are not produced; `limit_applied` says so.
    pub auto_limit: u64,
    /// `query.max_returned_rows`: rows kept; the rest are only counted.
    pub kept_rows: u64,
    /// Read files in order with one partition (previews, samples): `LIMIT` then means "the first rows of the file".
    pub file_order: bool,
}

/// A result column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryColumn {
    pub name: String,
    /// The SQL type name (`BIGINT`, `VARCHAR`, `TIMESTAMP`, …).
    pub sql_type: String,
}

/// A finished query.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryOutput {
    pub columns: Vec<QueryColumn>,
    /// The first `kept_rows` rows, cells encoded as JSON.
    pub rows: Vec<Vec<serde_json::Value>>,
    /// Rows the query produced, capped at `auto_limit`.
    pub total_rows: u64,
    /// The auto limit cut the result.
    pub limit_applied: bool,
    pub execution_ms: f64,
}

/// Why a query did not produce a result.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    /// More than one statement.
    #[error("Only one SQL statement can run at a time. Remove the extra statements.")]
    MultipleStatements,
    /// Not a query (DDL, DML, COPY, SET, EXPLAIN, …).
    #[error(
        "Tabletalk runs read-only queries: only SELECT (including WITH … SELECT) is allowed. CREATE, INSERT, UPDATE, \
         DELETE, COPY, SET, EXPLAIN and other statements are refused."
    )]
    ReadOnlyViolation,
    /// The engine refused the statement: `problem` says why in terms the domain can word for people, `raw` is the
    /// engine's own message without backtrace (shown as technical details).
    #[error("{raw}")]
    Sql {
        problem: Box<SqlProblem>,
        raw: String,
    },
    #[error("the query ran longer than {seconds} s and was stopped")]
    Timeout { seconds: u64 },
    #[error("the query needed more memory than its limit")]
    MemoryExceeded,
    /// The queue is full or the wait for a slot ran out.
    #[error("Server busy, try again shortly")]
    Busy,
    /// A table's remote content could not be read.
    #[error("Could not read dataset '{name}' from its URL: {reason}")]
    DatasetUnavailable { name: String, reason: String },
    /// A table's remote content no longer matches the version recorded when it was added.
    #[error(
        "The file at {url} has changed since it was added. Refresh the dataset to use the new version."
    )]
    DatasetChanged { url: String },
    /// A join without an equality condition would pair more rows than `query.max_join_rows`; refused before it ran.
    #[error(
        "This query joins {tables} without an equality condition between them: about {estimate} row combinations, \
         more than the limit of {limit}. Join on matching columns (a.id = b.id), or filter or aggregate the tables \
         before joining them."
    )]
    JoinTooLarge {
        /// The joined tables, as `a × b × c`.
        tables: String,
        estimate: u128,
        limit: u64,
    },
    /// The engine failed for a reason of its own (a crash of the process that ran the query); the query may
    /// succeed when tried again.
    #[error("the query engine failed: {reason}")]
    Internal { reason: String },
}

/// Why the engine refused a statement, classified by the engine adapter from the engine's own error values so the
/// domain never reads engine message text. Each variant carries what a person needs to fix the query.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum SqlProblem {
    /// The statement does not parse; `found` is the offending token when the parser named one.
    Syntax {
        found: Option<String>,
        line: Option<u64>,
        column: Option<u64>,
    },
    /// No statement at all.
    Empty,
    /// A column that no table in scope has. `candidates` are the columns that were in scope (qualified).
    UnknownColumn {
        qualifier: Option<String>,
        column: String,
        suggestion: Option<String>,
        candidates: Vec<String>,
    },
    UnknownTable {
        table: String,
    },
    /// An unqualified column that more than one joined table has.
    AmbiguousColumn {
        column: String,
    },
    UnknownFunction {
        name: String,
        suggestion: Option<String>,
    },
    /// A function called with argument types it has no signature for.
    ArgumentTypes,
    /// Arithmetic between types that do not combine; `temporal` when one side is a date, time or interval.
    Arithmetic {
        temporal: bool,
    },
    /// A comparison between types that have no common type.
    IncomparableTypes,
    /// A value that cannot be cast to the type asked for; `value`/`target` when the engine named them.
    InvalidCast {
        value: Option<String>,
        target: Option<String>,
    },
    /// A date, timestamp or interval literal that does not parse.
    TemporalLiteral,
    /// A selected expression that is neither aggregated nor grouped by.
    NotGrouped {
        expression: Option<String>,
    },
    /// An aggregate where only row-level filters are allowed (`WHERE`), or a row-level value in `HAVING`.
    AggregateInFilter,
    /// `ORDER BY` on something not selected in a `SELECT DISTINCT`.
    DistinctOrderBy,
    /// Two output columns with the same name.
    DuplicateNames,
    /// The two sides of a set operation have different numbers of columns.
    SetOperationArity,
    DivideByZero,
    Overflow,
    /// A regular expression that does not compile.
    InvalidRegex,
    /// A construct the engine does not implement.
    Unsupported,
    /// Anything the adapter has no better name for.
    Other,
}

/// Who a query runs for: admission is fair between owners and caps each owner's running queries.
pub type QueryOwner = UserId;

/// Runs read-only SQL in a fresh context holding exactly the given tables.
#[async_trait]
pub trait QueryEngine: Send + Sync + 'static {
    /// Runs `sql` over `tables` for `owner`. Dropping the future stops the query and releases what it holds.
    ///
    /// # Errors
    /// Every variant of [`QueryError`], as its documentation says.
    async fn run(
        &self,
        owner: QueryOwner,
        tables: &[QueryTable],
        sql: &str,
        limits: RowLimits,
    ) -> Result<QueryOutput, QueryError>;

    /// Checks that `sql` is one read-only statement and prints it back canonically.
    ///
    /// # Errors
    /// `MultipleStatements`, `ReadOnlyViolation`, `Sql` for a parse error.
    fn canonical_sql(&self, sql: &str) -> Result<CanonicalSql, QueryError>;

    /// Queries running and waiting now.
    fn load(&self) -> (usize, usize);

    /// Bytes of dataset files held in the engine's file cache now (downloads, expanded uploads).
    fn cached_bytes(&self) -> u64;

    /// Whether the engine can run queries now (for `/health` and `/ready`): false while it cannot start the
    /// processes that run them.
    fn accepts_work(&self) -> bool;
}
