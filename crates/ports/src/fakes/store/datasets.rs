//! The in-memory dataset, upload and query-history tables.

use async_trait::async_trait;

use super::{InMemoryStore, Tables, constraint};
use crate::{
    AddedDataset, ConversationId, Dataset, DatasetId, DatasetRepository, DatasetSource,
    DatasetStatus, DatasetWriteError, NewDataset, QueryHistoryEntry, QueryHistoryFilter,
    QueryHistoryRepository, RepositoryError, Timestamp, UploadId, UserId,
};

#[async_trait]
impl DatasetRepository for InMemoryStore {
    async fn insert(&self, dataset: &Dataset) -> Result<(), RepositoryError> {
        let mut tables = self.open("datasets.insert")?;
        if !tables
            .conversations
            .iter()
            .any(|c| c.id == dataset.conversation_id)
        {
            return Err(constraint(
                "datasets.conversation_id references conversations",
            ));
        }
        match tables.dataset_conflict(dataset, &dataset.name) {
            Some(DatasetWriteError::NameTaken(_)) => {
                Err(constraint("datasets name is unique per conversation"))
            }
            Some(_) => Err(constraint("datasets url is unique per conversation")),
            None => {
                tables.datasets.push(dataset.clone());
                Ok(())
            }
        }
    }

    async fn add(&self, new: NewDataset) -> Result<AddedDataset, DatasetWriteError> {
        let mut tables = self.open("datasets.add")?;
        let mut dataset = new.dataset;
        let conversation_id = dataset.conversation_id;
        let Some(counter) = tables
            .conversations
            .iter()
            .find(|c| c.id == conversation_id)
            .map(|c| c.next_table_number)
        else {
            return Err(constraint("datasets.conversation_id references conversations").into());
        };
        let count = tables
            .datasets
            .iter()
            .filter(|d| d.conversation_id == conversation_id)
            .count();
        if let Some(conflict @ DatasetWriteError::UrlExists) = tables.dataset_conflict(&dataset, "")
        {
            return Err(conflict);
        }
        if new.custom_name
            && let Some(conflict) = tables.dataset_conflict(&dataset, &dataset.name)
        {
            return Err(conflict);
        }
        if count >= usize::try_from(new.max_per_conversation).unwrap_or(usize::MAX) {
            return Err(DatasetWriteError::LimitReached(new.max_per_conversation));
        }
        if !new.custom_name {
            let mut number = counter;
            while tables
                .dataset_conflict(&dataset, &format!("table{number}"))
                .is_some()
            {
                number += 1;
            }
            dataset.name = format!("table{number}");
            if let Some(conversation) = tables
                .conversations
                .iter_mut()
                .find(|c| c.id == conversation_id)
            {
                conversation.next_table_number = number + 1;
            }
        }
        let mut reused_upload = false;
        if let Some(upload) = new.upload {
            if let Some(existing) = tables
                .uploads
                .iter()
                .find(|u| u.user_id == upload.user_id && u.sha256 == upload.sha256)
            {
                dataset.upload_id = Some(existing.id);
                reused_upload = true;
            } else {
                dataset.upload_id = Some(upload.id);
                tables.uploads.push(upload);
            }
        }
        tables.datasets.push(dataset.clone());
        Ok(AddedDataset {
            dataset,
            reused_upload,
        })
    }

    async fn list_for_conversation(
        &self,
        conversation: ConversationId,
    ) -> Result<Vec<Dataset>, RepositoryError> {
        let tables = self.open("datasets.list_for_conversation")?;
        let mut datasets: Vec<Dataset> = tables
            .datasets
            .iter()
            .filter(|d| d.conversation_id == conversation)
            .cloned()
            .collect();
        datasets.sort_by_key(|d| (d.created_at, d.id));
        Ok(datasets)
    }

    async fn find(
        &self,
        conversation: ConversationId,
        id: DatasetId,
    ) -> Result<Option<Dataset>, RepositoryError> {
        let tables = self.open("datasets.find")?;
        Ok(tables
            .datasets
            .iter()
            .find(|d| d.id == id && d.conversation_id == conversation)
            .cloned())
    }

    async fn rename(&self, id: DatasetId, name: &str) -> Result<(), DatasetWriteError> {
        let mut tables = self.open("datasets.rename")?;
        let Some(current) = tables.datasets.iter().find(|d| d.id == id).cloned() else {
            return Ok(());
        };
        if tables.datasets.iter().any(|d| {
            d.conversation_id == current.conversation_id
                && d.id != id
                && d.name.eq_ignore_ascii_case(name)
        }) {
            return Err(DatasetWriteError::NameTaken(name.to_owned()));
        }
        if let Some(dataset) = tables.datasets.iter_mut().find(|d| d.id == id) {
            name.clone_into(&mut dataset.name);
        }
        Ok(())
    }

    async fn update_content(&self, dataset: &Dataset) -> Result<(), RepositoryError> {
        let mut tables = self.open("datasets.update_content")?;
        if let Some(stored) = tables.datasets.iter_mut().find(|d| d.id == dataset.id) {
            let name = stored.name.clone();
            *stored = dataset.clone();
            stored.name = name;
        }
        Ok(())
    }

    async fn set_descriptions(
        &self,
        id: DatasetId,
        descriptions: &std::collections::BTreeMap<String, String>,
    ) -> Result<(), RepositoryError> {
        let mut tables = self.open("datasets.set_descriptions")?;
        if let Some(stored) = tables.datasets.iter_mut().find(|d| d.id == id) {
            descriptions.clone_into(&mut stored.column_descriptions);
        }
        Ok(())
    }

    async fn delete(&self, id: DatasetId) -> Result<Option<UploadId>, RepositoryError> {
        let mut tables = self.open("datasets.delete")?;
        let Some(position) = tables.datasets.iter().position(|d| d.id == id) else {
            return Ok(None);
        };
        let removed = tables.datasets.remove(position);
        let Some(upload) = removed.upload_id else {
            return Ok(None);
        };
        if tables.datasets.iter().any(|d| d.upload_id == Some(upload)) {
            return Ok(None);
        }
        tables.uploads.retain(|u| u.id != upload);
        Ok(Some(upload))
    }

    async fn fail_interrupted_loads(&self, message: &str) -> Result<u64, RepositoryError> {
        let mut tables = self.open("datasets.fail_interrupted_loads")?;
        let mut failed = 0;
        for dataset in &mut tables.datasets {
            if dataset.status == DatasetStatus::Loading {
                dataset.status = DatasetStatus::Error;
                dataset.error_message = Some(message.to_owned());
                failed += 1;
            }
        }
        Ok(failed)
    }

    async fn delete_unreferenced_uploads(
        &self,
        owner: UserId,
    ) -> Result<Vec<UploadId>, RepositoryError> {
        let mut tables = self.open("datasets.delete_unreferenced_uploads")?;
        let referenced: Vec<UploadId> =
            tables.datasets.iter().filter_map(|d| d.upload_id).collect();
        let doomed: Vec<UploadId> = tables
            .uploads
            .iter()
            .filter(|u| u.user_id == owner && !referenced.contains(&u.id))
            .map(|u| u.id)
            .collect();
        tables.uploads.retain(|u| !doomed.contains(&u.id));
        Ok(doomed)
    }
}

#[async_trait]
impl QueryHistoryRepository for InMemoryStore {
    async fn record(
        &self,
        entry: &QueryHistoryEntry,
        max_entries: u64,
    ) -> Result<(), RepositoryError> {
        let mut tables = self.open("query_history.record")?;
        if !tables.user_exists(entry.user_id) {
            return Err(constraint("query_history.user_id references users"));
        }
        tables.query_history.push(entry.clone());
        let user = entry.user_id;
        let mut unstarred: Vec<(Timestamp, crate::HistoryId)> = tables
            .query_history
            .iter()
            .filter(|e| e.user_id == user && !e.is_starred)
            .map(|e| (e.created_at, e.id))
            .collect();
        let total = tables
            .query_history
            .iter()
            .filter(|e| e.user_id == user)
            .count();
        let excess = total.saturating_sub(usize::try_from(max_entries).unwrap_or(usize::MAX));
        unstarred.sort();
        let doomed: Vec<crate::HistoryId> = unstarred
            .into_iter()
            .take(excess)
            .map(|(_, id)| id)
            .collect();
        tables.query_history.retain(|e| !doomed.contains(&e.id));
        Ok(())
    }

    async fn list(
        &self,
        user: UserId,
        filter: &QueryHistoryFilter,
    ) -> Result<(Vec<QueryHistoryEntry>, u64), RepositoryError> {
        let tables = self.open("query_history.list")?;
        let mut matching: Vec<QueryHistoryEntry> = tables
            .query_history
            .iter()
            .filter(|e| e.user_id == user)
            .filter(|e| filter.starred.is_none_or(|s| e.is_starred == s))
            .filter(|e| filter.source.is_none_or(|s| e.source == s))
            .cloned()
            .collect();
        matching.sort_by_key(|e| std::cmp::Reverse((e.created_at, e.id)));
        let total = u64::try_from(matching.len()).unwrap_or(u64::MAX);
        let page = matching
            .into_iter()
            .skip(usize::try_from(filter.offset).unwrap_or(usize::MAX))
            .take(usize::try_from(filter.limit).unwrap_or(usize::MAX))
            .collect();
        Ok((page, total))
    }

    async fn toggle_star(
        &self,
        user: UserId,
        id: crate::HistoryId,
    ) -> Result<Option<bool>, RepositoryError> {
        let mut tables = self.open("query_history.toggle_star")?;
        Ok(tables
            .query_history
            .iter_mut()
            .find(|e| e.id == id && e.user_id == user)
            .map(|e| {
                e.is_starred = !e.is_starred;
                e.is_starred
            }))
    }

    async fn delete_all(&self, user: UserId) -> Result<u64, RepositoryError> {
        let mut tables = self.open("query_history.delete_all")?;
        let before = tables.query_history.len();
        tables.query_history.retain(|e| e.user_id != user);
        Ok((before - tables.query_history.len()) as u64)
    }
}

impl Tables {
    /// The rule a dataset named `name` would break in its conversation (`name` empty: only the URL rule).
    fn dataset_conflict(&self, dataset: &Dataset, name: &str) -> Option<DatasetWriteError> {
        let siblings = || {
            self.datasets
                .iter()
                .filter(|d| d.conversation_id == dataset.conversation_id && d.id != dataset.id)
        };
        if dataset.source == DatasetSource::Url
            && siblings().any(|d| d.source == DatasetSource::Url && d.url == dataset.url)
        {
            return Some(DatasetWriteError::UrlExists);
        }
        if !name.is_empty() && siblings().any(|d| d.name.eq_ignore_ascii_case(name)) {
            return Some(DatasetWriteError::NameTaken(name.to_owned()));
        }
        None
    }
}
