//! The dataset-content adapter: the add/refresh pipelines' I/O steps (probe, format, size, verification, acquire,
//! schema) and staged uploads, implementing the `DatasetContent` port. Heavy work runs on the query engine's
//! runtime, never on an HTTP worker.

mod detect;
mod probe;
mod schema;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use reqwest::StatusCode;
use reqwest::header::{HeaderMap, HeaderValue, IF_MODIFIED_SINCE, IF_NONE_MATCH};
use tabletalk_ports::{
    Compression, Dataset, DatasetContent, DatasetFormat, LoadError, LoadErrorKind, LoadedContent,
    ProgressSink, Refreshed, StagedUpload, UploadId, UploadSink,
};
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use url::Url;

pub use schema::{header_names, quote};

use crate::files::DatasetFiles;
use crate::files::download::{gunzip, storage_error, too_large};
use crate::files::validators::Validators;
use crate::remote::RemoteObject;
use detect::{ByContentType, SNIFF_BYTES};
use schema::{Described, LocalLimits};

/// Limits of schema work.
#[derive(Debug, Clone, Copy)]
pub struct ContentSettings {
    /// `datasets.csv_infer_rows`.
    pub infer_rows: usize,
    /// `query.timeout`: bounds a full statistics pass over a text file.
    pub schema_timeout: Duration,
    /// `query.memory_limit`.
    pub memory_limit: usize,
}

/// Implements the dataset-content port over the shared files layer.
#[derive(Debug, Clone)]
pub struct ContentLoader {
    files: Arc<DatasetFiles>,
    settings: ContentSettings,
    runtime: tokio::runtime::Handle,
}

fn invalid_url() -> LoadError {
    LoadError::new(LoadErrorKind::InvalidUrl, "Invalid URL format")
}

fn loaded(
    described: Described,
    format: DatasetFormat,
    compression: Compression,
    validators: &Validators,
    size: Option<u64>,
    sha256: Option<&str>,
) -> LoadedContent {
    LoadedContent {
        format,
        compression,
        file_size_bytes: size.and_then(|s| i64::try_from(s).ok()),
        etag: validators.etag.clone(),
        last_modified: validators.last_modified,
        version: validators.version(sha256),
        row_count: described.row_count,
        columns: described.columns,
    }
}

/// The first bytes of a local file.
async fn file_start(path: &Path) -> Result<Vec<u8>, LoadError> {
    let mut file = tokio::fs::File::open(path)
        .await
        .map_err(|e| storage_error(&e))?;
    let mut buffer = Vec::with_capacity(4096);
    (&mut file)
        .take(SNIFF_BYTES)
        .read_to_end(&mut buffer)
        .await
        .map_err(|e| storage_error(&e))?;
    Ok(buffer)
}

/// The last 8 bytes of a local file.
async fn file_tail(path: &Path) -> Result<Vec<u8>, LoadError> {
    let mut file = tokio::fs::File::open(path)
        .await
        .map_err(|e| storage_error(&e))?;
    let length = file.metadata().await.map_err(|e| storage_error(&e))?.len();
    file.seek(std::io::SeekFrom::Start(length.saturating_sub(8)))
        .await
        .map_err(|e| storage_error(&e))?;
    let mut tail = Vec::new();
    file.read_to_end(&mut tail)
        .await
        .map_err(|e| storage_error(&e))?;
    Ok(tail)
}

impl ContentLoader {
    pub fn new(
        files: Arc<DatasetFiles>,
        settings: ContentSettings,
        runtime: tokio::runtime::Handle,
    ) -> Self {
        Self {
            files,
            settings,
            runtime,
        }
    }

    fn limits(&self) -> LocalLimits {
        LocalLimits {
            memory_limit: self.settings.memory_limit,
            infer_rows: self.settings.infer_rows,
            timeout: self.settings.schema_timeout,
        }
    }

    /// Runs `work` on the engine's runtime; dropping the future (client gone) aborts it.
    async fn spawn<T: Send + 'static>(
        &self,
        work: impl Future<Output = Result<T, LoadError>> + Send + 'static,
    ) -> Result<T, LoadError> {
        struct Abort<T>(tokio::task::JoinHandle<T>);
        impl<T> Drop for Abort<T> {
            fn drop(&mut self) {
                self.0.abort();
            }
        }
        let mut task = Abort(self.runtime.spawn(work));
        (&mut task.0).await.map_err(|_| {
            LoadError::new(
                LoadErrorKind::Storage,
                "the dataset load failed unexpectedly",
            )
        })?
    }

    /// Step 12 for Parquet with range support: verification and the footer, read with range requests only.
    async fn load_ranged(
        &self,
        url: &Url,
        validators: &Validators,
        sample: Option<bytes::Bytes>,
        format: DatasetFormat,
        compression: Compression,
    ) -> Result<LoadedContent, LoadError> {
        let files = &self.files;
        let timeout = files.settings.probe_timeout;
        let url = url.clone();
        let validators = validators.clone();
        let size = validators.size.unwrap_or_default();
        let start = match sample {
            Some(bytes) => bytes,
            None => {
                probe::range_get(&files.fetcher, &url, "0-3", timeout, 4)
                    .await?
                    .2
            }
        };
        detect::verify_start(&start, format, compression)?;
        let (status, _, tail) = probe::range_get(
            &files.fetcher,
            &url,
            &format!("{}-{}", size.saturating_sub(8), size.saturating_sub(1)),
            timeout,
            8,
        )
        .await?;
        if status != StatusCode::PARTIAL_CONTENT || tail.len() != 8 {
            return Err(LoadError::new(
                LoadErrorKind::InvalidFile,
                "Not a valid parquet file",
            ));
        }
        detect::verify_parquet_tail(&tail)?;
        let metadata_length = u64::from(u32::from_le_bytes([tail[0], tail[1], tail[2], tail[3]]));
        let object = RemoteObject {
            table: "dataset".to_owned(),
            url: url.clone(),
            etag: validators.etag.clone(),
            size,
            last_modified: chrono::DateTime::UNIX_EPOCH,
        };
        let version = validators.version(None);
        let described =
            schema::describe_remote_parquet(files, object, &version, metadata_length).await?;
        Ok(loaded(
            described,
            format,
            compression,
            &validators,
            Some(size),
            None,
        ))
    }

    /// Steps 8–14 of docs/api.md, "Datasets".
    async fn load(
        self,
        url: Url,
        conditional: HeaderMap,
        progress: ProgressSink,
    ) -> Result<Option<LoadedContent>, LoadError> {
        let files = &self.files;
        let timeout = files.settings.probe_timeout;
        let probe = probe::probe(&files.fetcher, &url, timeout, conditional).await?;
        if probe.not_modified {
            return Ok(None);
        }
        let mut sample = probe.head.clone();
        let (format, compression) = match detect::by_extension(url.path()) {
            Some(found) => found,
            None => match detect::by_content_type(probe.content_type.as_deref()) {
                ByContentType::Format(format) => (format, Compression::None),
                ByContentType::Html => {
                    return Err(LoadError::new(
                        LoadErrorKind::InvalidFile,
                        "The URL returned an HTML page, not a data file.",
                    ));
                }
                ByContentType::Unknown => {
                    if sample.is_none() {
                        let (_, _, body) =
                            probe::range_get(&files.fetcher, &url, "0-4095", timeout, 4096).await?;
                        sample = Some(body);
                    }
                    detect::by_magic(sample.as_deref().unwrap_or_default())?
                }
            },
        };
        // A content type naming gzip text overrides nothing: the extension or magic decided; gzip text is
        // recognised by its magic when verified below.
        let validators = probe.validators.clone();
        let ranged = format == DatasetFormat::Parquet
            && probe.ranges
            && validators.size.is_some_and(|s| s >= 12);
        let max = files.settings.max_download_bytes;
        if !ranged && let Some(size) = validators.size.filter(|s| *s > max) {
            return Err(too_large(size, max));
        }
        if ranged {
            let content = self
                .load_ranged(&url, &validators, sample, format, compression)
                .await?;
            return Ok(Some(content));
        }
        // Everything else is downloaded once into the file cache (expanded when gzip).
        let provisional = validators.version(None);
        let key_version = if validators.etag.is_some()
            || (validators.size.is_some() && validators.last_modified.is_some())
        {
            provisional
        } else {
            format!("unverified:{}", tabletalk_ports::UploadId::new())
        };
        let gzip = compression == Compression::Gzip;
        let (lease, downloaded) = files
            .cached_remote(&url, &key_version, gzip, false, Some(progress))
            .await?;
        let (size, sha) = match &downloaded {
            Some(d) => (Some(d.size), Some(d.sha256.clone())),
            None => (validators.size, None),
        };
        let start = file_start(lease.path()).await?;
        if gzip {
            detect::verify_text(&start, format)?;
        } else {
            detect::verify_start(&start, format, compression)?;
        }
        if format == DatasetFormat::Parquet {
            detect::verify_parquet_tail(&file_tail(lease.path()).await?)?;
        }
        let described = schema::describe_local(files, lease.path(), format, self.limits()).await?;
        let validators = downloaded.map_or(validators, |d| d.validators);
        Ok(Some(loaded(
            described,
            format,
            compression,
            &validators,
            size,
            sha.as_deref(),
        )))
    }
}

#[async_trait]
impl DatasetContent for ContentLoader {
    async fn load_url(
        &self,
        url: &str,
        progress: ProgressSink,
    ) -> Result<LoadedContent, LoadError> {
        let url = Url::parse(url).map_err(|_| invalid_url())?;
        let loader = self.clone();
        self.spawn(async move {
            loader
                .load(url, HeaderMap::new(), progress)
                .await?
                .ok_or_else(|| {
                    LoadError::new(
                        LoadErrorKind::Unreachable,
                        "Could not access URL (HTTP 304)",
                    )
                })
        })
        .await
    }

    async fn check_url(&self, url: &str) -> Result<(), LoadError> {
        let url = Url::parse(url).map_err(|_| invalid_url())?;
        self.files
            .fetcher
            .check(&url)
            .await
            .map_err(|e| crate::files::download::unreachable(&e))
    }

    async fn refresh_url(
        &self,
        dataset: &Dataset,
        progress: ProgressSink,
    ) -> Result<Refreshed, LoadError> {
        let url = Url::parse(&dataset.url).map_err(|_| invalid_url())?;
        let mut conditional = HeaderMap::new();
        if dataset.version.is_some() {
            if let Some(etag) = dataset
                .etag
                .as_deref()
                .and_then(|e| HeaderValue::from_str(e).ok())
            {
                conditional.insert(IF_NONE_MATCH, etag);
            } else if let Some(modified) = dataset.last_modified {
                let http_date = modified
                    .as_datetime()
                    .format("%a, %d %b %Y %H:%M:%S GMT")
                    .to_string();
                if let Ok(value) = HeaderValue::from_str(&http_date) {
                    conditional.insert(IF_MODIFIED_SINCE, value);
                }
            }
        }
        let loader = self.clone();
        let previous = dataset.version.clone();
        self.spawn(async move {
            match loader.load(url, conditional, progress).await? {
                None => Ok(Refreshed::Unchanged),
                Some(content) if Some(&content.version) == previous.as_ref() => {
                    Ok(Refreshed::Unchanged)
                }
                Some(content) => Ok(Refreshed::Changed(content)),
            }
        })
        .await
    }

    async fn begin_upload(&self) -> Result<Box<dyn UploadSink>, LoadError> {
        self.files.uploads.stage().await
    }

    async fn inspect_upload(
        &self,
        staged: &StagedUpload,
        format: DatasetFormat,
        compression: Compression,
    ) -> Result<LoadedContent, LoadError> {
        let loader = self.clone();
        let staged = staged.clone();
        self.spawn(async move {
            let files = &loader.files;
            let start = file_start(&staged.path).await?;
            detect::verify_start(&start, format, compression)?;
            if format == DatasetFormat::Parquet {
                detect::verify_parquet_tail(&file_tail(&staged.path).await?)?;
            }
            let described = if compression == Compression::Gzip {
                let expanded = staged.path.with_extension("expanded");
                let result = async {
                    gunzip(&staged.path, &expanded, files.settings.cache_max_bytes).await?;
                    schema::describe_local(files, &expanded, format, loader.limits()).await
                }
                .await;
                let _ = tokio::fs::remove_file(&expanded).await;
                result?
            } else {
                schema::describe_local(files, &staged.path, format, loader.limits()).await?
            };
            let validators = Validators::default();
            let mut content = loaded(
                described,
                format,
                compression,
                &validators,
                Some(staged.size_bytes),
                Some(&staged.sha256),
            );
            content.version = format!("sha256:{}", staged.sha256);
            Ok(content)
        })
        .await
    }

    async fn keep_upload(&self, staged: &StagedUpload, id: UploadId) -> Result<(), LoadError> {
        self.files.uploads.keep(staged, id).await
    }

    async fn discard_upload(&self, staged: &StagedUpload) {
        DatasetFiles::remove(&staged.path).await;
    }

    async fn remove_upload(&self, id: UploadId) {
        DatasetFiles::remove(&self.files.upload_path(id)).await;
    }
}
