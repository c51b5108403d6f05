//! OpenAI-compatible implementation of Tabletalk's LLM port (OpenAI, vLLM, Ollama, llama.cpp server, LM Studio):
//! `POST <base_url>/chat/completions` with `stream: true` and `stream_options.include_usage`, function tools,
//! streamed `tool_calls` fragments accumulated by index, reasoning deltas as thoughts.
//!
//! Imports `tabletalk-ports` (and the shared SSE decoder) only: never the domain, http-api, server or another
//! adapter.

mod client;
mod errors;
mod parser;
mod request;

pub use client::{OpenAiClient, OpenAiSettings};
