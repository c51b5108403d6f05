//! The typed configuration, one struct per section of docs/configuration.md.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use secrecy::SecretString;

/// `server.*`.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub host: IpAddr,
    pub port: u16,
    /// Whether `public_url` was configured (local mode derives it from the port otherwise).
    pub public_url_configured: bool,
    /// Without a trailing slash.
    pub public_url: String,
    pub frontend_url: String,
    pub cors_origins: Vec<String>,
    pub max_json_body: u64,
    pub max_large_json_body: u64,
    pub trust_forwarded_headers: bool,
    pub shutdown_grace: Duration,
}

/// `storage.*`.
#[derive(Debug, Clone)]
pub struct StorageConfig {
    pub database_path: PathBuf,
    pub data_dir: PathBuf,
    pub upload_dir: PathBuf,
    pub cache_dir: PathBuf,
    pub cache_max_bytes: u64,
}

/// `auth.secure_cookies`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecureCookies {
    Auto,
    Always,
    Never,
}

/// `auth.oidc.*`.
#[derive(Debug, Clone)]
pub struct OidcConfig {
    pub issuer: String,
    pub client_id: Option<String>,
    pub client_secret: Option<SecretString>,
    pub scopes: Vec<String>,
}

/// `auth.*`.
#[derive(Debug, Clone)]
pub struct AuthConfig {
    pub session_ttl: Duration,
    pub secure_cookies: SecureCookies,
    pub require_referral: bool,
    pub allowed_email_domains: Vec<String>,
    pub local_access_key: Option<SecretString>,
    pub oidc: OidcConfig,
}

impl AuthConfig {
    /// OIDC mode when a client id is configured, else local mode.
    pub fn is_local_mode(&self) -> bool {
        self.oidc.client_id.is_none()
    }
}

/// `llm.provider`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LlmProviderKind {
    None,
    Gemini,
    OpenAi,
}

/// `llm.*`.
#[derive(Debug, Clone)]
pub struct LlmConfig {
    pub provider: LlmProviderKind,
    pub api_key: Option<SecretString>,
    pub base_url: String,
    pub model: String,
    pub models: Vec<String>,
    /// `llm.default_tools`: the tools every user's turns may use before per-user overrides.
    pub default_tools: Vec<String>,
    pub thinking: bool,
    pub max_retries: u32,
    pub retry_base_delay: Duration,
    pub idle_timeout: Duration,
    pub call_timeout: Duration,
    pub max_tool_calls: u32,
    pub max_sql_errors: u32,
    pub context_messages: u32,
    pub context_token_budget: u64,
    pub max_concurrent_turns: u32,
    pub price_input_per_mtok: f64,
    pub price_output_per_mtok: f64,
}

/// `budget.*`.
#[derive(Debug, Clone)]
pub struct BudgetConfig {
    pub token_limit: i64,
    pub warning_threshold_pct: u8,
}

/// `datasets.*`.
#[derive(Debug, Clone)]
pub struct DatasetsConfig {
    pub max_per_conversation: u32,
    pub max_upload_bytes: u64,
    pub max_download_bytes: u64,
    pub allow_private_networks: bool,
    pub allowed_hosts: Vec<String>,
    pub allowed_cidrs: Vec<String>,
    pub probe_timeout: Duration,
    pub download_timeout: Duration,
    pub csv_infer_rows: u32,
    pub stats_timeout: Duration,
    pub profile_sample_rows: u32,
}

/// `query.*`.
#[derive(Debug, Clone)]
pub struct QueryConfig {
    pub timeout: Duration,
    pub memory_limit: u64,
    /// 0 in the file means "one per CPU core"; this is the resolved number.
    pub max_concurrency: usize,
    /// 0 in the file means "half of `max_concurrency`, rounded up"; this is the resolved number.
    pub max_concurrency_per_user: usize,
    /// All running queries together; admission runs no more queries than fit at `memory_limit` each.
    pub total_memory: u64,
    /// Joins without equality keys that would pair more rows are refused before they run; 0 turns it off.
    pub max_join_rows: u64,
    pub queue_capacity: usize,
    pub queue_timeout: Duration,
    pub auto_limit: u64,
    pub max_returned_rows: u64,
    pub ws_rows: u64,
    pub llm_rows: u64,
    pub result_cache_entries: u64,
    pub result_cache_max_bytes: u64,
    pub result_cache_ttl: Duration,
}

/// `websocket.*`.
#[derive(Debug, Clone)]
pub struct WebsocketConfig {
    pub heartbeat_interval: Duration,
    pub missed_pongs: u32,
    pub send_queue: u32,
    pub max_connections_per_user: u32,
}

/// `history.*`.
#[derive(Debug, Clone)]
pub struct HistoryConfig {
    pub max_entries_per_user: u64,
}

/// `observability.log_format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Pretty,
    Json,
}

/// `observability.*`.
#[derive(Debug, Clone)]
pub struct ObservabilityConfig {
    pub log_format: LogFormat,
    pub log_level: String,
    pub metrics_enabled: bool,
    pub metrics_token: Option<SecretString>,
}
