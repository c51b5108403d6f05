//! The footers of remote Parquet files kept on disk by object (a digest of URL and version), shared by every
//! process that reads the dataset: the server reads a footer when the dataset is added, and each query worker then
//! reads it from here instead of from the network, also the first time, also after a restart. A file holds the
//! object's last bytes, never more than its footer (metadata, its length, `PAR1`): data pages are always read from
//! the network, with `If-Match`, so a changed file is still noticed by the next query that reads data. The offset of
//! the kept bytes is the object's size minus the file's length. The directory is capped; the oldest go first.

use std::ops::Range;
use std::path::PathBuf;

use bytes::Bytes;

/// A footer longer than this is not kept (footers of files with thousands of row groups stay far below).
const MAX_TAIL_BYTES: u64 = 16 << 20;
/// The directory is trimmed to `TRIM_TO` when it holds more than this.
const MAX_DIR_BYTES: u64 = 64 << 20;
const TRIM_TO: u64 = 48 << 20;

/// The kept tails of remote objects.
#[derive(Debug)]
pub struct TailCache {
    dir: PathBuf,
}

/// A kept tail: the object's bytes `start..size`.
#[derive(Debug, Clone)]
pub struct Tail {
    pub start: u64,
    pub bytes: Bytes,
}

impl Tail {
    /// The bytes of `range`, when the tail holds all of it.
    pub fn slice(&self, range: &Range<u64>) -> Option<Bytes> {
        let end = self.start + self.bytes.len() as u64;
        if range.start < self.start || range.end > end {
            return None;
        }
        let from = usize::try_from(range.start - self.start).ok()?;
        let to = usize::try_from(range.end - self.start).ok()?;
        Some(self.bytes.slice(from..to))
    }
}

/// The last bytes of a Parquet file that belong to its footer: at most the metadata, its 4-byte length and
/// `PAR1`; `None` when the bytes do not end like a Parquet file.
fn footer_part(tail: &Bytes) -> Option<Bytes> {
    let length = tail.len();
    if length < 8 || &tail[length - 4..] != b"PAR1" {
        return None;
    }
    let metadata = u32::from_le_bytes(tail[length - 8..length - 4].try_into().ok()?);
    let footer = usize::try_from(metadata).ok()?.checked_add(8)?;
    Some(tail.slice(length - footer.min(length)..))
}

impl TailCache {
    /// Tails under `dir` (created when first written).
    pub fn new(dir: PathBuf) -> Self {
        Self { dir }
    }

    fn file(&self, object: &str) -> PathBuf {
        // Object paths are `d/<hex digest>`: the digest names the file.
        self.dir.join(object.rsplit('/').next().unwrap_or(object))
    }

    /// The kept tail of `object` (of `size` bytes), if any.
    pub async fn get(&self, object: &str, size: u64) -> Option<Tail> {
        let bytes = tokio::fs::read(self.file(object)).await.ok()?;
        let length = bytes.len() as u64;
        if length == 0 || length > size {
            return None;
        }
        Some(Tail {
            start: size - length,
            bytes: Bytes::from(bytes),
        })
    }

    /// Keeps the footer part of `bytes` as the tail of `object` when they end at its end and hold more of the
    /// footer than is kept now. Best effort: a failed write only means the next reader fetches the footer again.
    pub async fn offer(&self, object: &str, size: u64, range: &Range<u64>, bytes: &Bytes) {
        if range.end != size || bytes.len() as u64 != range.end - range.start {
            return;
        }
        let Some(footer) = footer_part(bytes) else {
            return;
        };
        let length = footer.len() as u64;
        if length > MAX_TAIL_BYTES {
            return;
        }
        let path = self.file(object);
        if tokio::fs::metadata(&path)
            .await
            .is_ok_and(|kept| kept.len() >= length)
        {
            return;
        }
        if tokio::fs::create_dir_all(&self.dir).await.is_err() {
            return;
        }
        // Written under a name of this process, then renamed: readers in other processes never see half a tail.
        let temporary = path.with_extension(format!("{}.partial", std::process::id()));
        if tokio::fs::write(&temporary, &footer).await.is_ok()
            && tokio::fs::rename(&temporary, &path).await.is_ok()
        {
            self.trim().await;
        } else {
            let _ = tokio::fs::remove_file(&temporary).await;
        }
    }

    /// Removes the oldest tails while the directory holds more than its cap.
    async fn trim(&self) {
        let Ok(mut entries) = tokio::fs::read_dir(&self.dir).await else {
            return;
        };
        let mut kept = Vec::new();
        let mut total = 0;
        while let Ok(Some(entry)) = entries.next_entry().await {
            if let Ok(meta) = entry.metadata().await {
                total += meta.len();
                kept.push((meta.modified().ok(), meta.len(), entry.path()));
            }
        }
        if total <= MAX_DIR_BYTES {
            return;
        }
        kept.sort();
        for (_, length, path) in kept {
            if total <= TRIM_TO {
                break;
            }
            if tokio::fs::remove_file(&path).await.is_ok() {
                total -= length;
            }
        }
    }
}
