//! Dataset access for Tabletalk: the DataFusion query engine (`engine`: sandbox, limits, fair admission, row caps,
//! cell encoding, error classification), run in worker processes (`isolation`), and the SSRF-safe fetcher every
//! outbound read of dataset data goes through (`fetch`; docs/api.md, "Datasets"). The file cache, remote tables
//! over the guarded fetcher and the dataset pipelines build on them.
//!
//! Imports `tabletalk-ports` and its own technology only: never the domain, http-api, server or another adapter.

pub mod content;
pub mod engine;
pub mod fetch;
pub mod files;
pub mod isolation;
pub mod page_cache;
pub mod remote;
