//! A query engine that reports every run to the telemetry port under one origin (dataset previews, profiles).

use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use tabletalk_ports::{
    CanonicalSql, QueryEnd, QueryEngine, QueryError, QueryOrigin, QueryOutput, QueryOwner,
    QueryTable, RowLimits, Telemetry,
};

/// How a run ended, as the query counter labels it.
pub(crate) const fn query_end(error: &QueryError) -> QueryEnd {
    match error {
        QueryError::Timeout { .. } => QueryEnd::Timeout,
        QueryError::MemoryExceeded => QueryEnd::Memory,
        _ => QueryEnd::Error,
    }
}

pub(crate) struct MeteredEngine {
    pub inner: Arc<dyn QueryEngine>,
    pub telemetry: Arc<dyn Telemetry>,
    pub origin: QueryOrigin,
}

#[async_trait]
impl QueryEngine for MeteredEngine {
    async fn run(
        &self,
        owner: QueryOwner,
        tables: &[QueryTable],
        sql: &str,
        limits: RowLimits,
    ) -> Result<QueryOutput, QueryError> {
        let started = Instant::now();
        let result = self.inner.run(owner, tables, sql, limits).await;
        let end = result
            .as_ref()
            .map_or_else(query_end, |_| QueryEnd::Success);
        self.telemetry
            .query_finished(self.origin, end, started.elapsed());
        result
    }

    fn canonical_sql(&self, sql: &str) -> Result<CanonicalSql, QueryError> {
        self.inner.canonical_sql(sql)
    }

    fn load(&self) -> (usize, usize) {
        self.inner.load()
    }

    fn cached_bytes(&self) -> u64 {
        self.inner.cached_bytes()
    }

    fn accepts_work(&self) -> bool {
        self.inner.accepts_work()
    }
}
