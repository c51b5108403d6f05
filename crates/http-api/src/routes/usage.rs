//! `GET /usage`: the caller's rolling 24-hour token budget.

use actix_web::http::Method;
use actix_web::{HttpResponse, web};
use serde::Serialize;

use super::resource;
use crate::extract::CurrentUser;
use crate::{ApiError, ApiState};

pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/usage", &[Method::GET]).route(web::get().to(usage)));
}

#[derive(Serialize, utoipa::ToSchema)]
struct UsageResponse {
    tokens_used: i64,
    token_limit: i64,
    remaining: i64,
    resets_in_seconds: u64,
    usage_percent: f64,
    window_reset_at: String,
    warning_threshold_pct: u8,
}

#[utoipa::path(
    get,
    path = "/usage",
    tag = "usage",
    summary = "The caller's rolling 24-hour token budget",
    responses((status = 200, body = UsageResponse)),
    security(("session" = []))
)]
pub(crate) async fn usage(
    user: CurrentUser,
    state: web::Data<ApiState>,
) -> Result<HttpResponse, ApiError> {
    let status = state.usage.status(user.user.id).await?;
    Ok(HttpResponse::Ok().json(UsageResponse {
        tokens_used: status.tokens_used,
        token_limit: status.token_limit,
        remaining: status.remaining,
        resets_in_seconds: status.resets_in_seconds,
        usage_percent: status.usage_percent,
        window_reset_at: status.window_reset_at.to_string(),
        warning_threshold_pct: status.warning_threshold_pct,
    }))
}
