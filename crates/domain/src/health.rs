//! Liveness and readiness of the parts the server depends on.

use std::sync::Arc;
use std::time::Instant;

use tabletalk_ports::DatabaseHealth;

/// What `/health` and `/ready` report.
#[derive(Debug, Clone, PartialEq)]
pub struct HealthReport {
    pub database_ok: bool,
    pub uptime_seconds: f64,
}

/// Probes the database and tracks uptime.
pub struct HealthService {
    database: Arc<dyn DatabaseHealth>,
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
    pub fn new(database: Arc<dyn DatabaseHealth>) -> Self {
        Self {
            database,
            started: Instant::now(),
        }
    }

    /// Probes the database now.
    pub async fn check(&self) -> HealthReport {
        let database_ok = match self.database.ping().await {
            Ok(()) => true,
            Err(error) => {
                tracing::error!(%error, "database health check failed");
                false
            }
        };
        HealthReport {
            database_ok,
            uptime_seconds: (self.started.elapsed().as_secs_f64() * 10.0).round() / 10.0,
        }
    }
}
