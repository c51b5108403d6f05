//! `GET /openapi.json` (the OpenAPI 3.1 document) and `GET /api-docs` (the reference page rendered from it).

use actix_web::http::Method;
use actix_web::http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY};
use actix_web::{HttpResponse, web};

use super::resource;
use crate::openapi::{document, reference_page};

pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/openapi.json", &[Method::GET]).route(web::get().to(openapi_json)));
    cfg.service(resource("/api-docs", &[Method::GET]).route(web::get().to(api_docs)));
}

#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "health",
    summary = "This document (OpenAPI 3.1)",
    responses((status = 200, content_type = "application/json", body = Object))
)]
pub(crate) async fn openapi_json() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((CACHE_CONTROL, "no-cache"))
        .json(document())
}

#[utoipa::path(
    get,
    path = "/api-docs",
    tag = "health",
    summary = "The API reference page, rendered from this document (works offline)",
    responses((status = 200, content_type = "text/html; charset=utf-8", body = String))
)]
pub(crate) async fn api_docs() -> HttpResponse {
    let doc = serde_json::to_value(document()).unwrap_or_default();
    HttpResponse::Ok()
        .insert_header((CACHE_CONTROL, "no-cache"))
        // Only the page's own inline style; nothing to fetch, nothing to run.
        .insert_header((
            CONTENT_SECURITY_POLICY,
            "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; \
             frame-ancestors 'none'",
        ))
        .content_type("text/html; charset=utf-8")
        .body(reference_page(&doc))
}
