//! Dataset access for Tabletalk. So far: the SSRF-safe fetcher every outbound read of dataset data goes through
//! (behaviour.md §3.3) — address policy, pinned resolution, re-validated redirects. The DataFusion query engine,
//! the file cache and the dataset pipelines build on it.
//!
//! Imports `tabletalk-ports` and its own technology only: never the domain, http-api, server or another adapter.

pub mod fetch;
