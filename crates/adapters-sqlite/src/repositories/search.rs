//! Searching a user's messages and titles (docs/api.md, "Search").
//!
//! Four ways to find the newest messages containing a text, chosen by what is cheapest for it:
//!
//! * **The trigram index** (`message_search`, an FTS5 table kept in step by triggers; see the migration) for texts
//!   of three characters or more found in fewer than [`COMMON`] of the owner's messages: one pass over the index
//!   collects the owner's candidates with their times (from `message_search_keys`), they are ordered newest first
//!   here, and only the page asked for is read from `messages`.
//! * **A newest-first walk with `LIKE`** for common texts: the owner's messages in `(user_id, created_at)` index
//!   order, matched inside SQLite, stopping at the page size. A common text is found within a few hundred messages.
//! * **Texts of one or two characters** first look among the owner's newest [`RECENT`] messages (enough for any
//!   common one); if a page is not found there, the index's terms that begin with the text (every message is
//!   indexed with two U+0001 after it, so every character begins a trigram) are read from `message_search_terms`
//!   and their matches collected as for a longer text.
//! * For texts with non-ASCII letters, where `LIKE` folds no case, the index when it can, else a walk with the check
//!   done here.
//!
//! Every candidate is checked again with [`SearchText::matches`] (Unicode lower-casing), so the answer is the same
//! whichever way found it. `LIKE` folds ASCII letters only, which for an ASCII text differs from Unicode
//! lower-casing in two letters alone: `K` (U+212A, Kelvin) and `İ` (U+0130) lower-case to ASCII letters that `LIKE`
//! does not see in them. Likewise the index folds case with SQLite's own Unicode tables (one character to one),
//! so a letter whose lower case is longer than one character can hide a message from a non-ASCII text.

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
/// A text the index finds in this many of the owner's messages is common: walking the owner's newest messages
/// finds a page of it sooner than collecting and sorting every match.
const COMMON: i64 = 1_000;
/// How many of the owner's newest messages a one- or two-character text is first looked for in.
const RECENT: usize = 2_000;

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

const SCANNED_KEYS: &str = "SELECT k.message_id, k.created_at FROM message_search_keys k \
     WHERE k.user_id = ? ORDER BY k.created_at DESC, k.message_id DESC LIMIT ? OFFSET ?";

/// The owner's messages matching a `LIKE` pattern, newest first: the `(user_id, created_at, message_id)` index
/// gives the order, so the walk stops at the limit.
const LIKE_KEYS: &str = "SELECT k.message_id, k.created_at FROM message_search_keys k \
     JOIN messages m ON m.id = k.message_id \
     WHERE k.user_id = ? AND m.content LIKE ? ESCAPE '\\' \
     ORDER BY k.created_at DESC, k.message_id DESC LIMIT ? OFFSET ?";

/// The owner's newest messages (at most `?`) that match a `LIKE` pattern.
const RECENT_LIKE: &str = "SELECT k.message_id, k.created_at FROM \
     (SELECT message_id, created_at FROM message_search_keys WHERE user_id = ? \
      ORDER BY created_at DESC, message_id DESC LIMIT ?) k \
     JOIN messages m ON m.id = k.message_id WHERE m.content LIKE ? ESCAPE '\\' \
     ORDER BY k.created_at DESC, k.message_id DESC LIMIT ? OFFSET ?";

/// The index's terms (trigrams) that begin with a text.
const TERMS: &str = "SELECT term AS value FROM message_search_terms WHERE term >= ? AND term < ?";

#[derive(QueryableByName)]
struct Term {
    #[diesel(sql_type = Text)]
    value: String,
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

#[derive(QueryableByName)]
struct KeyRow {
    #[diesel(sql_type = Text)]
    message_id: String,
    #[diesel(sql_type = Text)]
    created_at: String,
}

/// The owner's index matches, at most `cap` of them, in index order.
const INDEX_CANDIDATES: &str = "SELECT k.message_id, k.created_at FROM message_search s \
     JOIN message_search_keys k ON k.key = s.rowid \
     WHERE message_search MATCH ? AND k.user_id = ? LIMIT ?";

/// The messages behind a JSON array of ids.
const HITS_BY_ID: &str = "SELECT m.id, m.conversation_id, c.title, m.role, m.content, m.created_at \
     FROM messages m JOIN conversations c ON c.id = m.conversation_id \
     WHERE m.id IN (SELECT value FROM json_each(?))";

pub(crate) fn search_messages(
    conn: &mut SqliteConnection,
    owner: &str,
    text: &SearchText,
    limit: usize,
) -> Result<Vec<MessageMatch>, RepositoryError> {
    let ascii = text.as_str().is_ascii();
    let short = text.as_str().chars().count() < 3;
    let query = if short && ascii {
        let recent = walk(conn, text, limit, |conn, batch, offset| {
            diesel::sql_query(hits_query(RECENT_LIKE))
                .bind::<Text, _>(owner)
                .bind::<BigInt, _>(to_i64(RECENT))
                .bind::<Text, _>(like_pattern(text.as_str()))
                .bind::<BigInt, _>(batch)
                .bind::<BigInt, _>(offset)
                .load(conn)
        })?;
        if recent.len() == limit {
            return Ok(recent);
        }
        let terms: Vec<Term> = diesel::sql_query(TERMS)
            .bind::<Text, _>(text.as_str())
            .bind::<Text, _>(format!("{}\u{10FFFF}", text.as_str()))
            .load(conn)
            .map_err(repository_error)?;
        if terms.is_empty() {
            return Ok(recent);
        }
        Some(
            terms
                .iter()
                .map(|t| format!("\"{}\"", t.value.replace('"', "\"\"")))
                .collect::<Vec<_>>()
                .join(" OR "),
        )
    } else if short {
        None
    } else {
        Some(phrase(text))
    };
    if let Some(query) = query {
        // LIKE cannot stand in for a non-ASCII text: take every match then.
        let cap = if ascii { COMMON } else { i64::MAX };
        let mut candidates: Vec<KeyRow> = diesel::sql_query(INDEX_CANDIDATES)
            .bind::<Text, _>(query)
            .bind::<Text, _>(owner)
            .bind::<BigInt, _>(cap)
            .load(conn)
            .map_err(repository_error)?;
        if to_i64(candidates.len()) < cap {
            candidates.sort_unstable_by(|a, b| {
                (&b.created_at, &b.message_id).cmp(&(&a.created_at, &a.message_id))
            });
            return from_candidates(conn, text, &candidates, limit);
        }
    }
    if ascii {
        walk(conn, text, limit, |conn, batch, offset| {
            diesel::sql_query(hits_query(LIKE_KEYS))
                .bind::<Text, _>(owner)
                .bind::<Text, _>(like_pattern(text.as_str()))
                .bind::<BigInt, _>(batch)
                .bind::<BigInt, _>(offset)
                .load(conn)
        })
    } else {
        walk(conn, text, limit, |conn, batch, offset| {
            diesel::sql_query(hits_query(SCANNED_KEYS))
                .bind::<Text, _>(owner)
                .bind::<BigInt, _>(batch)
                .bind::<BigInt, _>(offset)
                .load(conn)
        })
    }
}

/// The first `limit` candidates (already newest first) that really match, read a page at a time.
fn from_candidates(
    conn: &mut SqliteConnection,
    text: &SearchText,
    candidates: &[KeyRow],
    limit: usize,
) -> Result<Vec<MessageMatch>, RepositoryError> {
    let mut found = Vec::new();
    for page in candidates.chunks(BATCH.max(limit)) {
        let ids: Vec<&str> = page.iter().map(|k| k.message_id.as_str()).collect();
        let ids = serde_json::to_string(&ids).map_err(|e| RepositoryError::Other(Box::new(e)))?;
        let mut rows: Vec<HitRow> = diesel::sql_query(HITS_BY_ID)
            .bind::<Text, _>(ids)
            .load(conn)
            .map_err(repository_error)?;
        rows.sort_unstable_by(|a, b| (&b.created_at, &b.id).cmp(&(&a.created_at, &a.id)));
        for row in rows {
            if text.matches(&row.content) {
                found.push(MessageMatch::try_from(row)?);
                if found.len() == limit {
                    return Ok(found);
                }
            }
        }
    }
    Ok(found)
}

/// Pages of the owner's messages, newest first, from `page(batch, offset)`, checked here until `limit` match.
fn walk(
    conn: &mut SqliteConnection,
    text: &SearchText,
    limit: usize,
    mut page: impl FnMut(&mut SqliteConnection, i64, i64) -> QueryResult<Vec<HitRow>>,
) -> Result<Vec<MessageMatch>, RepositoryError> {
    let batch = if text.as_str().is_ascii() {
        BATCH.max(limit)
    } else {
        SCAN_BATCH
    };
    let mut found = Vec::new();
    let mut offset = 0;
    while found.len() < limit {
        let rows = page(conn, to_i64(batch), to_i64(offset)).map_err(repository_error)?;
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
