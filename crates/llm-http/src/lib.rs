//! HTTP streaming support shared by Tabletalk's LLM adapters, so they need not import each other:
//! a `text/event-stream` decoder with no I/O of its own (any split of the bytes, CRLF/LF/CR line ends),
//! [`parse_stream`] which reads a body with idle and total timeouts through a provider's [`EventParser`], and
//! [`start_stream`], the skeleton of one streaming call.
//!
//! Imports `tabletalk-ports` and its own technology only: never the domain, http-api, server or an adapter.

mod call;
mod sse;
mod stream;

pub use call::{CallTimeouts, ErrorMapper, http_client, start_stream};
pub use sse::{SseDecoder, SseEvent};
pub use stream::{EventParser, ReadFailure, Timeouts, parse_stream};
