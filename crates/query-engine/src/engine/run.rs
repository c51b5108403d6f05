//! Running one query: admission, a fresh context with only the given tables, the two read-only barriers, the
//! auto limit on the logical plan, the row caps, and cancellation at the timeout (or when the caller goes away).

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use datafusion::error::DataFusionError;
use datafusion::execution::cache::cache_manager::CacheManagerConfig;
use datafusion::execution::disk_manager::{DiskManagerBuilder, DiskManagerMode};
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::execution::session_state::SessionStateBuilder;
use datafusion::prelude::{SQLOptions, SessionConfig, SessionContext};
use futures_util::StreamExt;
use tabletalk_ports::{
    CanonicalSql, QueryColumn, QueryEngine, QueryError, QueryOutput, QueryTable, RowLimits,
    TableLocation,
};
use tokio::task::JoinHandle;

use super::admission::Admission;
use super::dictionary_groups::DictionaryGroups;
use super::eager::EagerAggregation;
use super::float_compare::FloatComparisons;
use super::{cells, sandbox, tables};
use crate::files::DatasetFiles;
use crate::remote::StoreFailure;

/// `query.*` as the engine needs it.
#[derive(Debug, Clone, Copy)]
pub struct EngineSettings {
    pub timeout: Duration,
    /// Bytes per query; spilling to disk is off, so a query over it fails.
    pub memory_limit: usize,
    pub max_concurrency: usize,
    pub queue_capacity: usize,
    pub queue_timeout: Duration,
}

/// DataFusion 55 behind the query port. Queries run on the engine's own multi-thread runtime: CPU-bound plans
/// never block the HTTP workers, and the caller's timeout fires even when a plan does not yield for a while.
#[derive(Debug)]
pub struct DataFusionEngine {
    settings: EngineSettings,
    files: Arc<DatasetFiles>,
    admission: Admission,
    runtime: Option<tokio::runtime::Runtime>,
}

impl Drop for DataFusionEngine {
    fn drop(&mut self) {
        // Dropping a runtime inside another runtime's task would panic; let its threads wind down on their own.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// Aborts the spawned execution when the caller stops waiting (timeout, stop, client gone).
struct AbortOnDrop<T>(JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Why an execution failed.
enum Failure {
    Query(QueryError),
    /// A remote Parquet server ignored `Range`: the file must come from the cache instead.
    RangeUnsupported(String),
}

/// The owned inputs of one execution, moved onto the engine's runtime.
struct Job {
    settings: EngineSettings,
    files: Arc<DatasetFiles>,
    sql: String,
    limits: RowLimits,
}

/// The engine's message without a backtrace.
pub(crate) fn raw_message(error: &DataFusionError) -> String {
    let text = error.to_string();
    text.split("\n\nbacktrace")
        .next()
        .unwrap_or(&text)
        .trim()
        .to_owned()
}

/// The guarded store's failure somewhere in the error's causes.
fn store_failure(error: &DataFusionError) -> Option<StoreFailure> {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(cause) = source {
        if let Some(failure) = cause.downcast_ref::<StoreFailure>() {
            return Some(failure.clone());
        }
        if let Some(datafusion::object_store::Error::Generic { source: inner, .. }) =
            cause.downcast_ref::<datafusion::object_store::Error>()
            && let Some(failure) = inner.downcast_ref::<StoreFailure>()
        {
            return Some(failure.clone());
        }
        source = cause.source();
    }
    None
}

fn classify(error: &DataFusionError) -> Failure {
    if let Some(failure) = store_failure(error) {
        return match failure {
            StoreFailure::Changed { url } => Failure::Query(QueryError::DatasetChanged { url }),
            StoreFailure::Unavailable { table, reason } => {
                Failure::Query(QueryError::DatasetUnavailable {
                    name: table,
                    reason,
                })
            }
            StoreFailure::RangeUnsupported { table } => Failure::RangeUnsupported(table),
        };
    }
    let raw = raw_message(error);
    let lower = raw.to_lowercase();
    let query = if matches!(error.find_root(), DataFusionError::ResourcesExhausted(_))
        || lower.contains("resources exhausted")
    {
        QueryError::MemoryExceeded
    } else if lower.contains("ddl not supported")
        || lower.contains("dml not supported")
        || lower.contains("statement not supported")
    {
        QueryError::ReadOnlyViolation
    } else {
        QueryError::Sql { raw }
    };
    Failure::Query(query)
}

/// A context that knows nothing but what is registered into it: its own memory pool, no spill files, no
/// information schema, no URL tables, UTC, the shared footer-metadata cache, and our physical rules (dictionary group-by, float comparisons).
pub(crate) fn fresh_context(
    memory_limit: usize,
    files: &DatasetFiles,
) -> Result<SessionContext, DataFusionError> {
    let runtime = RuntimeEnvBuilder::new()
        .with_memory_limit(memory_limit, 1.0)
        .with_disk_manager_builder(
            DiskManagerBuilder::default().with_mode(DiskManagerMode::Disabled),
        )
        .with_cache_manager(
            CacheManagerConfig::default()
                .with_file_metadata_cache(Some(files.metadata_cache.clone()))
                .with_metadata_cache_limit(64 << 20),
        )
        .build_arc()?;
    // Measured on the 10 M-row benchmark (docs/benchmarks.md): larger batches and two partitions per core cut the
    // filtered one-column aggregate by about 10 %.
    let cores = std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get);
    let mut config = SessionConfig::new()
        .with_information_schema(false)
        .with_batch_size(32 * 1024)
        .with_target_partitions(cores * 2);
    config.options_mut().execution.time_zone = Some("+00:00".to_owned());
    // Footers of remote files are small; the default 512 KiB first read would dominate a cheap query's traffic.
    config.options_mut().execution.parquet.metadata_size_hint = Some(64 << 10);
    let state = SessionStateBuilder::new()
        .with_config(config)
        .with_runtime_env(runtime)
        .with_default_features()
        .with_physical_optimizer_rule(Arc::new(DictionaryGroups))
        .with_physical_optimizer_rule(Arc::new(FloatComparisons))
        .build();
    Ok(SessionContext::new_with_state(state))
}

impl DataFusionEngine {
    /// Starts the engine's runtime (one worker per allowed concurrent query, at least two).
    ///
    /// # Errors
    /// When the runtime's threads cannot be started.
    pub fn new(settings: EngineSettings, files: Arc<DatasetFiles>) -> std::io::Result<Self> {
        let admission = Admission::new(
            settings.max_concurrency,
            settings.queue_capacity,
            settings.queue_timeout,
        );
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(settings.max_concurrency.clamp(2, 64))
            .thread_name("tabletalk-query")
            .enable_all()
            .build()?;
        Ok(Self {
            settings,
            files,
            admission,
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
                // Dropping `task` aborts the plan's streams and spawned tasks at their next yield.
                Err(_) => {
                    return Err(QueryError::Timeout {
                        seconds: limit.as_secs(),
                    });
                }
            },
            None => (&mut task.0).await,
        };
        joined.map_err(|join| QueryError::Sql {
            raw: format!("the query failed unexpectedly: {join}"),
        })
    }

    async fn attempt(
        &self,
        tables: &[QueryTable],
        sql: &str,
        limits: RowLimits,
    ) -> Result<QueryOutput, Failure> {
        // Re-downloads of evicted files happen here, before the query's own timeout starts.
        let files = self.files.clone();
        let owned = tables.to_vec();
        let prepared = self
            .on_runtime(async move { tables::prepare(&files, &owned).await }, None)
            .await
            .map_err(Failure::Query)?
            .map_err(Failure::Query)?;
        let job = Job {
            settings: self.settings,
            files: self.files.clone(),
            sql: sql.to_owned(),
            limits,
        };
        self.on_runtime(job.execute(prepared), Some(self.settings.timeout))
            .await
            .map_err(Failure::Query)?
    }
}

impl Job {
    async fn execute(self, prepared: tables::Prepared) -> Result<QueryOutput, Failure> {
        let fail = |e: DataFusionError| classify(&e);
        let started = Instant::now();
        let limits = self.limits;
        let context = fresh_context(self.settings.memory_limit, &self.files).map_err(fail)?;
        if limits.file_order {
            context
                .state_ref()
                .write()
                .config_mut()
                .options_mut()
                .execution
                .target_partitions = 1;
        }
        tables::register(&context, &self.files, &prepared)
            .await
            .map_err(fail)?;
        context.add_optimizer_rule(Arc::new(EagerAggregation::new(prepared.key_ranges.clone())));
        let options = SQLOptions::new()
            .with_allow_ddl(false)
            .with_allow_dml(false)
            .with_allow_statements(false);
        let frame = context
            .sql_with_options(&self.sql, options)
            .await
            .map_err(fail)?;
        // The auto limit goes on the plan, never into the SQL text: one extra row tells whether it cut.
        let cap = usize::try_from(limits.auto_limit).unwrap_or(usize::MAX);
        let frame = frame.limit(0, Some(cap.saturating_add(1))).map_err(fail)?;
        let columns: Vec<QueryColumn> = frame
            .schema()
            .fields()
            .iter()
            .map(|f| QueryColumn {
                name: f.name().clone(),
                sql_type: cells::sql_type(f.data_type()),
            })
            .collect();
        let mut stream = frame.execute_stream().await.map_err(fail)?;
        let kept = usize::try_from(limits.kept_rows).unwrap_or(usize::MAX);
        let mut rows = Vec::new();
        let mut produced: usize = 0;
        while let Some(batch) = stream.next().await {
            let batch = batch.map_err(fail)?;
            let take = batch.num_rows().min(kept.saturating_sub(rows.len()));
            for row in 0..take {
                rows.push(
                    batch
                        .columns()
                        .iter()
                        .map(|column| cells::cell(column, row))
                        .collect(),
                );
            }
            produced += batch.num_rows();
        }
        rows.truncate(cap);
        drop(prepared);
        Ok(QueryOutput {
            columns,
            rows,
            total_rows: u64::try_from(produced.min(cap)).unwrap_or(u64::MAX),
            limit_applied: produced > cap,
            execution_ms: (started.elapsed().as_secs_f64() * 100_000.0).round() / 100.0,
        })
    }
}

#[async_trait]
impl QueryEngine for DataFusionEngine {
    async fn run(
        &self,
        tables: &[QueryTable],
        sql: &str,
        limits: RowLimits,
    ) -> Result<QueryOutput, QueryError> {
        sandbox::check(sql)?;
        let _slot = self.admission.enter().await?;
        match self.attempt(tables, sql, limits).await {
            Ok(output) => Ok(output),
            Err(Failure::Query(error)) => Err(error),
            Err(Failure::RangeUnsupported(name)) => {
                // The server stopped answering ranges: fetch the whole file into the cache once, then retry.
                let Some(table) = tables.iter().find(|t| t.name == name) else {
                    return Err(QueryError::DatasetUnavailable {
                        name,
                        reason: "the server does not answer range requests".to_owned(),
                    });
                };
                if let TableLocation::Remote { url, version, .. } = &table.location {
                    let parsed =
                        url::Url::parse(url).map_err(|e| QueryError::DatasetUnavailable {
                            name: name.clone(),
                            reason: e.to_string(),
                        })?;
                    let files = self.files.clone();
                    let version = version.clone();
                    let url_text = url.clone();
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
                            QueryError::DatasetChanged { url: url_text }
                        } else {
                            QueryError::DatasetUnavailable {
                                name: name.clone(),
                                reason: e.message,
                            }
                        }
                    })?;
                }
                match self.attempt(tables, sql, limits).await {
                    Ok(output) => Ok(output),
                    Err(Failure::Query(error)) => Err(error),
                    Err(Failure::RangeUnsupported(name)) => Err(QueryError::DatasetUnavailable {
                        name,
                        reason: "the server does not answer range requests".to_owned(),
                    }),
                }
            }
        }
    }

    fn canonical_sql(&self, sql: &str) -> Result<CanonicalSql, QueryError> {
        sandbox::canonical(sql)
    }

    fn load(&self) -> (usize, usize) {
        self.admission.load()
    }
}
