//! Operational measurements (docs/operations.md, "Metrics"): what the domain and the adapters report as it happens,
//! and the text a scrape reads. The exposition format belongs to the adapter; nothing here names it.

use std::time::Duration;

use crate::{CallKind, QuerySource};

/// How a chat turn ended, as the turn counter labels it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TurnEnd {
    Complete,
    Stopped,
    Error,
    /// Not started: budget spent, a turn already running, or the server at its turn limit.
    Refused,
}

impl TurnEnd {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Complete => "complete",
            Self::Stopped => "stopped",
            Self::Error => "error",
            Self::Refused => "refused",
        }
    }
}

/// How one model call went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LlmCallEnd {
    Success,
    /// The provider refused or failed the call.
    Error,
    /// The provider stayed overloaded through the retries.
    Unavailable,
}

impl LlmCallEnd {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Error => "error",
            Self::Unavailable => "unavailable",
        }
    }
}

/// Who asked for a query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueryOrigin {
    SqlPanel,
    Llm,
    Preview,
    Profile,
}

impl QueryOrigin {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::SqlPanel => "sql_panel",
            Self::Llm => "llm",
            Self::Preview => "preview",
            Self::Profile => "profile",
        }
    }
}

impl From<QuerySource> for QueryOrigin {
    fn from(source: QuerySource) -> Self {
        match source {
            QuerySource::SqlPanel => Self::SqlPanel,
            QuerySource::Llm => Self::Llm,
        }
    }
}

/// How a query ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueryEnd {
    Success,
    /// Answered from the result cache without running.
    Cached,
    Error,
    Timeout,
    /// Stopped at the memory limit.
    Memory,
}

impl QueryEnd {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Cached => "cached",
            Self::Error => "error",
            Self::Timeout => "timeout",
            Self::Memory => "memory",
        }
    }
}

/// What dataset bytes were fetched for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FetchKind {
    /// Range reads of a remote Parquet file by a query or a schema read.
    Range,
    /// A whole file downloaded into the file cache.
    Download,
    /// The first bytes read to tell a file's format.
    Probe,
}

impl FetchKind {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Range => "range",
            Self::Download => "download",
            Self::Probe => "probe",
        }
    }
}

/// Values read at scrape time rather than counted as they happen.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Gauges {
    pub queries_queued: usize,
    pub queries_running: usize,
    pub file_cache_bytes: u64,
}

/// Where measurements go. Every method is cheap and never fails: measuring must not change what it measures.
pub trait Telemetry: Send + Sync + 'static {
    /// One HTTP request; `route` is the matched pattern (`/conversations/{conversation_id}`), never the raw path.
    fn http_request(&self, method: &str, route: &str, status: u16, elapsed: Duration);
    /// A chat turn ended; `elapsed` is `None` for a refused one.
    fn turn_finished(&self, end: TurnEnd, elapsed: Option<Duration>);
    /// One model call (after its retries).
    fn llm_call(&self, provider: &str, kind: CallKind, end: LlmCallEnd);
    /// Tokens recorded for a call.
    fn llm_tokens(&self, provider: &str, model: &str, kind: CallKind, input: u64, output: u64);
    /// A query ended.
    fn query_finished(&self, origin: QueryOrigin, end: QueryEnd, elapsed: Duration);
    /// Dataset bytes received from a remote server.
    fn fetched(&self, kind: FetchKind, bytes: u64);
    /// A WebSocket connection opened (`+1`) or closed (`-1`).
    fn websockets_changed(&self, delta: i64);
    /// Events not delivered to a WebSocket; `reason` is a short label (`queue_full`, `lagged`, `write_timeout`).
    fn websocket_events_dropped(&self, reason: &'static str, count: u64);
    /// Everything measured so far, in the adapter's exposition format, with `gauges` as they are now.
    fn render(&self, gauges: Gauges) -> String;
}

/// Measures nothing: `observability.metrics_enabled = false`, and tests that do not look.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoTelemetry;

impl Telemetry for NoTelemetry {
    fn http_request(&self, _: &str, _: &str, _: u16, _: Duration) {}
    fn turn_finished(&self, _: TurnEnd, _: Option<Duration>) {}
    fn llm_call(&self, _: &str, _: CallKind, _: LlmCallEnd) {}
    fn llm_tokens(&self, _: &str, _: &str, _: CallKind, _: u64, _: u64) {}
    fn query_finished(&self, _: QueryOrigin, _: QueryEnd, _: Duration) {}
    fn fetched(&self, _: FetchKind, _: u64) {}
    fn websockets_changed(&self, _: i64) {}
    fn websocket_events_dropped(&self, _: &'static str, _: u64) {}
    fn render(&self, _: Gauges) -> String {
        String::new()
    }
}
