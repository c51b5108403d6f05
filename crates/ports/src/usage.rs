//! Token usage rows: one per chat turn and one per auxiliary LLM call.

use crate::{ConversationId, MessageId, Timestamp, UsageId, UserId};

/// What an LLM call was for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallKind {
    Chat,
    ExplainSql,
    GenerateSql,
}

impl CallKind {
    /// The stored spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Chat => "chat",
            Self::ExplainSql => "explain_sql",
            Self::GenerateSql => "generate_sql",
        }
    }
}

/// Which provider answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LlmProvider {
    Gemini,
    OpenAi,
}

impl LlmProvider {
    /// The stored spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Gemini => "gemini",
            Self::OpenAi => "openai",
        }
    }
}

/// A token-usage row to store.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenUsage {
    pub id: UsageId,
    pub user_id: UserId,
    pub conversation_id: Option<ConversationId>,
    pub message_id: Option<MessageId>,
    pub call_kind: CallKind,
    pub provider: LlmProvider,
    pub model_name: String,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub estimated: bool,
    pub cost: f64,
    pub timestamp: Timestamp,
}

/// What the budget needs of one usage row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UsageEntry {
    pub timestamp: Timestamp,
    /// `input_tokens + output_tokens`.
    pub tokens: i64,
}
