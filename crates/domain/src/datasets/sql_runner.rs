//! The SQL runner (docs/api.md, "SQL runner and history"): one read-only statement over the conversation's ready
//! datasets, through the result cache, translated errors, and one query-history row per call.

use std::sync::Arc;
use std::time::Instant;

use tabletalk_ports::{
    Clock, ConversationId, DatasetRepository, HistoryId, QueryEnd, QueryEngine, QueryHistoryEntry,
    QueryHistoryRepository, QueryOutput, QuerySource, RowLimits, Telemetry, UserId,
};

use super::errors::{DatasetError, QueryFailureKind, query_failure};
use super::query_errors::translate;
use super::result_cache::{CacheLimits, ResultCache, cache_key};
use super::running::RunningQueries;
use super::tables::{query_tables, table_columns};
use crate::ConversationService;
use crate::input::{Page, SqlText};

/// `query.*` and `history.*` as the runner needs them.
#[derive(Debug, Clone, Copy)]
pub struct SqlRunnerSettings {
    pub limits: RowLimits,
    pub timeout_secs: u64,
    pub memory_limit: u64,
    pub cache_entries: usize,
    pub cache_max_bytes: usize,
    pub cache_ttl_millis: i64,
    pub history_max_entries: u64,
}

/// A successful run.
#[derive(Debug, Clone)]
pub struct SqlResult {
    pub output: QueryOutput,
    pub cached: bool,
    /// Wall time including the cache lookup, 2 decimals.
    pub execution_ms: f64,
}

/// One page of a SQL-panel result.
#[derive(Debug, Clone)]
pub struct SqlPage {
    pub columns: Vec<tabletalk_ports::QueryColumn>,
    /// The page's rows.
    pub rows: Vec<Vec<serde_json::Value>>,
    /// Rows the query produced (capped at the auto limit).
    pub total_rows: u64,
    /// Rows kept of the result, over all pages.
    pub returned_rows: u64,
    pub page: Page,
    pub total_pages: u64,
    pub cached: bool,
    pub execution_ms: f64,
    pub limit_applied: bool,
}

/// Runs SQL for the SQL panel and the model.
pub struct SqlRunner {
    conversations: Arc<ConversationService>,
    datasets: Arc<dyn DatasetRepository>,
    engine: Arc<dyn QueryEngine>,
    history: Arc<dyn QueryHistoryRepository>,
    clock: Arc<dyn Clock>,
    cache: ResultCache,
    running: RunningQueries,
    settings: SqlRunnerSettings,
    telemetry: Arc<dyn Telemetry>,
}

impl std::fmt::Debug for SqlRunner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlRunner")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl SqlRunner {
    pub fn new(
        conversations: Arc<ConversationService>,
        datasets: Arc<dyn DatasetRepository>,
        engine: Arc<dyn QueryEngine>,
        history: Arc<dyn QueryHistoryRepository>,
        clock: Arc<dyn Clock>,
        settings: SqlRunnerSettings,
    ) -> Self {
        let cache = ResultCache::new(CacheLimits {
            entries: settings.cache_entries,
            max_bytes: settings.cache_max_bytes,
            ttl_millis: settings.cache_ttl_millis,
        });
        Self {
            conversations,
            datasets,
            engine,
            history,
            clock,
            cache,
            running: RunningQueries::default(),
            settings,
            telemetry: Arc::new(tabletalk_ports::NoTelemetry),
        }
    }

    /// Reports every query that reaches the cache or the engine to `telemetry`.
    #[must_use]
    pub fn with_telemetry(mut self, telemetry: Arc<dyn Telemetry>) -> Self {
        self.telemetry = telemetry;
        self
    }

    /// The SQL panel: runs `sql` and returns the asked page of what was kept.
    ///
    /// # Errors
    /// As [`SqlRunner::run`].
    pub async fn run_page(
        &self,
        user: UserId,
        conversation: ConversationId,
        sql: &SqlText,
        page: Page,
    ) -> Result<SqlPage, DatasetError> {
        let result = self
            .run(user, conversation, sql, QuerySource::SqlPanel)
            .await?;
        let output = result.output;
        let returned_rows = output.rows.len() as u64;
        Ok(SqlPage {
            columns: output.columns,
            rows: page.slice(output.rows),
            total_rows: output.total_rows,
            returned_rows,
            page,
            total_pages: page.count(returned_rows),
            cached: result.cached,
            execution_ms: result.execution_ms,
            limit_applied: output.limit_applied,
        })
    }

    /// The SQL panel (`source = sql_panel`) and the model's `execute_sql` (`source = llm`). Every call that reaches the
    /// engine or the cache writes one history row.
    pub async fn run(
        &self,
        user: UserId,
        conversation: ConversationId,
        sql: &SqlText,
        source: QuerySource,
    ) -> Result<SqlResult, DatasetError> {
        let sql = sql.as_str();
        self.conversations.owned(user, conversation).await?;
        let started = Instant::now();
        let datasets = self.datasets.list_for_conversation(conversation).await?;
        let tables = query_tables(&datasets);
        let outcome = if tables.is_empty() {
            Err(DatasetError::NoDatasets)
        } else {
            let running = self
                .running
                .run(conversation, self.execute(user, &datasets, &tables, sql));
            // A conversation deleted meanwhile has no history to write to.
            running.await.ok_or(DatasetError::ConversationNotFound)?
        };
        let took = started.elapsed();
        let end = match &outcome {
            Ok((_, true)) => Some(QueryEnd::Cached),
            Ok((_, false)) => Some(QueryEnd::Success),
            Err(DatasetError::Query(failure)) => Some(match failure.kind {
                QueryFailureKind::Timeout => QueryEnd::Timeout,
                QueryFailureKind::MemoryExceeded => QueryEnd::Memory,
                _ => QueryEnd::Error,
            }),
            // Refused before the engine (no datasets): not a query.
            Err(_) => None,
        };
        if let Some(end) = end {
            self.telemetry.query_finished(source.into(), end, took);
        }
        let elapsed = (took.as_secs_f64() * 100_000.0).round() / 100.0;
        let (row_count, error_message) = match &outcome {
            Ok((output, _)) => (i64::try_from(output.total_rows).ok(), None),
            Err(error) => (None, Some(error.to_string())),
        };
        let entry = QueryHistoryEntry {
            id: HistoryId::new(),
            user_id: user,
            conversation_id: Some(conversation),
            source,
            query: sql.to_owned(),
            error_message,
            row_count,
            execution_time_ms: Some(elapsed),
            is_starred: false,
            created_at: self.clock.now(),
        };
        if let Err(error) = self
            .history
            .record(&entry, self.settings.history_max_entries)
            .await
        {
            // History is a convenience: losing one row must not fail the query.
            tracing::warn!(%error, "could not record query history");
        }
        let (output, cached) = outcome?;
        Ok(SqlResult {
            output,
            cached,
            execution_ms: elapsed,
        })
    }

    /// Stops the queries running in a conversation that is being deleted.
    pub fn conversation_deleted(&self, conversation: ConversationId) {
        self.running.conversation_deleted(conversation);
    }

    /// The user's history, newest first, and the number of matching entries.
    ///
    /// # Errors
    /// Storage failures.
    pub async fn history(
        &self,
        user: UserId,
        filter: &tabletalk_ports::QueryHistoryFilter,
    ) -> Result<(Vec<QueryHistoryEntry>, u64), DatasetError> {
        Ok(self.history.list(user, filter).await?)
    }

    /// Star toggle: flips the star of one of the user's history entries and returns the new state.
    ///
    /// # Errors
    /// `HistoryEntryNotFound` for an unknown id or another user's entry; storage failures.
    pub async fn toggle_star(
        &self,
        user: UserId,
        id: tabletalk_ports::HistoryId,
    ) -> Result<bool, DatasetError> {
        self.history
            .toggle_star(user, id)
            .await?
            .ok_or(DatasetError::HistoryEntryNotFound)
    }

    /// Clear: deletes every history entry of the user, starred ones too; returns how many.
    ///
    /// # Errors
    /// Storage failures.
    pub async fn clear_history(&self, user: UserId) -> Result<u64, DatasetError> {
        Ok(self.history.delete_all(user).await?)
    }

    /// Plans `sql` against the conversation's ready tables without reading their rows (it runs as
    /// `SELECT * FROM (sql) LIMIT 0`, which the planner reduces to an empty result), through the same isolation and
    /// error wording as a run. Writes no history and skips the cache: nothing was asked to run.
    ///
    /// # Errors
    /// `Query` with the worded failure when the statement does not plan or is not read-only; `NoDatasets`;
    /// ownership and storage failures.
    pub async fn check(
        &self,
        user: UserId,
        conversation: ConversationId,
        sql: &str,
    ) -> Result<(), DatasetError> {
        self.conversations.owned(user, conversation).await?;
        let datasets = self.datasets.list_for_conversation(conversation).await?;
        let tables = query_tables(&datasets);
        if tables.is_empty() {
            return Err(DatasetError::NoDatasets);
        }
        let canonical = self
            .engine
            .canonical_sql(sql)
            .map_err(|e| self.failure(e, &datasets, sql))?;
        let planned = format!("SELECT * FROM ({}) AS planned LIMIT 0", canonical.text);
        self.engine
            .run(user, &tables, &planned, self.settings.limits)
            .await
            .map_err(|e| self.failure(e, &datasets, sql))?;
        Ok(())
    }

    fn failure(
        &self,
        error: tabletalk_ports::QueryError,
        datasets: &[tabletalk_ports::Dataset],
        sql: &str,
    ) -> DatasetError {
        DatasetError::Query(query_failure(
            error,
            self.settings.timeout_secs,
            self.settings.memory_limit,
            |problem, raw| translate(problem, raw, sql, &table_columns(datasets)),
        ))
    }

    async fn execute(
        &self,
        user: UserId,
        datasets: &[tabletalk_ports::Dataset],
        tables: &[tabletalk_ports::QueryTable],
        sql: &str,
    ) -> Result<(QueryOutput, bool), DatasetError> {
        let fail = |error| self.failure(error, datasets, sql);
        let canonical = self.engine.canonical_sql(sql).map_err(fail)?;
        let limits = self.settings.limits;
        let key = (!canonical.volatile).then(|| cache_key(user, &canonical.text, limits, tables));
        let now = self.clock.now().unix_millis();
        if let Some(hit) = key.as_ref().and_then(|k| self.cache.get(k, now)) {
            return Ok((hit, true));
        }
        let output = self
            .engine
            .run(user, tables, sql, limits)
            .await
            .map_err(fail)?;
        if let Some(key) = key {
            self.cache.put(key, &output, self.clock.now().unix_millis());
        }
        Ok((output, false))
    }
}
