//! Running one query inside a worker process: a fresh context with only the job's tables, the second read-only
//! barrier (`SQLOptions`), the join limit, the auto limit on the logical plan, the row caps and the JSON cells.
//! Everything here may be stopped at any instant by the server killing the process.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use datafusion::config::ConfigOptions;
use datafusion::error::DataFusionError;
use datafusion::execution::disk_manager::{DiskManagerBuilder, DiskManagerMode};
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::execution::session_state::SessionStateBuilder;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::display::DisplayableExecutionPlan;
use datafusion::prelude::{SQLOptions, SessionConfig, SessionContext};
use futures_util::StreamExt;
use tabletalk_ports::{DatasetFormat, QueryColumn, QueryOutput};
use url::Url;

use super::clustered_groups::ClusteredGroups;
use super::conjunctions::Conjunctions;
use super::decimal_arithmetic::DecimalArithmetics;
use super::dictionary_groups::DictionaryGroups;
use super::eager::{EagerAggregation, KeyRanges};
use super::file_caches::FileCaches;
use super::filtered_aggregate::FilteredAggregates;
use super::float_compare::FloatComparisons;
use super::group_top_k::GroupTopK;
use super::join_sides::after_join_selection;
use super::like_patterns::LikePatterns;
use super::repeated_joins::RepeatedJoins;
use super::scan_filters::ScanFilters;
use super::shared_subplans::physical_rules_with_shared_subplans;
use super::single_copy_filter::SingleCopyFilters;
use super::tables::{self, LocalTable, RemoteTable};
use super::{cells, join_limit, sql_problems};
use crate::fetch::GuardedFetcher;
use crate::isolation::protocol::{Failure, Job};
use crate::remote::{RemoteObject, StoreFailure, TailCache};

/// What a worker keeps between jobs: how to reach remote files, and the footers and statistics it has already read.
#[derive(Debug)]
pub(crate) struct RemoteAccess {
    pub fetcher: GuardedFetcher,
    pub probe_timeout: Duration,
    pub file_caches: FileCaches,
    /// Footers the server (or another worker) already read.
    pub tails: Arc<TailCache>,
    /// Column chunks read before, by any process.
    pub ranges: Arc<crate::remote::RangeCache>,
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
            StoreFailure::Changed { url } => Failure::DatasetChanged { url },
            StoreFailure::Unavailable { table, reason } => Failure::DatasetUnavailable {
                name: table,
                reason,
            },
            StoreFailure::RangeUnsupported { table } => Failure::RangeUnsupported { table },
        };
    }
    let raw = raw_message(error);
    let lower = raw.to_lowercase();
    if matches!(error.find_root(), DataFusionError::ResourcesExhausted(_))
        || lower.contains("resources exhausted")
    {
        Failure::MemoryExceeded
    } else if lower.contains("ddl not supported")
        || lower.contains("dml not supported")
        || lower.contains("statement not supported")
    {
        Failure::ReadOnlyViolation
    } else if matches!(
        error.find_root(),
        DataFusionError::ExecutionJoin(_)
            | DataFusionError::Internal(_)
            // Only the operator's `DATAFUSION_*` variables configure the engine: not the user's fault.
            | DataFusionError::Configuration(_)
    ) {
        Failure::Internal { reason: raw }
    } else {
        Failure::Sql {
            problem: sql_problems::classify(error),
            raw,
        }
    }
}

/// A context that knows nothing but what is registered into it: its own memory pool, no spill files, no
/// information schema, no URL tables, UTC, the shared footer-metadata cache, and our physical rules (dictionary
/// group-by, float comparisons, top rows per group, dynamic filters applied to scanned rows).
pub(crate) fn fresh_context(
    memory_limit: usize,
    file_caches: &FileCaches,
) -> Result<SessionContext, DataFusionError> {
    let runtime = RuntimeEnvBuilder::new()
        .with_memory_limit(memory_limit, 1.0)
        .with_disk_manager_builder(
            DiskManagerBuilder::default().with_mode(DiskManagerMode::Disabled),
        )
        .with_cache_manager(file_caches.config())
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
    apply_environment(config.options_mut())
        .map_err(|e| DataFusionError::Configuration(e.to_string()))?;
    let state = SessionStateBuilder::new()
        .with_config(config)
        .with_runtime_env(runtime)
        .with_default_features()
        .with_physical_optimizer_rules(after_join_selection(physical_rules_with_shared_subplans()))
        .with_physical_optimizer_rule(Arc::new(DictionaryGroups))
        .with_physical_optimizer_rule(Arc::new(FloatComparisons))
        .with_physical_optimizer_rule(Arc::new(GroupTopK))
        // Before the scan filters (which would sit between it and its filter) and before the expression rules
        // (which rewrite the operators it takes in through its template).
        .with_physical_optimizer_rule(Arc::new(FilteredAggregates))
        .with_physical_optimizer_rule(Arc::new(ScanFilters))
        .with_physical_optimizer_rule(Arc::new(DecimalArithmetics))
        .with_physical_optimizer_rule(Arc::new(LikePatterns))
        // The rules above look into predicates as DataFusion planned them.
        .with_physical_optimizer_rule(Arc::new(Conjunctions))
        // After the rules that rewrite expressions: it hides the partial aggregate it takes inside itself.
        .with_physical_optimizer_rule(Arc::new(ClusteredGroups))
        // Last: the rules above find filters as DataFusion's `FilterExec`.
        .with_physical_optimizer_rule(Arc::new(SingleCopyFilters))
        .build();
    let context = SessionContext::new_with_state(state);
    // After DataFusion's own rules (it undoes their column pruning where a join is repeated).
    context.add_optimizer_rule(Arc::new(RepeatedJoins));
    Ok(context)
}

/// The plan as it ran, with each operator's metrics (what `EXPLAIN ANALYZE` shows; the SQL runner refuses
/// `EXPLAIN`), written to the worker's standard error — which its server logs line by line — when the operator
/// set `TABLETALK_QUERY_PLANS=1` (docs/operations.md, "Logs"). Workers write no logs otherwise.
/// `phases` are the times since the job started at which each step ended.
fn log_plan(plan: &dyn ExecutionPlan, phases: &[(&str, Duration)]) {
    static ENABLED: OnceLock<bool> = OnceLock::new();
    if *ENABLED.get_or_init(|| std::env::var("TABLETALK_QUERY_PLANS").is_ok_and(|v| v == "1")) {
        let shown = DisplayableExecutionPlan::with_metrics(plan).indent(true);
        let times: Vec<String> = phases
            .iter()
            .map(|(step, at)| format!("{step} {:.2} ms", at.as_secs_f64() * 1000.0))
            .collect();
        eprintln!("query plan with metrics ({}):\n{shown}", times.join(", "));
    }
}

/// A `DATAFUSION_*` variable whose value DataFusion refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{variable}: {message}")]
pub struct EngineOptionError {
    pub variable: String,
    pub message: String,
}

/// Lets an operator override any DataFusion option the way DataFusion's own tools read them: the option's key in
/// capitals with dots as underscores (`DATAFUSION_EXECUTION_BATCH_SIZE=8192`). Workers inherit the server's
/// environment, so this is how plan settings are tried on a release binary without a rebuild
/// (docs/configuration.md, "Engine options"). The server checks the variables at start
/// ([`check_engine_environment`]), so a refused value stops it there rather than failing every query.
fn apply_environment(options: &mut ConfigOptions) -> Result<(), EngineOptionError> {
    for (key, variable, value) in environment_overrides() {
        options.set(key, value).map_err(|e| EngineOptionError {
            variable: variable.clone(),
            message: format!("{value:?} refused: {e}"),
        })?;
    }
    Ok(())
}

/// `(option key, variable, value)` of every `DATAFUSION_*` variable set, read once per process: the environment
/// does not change, and looking up some 200 variables for every query's context would be work on the hot path.
fn environment_overrides() -> &'static [(String, String, String)] {
    static OVERRIDES: OnceLock<Vec<(String, String, String)>> = OnceLock::new();
    OVERRIDES.get_or_init(|| {
        ConfigOptions::default()
            .entries()
            .into_iter()
            .filter_map(|entry| {
                let variable = entry.key.to_uppercase().replace('.', "_");
                let value = std::env::var(&variable).ok()?;
                Some((entry.key, variable, value))
            })
            .collect()
    })
}

/// Checks the `DATAFUSION_*` variables of this process the way every query will apply them.
///
/// # Errors
/// The first variable whose value DataFusion refuses.
pub fn check_engine_environment() -> Result<(), EngineOptionError> {
    apply_environment(&mut ConfigOptions::default())
}

/// The job's tables in the shape the registration takes.
fn job_tables(job: &Job) -> Result<(Vec<LocalTable>, Vec<RemoteTable>), Failure> {
    let local = job
        .local
        .iter()
        .map(|file| {
            Ok(LocalTable {
                name: file.name.clone(),
                path: file.path.clone(),
                format: DatasetFormat::parse(&file.format).ok_or_else(|| Failure::Internal {
                    reason: format!("unknown dataset format {:?}", file.format),
                })?,
                columns: file
                    .columns
                    .iter()
                    .map(|(name, sql_type)| QueryColumn {
                        name: name.clone(),
                        sql_type: sql_type.clone(),
                    })
                    .collect(),
            })
        })
        .collect::<Result<Vec<_>, Failure>>()?;
    let remote = job
        .remote
        .iter()
        .map(|file| {
            let url = Url::parse(&file.url).map_err(|e| Failure::DatasetUnavailable {
                name: file.name.clone(),
                reason: e.to_string(),
            })?;
            let object = RemoteObject {
                table: file.name.clone(),
                url,
                etag: file.etag.clone(),
                size: file.size,
                last_modified: chrono::DateTime::UNIX_EPOCH,
            };
            Ok((file.name.clone(), file.object_path.clone(), object))
        })
        .collect::<Result<Vec<_>, Failure>>()?;
    Ok((local, remote))
}

/// Runs one job to its end.
pub(crate) async fn execute(job: Job, access: &RemoteAccess) -> Result<QueryOutput, Failure> {
    let fail = |e: DataFusionError| classify(&e);
    let started = Instant::now();
    // The worker's allocation cap is the whole limit; the pool gets 90 % of it, so the buffers it does not track
    // (decoders, string kernels, the allocator's own overhead) fit in the rest and a query's resident memory stays
    // near the limit (docs/benchmarks.md, "Query isolation").
    let memory_limit = usize::try_from(job.memory_limit).unwrap_or(usize::MAX);
    let context = fresh_context(memory_limit / 10 * 9, &access.file_caches).map_err(fail)?;
    let mut phases = vec![("context", started.elapsed())];
    if job.file_order {
        context
            .state_ref()
            .write()
            .config_mut()
            .options_mut()
            .execution
            .target_partitions = 1;
    }
    #[cfg(all(feature = "test-hooks", debug_assertions))]
    crate::isolation::hooks::register(&context);
    let (local, remote) = job_tables(&job)?;
    tables::register(&context, access, &local, &remote)
        .await
        .map_err(fail)?;
    phases.push(("tables", started.elapsed()));
    let key_ranges: KeyRanges = job
        .key_ranges
        .iter()
        .map(|(table, column, min, max)| ((table.clone(), column.clone()), (*min, *max)))
        .collect();
    context.add_optimizer_rule(Arc::new(EagerAggregation::new(key_ranges)));
    let options = SQLOptions::new()
        .with_allow_ddl(false)
        .with_allow_dml(false)
        .with_allow_statements(false);
    let frame = context
        .sql_with_options(&job.sql, options)
        .await
        .map_err(fail)?;
    phases.push(("logical plan", started.elapsed()));
    // The auto limit goes on the plan, never into the SQL text: one extra row tells whether it cut.
    let cap = usize::try_from(job.auto_limit).unwrap_or(usize::MAX);
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
    // Optimized once here (what `DataFrame::execute_stream` would do) so the join limit sees the joins as they
    // will run: equality conditions written in WHERE have become join keys by now.
    let (state, plan) = frame.into_parts();
    let optimized = state.optimize(&plan).map_err(fail)?;
    phases.push(("optimized", started.elapsed()));
    let row_counts: HashMap<String, u64> = job.row_counts.iter().cloned().collect();
    join_limit::check(&optimized, &row_counts, job.max_join_rows)?;
    let physical = state
        .query_planner()
        .create_physical_plan(&optimized, &state)
        .await
        .map_err(fail)?;
    phases.push(("physical plan", started.elapsed()));
    let mut stream =
        datafusion::physical_plan::execute_stream(Arc::clone(&physical), state.task_ctx())
            .map_err(fail)?;
    let kept = usize::try_from(job.kept_rows).unwrap_or(usize::MAX);
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
    phases.push(("finished", started.elapsed()));
    log_plan(physical.as_ref(), &phases);
    rows.truncate(cap);
    Ok(QueryOutput {
        columns,
        rows,
        total_rows: u64::try_from(produced.min(cap)).unwrap_or(u64::MAX),
        limit_applied: produced > cap,
        execution_ms: (started.elapsed().as_secs_f64() * 100_000.0).round() / 100.0,
    })
}
