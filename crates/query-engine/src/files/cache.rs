//! The content-addressed, size-capped LRU file cache of downloaded datasets (docs/api.md, "Datasets"). Files are
//! written to a temporary name and renamed into place; one download per key at a time; files leased by a running
//! query or load are never evicted; the index is rebuilt from the directory at startup.

use std::collections::HashMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use sha2::{Digest, Sha256};

const TEMP_SUFFIX: &str = ".tmp";

#[derive(Debug)]
struct Entry {
    size: u64,
    last_used: u64,
    leases: usize,
}

#[derive(Debug, Default)]
struct Index {
    entries: HashMap<String, Entry>,
    total: u64,
    clock: u64,
}

/// The cache directory and its index.
#[derive(Debug)]
pub struct FileCache {
    dir: PathBuf,
    max_bytes: u64,
    index: Mutex<Index>,
    fills: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

/// A cached file that cannot be evicted while the lease lives.
#[derive(Debug)]
pub struct CacheLease {
    cache: Arc<FileCache>,
    key: String,
    path: PathBuf,
}

impl CacheLease {
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for CacheLease {
    fn drop(&mut self) {
        let mut index = self.cache.index();
        if let Some(entry) = index.entries.get_mut(&self.key) {
            entry.leases = entry.leases.saturating_sub(1);
        }
        drop(index);
        self.cache.evict_over_cap();
    }
}

/// The cache key of a remote dataset's content: SHA-256 of `<normalised url>\n<version>`.
pub fn remote_key(url: &str, version: &str) -> String {
    hex(&Sha256::digest(format!("{url}\n{version}").as_bytes()))
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut out, b| {
            let _ = write!(out, "{b:02x}");
            out
        })
}

impl FileCache {
    /// Opens the directory: deletes leftover temporary files and rebuilds the index (older files first in LRU
    /// order, by modification time).
    pub fn open(dir: PathBuf, max_bytes: u64) -> std::io::Result<Arc<Self>> {
        std::fs::create_dir_all(&dir)?;
        let mut found = Vec::new();
        for item in std::fs::read_dir(&dir)? {
            let item = item?;
            let name = item.file_name().to_string_lossy().into_owned();
            let meta = item.metadata()?;
            if !meta.is_file() {
                continue;
            }
            if name.ends_with(TEMP_SUFFIX) {
                let _ = std::fs::remove_file(item.path());
                continue;
            }
            let modified = meta.modified().ok();
            found.push((modified, name, meta.len()));
        }
        found.sort();
        let mut index = Index::default();
        for (_, name, size) in found {
            index.clock += 1;
            index.total += size;
            index.entries.insert(
                name,
                Entry {
                    size,
                    last_used: index.clock,
                    leases: 0,
                },
            );
        }
        let cache = Arc::new(Self {
            dir,
            max_bytes,
            index: Mutex::new(index),
            fills: Mutex::new(HashMap::new()),
        });
        cache.evict_over_cap();
        Ok(cache)
    }

    fn index(&self) -> MutexGuard<'_, Index> {
        self.index.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn path_of(&self, key: &str) -> PathBuf {
        self.dir.join(key)
    }

    /// A lease on the cached file, if present.
    pub fn lookup(self: &Arc<Self>, key: &str) -> Option<CacheLease> {
        let path = self.path_of(key);
        let mut index = self.index();
        index.clock += 1;
        let clock = index.clock;
        let entry = index.entries.get_mut(key)?;
        if !path.is_file() {
            let size = entry.size;
            index.entries.remove(key);
            index.total = index.total.saturating_sub(size);
            return None;
        }
        entry.last_used = clock;
        entry.leases += 1;
        drop(index);
        Some(CacheLease {
            cache: self.clone(),
            key: key.to_owned(),
            path,
        })
    }

    /// The cached file, or `fill` writes it to the given temporary path first. Concurrent callers for one key wait
    /// for a single fill.
    ///
    /// # Errors
    /// `fill`'s error (the temporary file is removed), or a storage error converted by `storage`.
    pub async fn get_or_fill<E, F, Fut>(
        self: &Arc<Self>,
        key: &str,
        storage: impl Fn(std::io::Error) -> E,
        fill: F,
    ) -> Result<CacheLease, E>
    where
        F: FnOnce(PathBuf) -> Fut,
        Fut: Future<Output = Result<(), E>>,
    {
        if let Some(lease) = self.lookup(key) {
            return Ok(lease);
        }
        let gate = self
            .fills
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(key.to_owned())
            .or_default()
            .clone();
        let _filling = gate.lock().await;
        if let Some(lease) = self.lookup(key) {
            return Ok(lease);
        }
        let temporary = self
            .dir
            .join(format!("{key}.{}{TEMP_SUFFIX}", std::process::id()));
        let filled = fill(temporary.clone()).await;
        if let Err(error) = filled {
            let _ = tokio::fs::remove_file(&temporary).await;
            return Err(error);
        }
        let path = self.path_of(key);
        let size = match tokio::fs::metadata(&temporary).await {
            Ok(meta) => meta.len(),
            Err(error) => return Err(storage(error)),
        };
        if let Err(error) = tokio::fs::rename(&temporary, &path).await {
            let _ = tokio::fs::remove_file(&temporary).await;
            return Err(storage(error));
        }
        {
            let mut index = self.index();
            index.clock += 1;
            let clock = index.clock;
            if let Some(old) = index.entries.insert(
                key.to_owned(),
                Entry {
                    size,
                    last_used: clock,
                    leases: 1,
                },
            ) {
                index.total = index.total.saturating_sub(old.size);
            }
            index.total += size;
        }
        self.fills
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(key);
        self.evict_over_cap();
        Ok(CacheLease {
            cache: self.clone(),
            key: key.to_owned(),
            path,
        })
    }

    /// Removes least-recently-used files without leases until the total fits the cap.
    fn evict_over_cap(&self) {
        let mut doomed = Vec::new();
        {
            let mut index = self.index();
            while index.total > self.max_bytes {
                let victim = index
                    .entries
                    .iter()
                    .filter(|(_, e)| e.leases == 0)
                    .min_by_key(|(_, e)| e.last_used)
                    .map(|(k, _)| k.clone());
                let Some(victim) = victim else { break };
                if let Some(entry) = index.entries.remove(&victim) {
                    index.total = index.total.saturating_sub(entry.size);
                }
                doomed.push(self.path_of(&victim));
            }
        }
        for path in doomed {
            // A reader that opened the file keeps its handle; the name goes now.
            let _ = std::fs::remove_file(path);
        }
    }

    /// Bytes currently held.
    pub fn total_bytes(&self) -> u64 {
        self.index().total
    }
}
