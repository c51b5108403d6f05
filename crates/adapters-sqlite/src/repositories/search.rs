//! Searching a user's messages and titles (docs/api.md, "Search").
//!
//! Three ways to find the newest messages containing a text, chosen by what is cheapest for it:
//!
//! * **The trigram index** (`message_search`, an FTS5 table kept in step by triggers; see the migration) for texts
//!   of three characters or more that occur in fewer than [`COMMON`] messages: it yields the candidates,
//!   `message_search_keys` filters them by owner and orders them newest first, and only the page asked for is read
//!   from `messages`.
//! * **A newest-first walk with `LIKE`** for common texts and for texts too short for trigrams: the owner's messages
//!   in `(user_id, created_at)` index order, matched inside SQLite, stopping at the page size. A common text is
//!   found within a few hundred messages; a rare short one costs one pass over the owner's messages.
//! * For texts with non-ASCII letters, where `LIKE` folds no case, the index when it can, else the same walk with
//!   the check done here.
//!
//! Every candidate is checked again with [`SearchText::matches`] (Unicode lower-casing), so the answer is the same
//! whichever way found it. `LIKE` folds ASCII letters only, which for an ASCII text differs from Unicode
//! lower-casing in two letters alone: `K` (U+212A, Kelvin) and `İ` (U+0130) lower-case to ASCII letters that `LIKE`
//! does not see in them.

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use tabletalk_ports::{
    MessageId, MessageMatch, MessageRole, RepositoryError, SearchText, TitleMatch,
};

use crate::error::repository_error;
use crate::rows::{enumeration, parse};

/// Candidates read per round from the index; more rounds only when candidates fail the exact check.
const BATCH: usize = 64;
/// Messages per round of the walk that checks here (non-ASCII short texts).
const SCAN_BATCH: usize = 2_000;
/// A text the index finds in this many messages (of any user) is common: walking the owner's newest messages
/// finds a page of it sooner than sorting every match by time.
const COMMON: i64 = 1_000;

#[derive(QueryableByName)]
struct HitRow {
    #[diesel(sql_type = Text)]
    id: String,
    #[diesel(sql_type = Text)]
    conversation_id: String,
    #[diesel(sql_type = Text)]
    title: String,
    #[diesel(sql_type = Text)]
    role: String,
    #[diesel(sql_type = Text)]
    content: String,
    #[diesel(sql_type = Text)]
    created_at: String,
}

impl TryFrom<HitRow> for MessageMatch {
    type Error = RepositoryError;

    fn try_from(row: HitRow) -> Result<Self, Self::Error> {
        Ok(Self {
            conversation_id: parse(&row.conversation_id, "messages.conversation_id")?,
            conversation_title: row.title,
            message_id: parse(&row.id, "messages.id")?,
            role: enumeration(&row.role, "messages.role", MessageRole::parse)?,
            content: row.content,
            created_at: parse(&row.created_at, "messages.created_at")?,
        })
    }
}

/// The page of messages behind `keys`, a subquery yielding `message_id, created_at` newest first.
fn hits_query(keys: &str) -> String {
    format!(
        "SELECT m.id, m.conversation_id, c.title, m.role, m.content, m.created_at \
         FROM ({keys}) hit \
         JOIN messages m ON m.id = hit.message_id \
         JOIN conversations c ON c.id = m.conversation_id \
         ORDER BY hit.created_at DESC, hit.message_id DESC"
    )
}

const INDEXED_KEYS: &str = "SELECT k.message_id, k.created_at FROM message_search s \
     JOIN message_search_keys k ON k.key = s.rowid \
     WHERE message_search MATCH ? AND k.user_id = ? \
     ORDER BY k.created_at DESC, k.message_id DESC LIMIT ? OFFSET ?";

const SCANNED_KEYS: &str = "SELECT k.message_id, k.created_at FROM message_search_keys k \
     WHERE k.user_id = ? ORDER BY k.created_at DESC, k.message_id DESC LIMIT ? OFFSET ?";

/// The owner's messages matching a `LIKE` pattern, newest first: the `(user_id, created_at, message_id)` index
/// gives the order, so the walk stops at the limit.
const LIKE_KEYS: &str = "SELECT k.message_id, k.created_at FROM message_search_keys k \
     JOIN messages m ON m.id = k.message_id \
     WHERE k.user_id = ? AND m.content LIKE ? ESCAPE '\\' \
     ORDER BY k.created_at DESC, k.message_id DESC LIMIT ? OFFSET ?";

/// Up to [`COMMON`] index entries for the text: as many as there are when it is not common.
const INDEXED_COUNT: &str = "SELECT count(*) AS n FROM \
     (SELECT rowid FROM message_search WHERE message_search MATCH ? LIMIT ?)";

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// A `LIKE` pattern matching the text anywhere, every character literal.
pub(crate) fn like_pattern(text: &str) -> String {
    let mut pattern = String::with_capacity(text.len() + 2);
    pattern.push('%');
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// An FTS5 phrase: the text in double quotes, inner quotes doubled, so every character is literal.
fn phrase(text: &SearchText) -> String {
    format!("\"{}\"", text.as_str().replace('"', "\"\""))
}

fn to_i64(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// How a search finds its candidates.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Way {
    Index,
    Like,
    Walk,
}

fn way(conn: &mut SqliteConnection, text: &SearchText) -> Result<Way, RepositoryError> {
    let ascii = text.as_str().is_ascii();
    if text.as_str().chars().count() < 3 {
        return Ok(if ascii { Way::Like } else { Way::Walk });
    }
    if !ascii {
        return Ok(Way::Index);
    }
    let found: Count = diesel::sql_query(INDEXED_COUNT)
        .bind::<Text, _>(phrase(text))
        .bind::<BigInt, _>(COMMON)
        .get_result(conn)
        .map_err(repository_error)?;
    Ok(if found.n < COMMON {
        Way::Index
    } else {
        Way::Like
    })
}

pub(crate) fn search_messages(
    conn: &mut SqliteConnection,
    owner: &str,
    text: &SearchText,
    limit: usize,
) -> Result<Vec<MessageMatch>, RepositoryError> {
    let way = way(conn, text)?;
    let batch = match way {
        Way::Index | Way::Like => BATCH.max(limit),
        Way::Walk => SCAN_BATCH,
    };
    let mut found = Vec::new();
    let mut offset = 0;
    while found.len() < limit {
        let page = (to_i64(batch), to_i64(offset));
        let rows: Vec<HitRow> = match way {
            Way::Index => diesel::sql_query(hits_query(INDEXED_KEYS))
                .bind::<Text, _>(phrase(text))
                .bind::<Text, _>(owner)
                .bind::<BigInt, _>(page.0)
                .bind::<BigInt, _>(page.1)
                .load(conn),
            Way::Like => diesel::sql_query(hits_query(LIKE_KEYS))
                .bind::<Text, _>(owner)
                .bind::<Text, _>(like_pattern(text.as_str()))
                .bind::<BigInt, _>(page.0)
                .bind::<BigInt, _>(page.1)
                .load(conn),
            Way::Walk => diesel::sql_query(hits_query(SCANNED_KEYS))
                .bind::<Text, _>(owner)
                .bind::<BigInt, _>(page.0)
                .bind::<BigInt, _>(page.1)
                .load(conn),
        }
        .map_err(repository_error)?;
        let exhausted = rows.len() < batch;
        for row in rows {
            if found.len() < limit && text.matches(&row.content) {
                found.push(MessageMatch::try_from(row)?);
            }
        }
        if exhausted {
            break;
        }
        offset += batch;
    }
    Ok(found)
}

#[derive(QueryableByName)]
struct TitleRow {
    #[diesel(sql_type = Text)]
    id: String,
    #[diesel(sql_type = Text)]
    title: String,
    #[diesel(sql_type = Text)]
    updated_at: String,
}

#[derive(QueryableByName)]
struct FirstMessageRow {
    #[diesel(sql_type = Text)]
    id: String,
    #[diesel(sql_type = Text)]
    role: String,
}

/// Titles are short and one per conversation: the owner's titles are read through the `(user_id, …)` index,
/// narrowed with `LIKE` inside SQLite when the text is ASCII, and checked here.
pub(crate) fn search_titles(
    conn: &mut SqliteConnection,
    owner: &str,
    text: &SearchText,
    limit: usize,
) -> Result<Vec<TitleMatch>, RepositoryError> {
    // Without a narrowing pattern, `LIKE '%'` keeps every title.
    let pattern = if text.as_str().is_ascii() {
        like_pattern(text.as_str())
    } else {
        "%".to_owned()
    };
    let titles: Vec<TitleRow> = diesel::sql_query(
        "SELECT id, title, updated_at FROM conversations \
         WHERE user_id = ? AND title <> '' AND title LIKE ? ESCAPE '\\' \
         ORDER BY updated_at DESC, id DESC",
    )
    .bind::<Text, _>(owner)
    .bind::<Text, _>(pattern)
    .load(conn)
    .map_err(repository_error)?;
    titles
        .into_iter()
        .filter(|row| text.matches(&row.title))
        .take(limit)
        .map(|row| {
            let first: Option<FirstMessageRow> = diesel::sql_query(
                "SELECT id, role FROM messages WHERE conversation_id = ? \
                 ORDER BY created_at, id LIMIT 1",
            )
            .bind::<Text, _>(&row.id)
            .get_result(conn)
            .optional()
            .map_err(repository_error)?;
            let first_message = first
                .map(|m| -> Result<(MessageId, MessageRole), RepositoryError> {
                    Ok((
                        parse(&m.id, "messages.id")?,
                        enumeration(&m.role, "messages.role", MessageRole::parse)?,
                    ))
                })
                .transpose()?;
            Ok(TitleMatch {
                conversation_id: parse(&row.id, "conversations.id")?,
                title: row.title,
                first_message,
                updated_at: parse(&row.updated_at, "conversations.updated_at")?,
            })
        })
        .collect()
}
