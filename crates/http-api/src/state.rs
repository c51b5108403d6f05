//! What handlers share: the domain services and the HTTP settings.

use std::sync::Arc;
use std::time::Duration;

use tabletalk_domain::assistants::AssistantService;
use tabletalk_domain::auth::OidcSignIn;
use tabletalk_domain::chat::ChatService;
use tabletalk_domain::datasets::{DatasetService, SqlRunner};
use tabletalk_domain::export::ExportService;
use tabletalk_domain::saved_queries::SavedQueryService;
use tabletalk_domain::transfer::ConversationTransfer;
use tabletalk_domain::{
    AuthService, ConversationRemoval, ConversationService, HealthService, InProcessBus,
    SettingsService, UsageService,
};

use crate::OriginPolicy;

/// Query-engine capacity as `/health` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueryEngineLimits {
    pub max_concurrency: usize,
    pub queue_capacity: usize,
}

/// Settings the HTTP layer needs from the configuration.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    /// Largest ordinary JSON body, in bytes.
    pub max_json_body: usize,
    /// Largest import body, in bytes.
    pub max_large_json_body: usize,
    /// Origins allowed by CORS and by the Origin rule.
    pub origins: OriginPolicy,
    /// Whether the session cookie carries `Secure`.
    pub secure_cookies: bool,
    /// Take the client address from the last `X-Forwarded-For` entry.
    pub trust_forwarded_headers: bool,
    /// Whether an LLM provider is configured.
    pub llm_configured: bool,
    pub query_engine: QueryEngineLimits,
    pub websocket: crate::ws::WebsocketSettings,
    /// `datasets.max_upload_bytes` plus 64 KiB of multipart overhead.
    pub max_upload_body: u64,
    /// The session lifetime, i.e. the cookie's `Max-Age`.
    pub session_ttl: Duration,
    /// Where sign-in redirects the browser (`server.frontend_url`, no trailing slash).
    pub frontend_url: String,
    /// The server's own address (`server.public_url`, no trailing slash), for links to its public pages.
    pub public_url: String,
    /// What `GET /capabilities` reports.
    pub limits: DeploymentLimits,
}

/// The deployment's limits as `GET /capabilities` reports them.
#[derive(Debug, Clone, Copy)]
pub struct DeploymentLimits {
    pub max_datasets_per_conversation: u32,
    pub max_upload_bytes: u64,
    pub query_timeout_s: u64,
}

/// `GET /metrics` and where every layer reports what it measures.
pub struct MetricsEndpoint {
    pub telemetry: Arc<dyn tabletalk_ports::Telemetry>,
    /// `observability.metrics_enabled`: when false the route answers 404.
    pub enabled: bool,
    /// `observability.metrics_token`: when set, scrapes must present it as a bearer token.
    pub token: Option<String>,
}

impl std::fmt::Debug for MetricsEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricsEndpoint")
            .field("enabled", &self.enabled)
            .field("token", &self.token.as_ref().map(|_| "<set>"))
            .finish_non_exhaustive()
    }
}

/// Everything a handler can reach, cloned into every actix worker.
#[derive(Debug, Clone)]
pub struct ApiState {
    pub auth: Arc<AuthService>,
    pub conversations: Arc<ConversationService>,
    /// Deleting conversations with everything running or stored for them.
    pub removal: Arc<ConversationRemoval>,
    pub usage: Arc<UsageService>,
    pub health: Arc<HealthService>,
    pub datasets: Arc<DatasetService>,
    pub sql: Arc<SqlRunner>,
    /// Result files (CSV, XLSX, Parquet).
    pub exports: Arc<ExportService>,
    /// Saved queries and their shared results.
    pub saved_queries: Arc<SavedQueryService>,
    /// Assistants and conversations started from them.
    pub assistants: Arc<AssistantService>,
    /// Each user's settings and chat model.
    pub user_settings: Arc<SettingsService>,
    /// Import, fork and export of conversations.
    pub transfer: Arc<ConversationTransfer>,
    /// Where use cases publish events; the WebSocket subscribes.
    pub events: Arc<InProcessBus>,
    pub chat: Arc<ChatService>,
    /// Open WebSocket connections by user.
    pub connections: Arc<crate::ws::Connections>,
    /// OIDC sign-in; `None` in local mode.
    pub oidc: Option<Arc<OidcSignIn>>,
    pub settings: Arc<HttpSettings>,
    pub metrics: Arc<MetricsEndpoint>,
}
