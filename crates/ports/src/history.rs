//! Query history entries (docs/architecture.md, "Storage", `query_history`).

use crate::{ConversationId, Timestamp, UserId};

/// Who ran a query.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum QuerySource {
    SqlPanel,
    Llm,
}

impl QuerySource {
    /// The stored and wire spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::SqlPanel => "sql_panel",
            Self::Llm => "llm",
        }
    }

    /// Reads the stored spelling.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "sql_panel" => Some(Self::SqlPanel),
            "llm" => Some(Self::Llm),
            _ => None,
        }
    }
}

/// One executed query.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryHistoryEntry {
    pub id: crate::HistoryId,
    pub user_id: UserId,
    pub conversation_id: Option<ConversationId>,
    pub source: QuerySource,
    pub query: String,
    /// `None` on success; the translated message on failure.
    pub error_message: Option<String>,
    /// `total_rows` on success.
    pub row_count: Option<i64>,
    pub execution_time_ms: Option<f64>,
    pub is_starred: bool,
    pub created_at: Timestamp,
}

impl QueryHistoryEntry {
    /// `success` or `error`.
    pub const fn status(&self) -> &'static str {
        if self.error_message.is_some() {
            "error"
        } else {
            "success"
        }
    }
}

/// Which entries to list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueryHistoryFilter {
    pub limit: u32,
    pub offset: u64,
    pub starred: Option<bool>,
    pub source: Option<QuerySource>,
}
