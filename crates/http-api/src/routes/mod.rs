//! Routes, one file per resource. Handlers stay short: extract, validate into records, call one service,
//! map to a response DTO.

mod auth;
mod conversations;
mod datasets;
mod export;
mod health;
mod messages;
mod metrics;
mod oidc;
mod query;
mod saved_queries;
mod settings;
mod usage;

use actix_web::http::Method;
use actix_web::{HttpResponse, Resource, web};

use crate::ApiError;

pub(crate) fn configure(cfg: &mut web::ServiceConfig) {
    health::configure(cfg);
    auth::configure(cfg);
    oidc::configure(cfg);
    usage::configure(cfg);
    conversations::configure(cfg);
    datasets::configure(cfg);
    query::configure(cfg);
    messages::configure(cfg);
    settings::configure(cfg);
    saved_queries::configure(cfg);
    export::configure(cfg);
    metrics::configure(cfg);
    cfg.service(resource("/ws", &[Method::GET]).route(web::get().to(crate::ws::connect)));
}

/// Any path no route matches.
pub(crate) async fn not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::not_found())
}

/// A resource whose unmatched methods answer 405 with an `Allow` header listing `methods`.
pub(crate) fn resource(path: &str, methods: &[Method]) -> Resource {
    let allow = methods
        .iter()
        .map(Method::as_str)
        .collect::<Vec<_>>()
        .join(", ");
    web::resource(path).default_service(web::to(move || {
        let allow = allow.clone();
        async move { Err::<HttpResponse, _>(ApiError::method_not_allowed(Some(allow))) }
    }))
}
