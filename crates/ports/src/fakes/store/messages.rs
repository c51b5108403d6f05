//! The in-memory messages table.

use async_trait::async_trait;

use super::{InMemoryStore, constraint};
use crate::{ConversationId, Message, MessageId, MessageRepository, RepositoryError, TokenUsage};

#[async_trait]
impl MessageRepository for InMemoryStore {
    async fn append(&self, message: &Message) -> Result<(), RepositoryError> {
        let mut tables = self.open("messages.append")?;
        if tables.messages.iter().any(|m| m.id == message.id) {
            return Err(constraint("messages.id is unique"));
        }
        let Some(conversation) = tables.conversation_mut(message.conversation_id) else {
            return Err(constraint(
                "messages.conversation_id references conversations",
            ));
        };
        conversation.updated_at = message.created_at;
        tables.messages.push(message.clone());
        Ok(())
    }

    async fn delete(
        &self,
        conversation: ConversationId,
        id: MessageId,
    ) -> Result<bool, RepositoryError> {
        let mut tables = self.open("messages.delete")?;
        let before = tables.messages.len();
        tables
            .messages
            .retain(|m| !(m.id == id && m.conversation_id == conversation));
        Ok(tables.messages.len() < before)
    }

    async fn replace_exchange(
        &self,
        conversation: ConversationId,
        answer: MessageId,
        question: MessageId,
        replacement: &Message,
    ) -> Result<bool, RepositoryError> {
        let mut tables = self.open("messages.replace_exchange")?;
        let present = |id: MessageId| {
            tables
                .messages
                .iter()
                .any(|m| m.id == id && m.conversation_id == conversation)
        };
        if !present(answer) || !present(question) {
            return Ok(false);
        }
        if tables.messages.iter().any(|m| m.id == replacement.id) {
            return Err(constraint("messages.id is unique"));
        }
        tables
            .messages
            .retain(|m| m.id != answer && m.id != question);
        if let Some(c) = tables.conversation_mut(conversation) {
            c.updated_at = replacement.created_at;
        }
        tables.messages.push(replacement.clone());
        Ok(true)
    }

    async fn append_user_message(
        &self,
        message: &Message,
        title: &str,
    ) -> Result<bool, RepositoryError> {
        let mut tables = self.open("messages.append_user_message")?;
        let Some(conversation) = tables.conversation_mut(message.conversation_id) else {
            return Err(constraint(
                "messages.conversation_id references conversations",
            ));
        };
        conversation.updated_at = message.created_at;
        let titled = conversation.title.is_empty() && !title.is_empty();
        if titled {
            title.clone_into(&mut conversation.title);
        }
        tables.messages.push(message.clone());
        Ok(titled)
    }

    async fn finish_turn(
        &self,
        message: Option<&Message>,
        usage: Option<&TokenUsage>,
    ) -> Result<bool, RepositoryError> {
        let mut tables = self.open("messages.finish_turn")?;
        let mut stored = false;
        if let Some(message) = message
            && let Some(conversation) = tables.conversation_mut(message.conversation_id)
        {
            conversation.updated_at = message.created_at;
            tables.messages.push(message.clone());
            stored = true;
        }
        if let Some(usage) = usage {
            let mut usage = usage.clone();
            if usage
                .conversation_id
                .is_some_and(|c| tables.conversation_mut(c).is_none())
            {
                usage.conversation_id = None;
                usage.message_id = None;
            }
            if !stored {
                usage.message_id = None;
            }
            tables.token_usage.push(usage);
        }
        Ok(stored)
    }

    async fn list_for_conversation(
        &self,
        conversation: ConversationId,
    ) -> Result<Vec<Message>, RepositoryError> {
        let tables = self.open("messages.list_for_conversation")?;
        let mut messages: Vec<Message> = tables
            .messages
            .iter()
            .filter(|m| m.conversation_id == conversation)
            .cloned()
            .collect();
        messages.sort_by_key(|m| (m.created_at, m.id));
        Ok(messages)
    }
}
