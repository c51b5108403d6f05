//! The query port over worker processes. A query is checked (one read-only statement), admitted (fair between
//! users, capped per user and by memory), its tables are resolved here (cache leases, re-downloads before the
//! timeout starts), and the job runs in a worker process. At the timeout, or when the caller stops waiting, the
//! worker is killed: whatever the plan was doing, its CPU and memory are gone at once (docs/architecture.md,
//! "Query isolation").

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tabletalk_ports::{
    CanonicalSql, QueryEngine, QueryError, QueryOutput, QueryOwner, QueryTable, RowLimits,
    TableLocation,
};
use tokio::task::JoinHandle;

use super::admission::{Admission, AdmissionLimits};
use super::{sandbox, tables};
use crate::files::DatasetFiles;
use crate::isolation::pool::{WorkerCommand, WorkerPool};
use crate::isolation::protocol::{Failure, Hello, Job, LocalFile, RemoteFile};

/// `query.*` as the engine needs it.
#[derive(Debug, Clone)]
pub struct EngineSettings {
    pub timeout: Duration,
    /// Bytes per query: DataFusion's pool (spilling off) and the worker's allocation cap.
    pub memory_limit: usize,
    pub max_concurrency: usize,
    pub max_concurrency_per_user: usize,
    /// Bytes for all running queries together: no more run at once than fit at `memory_limit` each.
    pub total_memory: usize,
    /// Keyless joins pairing more rows are refused before they run; 0: no limit.
    pub max_join_rows: u64,
    pub queue_capacity: usize,
    pub queue_timeout: Duration,
    /// How to start a query worker (the `tabletalk` binary's hidden `worker` subcommand).
    pub worker: WorkerCommand,
}

impl EngineSettings {
    /// Queries that may run at once: `max_concurrency`, fewer when `total_memory` does not fit that many.
    pub fn capacity(&self) -> usize {
        let by_memory = self.total_memory / self.memory_limit.max(1);
        self.max_concurrency.min(by_memory).max(1)
    }
}

/// DataFusion 55 behind the query port, queries isolated in worker processes. The engine's own runtime in this
/// process does the light work around them (table resolution, the workers' pipes) and the dataset loads.
#[derive(Debug)]
pub struct DataFusionEngine {
    settings: EngineSettings,
    files: Arc<DatasetFiles>,
    admission: Admission,
    workers: WorkerPool,
    runtime: Option<tokio::runtime::Runtime>,
}

impl Drop for DataFusionEngine {
    fn drop(&mut self) {
        self.workers.close();
        // Dropping a runtime inside another runtime's task would panic; let its threads wind down on their own.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// Aborts the spawned work when the caller stops waiting (timeout, stop, client gone).
struct AbortOnDrop<T>(JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

fn into_query_error(failure: Failure) -> QueryError {
    match failure {
        Failure::ReadOnlyViolation => QueryError::ReadOnlyViolation,
        Failure::Sql { problem, raw } => QueryError::Sql {
            problem: Box::new(problem),
            raw,
        },
        Failure::MemoryExceeded => QueryError::MemoryExceeded,
        Failure::DatasetUnavailable { name, reason } => {
            QueryError::DatasetUnavailable { name, reason }
        }
        Failure::DatasetChanged { url } => QueryError::DatasetChanged { url },
        Failure::RangeUnsupported { table } => QueryError::DatasetUnavailable {
            name: table,
            reason: "the server does not answer range requests".to_owned(),
        },
        Failure::JoinTooLarge {
            tables,
            estimate,
            limit,
        } => QueryError::JoinTooLarge {
            tables,
            estimate,
            limit,
        },
        Failure::Internal { reason } => QueryError::Internal { reason },
    }
}

fn hello(files: &DatasetFiles) -> Hello {
    let fetch = &files.settings.fetch;
    Hello {
        allow_private_networks: fetch.policy.allow_private_networks,
        allowed_hosts: fetch.policy.allowed_hosts.clone(),
        allowed_cidrs: fetch
            .policy
            .allowed_cidrs
            .iter()
            .map(ToString::to_string)
            .collect(),
        user_agent: fetch.user_agent.clone(),
        probe_timeout_ms: u64::try_from(files.settings.probe_timeout.as_millis())
            .unwrap_or(u64::MAX),
        footers_dir: crate::files::footers_dir(&files.settings.cache_dir),
        ranges_dir: files.ranges.dir().to_path_buf(),
        ranges_max_bytes: files.ranges.max_bytes(),
    }
}

/// The job for `sql` over resolved tables.
fn job(
    settings: &EngineSettings,
    prepared: &tables::Prepared,
    sql: &str,
    limits: RowLimits,
) -> Job {
    Job {
        sql: sql.to_owned(),
        auto_limit: limits.auto_limit,
        kept_rows: limits.kept_rows,
        file_order: limits.file_order,
        memory_limit: u64::try_from(settings.memory_limit).unwrap_or(u64::MAX),
        max_join_rows: settings.max_join_rows,
        local: prepared
            .local
            .iter()
            .map(|t| LocalFile {
                name: t.name.clone(),
                path: t.path.clone(),
                format: t.format.as_str().to_owned(),
                columns: t
                    .columns
                    .iter()
                    .map(|c| (c.name.clone(), c.sql_type.clone()))
                    .collect(),
            })
            .collect(),
        remote: prepared
            .remote
            .iter()
            .map(|(name, object_path, object)| RemoteFile {
                name: name.clone(),
                object_path: object_path.clone(),
                url: object.url.to_string(),
                etag: object.etag.clone(),
                size: object.size,
            })
            .collect(),
        key_ranges: prepared
            .key_ranges
            .iter()
            .map(|((table, column), (min, max))| (table.clone(), column.clone(), *min, *max))
            .collect(),
        row_counts: prepared.row_counts.clone(),
    }
}

impl DataFusionEngine {
    /// Starts the engine's runtime and its worker processes (one per query that may run at once).
    ///
    /// # Errors
    /// When the runtime's threads cannot be started.
    pub fn new(settings: EngineSettings, files: Arc<DatasetFiles>) -> std::io::Result<Self> {
        let capacity = settings.capacity();
        let admission = Admission::new(AdmissionLimits {
            capacity,
            per_owner: settings.max_concurrency_per_user,
            queue_capacity: settings.queue_capacity,
            queue_timeout: settings.queue_timeout,
        });
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("tabletalk-query")
            .enable_all()
            .build()?;
        let workers = WorkerPool::start(
            settings.worker.clone(),
            hello(&files),
            capacity,
            runtime.handle().clone(),
            files.fetcher.telemetry(),
        );
        Ok(Self {
            settings,
            files,
            admission,
            workers,
            runtime: Some(runtime),
        })
    }

    /// A handle on the engine's runtime, for other heavy dataset work (loads, schema extraction).
    pub fn runtime_handle(&self) -> Option<tokio::runtime::Handle> {
        self.runtime.as_ref().map(|r| r.handle().clone())
    }

    /// The files layer (shared with the content loader).
    pub fn files(&self) -> &Arc<DatasetFiles> {
        &self.files
    }

    /// Worker processes running now (idle or busy).
    pub fn live_workers(&self) -> usize {
        self.workers.live()
    }

    /// Runs `work` on the engine's runtime; dropping the returned future aborts it.
    async fn on_runtime<T: Send + 'static>(
        &self,
        work: impl Future<Output = T> + Send + 'static,
        timeout: Option<Duration>,
    ) -> Result<T, QueryError> {
        let Some(runtime) = &self.runtime else {
            return Err(QueryError::Busy);
        };
        let mut task = AbortOnDrop(runtime.spawn(work));
        let joined = match timeout {
            Some(limit) => match tokio::time::timeout(limit, &mut task.0).await {
                Ok(joined) => joined,
                // Dropping `task` aborts the job, whose lease kills the worker.
                Err(_) => {
                    return Err(QueryError::Timeout {
                        seconds: limit.as_secs(),
                    });
                }
            },
            None => (&mut task.0).await,
        };
        joined.map_err(|join| QueryError::Internal {
            reason: format!("the query task failed: {join}"),
        })
    }

    /// One try: the outer error is the server's (timeout, busy, no worker), the inner one the worker's.
    async fn attempt(
        &self,
        tables: &[QueryTable],
        sql: &str,
        limits: RowLimits,
    ) -> Result<Result<QueryOutput, Failure>, QueryError> {
        // Re-downloads of evicted files happen here, before the query's own timeout starts.
        let files = self.files.clone();
        let owned = tables.to_vec();
        let prepared = self
            .on_runtime(async move { tables::prepare(&files, &owned).await }, None)
            .await??;
        let job = job(&self.settings, &prepared, sql, limits);
        let workers = self.workers.clone();
        // A replacement worker is ready in well under this; waiting longer means workers cannot start at all, which
        // is the engine's failure (500), not the query's timeout: the wait ends first.
        let wait = Duration::from_secs(10).min(self.settings.timeout / 2);
        let outcome = self
            .on_runtime(
                async move {
                    let outcome = match workers.lease(wait).await {
                        Ok(lease) => lease.run(&job).await,
                        Err(failure) => Err(failure),
                    };
                    // The cache leases keep the job's files until the worker is done with them.
                    drop(prepared);
                    outcome
                },
                Some(self.settings.timeout),
            )
            .await?;
        Ok(outcome.map(QueryOutput::from))
    }

    /// Fetches a remote file whose server ignores ranges into the cache, so the next attempt reads it locally.
    async fn cache_whole_file(
        &self,
        tables: &[QueryTable],
        name: String,
    ) -> Result<(), QueryError> {
        let unavailable = |name: String| QueryError::DatasetUnavailable {
            name,
            reason: "the server does not answer range requests".to_owned(),
        };
        let Some(table) = tables.iter().find(|t| t.name == name) else {
            return Err(unavailable(name));
        };
        let TableLocation::Remote { url, version, .. } = &table.location else {
            return Ok(());
        };
        let parsed = url::Url::parse(url).map_err(|e| QueryError::DatasetUnavailable {
            name: name.clone(),
            reason: e.to_string(),
        })?;
        let files = self.files.clone();
        let version = version.clone();
        self.on_runtime(
            async move {
                files
                    .cached_remote(&parsed, &version, false, true, None)
                    .await
                    .map(drop)
            },
            None,
        )
        .await?
        .map_err(|e| {
            if e.kind == tabletalk_ports::LoadErrorKind::Changed {
                QueryError::DatasetChanged { url: url.clone() }
            } else {
                QueryError::DatasetUnavailable {
                    name,
                    reason: e.message,
                }
            }
        })
    }
}

#[async_trait]
impl QueryEngine for DataFusionEngine {
    async fn run(
        &self,
        owner: QueryOwner,
        tables: &[QueryTable],
        sql: &str,
        limits: RowLimits,
    ) -> Result<QueryOutput, QueryError> {
        // The statement is checked before anything else; only the tables it names are then resolved, leased (a
        // remote text file may be downloaded again) and registered by the worker: a conversation's other datasets
        // cost its queries nothing (docs/benchmarks.md, "Runs of equal keys").
        let tables: Vec<QueryTable> = match sandbox::check_and_name_tables(sql)? {
            Some(named) => tables
                .iter()
                .filter(|table| named.contains(&table.name.to_lowercase()))
                .cloned()
                .collect(),
            None => tables.to_vec(),
        };
        let tables = tables.as_slice();
        let _slot = self.admission.enter(owner).await?;
        match self.attempt(tables, sql, limits).await? {
            Err(Failure::RangeUnsupported { table }) => {
                // The server stopped answering ranges: fetch the whole file into the cache once, then retry.
                self.cache_whole_file(tables, table).await?;
                self.attempt(tables, sql, limits)
                    .await?
                    .map_err(into_query_error)
            }
            outcome => outcome.map_err(into_query_error),
        }
    }

    fn canonical_sql(&self, sql: &str) -> Result<CanonicalSql, QueryError> {
        sandbox::canonical(sql)
    }

    fn load(&self) -> (usize, usize) {
        self.admission.load()
    }

    fn cached_bytes(&self) -> u64 {
        self.files.cache.total_bytes()
    }

    fn accepts_work(&self) -> bool {
        self.workers.live() > 0 || !self.workers.failing()
    }
}
