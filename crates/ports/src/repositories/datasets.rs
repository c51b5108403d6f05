use async_trait::async_trait;
use std::collections::BTreeMap;

use crate::{ConversationId, Dataset, DatasetId, RepositoryError, Upload, UploadId, UserId};

/// Why a dataset write was refused by the conversation's rules (checked inside the writing transaction, so
/// concurrent adds cannot both pass).
#[derive(Debug, thiserror::Error)]
pub enum DatasetWriteError {
    /// The same normalised URL is already attached to the conversation.
    #[error("This dataset is already loaded")]
    UrlExists,
    /// Another dataset of the conversation has this name, ignoring letter case.
    #[error("A dataset named '{0}' already exists in this conversation")]
    NameTaken(String),
    /// The conversation already holds the maximum number of datasets.
    #[error("Maximum {0} datasets reached")]
    LimitReached(u32),
    #[error(transparent)]
    Repository(#[from] RepositoryError),
}

/// A dataset to add (docs/api.md, "Datasets").
#[derive(Debug, Clone)]
pub struct NewDataset {
    /// The row to insert. Its `name` is used when `custom_name` is set; otherwise the repository assigns
    /// `table<N>` from the conversation's counter, skipping names already taken.
    pub dataset: Dataset,
    pub custom_name: bool,
    /// `datasets.max_per_conversation`.
    pub max_per_conversation: u32,
    /// For uploads: the upload to reference. When the user already has an upload with the same SHA-256, that
    /// one is referenced instead and this one is not inserted.
    pub upload: Option<Upload>,
}

/// What `add` stored.
#[derive(Debug, Clone)]
pub struct AddedDataset {
    pub dataset: Dataset,
    /// `true` when an existing upload with the same content was referenced instead of the given one.
    pub reused_upload: bool,
}

/// Stores the datasets attached to conversations (metadata only; content lives in files).
#[async_trait]
pub trait DatasetRepository: Send + Sync + 'static {
    /// Stores a dataset row as given (fork, import, tests).
    ///
    /// # Errors
    /// `Constraint` when the conversation does not exist, the name is taken (case-insensitively) or the URL is
    /// already attached; `Unavailable`.
    async fn insert(&self, dataset: &Dataset) -> Result<(), RepositoryError>;

    /// In one transaction: re-checks the duplicate URL, the custom name and the count, assigns the name, inserts
    /// the upload (unless reused) and the dataset, and advances the table counter when the name was automatic.
    ///
    /// # Errors
    /// The refusals of [`DatasetWriteError`]; `Repository` when storage fails.
    async fn add(&self, new: NewDataset) -> Result<AddedDataset, DatasetWriteError>;

    /// The conversation's datasets ordered by `(created_at, id)`.
    ///
    /// # Errors
    /// `Unavailable`; `Corrupt` when a row cannot be read.
    async fn list_for_conversation(
        &self,
        conversation: ConversationId,
    ) -> Result<Vec<Dataset>, RepositoryError>;

    /// One dataset of the conversation.
    ///
    /// # Errors
    /// `Unavailable`; `Corrupt`.
    async fn find(
        &self,
        conversation: ConversationId,
        id: DatasetId,
    ) -> Result<Option<Dataset>, RepositoryError>;

    /// Renames a dataset; `NameTaken` when another dataset of the conversation has the name.
    ///
    /// # Errors
    /// `NameTaken`; `Repository`.
    async fn rename(&self, id: DatasetId, name: &str) -> Result<(), DatasetWriteError>;

    /// Replaces the loaded content's description (schema, counts, size, validators, version, status, error,
    /// `loaded_at`, descriptions) in one statement.
    ///
    /// # Errors
    /// `Unavailable`; `Constraint`.
    async fn update_content(&self, dataset: &Dataset) -> Result<(), RepositoryError>;

    /// Replaces the column descriptions.
    ///
    /// # Errors
    /// `Unavailable`.
    async fn set_descriptions(
        &self,
        id: DatasetId,
        descriptions: &BTreeMap<String, String>,
    ) -> Result<(), RepositoryError>;

    /// Deletes a dataset. When it referenced an upload that no other dataset references, the upload row goes in
    /// the same transaction and its id is returned so the caller can unlink the file after the commit.
    ///
    /// # Errors
    /// `Unavailable`.
    async fn delete(&self, id: DatasetId) -> Result<Option<UploadId>, RepositoryError>;

    /// Marks every dataset still `loading` as `error` with `message`: at start-up no background load is running,
    /// so these were cut off by a stop. Returns how many there were.
    ///
    /// # Errors
    /// `Unavailable`.
    async fn fail_interrupted_loads(&self, message: &str) -> Result<u64, RepositoryError>;

    /// Deletes the uploads of `owner` that no dataset references any more (their conversations were deleted) in
    /// one transaction and returns their ids so the caller can unlink the files after the commit.
    ///
    /// # Errors
    /// `Unavailable`.
    async fn delete_unreferenced_uploads(
        &self,
        owner: UserId,
    ) -> Result<Vec<UploadId>, RepositoryError>;
}
