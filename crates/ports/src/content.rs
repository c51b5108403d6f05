//! The dataset-content port: everything that touches a dataset's bytes — fetching through the SSRF guard,
//! format detection and verification, the file cache, staged uploads, and schema extraction (docs/api.md,
//! "Datasets"). The domain owns the rules around it (naming, duplicates, limits, storage).

use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;

use crate::{ColumnSchema, Compression, Dataset, DatasetFormat, Timestamp, UploadId};

/// Which rule refused or failed a load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoadErrorKind {
    InvalidUrl,
    UnsupportedScheme,
    Blocked,
    Unreachable,
    FileTooLarge,
    UnsupportedFormat,
    InvalidFile,
    SchemaExtraction,
    UploadTooLarge,
    /// The content no longer matches the recorded version.
    Changed,
    /// Local storage failed (disk full, permissions).
    Storage,
}

/// A failed load; `message` is the sentence users see (docs/api.md, "Datasets").
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct LoadError {
    pub kind: LoadErrorKind,
    pub message: String,
}

impl LoadError {
    pub fn new(kind: LoadErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }
}

/// A loaded dataset's description: what the dataset row stores about its content.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadedContent {
    pub format: DatasetFormat,
    pub compression: Compression,
    pub file_size_bytes: Option<i64>,
    pub etag: Option<String>,
    pub last_modified: Option<Timestamp>,
    /// `etag:<etag>`, `size:<n>;mtime:<ts>` or `sha256:<hex>` (docs/architecture.md, "Storage", `datasets.version`).
    pub version: String,
    pub row_count: i64,
    /// The columns in file order.
    pub columns: Vec<ColumnSchema>,
}

/// Download progress: bytes so far and the total when known. Called at most a few times per second, and only
/// for downloads that take longer than a second.
pub type ProgressSink = Arc<dyn Fn(u64, Option<u64>) + Send + Sync>;

/// An upload streamed to a temporary file, not yet kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StagedUpload {
    pub path: PathBuf,
    pub sha256: String,
    pub size_bytes: u64,
}

/// Receives an upload's bytes as they arrive; dropping it without `finish` deletes the temporary file.
#[async_trait]
pub trait UploadSink: Send {
    /// Appends a chunk.
    ///
    /// # Errors
    /// `UploadTooLarge` beyond `datasets.max_upload_bytes` (the file is deleted); `Storage`.
    async fn write(&mut self, chunk: &[u8]) -> Result<(), LoadError>;

    /// Flushes and closes the file.
    ///
    /// # Errors
    /// `Storage`.
    async fn finish(self: Box<Self>) -> Result<StagedUpload, LoadError>;
}

/// Result of a refresh probe.
#[derive(Debug, Clone, PartialEq)]
pub enum Refreshed {
    /// The validators say the content did not change.
    Unchanged,
    Changed(LoadedContent),
}

/// Reads, verifies and describes dataset content.
#[async_trait]
pub trait DatasetContent: Send + Sync + 'static {
    /// Steps 7–14 of docs/api.md, "Datasets" for a normalised http(s) URL.
    ///
    /// # Errors
    /// The pipeline errors of those steps.
    async fn load_url(&self, url: &str, progress: ProgressSink)
    -> Result<LoadedContent, LoadError>;

    /// The SSRF guard alone (docs/api.md, "Datasets") for a normalised http(s) URL: resolves its host and checks
    /// every address, fetching nothing. For URLs stored now and loaded later (an assistant's datasets).
    ///
    /// # Errors
    /// `Blocked` when an address is refused; `Unreachable` when the host does not resolve.
    async fn check_url(&self, url: &str) -> Result<(), LoadError>;

    /// Refresh of a URL dataset (docs/api.md, "Datasets"): a conditional probe, then the load again when the content
    /// changed.
    ///
    /// # Errors
    /// As [`DatasetContent::load_url`].
    async fn refresh_url(
        &self,
        dataset: &Dataset,
        progress: ProgressSink,
    ) -> Result<Refreshed, LoadError>;

    /// Opens a temporary file in the upload directory for an incoming upload.
    ///
    /// # Errors
    /// `Storage`.
    async fn begin_upload(&self) -> Result<Box<dyn UploadSink>, LoadError>;

    /// Verifies a staged upload and extracts its schema and statistics (docs/api.md, "Datasets").
    ///
    /// # Errors
    /// `InvalidFile`, `SchemaExtraction`.
    async fn inspect_upload(
        &self,
        staged: &StagedUpload,
        format: DatasetFormat,
        compression: Compression,
    ) -> Result<LoadedContent, LoadError>;

    /// Moves a staged upload to its permanent place under the given id.
    ///
    /// # Errors
    /// `Storage`.
    async fn keep_upload(&self, staged: &StagedUpload, id: UploadId) -> Result<(), LoadError>;

    /// Deletes a staged upload's temporary file.
    async fn discard_upload(&self, staged: &StagedUpload);

    /// Deletes a kept upload's file (after its last dataset is gone).
    async fn remove_upload(&self, id: UploadId);
}
