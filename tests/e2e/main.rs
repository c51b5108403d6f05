//! Tabletalk's end-to-end suite: one test binary, one module per feature. Every test owns its world (temp
//! dir, SQLite file, port), so everything runs in parallel.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::too_many_lines,
    reason = "test code: a failed step is a failed test"
)]

mod admission;
mod archive;
mod assistants;
mod auth;
mod binary;
mod chat;
mod chat_sessions;
mod clustered_groups;
mod config;
mod conjunctions;
mod contract;
mod conversations;
mod datasets;
mod decimal_arithmetic;
mod dictionary_groups;
mod eager_aggregation;
mod engine_options;
mod export;
mod filtered_aggregates;
mod float_comparisons;
mod fork;
mod group_top_k;
mod helpers;
mod http_conventions;
mod isolation;
mod join_sides;
mod like_patterns;
mod llm_gemini;
mod llm_openai;
mod local_reads;
mod metrics;
mod oidc;
mod process;
mod query_engine;
mod range_cache;
mod saved_queries;
mod scan_filters;
mod search;
mod shared_subplans;
mod sharing;
mod short_keys;
mod single_copy_filters;
mod ssrf;
mod storage;
mod tool_access;
mod transfer;
mod usage;
mod web_client;
mod workspace;
