//! The result cache (docs/api.md, "SQL runner and history"): in memory, least-recently-used, bounded by entries and
//! bytes, each entry valid for a fixed time. Keys cover the user, the canonical SQL, the row limits and every
//! registered table's `(name, url, version)`, so a rename, a refresh or another user's data can never be served.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use sha2::{Digest, Sha256};
use tabletalk_ports::{QueryOutput, QueryTable, RowLimits, TableLocation, UserId};

/// Cache limits (`query.result_cache_*`).
#[derive(Debug, Clone, Copy)]
pub struct CacheLimits {
    pub entries: usize,
    pub max_bytes: usize,
    pub ttl_millis: i64,
}

struct Entry {
    output: QueryOutput,
    bytes: usize,
    stored_at: i64,
    last_used: u64,
}

#[derive(Default)]
struct State {
    entries: HashMap<[u8; 32], Entry>,
    bytes: usize,
    tick: u64,
}

/// A thread-safe result cache.
pub struct ResultCache {
    limits: CacheLimits,
    state: Mutex<State>,
}

/// The cache key of one query.
pub fn cache_key(
    user: UserId,
    canonical_sql: &str,
    limits: RowLimits,
    tables: &[QueryTable],
) -> [u8; 32] {
    let mut hasher = Sha256::new();
    let mut field = |bytes: &[u8]| {
        hasher.update((bytes.len() as u64).to_le_bytes());
        hasher.update(bytes);
    };
    field(user.to_string().as_bytes());
    field(canonical_sql.as_bytes());
    field(
        format!(
            "{}/{}/{}",
            limits.auto_limit, limits.kept_rows, limits.file_order
        )
        .as_bytes(),
    );
    let mut sorted: Vec<&QueryTable> = tables.iter().collect();
    sorted.sort_by_key(|a| a.name.to_lowercase());
    for table in sorted {
        let (url, version) = match &table.location {
            TableLocation::Remote { url, version, .. } => (url.clone(), version.clone()),
            TableLocation::Upload(id) => (format!("upload:{id}"), String::new()),
            TableLocation::File(path) => (path.display().to_string(), String::new()),
        };
        field(table.name.as_bytes());
        field(url.as_bytes());
        field(version.as_bytes());
    }
    hasher.finalize().into()
}

fn estimate(output: &QueryOutput) -> usize {
    output
        .rows
        .iter()
        .map(|row| row.iter().map(|v| v.to_string().len() + 8).sum::<usize>() + 24)
        .sum::<usize>()
        + output
            .columns
            .iter()
            .map(|c| c.name.len() + c.sql_type.len() + 48)
            .sum::<usize>()
}

impl ResultCache {
    pub fn new(limits: CacheLimits) -> Self {
        Self {
            limits,
            state: Mutex::new(State::default()),
        }
    }

    fn enabled(&self) -> bool {
        self.limits.entries > 0 && self.limits.max_bytes > 0 && self.limits.ttl_millis > 0
    }

    /// A fresh stored result.
    pub fn get(&self, key: &[u8; 32], now_millis: i64) -> Option<QueryOutput> {
        if !self.enabled() {
            return None;
        }
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.tick += 1;
        let tick = state.tick;
        let expired = state
            .entries
            .get(key)
            .is_some_and(|e| now_millis - e.stored_at >= self.limits.ttl_millis);
        if expired {
            if let Some(entry) = state.entries.remove(key) {
                state.bytes -= entry.bytes;
            }
            return None;
        }
        let entry = state.entries.get_mut(key)?;
        entry.last_used = tick;
        Some(entry.output.clone())
    }

    /// Stores a successful result, evicting the least recently used entries beyond the limits.
    pub fn put(&self, key: [u8; 32], output: &QueryOutput, now_millis: i64) {
        let bytes = estimate(output);
        if !self.enabled() || bytes > self.limits.max_bytes {
            return;
        }
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.tick += 1;
        let tick = state.tick;
        if let Some(old) = state.entries.insert(
            key,
            Entry {
                output: output.clone(),
                bytes,
                stored_at: now_millis,
                last_used: tick,
            },
        ) {
            state.bytes -= old.bytes;
        }
        state.bytes += bytes;
        while state.entries.len() > self.limits.entries || state.bytes > self.limits.max_bytes {
            let Some(victim) = state
                .entries
                .iter()
                .min_by_key(|(_, e)| e.last_used)
                .map(|(k, _)| *k)
            else {
                break;
            };
            if let Some(entry) = state.entries.remove(&victim) {
                state.bytes -= entry.bytes;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use tabletalk_ports::QueryColumn;

    use super::*;

    fn output(rows: usize) -> QueryOutput {
        QueryOutput {
            columns: vec![QueryColumn {
                name: "n".to_owned(),
                sql_type: "BIGINT".to_owned(),
            }],
            rows: (0..rows).map(|i| vec![serde_json::json!(i)]).collect(),
            total_rows: rows as u64,
            limit_applied: false,
            execution_ms: 1.0,
        }
    }

    #[test]
    fn entries_expire_and_the_least_recently_used_goes_first() {
        let cache = ResultCache::new(CacheLimits {
            entries: 2,
            max_bytes: 1 << 20,
            ttl_millis: 1000,
        });
        cache.put([1; 32], &output(1), 0);
        cache.put([2; 32], &output(2), 0);
        assert!(cache.get(&[1; 32], 10).is_some());
        cache.put([3; 32], &output(3), 20);
        assert!(
            cache.get(&[2; 32], 30).is_none(),
            "least recently used is evicted"
        );
        assert_eq!(cache.get(&[1; 32], 30).map(|o| o.total_rows), Some(1));
        assert!(cache.get(&[1; 32], 1000).is_none(), "expired after the ttl");
    }

    #[test]
    fn keys_change_with_user_sql_limits_and_table_versions() {
        let user = UserId::new();
        let limits = RowLimits {
            auto_limit: 10,
            kept_rows: 5,
            file_order: false,
        };
        let table = |version: &str| QueryTable {
            name: "t".to_owned(),
            location: TableLocation::Remote {
                url: "https://x/a.csv".to_owned(),
                etag: None,
                size: None,
                version: version.to_owned(),
            },
            format: tabletalk_ports::DatasetFormat::Csv,
            compression: tabletalk_ports::Compression::None,
            columns: Vec::new(),
            integer_ranges: Vec::new(),
            row_count: None,
        };
        let base = cache_key(user, "SELECT 1", limits, &[table("v1")]);
        assert_eq!(base, cache_key(user, "SELECT 1", limits, &[table("v1")]));
        assert_ne!(
            base,
            cache_key(UserId::new(), "SELECT 1", limits, &[table("v1")])
        );
        assert_ne!(base, cache_key(user, "SELECT 2", limits, &[table("v1")]));
        assert_ne!(base, cache_key(user, "SELECT 1", limits, &[table("v2")]));
        assert_ne!(
            base,
            cache_key(
                user,
                "SELECT 1",
                RowLimits {
                    kept_rows: 6,
                    ..limits
                },
                &[table("v1")]
            )
        );
    }
}
