//! `GET /health` and `GET /ready` (no authentication).

use actix_web::http::Method;
use actix_web::{HttpResponse, web};
use serde::Serialize;

use super::resource;
use crate::{ApiError, ApiState};

pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/health", &[Method::GET]).route(web::get().to(health)));
    cfg.service(resource("/ready", &[Method::GET]).route(web::get().to(ready)));
}

#[derive(Serialize, utoipa::ToSchema)]
struct QueryEngineHealth {
    status: &'static str,
    running: usize,
    queued: usize,
    max_concurrency: usize,
    queue_capacity: usize,
}

#[derive(Serialize, utoipa::ToSchema)]
struct HealthResponse {
    status: &'static str,
    uptime_seconds: f64,
    database: &'static str,
    worker_pool: &'static str,
    version: &'static str,
    query_engine: QueryEngineHealth,
    llm: &'static str,
    /// How people sign in: `oidc` (`POST /auth/google`) or `local` (`POST /auth/dev-login` with the access key).
    auth_mode: &'static str,
}

const fn ok_or_error(ok: bool) -> &'static str {
    if ok { "ok" } else { "error" }
}

#[utoipa::path(
    get,
    path = "/health",
    tag = "health",
    summary = "Liveness, with the state of the database and the query engine",
    responses((status = 200, body = HealthResponse))
)]
pub(crate) async fn health(state: web::Data<ApiState>) -> HttpResponse {
    let report = state.health.check().await;
    let limits = state.settings.query_engine;
    let engine_ok = report.query_engine_ok;
    HttpResponse::Ok().json(HealthResponse {
        status: if report.database_ok && engine_ok {
            "ok"
        } else {
            "degraded"
        },
        uptime_seconds: report.uptime_seconds,
        database: ok_or_error(report.database_ok),
        worker_pool: ok_or_error(engine_ok),
        version: env!("CARGO_PKG_VERSION"),
        query_engine: QueryEngineHealth {
            status: ok_or_error(engine_ok),
            running: report.queries_running,
            queued: report.queries_queued,
            max_concurrency: limits.max_concurrency,
            queue_capacity: limits.queue_capacity,
        },
        llm: if state.settings.llm_configured {
            "configured"
        } else {
            "not_configured"
        },
        auth_mode: if state.oidc.is_some() {
            "oidc"
        } else {
            "local"
        },
    })
}

#[derive(Serialize, utoipa::ToSchema)]
struct ReadyResponse {
    /// Always `ready`.
    status: &'static str,
}

#[utoipa::path(
    get,
    path = "/ready",
    tag = "health",
    summary = "Readiness: migrations applied, database answering, query engine accepting work",
    description = "503 `not_ready` otherwise, with `details` naming what is not ready.",
    responses((status = 200, body = ReadyResponse))
)]
pub(crate) async fn ready(state: web::Data<ApiState>) -> Result<HttpResponse, ApiError> {
    let report = state.health.check().await;
    let identity_provider = state.oidc.as_ref().map(|oidc| oidc.not_ready_reason());
    let identity_ok = identity_provider.as_ref().is_none_or(Option::is_none);
    if report.database_ok && report.query_engine_ok && identity_ok {
        Ok(HttpResponse::Ok().json(ReadyResponse { status: "ready" }))
    } else {
        Err(ApiError::not_ready(
            report.database_ok,
            report.query_engine_ok,
            identity_provider,
        ))
    }
}
