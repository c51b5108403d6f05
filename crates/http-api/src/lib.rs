//! Tabletalk's REST API on actix-web: one app factory ([`app`]) used by the binary and the tests, the error body and
//! status table of docs/api.md, "Conventions", request ids, CORS, the Origin rule, body limits, the session-cookie
//! extractor and the routes.
//!
//! Imports `tabletalk-domain` and `tabletalk-ports` only: never an adapter, diesel, datafusion or
//! openidconnect.

mod app;
mod cookies;
mod dto;
mod error;
mod extract;
mod middleware;
mod openapi;
mod origin;
mod routes;
mod state;
mod ws;

pub use app::app;

/// The OpenAPI 3.1 document `GET /openapi.json` serves.
pub fn openapi_document() -> serde_json::Value {
    serde_json::to_value(openapi::document()).unwrap_or_default()
}
pub use error::ApiError;
pub use origin::{OriginPolicy, OriginPolicyError};
pub use routes::client::{
    ASSETS as CLIENT_ASSETS, PAGES as CLIENT_PAGES, ROOT_FILE as CLIENT_ROOT_FILE,
};
pub use state::{ApiState, DeploymentLimits, HttpSettings, MetricsEndpoint, QueryEngineLimits};
pub use ws::{Connections, WebsocketSettings};
