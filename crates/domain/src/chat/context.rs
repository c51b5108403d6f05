//! The turn's context (docs/api.md, "Chat"): earlier messages as text, past SQL as compact notes, trimmed to the
//! message count and the token estimate.

use tabletalk_ports::{
    ConversationId, ExecutionOutcome, LlmMessage, Message, MessageRepository, MessageRole,
    MessageStatus, RepositoryError,
};

/// `ceil(characters / 4)`.
pub fn estimate_tokens(text: &str) -> u64 {
    (text.chars().count() as u64).div_ceil(4)
}

fn one_line(text: &str, max: usize) -> String {
    let flat: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() > max {
        format!("{}…", flat.chars().take(max).collect::<String>())
    } else {
        flat
    }
}

/// The note of queries run for an answer (at most 5 entries), or `None`.
fn query_note(message: &Message) -> Option<String> {
    let executions = &message.sql_executions;
    if executions.is_empty() {
        return None;
    }
    let mut lines = vec!["[Queries run for this answer]".to_owned()];
    for (index, execution) in executions.iter().take(5).enumerate() {
        let query = one_line(&execution.query, 1000);
        let outcome = match &execution.outcome {
            ExecutionOutcome::Failed { error } => {
                let first: String = error
                    .lines()
                    .next()
                    .unwrap_or_default()
                    .chars()
                    .take(200)
                    .collect();
                format!("error: {first}")
            }
            ExecutionOutcome::Succeeded(result) => format!(
                "{} rows; columns: {}",
                result.total_rows,
                result.columns.join(", ")
            ),
            ExecutionOutcome::NotRecorded => "result not recorded".to_owned(),
        };
        lines.push(format!("{}. {query} → {outcome}", index + 1));
    }
    Some(lines.join("\n"))
}

/// One context entry: the text sent and whether it carries a query note.
struct Entry {
    message: LlmMessage,
    chars: u64,
    noted: bool,
}

/// Whether a stored message can be part of a context: failed answers without text are skipped.
pub fn usable(message: &Message) -> bool {
    !(message.role == MessageRole::Assistant
        && message.status == MessageStatus::Error
        && message.content.is_empty())
}

/// The stored messages a context of `keep` messages needs: the newest `2 × keep`, or the whole conversation when
/// failed answers among those leave fewer than `keep` usable ones. A turn's cost so does not grow with the
/// conversation's length.
///
/// # Errors
/// Storage failures.
pub async fn stored(
    messages: &dyn MessageRepository,
    conversation: ConversationId,
    keep: usize,
) -> Result<Vec<Message>, RepositoryError> {
    let limit = keep.saturating_mul(2).max(keep + 1);
    let recent = messages.list_recent(conversation, limit).await?;
    if recent.len() < limit || recent.iter().filter(|m| usable(m)).count() >= keep {
        return Ok(recent);
    }
    messages.list_for_conversation(conversation).await
}

/// Builds the context from the stored messages (the new user message last). Only the last `keep` usable
/// messages matter, so `messages` may be just the newest part of the conversation.
pub fn build(messages: &[Message], keep: usize, budget: u64, fixed_tokens: u64) -> Vec<LlmMessage> {
    let usable: Vec<&Message> = messages.iter().filter(|m| usable(m)).collect();
    let start = usable.len().saturating_sub(keep);
    let mut entries: Vec<Entry> = usable[start..]
        .iter()
        .map(|m| match m.role {
            MessageRole::User => Entry {
                chars: estimate_tokens(&m.content),
                message: LlmMessage::User {
                    text: m.content.clone(),
                },
                noted: false,
            },
            MessageRole::Assistant => {
                let mut text = m.content.clone();
                let note = query_note(m);
                if let Some(note) = &note {
                    text.push_str("\n\n");
                    text.push_str(note);
                }
                if m.status == MessageStatus::Stopped {
                    text.push_str("\n\n[This answer was stopped before it finished.]");
                }
                Entry {
                    chars: estimate_tokens(&text),
                    message: LlmMessage::Assistant {
                        text,
                        tool_calls: Vec::new(),
                        provider_state: None,
                    },
                    noted: note.is_some(),
                }
            }
        })
        .collect();
    // Over the budget: drop the oldest message without a note, then the oldest with one; never the new message.
    let total = |entries: &[Entry]| fixed_tokens + entries.iter().map(|e| e.chars).sum::<u64>();
    while total(&entries) > budget && entries.len() > 1 {
        let last = entries.len() - 1;
        let victim = entries[..last].iter().position(|e| !e.noted).unwrap_or(0);
        entries.remove(victim);
    }
    entries.into_iter().map(|e| e.message).collect()
}

#[cfg(test)]
mod tests {
    use tabletalk_ports::fakes::InMemoryStore;
    use tabletalk_ports::{
        Conversation, ConversationRepository, ExecutionResult, Identity, SqlExecution, Timestamp,
        UserRepository,
    };

    use super::*;

    #[tokio::test]
    async fn only_the_newest_messages_are_read_unless_failures_leave_too_few() {
        let store = InMemoryStore::new();
        let at = |millis| Timestamp::from_unix_millis(millis).unwrap();
        let user = store.sign_in(&Identity::local_user(), at(0)).await.unwrap();
        let conversation = Conversation::new(user.id, at(0));
        store.create(&conversation).await.unwrap();
        let message = |millis: i64, role, status, content: &str| {
            let mut m = Message::user(conversation.id, content, at(millis));
            m.role = role;
            m.status = status;
            m
        };
        let texts =
            |stored: &[Message]| stored.iter().map(|m| m.content.clone()).collect::<Vec<_>>();
        for i in 0..10 {
            let m = message(
                i,
                MessageRole::User,
                MessageStatus::Complete,
                &format!("q{i}"),
            );
            store.append(&m).await.unwrap();
        }
        let recent = stored(&store, conversation.id, 2).await.unwrap();
        assert_eq!(texts(&recent), ["q6", "q7", "q8", "q9"]);

        // Four failed answers without text among the newest four: the whole conversation is read.
        for i in 10..14 {
            let m = message(i, MessageRole::Assistant, MessageStatus::Error, "");
            store.append(&m).await.unwrap();
        }
        let all = stored(&store, conversation.id, 2).await.unwrap();
        assert_eq!(all.len(), 14);
        assert_eq!(
            build(&all, 2, 1_000_000, 0).len(),
            2,
            "the context still gets its two usable messages"
        );
    }

    fn message(
        role: MessageRole,
        content: &str,
        sql: &[SqlExecution],
        status: MessageStatus,
    ) -> Message {
        let mut m = Message::user(
            ConversationId::new(),
            content,
            Timestamp::from_unix_millis(0).unwrap(),
        );
        m.role = role;
        m.sql_executions = sql.to_vec();
        m.status = status;
        m
    }

    #[test]
    fn notes_stand_in_for_queries_and_failed_empty_answers_are_skipped() {
        let sql = [
            SqlExecution {
                query: "SELECT a,\n b FROM t".to_owned(),
                outcome: ExecutionOutcome::Succeeded(ExecutionResult {
                    columns: vec!["a".to_owned(), "b".to_owned()],
                    rows: Vec::new(),
                    total_rows: 3,
                    execution_ms: 1.0,
                    limit_applied: false,
                }),
            },
            SqlExecution {
                query: "SELECT x".to_owned(),
                outcome: ExecutionOutcome::Failed {
                    error: "Column x does not exist.\n\nTechnical details: …".to_owned(),
                },
            },
        ];
        let messages = vec![
            message(MessageRole::User, "hi", &[], MessageStatus::Complete),
            message(MessageRole::Assistant, "", &[], MessageStatus::Error),
            message(
                MessageRole::Assistant,
                "Three rows.",
                &sql,
                MessageStatus::Stopped,
            ),
            message(MessageRole::User, "and now?", &[], MessageStatus::Complete),
        ];
        let context = build(&messages, 50, 1_000_000, 0);
        assert_eq!(context.len(), 3);
        let LlmMessage::Assistant { text, .. } = &context[1] else {
            panic!("assistant expected")
        };
        assert_eq!(
            text,
            "Three rows.\n\n[Queries run for this answer]\n1. SELECT a, b FROM t → 3 rows; columns: a, b\n2. SELECT x → \
             error: Column x does not exist.\n\n[This answer was stopped before it finished.]"
        );
    }

    #[test]
    fn the_budget_drops_old_unnoted_messages_first_and_never_the_new_one() {
        let sql = [SqlExecution {
            query: "SELECT 1".to_owned(),
            outcome: ExecutionOutcome::Succeeded(ExecutionResult {
                columns: vec!["x".to_owned()],
                rows: Vec::new(),
                total_rows: 1,
                execution_ms: 1.0,
                limit_applied: false,
            }),
        }];
        let messages = vec![
            message(
                MessageRole::User,
                &"a".repeat(400),
                &[],
                MessageStatus::Complete,
            ),
            message(
                MessageRole::Assistant,
                "noted",
                &sql,
                MessageStatus::Complete,
            ),
            message(
                MessageRole::User,
                &"b".repeat(400),
                &[],
                MessageStatus::Complete,
            ),
            message(
                MessageRole::User,
                &"c".repeat(4000),
                &[],
                MessageStatus::Complete,
            ),
        ];
        let context = build(&messages, 50, 1040, 0);
        assert_eq!(context.len(), 2, "{context:?}");
        assert!(matches!(&context[0], LlmMessage::Assistant { .. }));
        assert!(matches!(&context[1], LlmMessage::User { text } if text.starts_with('c')));
        assert_eq!(
            build(&messages, 2, 1_000_000, 0).len(),
            2,
            "the message count is kept"
        );
    }
}
