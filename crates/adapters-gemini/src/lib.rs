//! Google Gemini implementation of Tabletalk's LLM port: `streamGenerateContent?alt=sse` with the system
//! instruction, user/model contents (function calls and responses), function declarations, tool config and
//! generation config (thinking with `includeThoughts`). The model's content is kept exactly as received, thought
//! signatures included, as the turn's provider state and replayed verbatim. The API key travels only in the
//! `x-goog-api-key` header and is never logged.
//!
//! Imports `tabletalk-ports` (and the shared SSE decoder) only: never the domain, http-api, server or another
//! adapter.

mod client;
mod errors;
mod parser;
mod request;

pub use client::{GeminiClient, GeminiSettings};
