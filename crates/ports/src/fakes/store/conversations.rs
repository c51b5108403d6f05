//! The in-memory conversations table, with search and sharing.

use async_trait::async_trait;

use super::{InMemoryStore, Tables, constraint};
use crate::{
    Conversation, ConversationId, ConversationRepository, ConversationSummary, ConversationTitle,
    Dataset, DatasetSource, Message, MessageMatch, RepositoryError, SearchText, Timestamp,
    TitleMatch, UserId,
};

#[async_trait]
impl ConversationRepository for InMemoryStore {
    async fn create(&self, conversation: &Conversation) -> Result<(), RepositoryError> {
        let mut tables = self.open("conversations.create")?;
        if !tables.user_exists(conversation.user_id) {
            return Err(constraint("conversations.user_id references users"));
        }
        if tables.conversations.iter().any(|c| c.id == conversation.id) {
            return Err(constraint("conversations.id is unique"));
        }
        tables.conversations.push(conversation.clone());
        Ok(())
    }

    async fn find(&self, id: ConversationId) -> Result<Option<Conversation>, RepositoryError> {
        Ok(self
            .open("conversations.find")?
            .conversations
            .iter()
            .find(|c| c.id == id)
            .cloned())
    }

    async fn list_for_owner(
        &self,
        owner: UserId,
        archived: bool,
    ) -> Result<Vec<ConversationSummary>, RepositoryError> {
        let tables = self.open("conversations.list_for_owner")?;
        let mut theirs: Vec<&Conversation> = tables
            .conversations
            .iter()
            .filter(|c| c.user_id == owner && c.is_archived == archived)
            .collect();
        theirs.sort_by(|a, b| {
            (b.is_pinned, b.updated_at, b.id).cmp(&(a.is_pinned, a.updated_at, a.id))
        });
        Ok(theirs.into_iter().map(|c| tables.summary(c)).collect())
    }

    async fn rename(
        &self,
        id: ConversationId,
        title: &ConversationTitle,
        now: Timestamp,
    ) -> Result<Option<Conversation>, RepositoryError> {
        let mut tables = self.open("conversations.rename")?;
        Ok(tables.conversation_mut(id).map(|c| {
            title.as_ref().clone_into(&mut c.title);
            c.updated_at = now;
            c.clone()
        }))
    }

    async fn set_pinned(
        &self,
        id: ConversationId,
        pinned: bool,
        now: Timestamp,
    ) -> Result<Option<Conversation>, RepositoryError> {
        let mut tables = self.open("conversations.set_pinned")?;
        Ok(tables.conversation_mut(id).map(|c| {
            c.is_pinned = pinned;
            c.updated_at = now;
            c.clone()
        }))
    }

    async fn set_archived(
        &self,
        id: ConversationId,
        archived: bool,
    ) -> Result<Option<Conversation>, RepositoryError> {
        let mut tables = self.open("conversations.set_archived")?;
        Ok(tables.conversation_mut(id).map(|c| {
            c.is_archived = archived;
            c.clone()
        }))
    }

    async fn archive_all(&self, owner: UserId) -> Result<u64, RepositoryError> {
        let mut tables = self.open("conversations.archive_all")?;
        let mut archived = 0;
        for conversation in &mut tables.conversations {
            if conversation.user_id == owner && !conversation.is_archived {
                conversation.is_archived = true;
                archived += 1;
            }
        }
        Ok(archived)
    }

    async fn set_pinned_many(
        &self,
        owner: UserId,
        ids: &[ConversationId],
        pinned: bool,
    ) -> Result<u64, RepositoryError> {
        let mut tables = self.open("conversations.set_pinned_many")?;
        let mut updated = 0;
        for conversation in &mut tables.conversations {
            if conversation.user_id == owner && ids.contains(&conversation.id) {
                conversation.is_pinned = pinned;
                updated += 1;
            }
        }
        Ok(updated)
    }

    async fn delete(&self, id: ConversationId) -> Result<bool, RepositoryError> {
        let mut tables = self.open("conversations.delete")?;
        let existed = tables.conversations.iter().any(|c| c.id == id);
        tables.remove_conversations(&[id]);
        Ok(existed)
    }

    async fn delete_all_for_owner(
        &self,
        owner: UserId,
    ) -> Result<Vec<ConversationId>, RepositoryError> {
        let mut tables = self.open("conversations.delete_all_for_owner")?;
        let doomed: Vec<_> = tables
            .conversations
            .iter()
            .filter(|c| c.user_id == owner)
            .map(|c| c.id)
            .collect();
        tables.remove_conversations(&doomed);
        Ok(doomed)
    }

    async fn create_with_contents(
        &self,
        conversation: &Conversation,
        messages: &[Message],
        datasets: &[Dataset],
    ) -> Result<(), RepositoryError> {
        let mut tables = self.open("conversations.create_with_contents")?;
        tables.check_contents(conversation, messages, datasets)?;
        tables.conversations.push(conversation.clone());
        tables.messages.extend_from_slice(messages);
        tables.datasets.extend_from_slice(datasets);
        Ok(())
    }

    async fn search_messages(
        &self,
        owner: UserId,
        text: &SearchText,
        limit: usize,
    ) -> Result<Vec<MessageMatch>, RepositoryError> {
        let tables = self.open("conversations.search_messages")?;
        let mut found: Vec<MessageMatch> = tables
            .messages
            .iter()
            .filter(|m| text.matches(&m.content))
            .filter_map(|m| {
                let conversation = tables
                    .conversations
                    .iter()
                    .find(|c| c.id == m.conversation_id && c.user_id == owner)?;
                Some(MessageMatch {
                    conversation_id: conversation.id,
                    conversation_title: conversation.title.clone(),
                    message_id: m.id,
                    role: m.role,
                    content: m.content.clone(),
                    created_at: m.created_at,
                })
            })
            .collect();
        found.sort_by_key(|m| std::cmp::Reverse((m.created_at, m.message_id)));
        found.truncate(limit);
        Ok(found)
    }

    async fn search_titles(
        &self,
        owner: UserId,
        text: &SearchText,
        limit: usize,
    ) -> Result<Vec<TitleMatch>, RepositoryError> {
        let tables = self.open("conversations.search_titles")?;
        let mut found: Vec<TitleMatch> = tables
            .conversations
            .iter()
            .filter(|c| c.user_id == owner && text.matches(&c.title))
            .map(|c| TitleMatch {
                conversation_id: c.id,
                title: c.title.clone(),
                first_message: tables
                    .messages
                    .iter()
                    .filter(|m| m.conversation_id == c.id)
                    .min_by_key(|m| (m.created_at, m.id))
                    .map(|m| (m.id, m.role)),
                updated_at: c.updated_at,
            })
            .collect();
        found.sort_by(|a, b| {
            (b.updated_at, b.conversation_id).cmp(&(a.updated_at, a.conversation_id))
        });
        found.truncate(limit);
        Ok(found)
    }

    async fn share(
        &self,
        id: ConversationId,
        token: &str,
        now: Timestamp,
    ) -> Result<Option<Conversation>, RepositoryError> {
        let mut tables = self.open("conversations.share")?;
        if tables
            .conversations
            .iter()
            .any(|c| c.id != id && c.share_token.as_deref() == Some(token))
        {
            return Err(constraint("conversations.share_token is unique"));
        }
        Ok(tables.conversation_mut(id).map(|c| {
            if c.share_token.is_none() {
                c.share_token = Some(token.to_owned());
                c.shared_at = Some(now);
            }
            c.clone()
        }))
    }

    async fn unshare(&self, id: ConversationId) -> Result<bool, RepositoryError> {
        let mut tables = self.open("conversations.unshare")?;
        Ok(tables
            .conversation_mut(id)
            .map(|c| {
                c.share_token = None;
                c.shared_at = None;
            })
            .is_some())
    }

    async fn find_shared(&self, token: &str) -> Result<Option<Conversation>, RepositoryError> {
        Ok(self
            .open("conversations.find_shared")?
            .conversations
            .iter()
            .find(|c| c.share_token.as_deref() == Some(token))
            .cloned())
    }
}

impl Tables {
    /// The rules `create_with_contents` must check before writing anything.
    fn check_contents(
        &self,
        conversation: &Conversation,
        messages: &[Message],
        datasets: &[Dataset],
    ) -> Result<(), RepositoryError> {
        if !self.user_exists(conversation.user_id) {
            return Err(constraint("conversations.user_id references users"));
        }
        if self.conversations.iter().any(|c| c.id == conversation.id) {
            return Err(constraint("conversations.id is unique"));
        }
        for (i, m) in messages.iter().enumerate() {
            if m.conversation_id != conversation.id {
                return Err(constraint(
                    "messages.conversation_id references conversations",
                ));
            }
            if self
                .messages
                .iter()
                .chain(&messages[..i])
                .any(|o| o.id == m.id)
            {
                return Err(constraint("messages.id is unique"));
            }
        }
        for (i, d) in datasets.iter().enumerate() {
            let earlier = &datasets[..i];
            if d.conversation_id != conversation.id {
                return Err(constraint(
                    "datasets.conversation_id references conversations",
                ));
            }
            if self.datasets.iter().chain(earlier).any(|o| o.id == d.id) {
                return Err(constraint("datasets.id is unique"));
            }
            if earlier.iter().any(|o| o.name.eq_ignore_ascii_case(&d.name)) {
                return Err(constraint("datasets name is unique per conversation"));
            }
            if d.source == DatasetSource::Url
                && earlier
                    .iter()
                    .any(|o| o.source == DatasetSource::Url && o.url == d.url)
            {
                return Err(constraint("datasets url is unique per conversation"));
            }
            if let Some(upload) = d.upload_id
                && !self
                    .uploads
                    .iter()
                    .any(|u| u.id == upload && u.user_id == conversation.user_id)
            {
                return Err(constraint("datasets.upload_id references uploads"));
            }
        }
        Ok(())
    }
}
