//! Liveness and readiness of the parts the server depends on.

use std::sync::Arc;
use std::time::Instant;

use tabletalk_ports::{DatabaseHealth, QueryEngine};

/// What `/health` and `/ready` report.
#[derive(Debug, Clone, PartialEq)]
pub struct HealthReport {
    pub database_ok: bool,
    /// The query engine can run queries (its worker processes start).
    pub query_engine_ok: bool,
    pub uptime_seconds: f64,
    /// Queries running and waiting in the engine.
    pub queries_running: usize,
    pub queries_queued: usize,
}

/// Probes the database and tracks uptime.
pub struct HealthService {
    database: Arc<dyn DatabaseHealth>,
    query_engine: Arc<dyn QueryEngine>,
    started: Instant,
}

impl std::fmt::Debug for HealthService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HealthService")
            .field("started", &self.started)
            .finish_non_exhaustive()
    }
}

impl HealthService {
    pub fn new(database: Arc<dyn DatabaseHealth>, query_engine: Arc<dyn QueryEngine>) -> Self {
        Self {
            database,
            query_engine,
            started: Instant::now(),
        }
    }

    /// Probes the database and reads the query engine's load now.
    /// Bytes in the engine's file cache now.
    pub fn cached_bytes(&self) -> u64 {
        self.query_engine.cached_bytes()
    }

    /// Queries running and waiting now, without touching the database.
    pub fn query_load(&self) -> (usize, usize) {
        self.query_engine.load()
    }

    pub async fn check(&self) -> HealthReport {
        let database_ok = match self.database.ping().await {
            Ok(()) => true,
            Err(error) => {
                tracing::error!(%error, "database health check failed");
                false
            }
        };
        let (queries_running, queries_queued) = self.query_engine.load();
        HealthReport {
            database_ok,
            query_engine_ok: self.query_engine.accepts_work(),
            uptime_seconds: (self.started.elapsed().as_secs_f64() * 10.0).round() / 10.0,
            queries_running,
            queries_queued,
        }
    }
}
