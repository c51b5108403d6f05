//! Byte ranges of remote Parquet files kept on disk, so a query that runs again reads its column chunks from here
//! instead of the network (docs/architecture.md, "Query isolation"). A range is keyed by the object (a digest of the
//! URL and the dataset's stored version: its `ETag` or `Last-Modified`) and its offsets, so every conversation that uses
//! the same URL at the same version shares it, and a refresh that finds a new version reads fresh bytes under a new
//! key. Files are written under a temporary name and renamed, so the server and the query workers, which all read
//! and write here, never see half a range. The directory is capped; the least recently written go first.

use std::ops::Range;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;

/// A range longer than this is not kept (column chunks of well-sized row groups stay far below).
const MAX_RANGE_BYTES: u64 = 256 << 20;

/// The kept ranges of remote objects.
#[derive(Debug)]
pub struct RangeCache {
    dir: PathBuf,
    max_bytes: u64,
    /// Bytes this process wrote since it last measured the directory.
    written: AtomicU64,
}

impl RangeCache {
    /// Ranges under `dir` (created when first written), at most `max_bytes` of them; 0 keeps nothing.
    pub fn new(dir: PathBuf, max_bytes: u64) -> Self {
        Self {
            dir,
            max_bytes,
            written: AtomicU64::new(0),
        }
    }

    pub fn dir(&self) -> &std::path::Path {
        &self.dir
    }

    pub const fn max_bytes(&self) -> u64 {
        self.max_bytes
    }

    fn file(&self, object: &str, range: &Range<u64>) -> PathBuf {
        // Object paths are `d/<hex digest>`: the digest and the offsets name the file.
        let digest = object.rsplit('/').next().unwrap_or(object);
        self.dir
            .join(format!("{digest}-{}-{}", range.start, range.end))
    }

    /// The kept bytes of exactly `range` of `object`, if any.
    pub async fn get(&self, object: &str, range: &Range<u64>) -> Option<Bytes> {
        if self.max_bytes == 0 {
            return None;
        }
        let bytes = tokio::fs::read(self.file(object, range)).await.ok()?;
        (bytes.len() as u64 == range.end - range.start).then(|| Bytes::from(bytes))
    }

    /// Keeps `bytes` as `range` of `object`. Best effort: a failed write only means the next reader fetches again.
    pub async fn put(&self, object: &str, range: &Range<u64>, bytes: &Bytes) {
        let length = bytes.len() as u64;
        if self.max_bytes == 0 || length != range.end - range.start || length > MAX_RANGE_BYTES {
            return;
        }
        let path = self.file(object, range);
        if tokio::fs::create_dir_all(&self.dir).await.is_err() {
            return;
        }
        let temporary = path.with_extension(format!("{}.partial", std::process::id()));
        if tokio::fs::write(&temporary, bytes).await.is_ok()
            && tokio::fs::rename(&temporary, &path).await.is_ok()
        {
            // Measuring the directory costs a listing: done once an eighth of the cap was written here.
            let written = self.written.fetch_add(length, Ordering::Relaxed) + length;
            if written >= self.max_bytes / 8 {
                self.written.store(0, Ordering::Relaxed);
                self.trim().await;
            }
        } else {
            let _ = tokio::fs::remove_file(&temporary).await;
        }
    }

    /// Removes the oldest ranges while the directory holds more than its cap (down to three quarters of it).
    pub async fn trim(&self) {
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
        if total <= self.max_bytes {
            return;
        }
        kept.sort();
        let target = self.max_bytes / 4 * 3;
        for (_, length, path) in kept {
            if total <= target {
                break;
            }
            if tokio::fs::remove_file(&path).await.is_ok() {
                total -= length;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn ranges_round_trip_by_exact_offsets_and_the_directory_stays_capped() {
        let dir = std::env::temp_dir().join(format!(
            "tabletalk-ranges-test-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        let cache = RangeCache::new(dir.join("ranges"), 4096);
        let bytes = Bytes::from(vec![7_u8; 1000]);
        cache.put("d/abc", &(0..1000), &bytes).await;
        assert_eq!(cache.get("d/abc", &(0..1000)).await, Some(bytes.clone()));
        assert_eq!(
            cache.get("d/abc", &(0..999)).await,
            None,
            "exact ranges only"
        );
        assert_eq!(
            cache.get("d/abd", &(0..1000)).await,
            None,
            "another version"
        );
        cache.put("d/abc", &(0..10), &bytes).await;
        assert_eq!(
            cache.get("d/abc", &(0..10)).await,
            None,
            "a length that does not match is not kept"
        );
        for i in 1..=10_u64 {
            cache
                .put("d/abc", &(i * 1000..(i + 1) * 1000), &bytes)
                .await;
        }
        cache.trim().await;
        let mut total = 0;
        for entry in std::fs::read_dir(dir.join("ranges")).unwrap() {
            total += entry.unwrap().metadata().unwrap().len();
        }
        assert!(total <= 4096, "capped: {total}");
        assert!(
            cache.get("d/abc", &(10_000..11_000)).await.is_some(),
            "the newest stay"
        );
        let off = RangeCache::new(dir.join("off"), 0);
        off.put("d/abc", &(0..1000), &bytes).await;
        assert_eq!(off.get("d/abc", &(0..1000)).await, None);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
