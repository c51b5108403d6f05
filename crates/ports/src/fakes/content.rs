//! Dataset content from a script keyed by URL: what a load returns, without any network or file.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;

use super::lock;

use crate::{
    ColumnSchema, ColumnStats, Compression, Dataset, DatasetContent, DatasetFormat, LoadError,
    LoadErrorKind, LoadedContent, ProgressSink, Refreshed, StagedUpload, UploadId, UploadSink,
};

/// Loads answer what [`ScriptedContent::serve`] set for the URL; other URLs are unreachable. Uploads are not
/// scripted (`begin_upload` fails with `Storage`).
#[derive(Debug, Default)]
pub struct ScriptedContent {
    by_url: Mutex<HashMap<String, Result<LoadedContent, LoadError>>>,
    loads: Mutex<Vec<String>>,
}

impl ScriptedContent {
    /// From now on, loading `url` gives `outcome`.
    pub fn serve(&self, url: &str, outcome: Result<LoadedContent, LoadError>) -> &Self {
        lock(&self.by_url).insert(url.to_owned(), outcome);
        self
    }

    /// Every URL loaded or refreshed, in order.
    pub fn loads(&self) -> Vec<String> {
        lock(&self.loads).clone()
    }

    fn load(&self, url: &str) -> Result<LoadedContent, LoadError> {
        lock(&self.loads).push(url.to_owned());
        lock(&self.by_url).get(url).cloned().unwrap_or_else(|| {
            Err(LoadError::new(
                LoadErrorKind::Unreachable,
                "Could not reach URL",
            ))
        })
    }
}

/// Parquet content with `rows` rows and the named BIGINT columns.
pub fn parquet_content(rows: i64, columns: &[&str]) -> LoadedContent {
    LoadedContent {
        format: DatasetFormat::Parquet,
        compression: Compression::None,
        file_size_bytes: Some(1024),
        etag: Some("\"v1\"".to_owned()),
        last_modified: None,
        version: "etag:\"v1\"".to_owned(),
        row_count: rows,
        columns: columns
            .iter()
            .map(|name| ColumnSchema {
                name: (*name).to_owned(),
                sql_type: "BIGINT".to_owned(),
                nullable: false,
                sample_values: vec!["1".to_owned()],
                stats: ColumnStats::default(),
            })
            .collect(),
    }
}

#[async_trait]
impl DatasetContent for ScriptedContent {
    async fn load_url(
        &self,
        url: &str,
        _progress: ProgressSink,
    ) -> Result<LoadedContent, LoadError> {
        self.load(url)
    }

    /// A URL scripted to fail with `Blocked` is blocked here too; every other URL passes (nothing is loaded).
    async fn check_url(&self, url: &str) -> Result<(), LoadError> {
        match lock(&self.by_url).get(url) {
            Some(Err(error)) if error.kind == LoadErrorKind::Blocked => Err(error.clone()),
            _ => Ok(()),
        }
    }

    async fn refresh_url(
        &self,
        dataset: &Dataset,
        _progress: ProgressSink,
    ) -> Result<Refreshed, LoadError> {
        let content = self.load(&dataset.url)?;
        Ok(
            if dataset.version.as_deref() == Some(content.version.as_str()) {
                Refreshed::Unchanged
            } else {
                Refreshed::Changed(content)
            },
        )
    }

    async fn begin_upload(&self) -> Result<Box<dyn UploadSink>, LoadError> {
        Err(LoadError::new(
            LoadErrorKind::Storage,
            "uploads are not scripted",
        ))
    }

    async fn inspect_upload(
        &self,
        _staged: &StagedUpload,
        _format: DatasetFormat,
        _compression: Compression,
    ) -> Result<LoadedContent, LoadError> {
        Err(LoadError::new(
            LoadErrorKind::Storage,
            "uploads are not scripted",
        ))
    }

    async fn keep_upload(&self, _staged: &StagedUpload, _id: UploadId) -> Result<(), LoadError> {
        Ok(())
    }

    async fn discard_upload(&self, _staged: &StagedUpload) {}

    async fn remove_upload(&self, _id: UploadId) {}
}
