//! The LLM port: one streaming call yielding provider-neutral events, so the turn loop is the same for Gemini
//! and OpenAI-compatible servers. JSON documents (tool parameters, arguments, results, provider state) cross the
//! port as JSON text, so `ports` needs no JSON library.

use std::future::poll_fn;
use std::pin::Pin;
use std::time::Duration;

use async_trait::async_trait;
use futures_core::Stream;

use crate::LlmProvider;

/// A tool the model may call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolDeclaration {
    pub name: String,
    pub description: String,
    /// JSON Schema (the `OpenAPI` subset) of the arguments object, as JSON text.
    pub parameters: String,
}

/// Whether the model may, must or must not call tools.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ToolMode {
    #[default]
    Auto,
    Required,
    None,
}

/// A function call the model made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolCall {
    /// The provider's call id, when it sends one (`OpenAI`-style servers always, Gemini sometimes).
    pub id: Option<String>,
    pub name: String,
    /// The arguments object, as JSON text.
    pub arguments: String,
}

/// The answer to one tool call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolResult {
    /// The id of the call it answers, echoed back when the call had one.
    pub call_id: Option<String>,
    pub name: String,
    /// The result (or error) as JSON text.
    pub content: String,
    pub is_error: bool,
}

/// Provider-specific state of an assistant turn (Gemini: the model `content` exactly as received, with its
/// thought signatures). The domain stores it with the turn and hands it back verbatim; only the adapter that made
/// it reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderState {
    pub provider: LlmProvider,
    /// Opaque JSON text.
    pub data: String,
}

/// One entry of the conversation sent to the model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LlmMessage {
    User {
        text: String,
    },
    Assistant {
        text: String,
        tool_calls: Vec<ToolCall>,
        provider_state: Option<ProviderState>,
    },
    ToolResults {
        results: Vec<ToolResult>,
    },
}

/// One model call.
#[derive(Debug, Clone, PartialEq)]
pub struct LlmRequest {
    pub model: String,
    pub system: String,
    pub messages: Vec<LlmMessage>,
    pub tools: Vec<ToolDeclaration>,
    pub tool_mode: ToolMode,
    /// Ask for thought summaries (Gemini `includeThoughts`).
    pub thinking: bool,
    pub temperature: Option<f64>,
    pub max_output_tokens: Option<u32>,
}

/// Token counts of one call, as the provider reported them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TokenCounts {
    pub input: u64,
    /// Everything generated, thoughts included.
    pub output: u64,
    /// The thought part of `output`.
    pub thoughts: u64,
}

/// Why the model stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FinishReason {
    Stop,
    ToolCalls,
    MaxTokens,
    Safety,
    Other(String),
}

/// What a stream yields, in order: deltas and calls as they arrive, then usage, then `Finished` last.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LlmEvent {
    TextDelta(String),
    ThoughtDelta(String),
    ToolCall(ToolCall),
    Usage(TokenCounts),
    Finished {
        reason: FinishReason,
        provider_state: Option<ProviderState>,
    },
}

/// Why a model call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LlmError {
    /// 429: try again after `retry_after` when the provider said how long.
    #[error("rate limited (HTTP {status}): {message}")]
    RateLimited {
        status: u16,
        retry_after: Option<Duration>,
        message: String,
    },
    /// 5xx or the connection failed before a byte of the response arrived.
    #[error("provider unavailable ({}): {message}", status.map_or_else(|| "no response".to_owned(), |s| format!("HTTP {s}")))]
    Unavailable {
        status: Option<u16>,
        message: String,
    },
    /// No byte for the idle timeout, or the call took longer than the call timeout.
    #[error("timed out: {message}")]
    Timeout {
        message: String,
        before_first_byte: bool,
    },
    /// The provider refused the request (bad argument, invalid key, unknown model).
    #[error("request refused (HTTP {status}): {message}")]
    InvalidRequest { status: u16, message: String },
    /// The prompt or the answer was blocked by the provider's safety system.
    #[error("blocked by the provider: {reason}")]
    Blocked { reason: String },
    /// The provider answered something that is not its protocol, or the stream broke off.
    #[error("bad response: {message}")]
    BadResponse { message: String },
    /// No LLM is configured on this server.
    #[error("no LLM is configured")]
    NotConfigured,
}

impl LlmError {
    /// Worth retrying when nothing has been delivered yet (docs/api.md, "Chat").
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::RateLimited { .. } | Self::Unavailable { .. } => true,
            Self::Timeout {
                before_first_byte, ..
            } => *before_first_byte,
            Self::InvalidRequest { .. }
            | Self::Blocked { .. }
            | Self::BadResponse { .. }
            | Self::NotConfigured => false,
        }
    }

    /// The provider's own wait hint.
    pub fn retry_hint(&self) -> Option<Duration> {
        match self {
            Self::RateLimited { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

/// The events of one call; dropping it cancels the call.
pub type LlmStream = Pin<Box<dyn Stream<Item = Result<LlmEvent, LlmError>> + Send>>;

/// A whole answer, for one-shot (auxiliary) calls.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LlmReply {
    pub text: String,
    pub thoughts: String,
    pub tool_calls: Vec<ToolCall>,
    pub usage: TokenCounts,
    pub finish_reason: Option<FinishReason>,
    pub provider_state: Option<ProviderState>,
}

/// A chat model reached over the network.
#[async_trait]
pub trait LlmClient: Send + Sync + 'static {
    /// Which provider this is (usage rows record it).
    fn provider(&self) -> LlmProvider;

    /// Starts a streaming call. An `Err` here means nothing of the response arrived (connection failure,
    /// non-success status); errors after that come through the stream.
    ///
    /// # Errors
    /// `RateLimited`, `Unavailable`, `Timeout`, `InvalidRequest` as the provider answered.
    async fn stream(&self, request: &LlmRequest) -> Result<LlmStream, LlmError>;

    /// A one-shot call built on the same stream: the whole answer at once.
    ///
    /// # Errors
    /// Any error of `stream`, or of the stream's events.
    async fn complete(&self, request: &LlmRequest) -> Result<LlmReply, LlmError> {
        let mut stream = self.stream(request).await?;
        let mut reply = LlmReply::default();
        while let Some(event) = poll_fn(|cx| stream.as_mut().poll_next(cx)).await {
            match event? {
                LlmEvent::TextDelta(text) => reply.text.push_str(&text),
                LlmEvent::ThoughtDelta(text) => reply.thoughts.push_str(&text),
                LlmEvent::ToolCall(call) => reply.tool_calls.push(call),
                LlmEvent::Usage(usage) => reply.usage = usage,
                LlmEvent::Finished {
                    reason,
                    provider_state,
                } => {
                    reply.finish_reason = Some(reason);
                    reply.provider_state = provider_state;
                }
            }
        }
        Ok(reply)
    }
}
