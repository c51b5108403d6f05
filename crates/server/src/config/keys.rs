//! Every configuration key of docs/configuration.md and the chatDF aliases (the "Alias" column of
//! docs/configuration.md).

pub(crate) const KEYS: &[&str] = &[
    "server.host",
    "server.port",
    "server.public_url",
    "server.frontend_url",
    "server.cors_origins",
    "server.max_json_body",
    "server.max_large_json_body",
    "server.trust_forwarded_headers",
    "server.shutdown_grace",
    "storage.database_url",
    "storage.data_dir",
    "storage.upload_dir",
    "storage.cache_dir",
    "storage.cache_max_bytes",
    "auth.session_ttl",
    "auth.secure_cookies",
    "auth.require_referral",
    "auth.allowed_email_domains",
    "auth.local_access_key",
    "auth.oidc.issuer",
    "auth.oidc.client_id",
    "auth.oidc.client_secret",
    "auth.oidc.scopes",
    "llm.provider",
    "llm.api_key",
    "llm.base_url",
    "llm.model",
    "llm.models",
    "llm.default_tools",
    "llm.thinking",
    "llm.max_retries",
    "llm.retry_base_delay",
    "llm.idle_timeout",
    "llm.call_timeout",
    "llm.max_tool_calls",
    "llm.max_sql_errors",
    "llm.context_messages",
    "llm.context_token_budget",
    "llm.max_concurrent_turns",
    "llm.price_input_per_mtok",
    "llm.price_output_per_mtok",
    "budget.token_limit",
    "budget.warning_threshold_pct",
    "datasets.max_per_conversation",
    "datasets.max_upload_bytes",
    "datasets.max_download_bytes",
    "datasets.allow_private_networks",
    "datasets.allowed_hosts",
    "datasets.allowed_cidrs",
    "datasets.probe_timeout",
    "datasets.download_timeout",
    "datasets.csv_infer_rows",
    "datasets.stats_timeout",
    "datasets.profile_sample_rows",
    "query.timeout",
    "query.memory_limit",
    "query.max_concurrency",
    "query.max_concurrency_per_user",
    "query.total_memory",
    "query.max_join_rows",
    "query.queue_capacity",
    "query.queue_timeout",
    "query.auto_limit",
    "query.max_returned_rows",
    "query.ws_rows",
    "query.llm_rows",
    "query.result_cache_entries",
    "query.result_cache_max_bytes",
    "query.result_cache_ttl",
    "websocket.heartbeat_interval",
    "websocket.missed_pongs",
    "websocket.send_queue",
    "websocket.max_connections_per_user",
    "history.max_entries_per_user",
    "observability.log_format",
    "observability.log_level",
    "observability.metrics_enabled",
    "observability.metrics_token",
];

/// `auth.oidc.client_id` → `TABLETALK__AUTH__OIDC__CLIENT_ID`.
pub(crate) fn env_name(key: &str) -> String {
    format!("TABLETALK__{}", key.replace('.', "__").to_ascii_uppercase())
}

/// How an alias's value converts to its key's syntax.
#[derive(Debug, Clone, Copy)]
pub(crate) enum AliasKind {
    /// Taken as is.
    Plain,
    /// An integer number of days.
    Days,
    /// An integer number of MiB.
    Mebibytes,
    /// A boolean (`1`/`true`/`yes`, `0`/`false`/`no`/empty).
    Bool,
    /// A boolean that becomes the string `"true"`/`"false"`.
    BoolText,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Alias {
    pub var: &'static str,
    pub key: &'static str,
    pub kind: AliasKind,
}

impl Alias {
    pub(crate) const fn expected(&self) -> &'static str {
        match self.kind {
            AliasKind::Plain => "a value",
            AliasKind::Days => "an integer number of days",
            AliasKind::Mebibytes => "an integer number of MiB",
            AliasKind::Bool | AliasKind::BoolText => "a boolean (1/0, true/false, yes/no)",
        }
    }
}

const fn alias(var: &'static str, key: &'static str, kind: AliasKind) -> Alias {
    Alias { var, key, kind }
}

pub(crate) const ALIASES: &[Alias] = &[
    alias("CORS_ORIGINS", "server.cors_origins", AliasKind::Plain),
    alias("DATABASE_URL", "storage.database_url", AliasKind::Plain),
    alias("UPLOAD_DIR", "storage.upload_dir", AliasKind::Plain),
    alias("CHATDF_CACHE_DIR", "storage.cache_dir", AliasKind::Plain),
    alias(
        "CHATDF_MAX_CACHE_BYTES",
        "storage.cache_max_bytes",
        AliasKind::Plain,
    ),
    alias("SESSION_DURATION_DAYS", "auth.session_ttl", AliasKind::Days),
    alias("SECURE_COOKIES", "auth.secure_cookies", AliasKind::BoolText),
    alias("GOOGLE_CLIENT_ID", "auth.oidc.client_id", AliasKind::Plain),
    alias(
        "GOOGLE_CLIENT_SECRET",
        "auth.oidc.client_secret",
        AliasKind::Plain,
    ),
    alias("GEMINI_API_KEY", "llm.api_key", AliasKind::Plain),
    alias("TOKEN_LIMIT", "budget.token_limit", AliasKind::Plain),
    alias(
        "MAX_UPLOAD_SIZE_MB",
        "datasets.max_upload_bytes",
        AliasKind::Mebibytes,
    ),
    alias(
        "CHATDF_MAX_FILE_BYTES",
        "datasets.max_download_bytes",
        AliasKind::Plain,
    ),
    alias(
        "CHATDF_ALLOW_PRIVATE_URLS",
        "datasets.allow_private_networks",
        AliasKind::Bool,
    ),
    alias(
        "WORKER_MEMORY_LIMIT",
        "query.memory_limit",
        AliasKind::Mebibytes,
    ),
    alias(
        "WORKER_POOL_SIZE",
        "query.max_concurrency",
        AliasKind::Plain,
    ),
    alias("RUST_LOG", "observability.log_level", AliasKind::Plain),
];
