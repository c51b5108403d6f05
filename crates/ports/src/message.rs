//! Chat messages.

use crate::{ConversationId, MessageId, Timestamp};

/// Who wrote a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageRole {
    User,
    Assistant,
}

impl MessageRole {
    /// The stored and wire spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Assistant => "assistant",
        }
    }

    /// Reads the stored spelling.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "user" => Some(Self::User),
            "assistant" => Some(Self::Assistant),
            _ => None,
        }
    }
}

/// How a message ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageStatus {
    Complete,
    Stopped,
    Error,
}

impl MessageStatus {
    /// The stored and wire spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Complete => "complete",
            Self::Stopped => "stopped",
            Self::Error => "error",
        }
    }

    /// Reads the stored spelling.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "complete" => Some(Self::Complete),
            "stopped" => Some(Self::Stopped),
            "error" => Some(Self::Error),
            _ => None,
        }
    }
}

/// A stored message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub id: MessageId,
    pub conversation_id: ConversationId,
    pub role: MessageRole,
    pub content: String,
    pub status: MessageStatus,
    pub error_message: Option<String>,
    /// JSON array of SQL executions, as text.
    pub sql_query: Option<String>,
    pub reasoning: Option<String>,
    /// JSON array of trace entries, as text.
    pub tool_call_trace: Option<String>,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub model: Option<String>,
    pub created_at: Timestamp,
}

impl Message {
    /// A complete user message with no tool data.
    pub fn user(
        conversation_id: ConversationId,
        content: impl Into<String>,
        now: Timestamp,
    ) -> Self {
        Self {
            id: MessageId::new(),
            conversation_id,
            role: MessageRole::User,
            content: content.into(),
            status: MessageStatus::Complete,
            error_message: None,
            sql_query: None,
            reasoning: None,
            tool_call_trace: None,
            input_tokens: 0,
            output_tokens: 0,
            model: None,
            created_at: now,
        }
    }

    /// `input_tokens + output_tokens`.
    pub const fn token_count(&self) -> i64 {
        self.input_tokens + self.output_tokens
    }
}
