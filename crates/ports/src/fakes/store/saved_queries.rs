//! The in-memory saved-queries table.

use async_trait::async_trait;

use super::{InMemoryStore, constraint};
use crate::{RepositoryError, SavedQuery, SavedQueryId, SavedQueryRepository, Timestamp, UserId};

#[async_trait]
impl SavedQueryRepository for InMemoryStore {
    async fn create(&self, query: &SavedQuery) -> Result<(), RepositoryError> {
        let mut tables = self.open("saved_queries.create")?;
        if !tables.user_exists(query.user_id) {
            return Err(constraint("saved_queries.user_id references users"));
        }
        if tables.saved_queries.iter().any(|q| q.id == query.id) {
            return Err(constraint("saved_queries.id is unique"));
        }
        tables.saved_queries.push(query.clone());
        Ok(())
    }

    async fn list(&self, user: UserId) -> Result<Vec<SavedQuery>, RepositoryError> {
        let tables = self.open("saved_queries.list")?;
        let mut theirs: Vec<SavedQuery> = tables
            .saved_queries
            .iter()
            .filter(|q| q.user_id == user)
            .cloned()
            .collect();
        theirs.sort_by_key(|q| std::cmp::Reverse((q.is_pinned, q.created_at, q.id)));
        Ok(theirs)
    }

    async fn folders(&self, user: UserId) -> Result<Vec<String>, RepositoryError> {
        let tables = self.open("saved_queries.folders")?;
        let mut folders: Vec<String> = tables
            .saved_queries
            .iter()
            .filter(|q| q.user_id == user && !q.folder.is_empty())
            .map(|q| q.folder.clone())
            .collect();
        folders.sort();
        folders.dedup();
        Ok(folders)
    }

    async fn set_folder(
        &self,
        user: UserId,
        id: SavedQueryId,
        folder: &str,
    ) -> Result<bool, RepositoryError> {
        let mut tables = self.open("saved_queries.set_folder")?;
        Ok(tables
            .saved_query_mut(user, id)
            .map(|q| folder.clone_into(&mut q.folder))
            .is_some())
    }

    async fn toggle_pin(
        &self,
        user: UserId,
        id: SavedQueryId,
    ) -> Result<Option<SavedQuery>, RepositoryError> {
        let mut tables = self.open("saved_queries.toggle_pin")?;
        Ok(tables.saved_query_mut(user, id).map(|q| {
            q.is_pinned = !q.is_pinned;
            q.clone()
        }))
    }

    async fn share(
        &self,
        user: UserId,
        id: SavedQueryId,
        token: &str,
        now: Timestamp,
    ) -> Result<Option<SavedQuery>, RepositoryError> {
        let mut tables = self.open("saved_queries.share")?;
        if tables
            .saved_queries
            .iter()
            .any(|q| q.id != id && q.share_token.as_deref() == Some(token))
        {
            return Err(constraint("saved_queries.share_token is unique"));
        }
        Ok(tables.saved_query_mut(user, id).map(|q| {
            if q.share_token.is_none() {
                q.share_token = Some(token.to_owned());
                q.shared_at = Some(now);
            }
            q.clone()
        }))
    }

    async fn unshare(&self, user: UserId, id: SavedQueryId) -> Result<bool, RepositoryError> {
        let mut tables = self.open("saved_queries.unshare")?;
        Ok(tables
            .saved_query_mut(user, id)
            .map(|q| {
                q.share_token = None;
                q.shared_at = None;
            })
            .is_some())
    }

    async fn delete(&self, user: UserId, id: SavedQueryId) -> Result<bool, RepositoryError> {
        let mut tables = self.open("saved_queries.delete")?;
        let before = tables.saved_queries.len();
        tables
            .saved_queries
            .retain(|q| !(q.id == id && q.user_id == user));
        Ok(tables.saved_queries.len() < before)
    }

    async fn find_shared(&self, token: &str) -> Result<Option<SavedQuery>, RepositoryError> {
        Ok(self
            .open("saved_queries.find_shared")?
            .saved_queries
            .iter()
            .find(|q| q.share_token.as_deref() == Some(token))
            .cloned())
    }
}

impl super::Tables {
    fn saved_query_mut(&mut self, user: UserId, id: SavedQueryId) -> Option<&mut SavedQuery> {
        self.saved_queries
            .iter_mut()
            .find(|q| q.id == id && q.user_id == user)
    }
}
