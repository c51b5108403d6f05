//! The upload store: a part is streamed to a temporary file in the upload directory while its SHA-256 is computed;
//! kept uploads are named by their id. The whole file is never held in memory.

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use sha2::{Digest, Sha256};
use tabletalk_ports::{LoadError, LoadErrorKind, StagedUpload, UploadId, UploadSink};
use tokio::io::AsyncWriteExt;

use super::cache::hex;
use super::download::storage_error;

const STAGING_PREFIX: &str = "incoming-";

/// The upload directory.
#[derive(Debug, Clone)]
pub struct UploadDir {
    dir: PathBuf,
    max_bytes: u64,
}

impl UploadDir {
    /// Opens the directory and deletes staging files left by a crash.
    pub fn open(dir: PathBuf, max_bytes: u64) -> std::io::Result<Self> {
        std::fs::create_dir_all(&dir)?;
        for item in std::fs::read_dir(&dir)? {
            let item = item?;
            if item
                .file_name()
                .to_string_lossy()
                .starts_with(STAGING_PREFIX)
            {
                let _ = std::fs::remove_file(item.path());
            }
        }
        Ok(Self { dir, max_bytes })
    }

    /// Where a kept upload lives.
    pub fn path_of(&self, id: UploadId) -> PathBuf {
        self.dir.join(id.to_string())
    }

    /// A new staging file.
    ///
    /// # Errors
    /// `Storage`.
    pub async fn stage(&self) -> Result<Box<dyn UploadSink>, LoadError> {
        let path = self
            .dir
            .join(format!("{STAGING_PREFIX}{}", UploadId::new()));
        let file = tokio::fs::File::create(&path)
            .await
            .map_err(|e| storage_error(&e))?;
        Ok(Box::new(StagingFile {
            path: Some(path),
            file: Some(tokio::io::BufWriter::new(file)),
            hasher: Sha256::new(),
            size: 0,
            max_bytes: self.max_bytes,
        }))
    }

    /// Renames a staged file to the upload's id.
    ///
    /// # Errors
    /// `Storage`.
    pub async fn keep(&self, staged: &StagedUpload, id: UploadId) -> Result<(), LoadError> {
        tokio::fs::rename(&staged.path, self.path_of(id))
            .await
            .map_err(|e| storage_error(&e))
    }

    pub async fn remove(path: &Path) {
        if let Err(error) = tokio::fs::remove_file(path).await
            && error.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(%error, path = %path.display(), "could not delete an upload file");
        }
    }
}

struct StagingFile {
    path: Option<PathBuf>,
    file: Option<tokio::io::BufWriter<tokio::fs::File>>,
    hasher: Sha256,
    size: u64,
    max_bytes: u64,
}

impl Drop for StagingFile {
    fn drop(&mut self) {
        // Abandoned (client gone, limit hit, error): the temporary file must not stay behind.
        if let Some(path) = self.path.take() {
            let _ = std::fs::remove_file(path);
        }
    }
}

#[async_trait]
impl UploadSink for StagingFile {
    async fn write(&mut self, chunk: &[u8]) -> Result<(), LoadError> {
        self.size += chunk.len() as u64;
        if self.size > self.max_bytes {
            self.file = None;
            return Err(LoadError::new(
                LoadErrorKind::UploadTooLarge,
                format!("File too large (max {} MB)", self.max_bytes / 1_048_576),
            ));
        }
        self.hasher.update(chunk);
        let Some(file) = self.file.as_mut() else {
            return Err(LoadError::new(
                LoadErrorKind::Storage,
                "upload already closed",
            ));
        };
        file.write_all(chunk).await.map_err(|e| storage_error(&e))
    }

    async fn finish(mut self: Box<Self>) -> Result<StagedUpload, LoadError> {
        let Some(mut file) = self.file.take() else {
            return Err(LoadError::new(
                LoadErrorKind::Storage,
                "upload already closed",
            ));
        };
        file.flush().await.map_err(|e| storage_error(&e))?;
        file.get_mut()
            .sync_all()
            .await
            .map_err(|e| storage_error(&e))?;
        let path = self.path.take().unwrap_or_default();
        let hasher = std::mem::take(&mut self.hasher);
        Ok(StagedUpload {
            path,
            sha256: hex(&hasher.finalize()),
            size_bytes: self.size,
        })
    }
}
