//! `GET /metrics` (docs/operations.md, "Metrics"): the Prometheus text exposition, behind
//! `observability.metrics_enabled` and, when set, `observability.metrics_token` as a bearer token.

use actix_web::http::Method;
use actix_web::http::header::AUTHORIZATION;
use actix_web::{HttpRequest, HttpResponse, web};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tabletalk_ports::Gauges;

use super::resource;
use crate::{ApiError, ApiState};

pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/metrics", &[Method::GET]).route(web::get().to(metrics)));
}

/// Whether the request carries `Authorization: Bearer <token>`; compared in constant time over digests, so neither
/// the content nor the length of the token leaks through timing.
fn bearer_matches(req: &HttpRequest, token: &str) -> bool {
    let presented = req
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    let (a, b) = (
        Sha256::digest(presented.as_bytes()),
        Sha256::digest(token.as_bytes()),
    );
    bool::from(a.ct_eq(&b))
}

#[utoipa::path(
    get,
    path = "/metrics",
    tag = "health",
    summary = "Prometheus metrics (docs/operations.md, \"Metrics\")",
    description = "With `observability.metrics_token` set, needs `Authorization: Bearer <token>`; 404 when \
                   `observability.metrics_enabled = false`.",
    responses((status = 200, content_type = "text/plain; version=0.0.4; charset=utf-8", body = String))
)]
pub(crate) async fn metrics(
    req: HttpRequest,
    state: web::Data<ApiState>,
) -> Result<HttpResponse, ApiError> {
    let endpoint = &state.metrics;
    if !endpoint.enabled {
        return Err(ApiError::not_found());
    }
    if let Some(token) = &endpoint.token
        && !bearer_matches(&req, token)
    {
        return Err(ApiError::not_authenticated());
    }
    let (queries_running, queries_queued) = state.health.query_load();
    let text = endpoint.telemetry.render(Gauges {
        queries_queued,
        queries_running,
        file_cache_bytes: state.health.cached_bytes(),
    });
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(text))
}
