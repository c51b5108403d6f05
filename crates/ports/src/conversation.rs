//! Conversations, their list summaries and the title rule.

use std::fmt;

use crate::{AssistantSetup, ConversationId, Timestamp, UserId};

/// Characters of the newest message shown in a conversation list.
pub const PREVIEW_CHARS: usize = 100;

/// A stored conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conversation {
    pub id: ConversationId,
    pub user_id: UserId,
    pub title: String,
    pub is_pinned: bool,
    /// Out of the default list; still readable, searchable and exportable. Sending a message clears it.
    pub is_archived: bool,
    /// Counter for automatic table names; only ever increases.
    pub next_table_number: i64,
    pub share_token: Option<String>,
    pub shared_at: Option<Timestamp>,
    /// What it copied from the assistant it was started from, if any (docs/api.md, "Assistants").
    pub assistant: Option<AssistantSetup>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl Conversation {
    /// A new, empty, untitled conversation.
    pub fn new(user_id: UserId, now: Timestamp) -> Self {
        Self {
            id: ConversationId::new(),
            user_id,
            title: String::new(),
            is_pinned: false,
            is_archived: false,
            next_table_number: 1,
            share_token: None,
            shared_at: None,
            assistant: None,
            created_at: now,
            updated_at: now,
        }
    }
}

/// A conversation as a list shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConversationSummary {
    pub conversation: Conversation,
    /// All datasets, any status.
    pub dataset_count: u64,
    pub message_count: u64,
    /// First [`PREVIEW_CHARS`] characters of the newest message's content.
    pub last_message_preview: Option<String>,
}

/// Why a title was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TitleError {
    #[error("must not be empty")]
    Empty,
    #[error("must be at most 100 characters")]
    TooLong,
}

/// A conversation title set by a user: trimmed, 1..=100 characters (Unicode scalar values).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConversationTitle(String);

impl ConversationTitle {
    /// Longest allowed title, in characters.
    pub const MAX_CHARS: usize = 100;

    /// Trims `raw` and checks its length.
    pub fn parse(raw: &str) -> Result<Self, TitleError> {
        let trimmed = raw.trim();
        match trimmed.chars().count() {
            0 => Err(TitleError::Empty),
            n if n > Self::MAX_CHARS => Err(TitleError::TooLong),
            _ => Ok(Self(trimmed.to_owned())),
        }
    }
}

impl AsRef<str> for ConversationTitle {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ConversationTitle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_are_trimmed_and_counted_in_characters() {
        assert_eq!(
            ConversationTitle::parse("  Sales  ").unwrap().as_ref(),
            "Sales"
        );
        assert_eq!(ConversationTitle::parse(""), Err(TitleError::Empty));
        assert_eq!(ConversationTitle::parse("   "), Err(TitleError::Empty));
        let hundred_wide = "é".repeat(100);
        assert!(ConversationTitle::parse(&hundred_wide).is_ok());
        assert_eq!(
            ConversationTitle::parse(&"x".repeat(101)),
            Err(TitleError::TooLong)
        );
    }
}
