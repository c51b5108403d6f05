//! Fork: a new conversation holding copies of the messages up to a chosen one and of every dataset.

use tabletalk_ports::{
    Conversation, ConversationId, DatasetId, DatasetStatus, Message, MessageId, UserId,
};

use super::{ConversationTransfer, ordered_ids};
use crate::chat::ChatError;

/// A fork's title: `Fork of <title>` cut to 100 characters, or `Forked conversation` when untitled.
fn fork_title(title: &str) -> String {
    if title.is_empty() {
        "Forked conversation".to_owned()
    } else {
        format!("Fork of {title}").chars().take(100).collect()
    }
}

impl ConversationTransfer {
    /// Fork (docs/api.md, "Fork"): copies (new ids) of every message up to and including `message` in
    /// conversation order, and of all datasets (same URL, upload, schema, descriptions, status and version;
    /// uploads are shared, not copied), with the table-name counter; token usage stays with the original.
    /// Copies still `loading` load in the background. A running turn is not waited for: its answer is not stored
    /// yet, so it is not part of the fork.
    ///
    /// # Errors
    /// Ownership; `MessageNotFound`; `Storage`.
    pub async fn fork(
        &self,
        user: UserId,
        id: ConversationId,
        message: MessageId,
    ) -> Result<Conversation, ChatError> {
        let source = self.conversations.owned(user, id).await?;
        let messages = self.messages.list_for_conversation(id).await?;
        let last = messages
            .iter()
            .position(|m| m.id == message)
            .ok_or(ChatError::MessageNotFound)?;
        let now = self.clock.now();
        let fork = Conversation {
            title: fork_title(&source.title),
            next_table_number: source.next_table_number,
            // A fork of an assistant's conversation keeps answering as that assistant.
            assistant: source.assistant.clone(),
            ..Conversation::new(user, now)
        };
        let copies: Vec<Message> = messages
            .into_iter()
            .take(last + 1)
            .zip(ordered_ids(last + 1))
            .map(|(m, id)| Message {
                id,
                conversation_id: fork.id,
                ..m
            })
            .collect();
        let datasets: Vec<_> = self
            .dataset_store
            .list_for_conversation(id)
            .await?
            .into_iter()
            .map(|d| tabletalk_ports::Dataset {
                id: DatasetId::new(),
                conversation_id: fork.id,
                ..d
            })
            .collect();
        self.conversation_store
            .create_with_contents(&fork, &copies, &datasets)
            .await?;
        let loading = datasets
            .into_iter()
            .filter(|d| d.status == DatasetStatus::Loading)
            .collect();
        self.datasets.load_in_background(user, loading);
        Ok(fork)
    }
}

#[cfg(test)]
mod tests {
    use super::fork_title;

    #[test]
    fn fork_titles_say_where_they_come_from_within_the_limit() {
        assert_eq!(fork_title(""), "Forked conversation");
        assert_eq!(fork_title("Sales"), "Fork of Sales");
        let long = "é".repeat(100);
        assert_eq!(fork_title(&long).chars().count(), 100);
        assert!(fork_title(&long).starts_with("Fork of é"));
    }
}
