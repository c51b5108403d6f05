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

/// One SQL statement run while answering, as the user sees it under the answer.
#[derive(Debug, Clone, PartialEq)]
pub struct SqlExecution {
    pub query: String,
    pub outcome: ExecutionOutcome,
}

/// How a statement run while answering ended.
#[derive(Debug, Clone, PartialEq)]
pub enum ExecutionOutcome {
    Succeeded(ExecutionResult),
    /// The message the user saw (worded for people; a stop says so).
    Failed {
        error: String,
    },
    /// Only the statement is known: it came in an import without its result.
    NotRecorded,
}

/// A statement's result as kept with the answer.
#[derive(Debug, Clone, PartialEq)]
pub struct ExecutionResult {
    pub columns: Vec<String>,
    /// Cells encoded as the query port encodes them (docs/api.md, "Result cells").
    pub rows: Vec<Vec<serde_json::Value>>,
    pub total_rows: u64,
    pub execution_ms: f64,
    pub limit_applied: bool,
}

impl SqlExecution {
    /// The result, when the statement succeeded.
    pub const fn result(&self) -> Option<&ExecutionResult> {
        match &self.outcome {
            ExecutionOutcome::Succeeded(result) => Some(result),
            ExecutionOutcome::Failed { .. } | ExecutionOutcome::NotRecorded => None,
        }
    }
}

/// One step of how an answer came about, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum TraceStep {
    /// Answer text streamed in one run (consecutive chunks merged).
    Text(String),
    /// Model reasoning streamed in one run.
    Reasoning(String),
    /// A tool call: its name, the arguments the model sent (JSON, `null` when they did not parse) and the result
    /// text the model got back (cut to a bounded length).
    ToolCall {
        tool: String,
        args: serde_json::Value,
        result: String,
    },
}

/// A stored message.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub id: MessageId,
    pub conversation_id: ConversationId,
    pub role: MessageRole,
    pub content: String,
    pub status: MessageStatus,
    pub error_message: Option<String>,
    /// The statements run for this answer, in order (empty for user messages).
    pub sql_executions: Vec<SqlExecution>,
    pub reasoning: Option<String>,
    /// How the answer came about (empty for user messages).
    pub trace: Vec<TraceStep>,
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
            sql_executions: Vec::new(),
            reasoning: None,
            trace: Vec::new(),
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
