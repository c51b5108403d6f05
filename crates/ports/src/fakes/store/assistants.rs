//! The in-memory assistants table.

use async_trait::async_trait;

use super::{InMemoryStore, constraint};
use crate::{Assistant, AssistantId, AssistantRepository, RepositoryError, UserId};

#[async_trait]
impl AssistantRepository for InMemoryStore {
    async fn create(&self, assistant: &Assistant) -> Result<(), RepositoryError> {
        let mut tables = self.open("assistants.create")?;
        if !tables.user_exists(assistant.user_id) {
            return Err(constraint("assistants.user_id references users"));
        }
        if tables.assistants.iter().any(|a| a.id == assistant.id) {
            return Err(constraint("assistants.id is unique"));
        }
        tables.assistants.push(assistant.clone());
        Ok(())
    }

    async fn find(&self, id: AssistantId) -> Result<Option<Assistant>, RepositoryError> {
        Ok(self
            .open("assistants.find")?
            .assistants
            .iter()
            .find(|a| a.id == id)
            .cloned())
    }

    async fn list_visible(&self, user: UserId) -> Result<Vec<Assistant>, RepositoryError> {
        let tables = self.open("assistants.list_visible")?;
        let mut visible: Vec<Assistant> = tables
            .assistants
            .iter()
            .filter(|a| a.visible_to(user))
            .cloned()
            .collect();
        visible.sort_by_key(|a| std::cmp::Reverse((a.updated_at, a.id)));
        Ok(visible)
    }

    async fn update(&self, assistant: &Assistant) -> Result<bool, RepositoryError> {
        let mut tables = self.open("assistants.update")?;
        Ok(tables
            .assistants
            .iter_mut()
            .find(|a| a.id == assistant.id)
            .map(|stored| {
                *stored = Assistant {
                    id: stored.id,
                    user_id: stored.user_id,
                    created_at: stored.created_at,
                    ..assistant.clone()
                };
            })
            .is_some())
    }

    async fn delete(&self, id: AssistantId) -> Result<bool, RepositoryError> {
        let mut tables = self.open("assistants.delete")?;
        let before = tables.assistants.len();
        tables.assistants.retain(|a| a.id != id);
        Ok(tables.assistants.len() < before)
    }
}
