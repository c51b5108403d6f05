//! What every query context of one process shares: Parquet footers, and the statistics DataFusion derives from them
//! for planning. A query over files read before neither reads their footers again nor derives their statistics
//! again (deriving them for `lineitem`'s 53 row groups took a share of every TPC-H query's planning,
//! docs/benchmarks.md, "Planning, and where TPC-H Q1's time goes"). DataFusion checks an entry against the file's
//! size and modification time (statistics also against the table's schema) before it uses it, so a changed file is
//! read afresh.

use std::sync::Arc;

use datafusion::execution::cache::cache_manager::{
    CacheManagerConfig, FileMetadataCache, FileStatisticsCache,
};
use datafusion::execution::cache::default_cache::DefaultCache;

/// Footers kept, in bytes.
const FOOTER_BYTES: usize = 64 << 20;
/// Statistics kept, in bytes.
const STATISTICS_BYTES: usize = 16 << 20;

/// The caches one process's query contexts share (cheap to clone: both are shared).
#[derive(Clone)]
pub(crate) struct FileCaches {
    footers: Arc<FileMetadataCache>,
    statistics: Arc<FileStatisticsCache>,
}

impl FileCaches {
    /// Empty caches; `owner` names them in DataFusion's cache listings.
    pub(crate) fn new(owner: &str) -> Self {
        Self {
            footers: Arc::new(DefaultCache::new(FOOTER_BYTES).with_name(format!("{owner}Footers"))),
            statistics: Arc::new(
                DefaultCache::new(STATISTICS_BYTES).with_name(format!("{owner}Statistics")),
            ),
        }
    }

    /// A runtime's cache configuration using these caches.
    pub(crate) fn config(&self) -> CacheManagerConfig {
        CacheManagerConfig::default()
            .with_file_metadata_cache(Some(Arc::clone(&self.footers)))
            .with_metadata_cache_limit(FOOTER_BYTES)
            .with_file_statistics_cache(Some(Arc::clone(&self.statistics)))
            .with_file_statistics_cache_limit(STATISTICS_BYTES)
    }
}

impl std::fmt::Debug for FileCaches {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileCaches").finish_non_exhaustive()
    }
}
