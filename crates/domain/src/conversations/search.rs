//! Search over a user's conversations (docs/api.md, "Search"): message content and titles, case-insensitive
//! substring matching, newest first, with a snippet around the first match.

use tabletalk_ports::{
    ConversationId, MessageId, MessageMatch, MessageRole, SearchText, Timestamp, TitleMatch,
};

use crate::input::InvalidInput;

/// Characters of context kept on each side of the match in a snippet.
const SNIPPET_CONTEXT: usize = 50;

/// A validated search: the text (trimmed, 1 to 200 characters) and how many results to return (1 to 50).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchQuery {
    text: SearchText,
    limit: usize,
}

impl SearchQuery {
    pub const MAX_CHARS: usize = 200;
    const DEFAULT_LIMIT: usize = 20;
    const MAX_LIMIT: usize = 50;

    /// `q` and `limit` as given: a missing or blank `q` is refused; a limit below 1 becomes 20 and one above 50
    /// becomes 50.
    pub fn parse(q: Option<&str>, limit: Option<i64>) -> Result<Self, InvalidInput> {
        let trimmed = q.map(str::trim).unwrap_or_default();
        if trimmed.chars().count() > Self::MAX_CHARS {
            return Err(InvalidInput {
                field: "q",
                message: "Query parameter 'q' must be at most 200 characters",
            });
        }
        let text = SearchText::new(trimmed).ok_or(InvalidInput {
            field: "q",
            message: "Query parameter 'q' is required",
        })?;
        let limit = match limit {
            Some(n) if n < 1 => Self::DEFAULT_LIMIT,
            Some(n) => usize::try_from(n).map_or(Self::MAX_LIMIT, |n| n.min(Self::MAX_LIMIT)),
            None => Self::DEFAULT_LIMIT,
        };
        Ok(Self { text, limit })
    }

    pub const fn text(&self) -> &SearchText {
        &self.text
    }

    pub const fn limit(&self) -> usize {
        self.limit
    }
}

/// Where a result matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchedIn {
    Content,
    /// The conversation's title; the result points at its first message.
    Title,
}

/// One search result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchResult {
    pub conversation_id: ConversationId,
    pub conversation_title: String,
    pub message_id: MessageId,
    pub message_role: MessageRole,
    pub snippet: String,
    /// The message's time for a content match; the conversation's last update for a title match.
    pub created_at: Timestamp,
    pub matched: MatchedIn,
}

/// From 50 characters before to 50 after the first match, with `...` where the text was cut.
pub fn snippet(text: &str, query: &SearchText) -> String {
    let Some(found) = query.find_in(text) else {
        return text.chars().take(2 * SNIPPET_CONTEXT).collect();
    };
    let total = text.chars().count();
    let start = found.start.saturating_sub(SNIPPET_CONTEXT);
    let end = (found.end + SNIPPET_CONTEXT).min(total);
    let mut out = String::new();
    if start > 0 {
        out.push_str("...");
    }
    out.extend(text.chars().skip(start).take(end - start));
    if end < total {
        out.push_str("...");
    }
    out
}

/// Content matches and title matches merged newest first; a conversation already found by its content is not
/// repeated for its title, and a title of a conversation without messages has nothing to point at.
pub(super) fn merge(
    query: &SearchQuery,
    contents: Vec<MessageMatch>,
    titles: Vec<TitleMatch>,
) -> Vec<SearchResult> {
    let mut results: Vec<SearchResult> = contents
        .into_iter()
        .map(|m| SearchResult {
            snippet: snippet(&m.content, query.text()),
            conversation_id: m.conversation_id,
            conversation_title: m.conversation_title,
            message_id: m.message_id,
            message_role: m.role,
            created_at: m.created_at,
            matched: MatchedIn::Content,
        })
        .collect();
    for title in titles {
        if results
            .iter()
            .any(|r| r.conversation_id == title.conversation_id)
        {
            continue;
        }
        let Some((message_id, message_role)) = title.first_message else {
            continue;
        };
        results.push(SearchResult {
            snippet: snippet(&title.title, query.text()),
            conversation_id: title.conversation_id,
            conversation_title: title.title,
            message_id,
            message_role,
            created_at: title.updated_at,
            matched: MatchedIn::Title,
        });
    }
    results.sort_by_key(|r| std::cmp::Reverse((r.created_at, r.message_id)));
    results.truncate(query.limit());
    results
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_are_trimmed_required_and_limits_clamped() {
        let q = SearchQuery::parse(Some("  Sales "), None).unwrap();
        assert_eq!((q.text().as_str(), q.limit()), ("sales", 20));
        assert_eq!(SearchQuery::parse(Some("x"), Some(0)).unwrap().limit(), 20);
        assert_eq!(SearchQuery::parse(Some("x"), Some(-5)).unwrap().limit(), 20);
        assert_eq!(SearchQuery::parse(Some("x"), Some(51)).unwrap().limit(), 50);
        assert_eq!(SearchQuery::parse(Some("x"), Some(7)).unwrap().limit(), 7);
        for blank in [None, Some(""), Some("   ")] {
            assert_eq!(
                SearchQuery::parse(blank, None).unwrap_err().message,
                "Query parameter 'q' is required"
            );
        }
        assert!(SearchQuery::parse(Some(&"é".repeat(200)), None).is_ok());
        assert!(SearchQuery::parse(Some(&"é".repeat(201)), None).is_err());
    }

    #[test]
    fn snippets_keep_fifty_characters_each_side_and_mark_cuts() {
        let q = SearchText::new("NEEDLE").unwrap();
        assert_eq!(snippet("a needle here", &q), "a needle here");
        let long = format!("{}needle{}", "x".repeat(60), "y".repeat(70));
        assert_eq!(
            snippet(&long, &q),
            format!("...{}needle{}...", "x".repeat(50), "y".repeat(50))
        );
        let accented = format!("{}Needle", "é".repeat(51));
        assert_eq!(
            snippet(&accented, &q),
            format!("...{}Needle", "é".repeat(50))
        );
    }
}
