//! Searching a user's conversations: the text searched for and what a search finds (docs/api.md, "Search").

use std::ops::Range;

use crate::{ConversationId, MessageId, MessageRole, Timestamp};

/// The text a search looks for: compared after Unicode lower-casing of both sides, every character literal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchText {
    lowered: String,
}

impl SearchText {
    /// `None` for an empty text.
    pub fn new(text: &str) -> Option<Self> {
        (!text.is_empty()).then(|| Self {
            lowered: text.to_lowercase(),
        })
    }

    /// The lower-cased text.
    pub fn as_str(&self) -> &str {
        &self.lowered
    }

    /// Whether `haystack` contains the text, ignoring case.
    pub fn matches(&self, haystack: &str) -> bool {
        self.find_in(haystack).is_some()
    }

    /// Where the first match lies in `haystack`, in characters of `haystack` (lower-casing may change how many
    /// characters a letter takes, so the match is located in the lowered text and mapped back).
    pub fn find_in(&self, haystack: &str) -> Option<Range<usize>> {
        let mut lowered = String::with_capacity(haystack.len());
        // For each byte offset of `lowered` at a character boundary: the index of the original character.
        let mut origin = Vec::with_capacity(haystack.len() + 1);
        for (index, c) in haystack.chars().enumerate() {
            for lower in c.to_lowercase() {
                origin.extend(std::iter::repeat_n(index, lower.len_utf8()));
                lowered.push(lower);
            }
        }
        let start = lowered.find(&self.lowered)?;
        let end = start + self.lowered.len();
        let first = origin[start];
        let last = origin[end - 1];
        Some(first..last + 1)
    }
}

/// A message of the searching user whose content matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageMatch {
    pub conversation_id: ConversationId,
    pub conversation_title: String,
    pub message_id: MessageId,
    pub role: MessageRole,
    pub content: String,
    pub created_at: Timestamp,
}

/// A conversation of the searching user whose title matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TitleMatch {
    pub conversation_id: ConversationId,
    pub title: String,
    /// The conversation's first message, where a client jumps to.
    pub first_message: Option<(MessageId, MessageRole)>,
    pub updated_at: Timestamp,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_ignore_case_and_map_back_to_the_original_characters() {
        let text = SearchText::new("STRASSE").unwrap();
        assert_eq!(text.find_in("Die Strasse hier"), Some(4..11));
        assert_eq!(SearchText::new("é").unwrap().find_in("CAFÉ"), Some(3..4));
        // 'İ' lower-cases to two characters; the match still covers the one original character.
        assert_eq!(SearchText::new("i̇x").unwrap().find_in("aİx"), Some(1..3));
        assert_eq!(SearchText::new("%_").unwrap().find_in("100%_"), Some(3..5));
        assert!(!SearchText::new("abc").unwrap().matches("ab c"));
        assert_eq!(SearchText::new(""), None);
    }
}
