//! Running one query: admission, a fresh context with only the given tables, the two read-only barriers, the
//! auto limit on the logical plan, the row caps, and cancellation at the timeout.

use std::time::{Duration, Instant};

use async_trait::async_trait;
use datafusion::error::DataFusionError;
use datafusion::execution::disk_manager::{DiskManagerBuilder, DiskManagerMode};
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::prelude::{
    CsvReadOptions, JsonReadOptions, ParquetReadOptions, SQLOptions, SessionConfig, SessionContext,
};
use futures_util::StreamExt;
use tabletalk_ports::{
    DatasetFormat, QueryColumn, QueryEngine, QueryError, QueryOutput, QueryTable, RowLimits,
    TableLocation,
};

use super::admission::Admission;
use super::{cells, sandbox};

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

/// The owned inputs of one execution, moved onto the engine's runtime.
struct Job {
    settings: EngineSettings,
    tables: Vec<QueryTable>,
    sql: String,
    limits: RowLimits,
}

/// The engine's message without a backtrace.
fn raw_message(error: &DataFusionError) -> String {
    let text = error.to_string();
    text.split("\n\nbacktrace")
        .next()
        .unwrap_or(&text)
        .trim()
        .to_owned()
}

fn classify(error: &DataFusionError) -> QueryError {
    let raw = raw_message(error);
    let lower = raw.to_lowercase();
    if matches!(error.find_root(), DataFusionError::ResourcesExhausted(_))
        || lower.contains("resources exhausted")
    {
        QueryError::MemoryExceeded
    } else if lower.contains("ddl not supported")
        || lower.contains("dml not supported")
        || lower.contains("statement not supported")
    {
        QueryError::ReadOnlyViolation
    } else if matches!(
        error.find_root(),
        DataFusionError::ObjectStore(_) | DataFusionError::IoError(_)
    ) {
        QueryError::DatasetUnavailable(raw)
    } else {
        QueryError::Sql { raw }
    }
}

fn sql_error(error: &DataFusionError) -> QueryError {
    classify(error)
}

impl DataFusionEngine {
    /// Starts the engine's runtime (one worker per allowed concurrent query, at least two).
    pub fn new(settings: EngineSettings) -> std::io::Result<Self> {
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
            admission,
            runtime: Some(runtime),
        })
    }
}

impl Job {
    /// A context that knows nothing but the given tables: its own memory pool, no spill files, no information
    /// schema, no URL tables.
    async fn context(&self, tables: &[QueryTable]) -> Result<SessionContext, QueryError> {
        let runtime = RuntimeEnvBuilder::new()
            .with_memory_limit(self.settings.memory_limit, 1.0)
            .with_disk_manager_builder(
                DiskManagerBuilder::default().with_mode(DiskManagerMode::Disabled),
            )
            .build_arc()
            .map_err(|e| sql_error(&e))?;
        let config = SessionConfig::new().with_information_schema(false);
        let context = SessionContext::new_with_config_rt(config, runtime);
        for table in tables {
            let TableLocation::File(path) = &table.location;
            let path = path.to_string_lossy();
            let name = table.name.to_lowercase();
            // Stored files have no extension (uploads are named by id), so none is required.
            let registered = match table.format {
                DatasetFormat::Parquet => {
                    let options = ParquetReadOptions {
                        file_extension: "",
                        ..ParquetReadOptions::default()
                    };
                    context
                        .register_parquet(name.as_str(), path.as_ref(), options)
                        .await
                }
                DatasetFormat::Csv | DatasetFormat::Tsv => {
                    let delimiter = if table.format == DatasetFormat::Tsv {
                        b'\t'
                    } else {
                        b','
                    };
                    let options = CsvReadOptions::new()
                        .has_header(true)
                        .delimiter(delimiter)
                        .file_extension("");
                    context
                        .register_csv(name.as_str(), path.as_ref(), options)
                        .await
                }
                DatasetFormat::Ndjson => {
                    let options = JsonReadOptions::default().file_extension("");
                    context
                        .register_json(name.as_str(), path.as_ref(), options)
                        .await
                }
            };
            registered.map_err(|e| QueryError::DatasetUnavailable(raw_message(&e)))?;
        }
        Ok(context)
    }

    async fn execute(self) -> Result<QueryOutput, QueryError> {
        let started = Instant::now();
        let limits = self.limits;
        let context = self.context(&self.tables).await?;
        let options = SQLOptions::new()
            .with_allow_ddl(false)
            .with_allow_dml(false)
            .with_allow_statements(false);
        let frame = context
            .sql_with_options(&self.sql, options)
            .await
            .map_err(|e| sql_error(&e))?;
        // The auto limit goes on the plan, never into the SQL text: one extra row tells whether it cut.
        let cap = usize::try_from(limits.auto_limit).unwrap_or(usize::MAX);
        let frame = frame
            .limit(0, Some(cap.saturating_add(1)))
            .map_err(|e| sql_error(&e))?;
        let columns: Vec<QueryColumn> = frame
            .schema()
            .fields()
            .iter()
            .map(|f| QueryColumn {
                name: f.name().clone(),
                sql_type: cells::sql_type(f.data_type()),
            })
            .collect();
        let mut stream = frame.execute_stream().await.map_err(|e| sql_error(&e))?;
        let kept = usize::try_from(limits.kept_rows).unwrap_or(usize::MAX);
        let mut rows = Vec::new();
        let mut produced: usize = 0;
        while let Some(batch) = stream.next().await {
            let batch = batch.map_err(|e| sql_error(&e))?;
            for row in 0..batch.num_rows() {
                produced += 1;
                if rows.len() < kept && produced <= cap {
                    rows.push(
                        batch
                            .columns()
                            .iter()
                            .map(|column| cells::cell(column, row))
                            .collect(),
                    );
                }
            }
        }
        let limit_applied = produced > cap;
        Ok(QueryOutput {
            columns,
            rows,
            total_rows: u64::try_from(produced.min(cap)).unwrap_or(u64::MAX),
            limit_applied,
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
        let Some(runtime) = &self.runtime else {
            return Err(QueryError::Busy);
        };
        let job = Job {
            settings: self.settings,
            tables: tables.to_vec(),
            sql: sql.to_owned(),
            limits,
        };
        let mut task = runtime.spawn(job.execute());
        match tokio::time::timeout(self.settings.timeout, &mut task).await {
            Ok(Ok(outcome)) => outcome,
            Ok(Err(join)) => Err(QueryError::Sql {
                raw: format!("the query failed unexpectedly: {join}"),
            }),
            Err(_) => {
                // Aborting drops the plan's streams and spawned tasks at their next yield, returning the memory.
                task.abort();
                Err(QueryError::Timeout {
                    seconds: self.settings.timeout.as_secs(),
                })
            }
        }
    }

    fn load(&self) -> (usize, usize) {
        self.admission.load()
    }
}
