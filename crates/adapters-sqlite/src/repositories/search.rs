//! Searching a user's messages and titles (docs/api.md, "Search").
//!
//! Texts of three characters or more go through the FTS5 trigram index (`message_search`, kept in step by
//! triggers; see the migration): it finds the candidates, `message_search_keys` filters them by owner and orders
//! them newest first, and only the page asked for is read from `messages`. Every candidate is checked again with
//! [`SearchText::matches`], so the answer follows Unicode lower-casing exactly even where SQLite's case folding
//! differs. Shorter texts have no trigram to look up: they walk the owner's messages newest first until enough
//! match.

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use tabletalk_ports::{
    MessageId, MessageMatch, MessageRole, RepositoryError, SearchText, TitleMatch,
};

use crate::error::repository_error;
use crate::rows::{enumeration, parse};

/// Candidates read per round; more rounds only when candidates fail the exact check.
const BATCH: usize = 64;
/// Messages per round when walking the owner's messages for a short text.
const SCAN_BATCH: usize = 2_000;

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

/// An FTS5 phrase: the text in double quotes, inner quotes doubled, so every character is literal.
fn phrase(text: &SearchText) -> String {
    format!("\"{}\"", text.as_str().replace('"', "\"\""))
}

fn to_i64(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

pub(crate) fn search_messages(
    conn: &mut SqliteConnection,
    owner: &str,
    text: &SearchText,
    limit: usize,
) -> Result<Vec<MessageMatch>, RepositoryError> {
    let indexed = text.as_str().chars().count() >= 3;
    let batch = if indexed {
        BATCH.max(limit)
    } else {
        SCAN_BATCH
    };
    let mut found = Vec::new();
    let mut offset = 0;
    while found.len() < limit {
        let rows: Vec<HitRow> = if indexed {
            diesel::sql_query(hits_query(INDEXED_KEYS))
                .bind::<Text, _>(phrase(text))
                .bind::<Text, _>(owner)
                .bind::<BigInt, _>(to_i64(batch))
                .bind::<BigInt, _>(to_i64(offset))
                .load(conn)
        } else {
            diesel::sql_query(hits_query(SCANNED_KEYS))
                .bind::<Text, _>(owner)
                .bind::<BigInt, _>(to_i64(batch))
                .bind::<BigInt, _>(to_i64(offset))
                .load(conn)
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

/// Titles are short and one per conversation: the owner's titles are read through the `(user_id, …)` index and
/// checked here.
pub(crate) fn search_titles(
    conn: &mut SqliteConnection,
    owner: &str,
    text: &SearchText,
    limit: usize,
) -> Result<Vec<TitleMatch>, RepositoryError> {
    let titles: Vec<TitleRow> = diesel::sql_query(
        "SELECT id, title, updated_at FROM conversations WHERE user_id = ? AND title <> '' \
         ORDER BY updated_at DESC, id DESC",
    )
    .bind::<Text, _>(owner)
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
