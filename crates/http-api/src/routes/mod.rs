//! Routes, one file per resource. Handlers stay short: extract, validate into records, call one service,
//! map to a response DTO.

pub(crate) mod assistants;
pub(crate) mod auth;
pub(crate) mod client;
pub(crate) mod conversations;
pub(crate) mod datasets;
pub(crate) mod docs;
pub(crate) mod export;
pub(crate) mod health;
pub(crate) mod messages;
pub(crate) mod metrics;
pub(crate) mod oidc;
pub(crate) mod query;
pub(crate) mod saved_queries;
pub(crate) mod settings;
pub(crate) mod usage;

use actix_web::http::Method;
use actix_web::{HttpResponse, Resource, web};

use crate::ApiError;

pub(crate) fn configure(cfg: &mut web::ServiceConfig) {
    client::configure_pages(cfg);
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
    assistants::configure(cfg);
    export::configure(cfg);
    metrics::configure(cfg);
    docs::configure(cfg);
    cfg.service(resource("/ws", &[Method::GET]).route(web::get().to(crate::ws::connect)));
}

/// Any path no route matches.
pub(crate) async fn not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::not_found())
}

/// A resource whose unmatched methods answer 405 with an `Allow` header listing `methods`.
pub(crate) fn resource(path: &str, methods: &[Method]) -> Resource {
    #[cfg(test)]
    registered::record(path, methods);
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

/// Every resource the routes register, for the test that holds the OpenAPI document to the routing table.
#[cfg(test)]
pub(crate) mod registered {
    use std::collections::BTreeSet;
    use std::sync::Mutex;

    use actix_web::http::Method;

    static ROUTES: Mutex<BTreeSet<(String, String)>> = Mutex::new(BTreeSet::new());

    pub(crate) fn record(path: &str, methods: &[Method]) {
        let mut routes = ROUTES.lock().unwrap();
        for method in methods {
            routes.insert((method.as_str().to_lowercase(), path.to_owned()));
        }
    }

    /// `(method, path)` of every route, after the app was configured once.
    pub(crate) fn all() -> BTreeSet<(String, String)> {
        ROUTES.lock().unwrap().clone()
    }
}
