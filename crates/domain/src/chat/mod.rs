//! Chat turns (docs/api.md, "Chat"): accepting a message, the tool loop with its caps, stop and cancellation, the
//! one-transaction persistence, and the events of docs/api.md, "WebSocket" published on the domain's bus.

mod cancel;
mod context;
mod helpers;
mod preview;
mod prompt;
mod service;
mod setup;
mod tools;
mod turn;
mod turns;

pub use cancel::{Cancel, CancelReason};
pub use helpers::{GeneratedSql, parse_generated};
pub use preview::{PreviewMessage, PromptPreview};
pub use prompt::{
    PromptLimits, TOOL_NAMES, system_prompt, tables_section, tool_declarations,
    tool_declarations_for,
};
pub use service::{Accepted, ChatError, ChatParts, ChatService, ChatSettings, title_from};
