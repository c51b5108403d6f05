//! What the server and a query worker say to each other over the worker's stdin and stdout: length-prefixed
//! JSON frames. The server sends one `Hello`, then one `Job` at a time; the worker answers `Ready` once, then one
//! `Reply` per job. Nothing else crosses the pipe, so a worker that dies mid-job leaves nothing half-read behind:
//! the server kills it and starts another.

use std::io::{self, Read, Write};
use std::path::PathBuf;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tabletalk_ports::{QueryColumn, QueryOutput, SqlProblem};

/// A frame larger than this is a broken peer, not a result (results are capped at `query.max_returned_rows`).
const MAX_FRAME_BYTES: u32 = 1 << 30;

/// What a worker needs before its first job: how remote datasets may be reached.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Hello {
    pub allow_private_networks: bool,
    pub allowed_hosts: Vec<String>,
    /// `address/prefix`.
    pub allowed_cidrs: Vec<String>,
    pub user_agent: String,
    pub probe_timeout_ms: u64,
    /// Where the footers of remote Parquet files are kept (`remote::TailCache`), shared with the server.
    pub footers_dir: PathBuf,
    /// Where ranges of remote Parquet files are kept (`remote::RangeCache`), shared with the server, and its cap
    /// (0 keeps nothing).
    #[serde(default)]
    pub ranges_dir: PathBuf,
    #[serde(default)]
    pub ranges_max_bytes: u64,
}

/// A table whose content is a file on this machine (an upload or a leased cache entry).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct LocalFile {
    pub name: String,
    pub path: PathBuf,
    /// `DatasetFormat::as_str`.
    pub format: String,
    /// Stored `(name, SQL type)` of text formats; empty to infer.
    pub columns: Vec<(String, String)>,
}

/// Remote Parquet read with range requests through the SSRF guard.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct RemoteFile {
    pub name: String,
    /// The object path under the guarded store (a digest of URL and version).
    pub object_path: String,
    pub url: String,
    pub etag: Option<String>,
    pub size: u64,
}

/// One query, with everything it reads already resolved by the server.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Job {
    pub sql: String,
    pub auto_limit: u64,
    pub kept_rows: u64,
    pub file_order: bool,
    pub memory_limit: u64,
    pub max_join_rows: u64,
    pub local: Vec<LocalFile>,
    pub remote: Vec<RemoteFile>,
    /// `(table, column, min, max)` of integer columns, for the eager-aggregation rule.
    pub key_ranges: Vec<(String, String, i64, i64)>,
    /// `(table, rows)` as recorded when each dataset was added, for the join limit.
    pub row_counts: Vec<(String, u64)>,
}

/// A finished query.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Output {
    pub columns: Vec<(String, String)>,
    pub rows: Vec<Vec<serde_json::Value>>,
    pub total_rows: u64,
    pub limit_applied: bool,
    pub execution_ms: f64,
}

/// Why a job failed, as the worker saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Failure {
    ReadOnlyViolation,
    Sql {
        problem: SqlProblem,
        raw: String,
    },
    MemoryExceeded,
    DatasetUnavailable {
        name: String,
        reason: String,
    },
    DatasetChanged {
        url: String,
    },
    /// A remote Parquet server ignored `Range`: the server caches the whole file and tries again.
    RangeUnsupported {
        table: String,
    },
    JoinTooLarge {
        tables: String,
        estimate: u128,
        limit: u64,
    },
    Internal {
        reason: String,
    },
}

/// The worker's answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) enum Reply {
    /// Started and waiting for jobs.
    Ready,
    /// One job's outcome. `recycle`: the worker holds much more memory than when it started (allocators keep
    /// freed memory), so the server replaces it instead of giving it the next job.
    Done {
        outcome: Result<Output, Failure>,
        recycle: bool,
        /// Bytes of remote datasets the job fetched, for the server's metrics (the worker has none of its own).
        #[serde(default)]
        fetched_bytes: u64,
    },
}

impl From<QueryOutput> for Output {
    fn from(output: QueryOutput) -> Self {
        Self {
            columns: output
                .columns
                .into_iter()
                .map(|c| (c.name, c.sql_type))
                .collect(),
            rows: output.rows,
            total_rows: output.total_rows,
            limit_applied: output.limit_applied,
            execution_ms: output.execution_ms,
        }
    }
}

impl From<Output> for QueryOutput {
    fn from(output: Output) -> Self {
        Self {
            columns: output
                .columns
                .into_iter()
                .map(|(name, sql_type)| QueryColumn { name, sql_type })
                .collect(),
            rows: output.rows,
            total_rows: output.total_rows,
            limit_applied: output.limit_applied,
            execution_ms: output.execution_ms,
        }
    }
}

/// Writes one frame and flushes it.
pub(crate) fn write_frame<T: Serialize>(to: &mut impl Write, value: &T) -> io::Result<()> {
    let body = serde_json::to_vec(value).map_err(io::Error::other)?;
    let length = u32::try_from(body.len())
        .ok()
        .filter(|l| *l <= MAX_FRAME_BYTES)
        .ok_or_else(|| io::Error::other("frame too large"))?;
    to.write_all(&length.to_le_bytes())?;
    to.write_all(&body)?;
    to.flush()
}

/// Reads one frame; `UnexpectedEof` when the peer closed the pipe.
pub(crate) fn read_frame<T: DeserializeOwned>(from: &mut impl Read) -> io::Result<T> {
    let mut length = [0_u8; 4];
    from.read_exact(&mut length)?;
    let length = u32::from_le_bytes(length);
    if length > MAX_FRAME_BYTES {
        return Err(io::Error::other("frame too large"));
    }
    let mut body = vec![0_u8; length as usize];
    from.read_exact(&mut body)?;
    serde_json::from_slice(&body).map_err(io::Error::other)
}

/// The same framing over tokio's pipes, for the server side.
pub(crate) mod nonblocking {
    use std::io;

    use serde::Serialize;
    use serde::de::DeserializeOwned;
    use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

    use super::MAX_FRAME_BYTES;

    pub(crate) async fn write_frame<T: Serialize>(
        to: &mut (impl AsyncWrite + Unpin),
        value: &T,
    ) -> io::Result<()> {
        let body = serde_json::to_vec(value).map_err(io::Error::other)?;
        let length = u32::try_from(body.len())
            .ok()
            .filter(|l| *l <= MAX_FRAME_BYTES)
            .ok_or_else(|| io::Error::other("frame too large"))?;
        let mut frame = Vec::with_capacity(body.len() + 4);
        frame.extend_from_slice(&length.to_le_bytes());
        frame.extend_from_slice(&body);
        to.write_all(&frame).await?;
        to.flush().await
    }

    pub(crate) async fn read_frame<T: DeserializeOwned>(
        from: &mut (impl AsyncRead + Unpin),
    ) -> io::Result<T> {
        let length = from.read_u32_le().await?;
        if length > MAX_FRAME_BYTES {
            return Err(io::Error::other("frame too large"));
        }
        let mut body = vec![0_u8; length as usize];
        from.read_exact(&mut body).await?;
        serde_json::from_slice(&body).map_err(io::Error::other)
    }
}
