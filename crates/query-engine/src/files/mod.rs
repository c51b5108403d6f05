//! Dataset files: the download cache, whole-file downloads, staged uploads and the validators of remote files,
//! gathered in [`DatasetFiles`], which the query engine and the content loader share.

pub mod cache;
pub mod download;
pub mod uploads;
pub mod validators;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tabletalk_ports::{LoadError, LoadErrorKind, ProgressSink, UploadId};
use url::Url;

use crate::engine::file_caches::FileCaches;
use crate::fetch::{FetchSettings, GuardedFetcher};
use crate::remote::TailCache;
use cache::{CacheLease, FileCache, remote_key};
use download::{download, gunzip, storage_error};
use uploads::UploadDir;

/// `storage.*` and `datasets.*` as the file layer needs them.
#[derive(Debug, Clone)]
pub struct FileSettings {
    pub fetch: FetchSettings,
    pub upload_dir: PathBuf,
    pub cache_dir: PathBuf,
    pub cache_max_bytes: u64,
    pub max_upload_bytes: u64,
    pub max_download_bytes: u64,
    pub probe_timeout: Duration,
    pub download_timeout: Duration,
}

/// Where dataset content lives and how it is fetched.
pub struct DatasetFiles {
    pub fetcher: GuardedFetcher,
    pub cache: Arc<FileCache>,
    pub uploads: UploadDir,
    pub settings: FileSettings,
    /// Shared by every context of the server (schema reads) so footers are read once per `(url, version)`.
    pub(crate) file_caches: FileCaches,
    /// Footer bytes on disk (`<cache_dir>/footers`), shared with the query workers.
    pub tails: Arc<TailCache>,
    /// Ranges of remote Parquet files on disk (`<cache_dir>/ranges`, a quarter of `storage.cache_max_bytes`),
    /// shared with the query workers.
    pub ranges: Arc<crate::remote::RangeCache>,
}

impl std::fmt::Debug for DatasetFiles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DatasetFiles")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// Where footers of remote files are kept: a folder of the cache directory (the file cache ignores folders).
pub fn footers_dir(cache_dir: &Path) -> PathBuf {
    cache_dir.join("footers")
}

fn noop_progress() -> ProgressSink {
    Arc::new(|_, _| {})
}

impl DatasetFiles {
    /// Opens the upload and cache directories (cleaning temporary files, rebuilding the cache index).
    ///
    /// # Errors
    /// When a directory cannot be created or read.
    /// Opens the upload and cache folders; `telemetry` hears of every byte fetched through this engine's fetcher
    /// (its query workers' range reads included).
    pub fn open(
        settings: FileSettings,
        telemetry: Arc<dyn tabletalk_ports::Telemetry>,
    ) -> std::io::Result<Arc<Self>> {
        let cache = FileCache::open(settings.cache_dir.clone(), settings.cache_max_bytes)?;
        let uploads = UploadDir::open(settings.upload_dir.clone(), settings.max_upload_bytes)?;
        let tails = Arc::new(TailCache::new(footers_dir(&settings.cache_dir)));
        let ranges = Arc::new(crate::remote::RangeCache::new(
            settings.cache_dir.join("ranges"),
            settings.cache_max_bytes / 4,
        ));
        Ok(Arc::new(Self {
            tails,
            ranges,
            fetcher: GuardedFetcher::new(settings.fetch.clone()).with_telemetry(telemetry),
            cache,
            uploads,
            settings,
            file_caches: FileCaches::new("TabletalkServer"),
        }))
    }

    /// The decompressed content of a gzip upload, expanded into the cache on first use.
    ///
    /// # Errors
    /// `InvalidFile`, `FileTooLarge`, `Storage`.
    pub async fn expanded_upload(&self, id: UploadId) -> Result<CacheLease, LoadError> {
        let source = self.uploads.path_of(id);
        let cap = self.settings.cache_max_bytes;
        self.cache
            .get_or_fill(
                &remote_key("upload", &id.to_string()),
                |e| storage_error(&e),
                |to| async move { gunzip(&source, &to, cap).await },
            )
            .await
    }

    /// A remote file's content in the cache, downloaded (and expanded when gzip) if needed. When `expected_version`
    /// is given, the downloaded content must have it, else `Changed`.
    ///
    /// # Errors
    /// The download's errors; `Changed`.
    pub async fn cached_remote(
        &self,
        url: &Url,
        version: &str,
        gzip: bool,
        expected_version: bool,
        progress: Option<ProgressSink>,
    ) -> Result<(CacheLease, Option<download::Downloaded>), LoadError> {
        let settings = &self.settings;
        let progress = progress.unwrap_or_else(noop_progress);
        let recorded = std::sync::Mutex::new(None);
        let slot = &recorded;
        let lease = self.cache
            .get_or_fill(&remote_key(url.as_str(), version), |e| storage_error(&e), |to| async move {
                let raw = if gzip { to.with_extension("gz.tmp") } else { to.clone() };
                let outcome = download(
                    &self.fetcher,
                    url,
                    settings.download_timeout,
                    settings.max_download_bytes,
                    &progress,
                    &raw,
                )
                .await;
                let downloaded = match outcome {
                    Ok(downloaded) => downloaded,
                    Err(error) => {
                        let _ = tokio::fs::remove_file(&raw).await;
                        return Err(error);
                    }
                };
                if expected_version
                    && downloaded.validators.version(Some(&downloaded.sha256)) != version
                {
                    let _ = tokio::fs::remove_file(&raw).await;
                    return Err(LoadError::new(
                        LoadErrorKind::Changed,
                        format!(
                            "The file at {url} has changed since it was added. Refresh the dataset to use the new \
                             version."
                        ),
                    ));
                }
                if gzip {
                    let expanded = gunzip(&raw, &to, settings.cache_max_bytes).await;
                    let _ = tokio::fs::remove_file(&raw).await;
                    expanded?;
                }
                *slot.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(downloaded);
                Ok(())
            })
            .await?;
        let downloaded = recorded
            .into_inner()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        Ok((lease, downloaded))
    }

    /// A kept upload's path.
    pub fn upload_path(&self, id: UploadId) -> PathBuf {
        self.uploads.path_of(id)
    }

    /// Deletes a file if present.
    pub async fn remove(path: &Path) {
        UploadDir::remove(path).await;
    }
}
