//! Picking adapters and building the services from them.

use std::sync::Arc;

use secrecy::ExposeSecret;
use tabletalk_adapters_sqlite::{SqliteDatabase, SqliteOptions};
use tabletalk_domain::auth::sha256;
use tabletalk_domain::{
    AuthMode, AuthService, AuthSettings, ConversationService, HealthService, UsageService,
};
use tabletalk_http_api::{ApiState, HttpSettings, OriginPolicy, QueryEngineLimits};
use tabletalk_ports::{
    Clock, ConversationRepository, DatabaseHealth, DatasetRepository, MessageRepository,
    SessionRepository, SystemClock, TokenUsageRepository, UserRepository,
};

use crate::config::{Config, LlmProviderKind, SecureCookies};
use crate::{AccessKey, StartupError};

/// One implementation of every driven port.
#[derive(Clone)]
#[expect(
    missing_debug_implementations,
    reason = "trait objects of ports are not Debug"
)]
pub struct Adapters {
    pub users: Arc<dyn UserRepository>,
    pub sessions: Arc<dyn SessionRepository>,
    pub conversations: Arc<dyn ConversationRepository>,
    pub messages: Arc<dyn MessageRepository>,
    pub datasets: Arc<dyn DatasetRepository>,
    pub token_usage: Arc<dyn TokenUsageRepository>,
    pub database: Arc<dyn DatabaseHealth>,
    pub clock: Arc<dyn Clock>,
}

impl Adapters {
    /// Every repository served by one store (the SQLite database, or an in-memory fake in tests).
    pub fn from_store<T>(store: Arc<T>, clock: Arc<dyn Clock>) -> Self
    where
        T: UserRepository
            + SessionRepository
            + ConversationRepository
            + MessageRepository
            + DatasetRepository
            + TokenUsageRepository
            + DatabaseHealth,
    {
        Self {
            users: store.clone(),
            sessions: store.clone(),
            conversations: store.clone(),
            messages: store.clone(),
            datasets: store.clone(),
            token_usage: store.clone(),
            database: store,
            clock,
        }
    }
}

/// Opens the configured database and applies pending migrations. Blocking.
pub fn open_database(config: &Config) -> Result<SqliteDatabase, StartupError> {
    let database = SqliteDatabase::open(&SqliteOptions::new(&config.storage.database_path))?;
    let report = database.migrate()?;
    if !report.versions.is_empty() {
        tracing::info!(applied = ?report.versions, "database migrations applied");
    }
    Ok(database)
}

/// The production adapters: SQLite (migrated) and the system clock. Blocking.
pub fn real_adapters(config: &Config) -> Result<Adapters, StartupError> {
    let database = Arc::new(open_database(config)?);
    Ok(Adapters::from_store(database, Arc::new(SystemClock)))
}

fn origin_policy(config: &Config) -> Result<OriginPolicy, StartupError> {
    let server = &config.server;
    let mut own = vec![server.public_url.clone(), server.frontend_url.clone()];
    if config.auth.is_local_mode() && !server.public_url_configured {
        own.push(format!("http://localhost:{}", server.port));
    }
    OriginPolicy::new(
        own.iter().map(String::as_str),
        server.cors_origins.iter().map(String::as_str),
    )
    .map_err(|e| StartupError::Invalid(e.to_string()))
}

/// Builds every service from the adapters and the configuration.
pub fn build_state(
    adapters: Adapters,
    config: &Config,
    access_key: &AccessKey,
) -> Result<ApiState, StartupError> {
    let mode = if config.auth.is_local_mode() {
        AuthMode::Local {
            access_key_hash: sha256(access_key.secret().expose_secret().as_bytes()),
        }
    } else {
        AuthMode::Oidc
    };
    let auth = AuthService::new(
        adapters.users.clone(),
        adapters.sessions.clone(),
        adapters.clock.clone(),
        AuthSettings {
            mode,
            session_ttl: config.auth.session_ttl,
        },
    );
    let conversations = ConversationService::new(
        adapters.conversations.clone(),
        adapters.messages.clone(),
        adapters.datasets.clone(),
        adapters.clock.clone(),
    );
    let usage = UsageService::new(
        adapters.token_usage.clone(),
        adapters.clock.clone(),
        config.budget.token_limit,
        config.budget.warning_threshold_pct,
    );
    let secure_cookies = match config.auth.secure_cookies {
        SecureCookies::Auto => config.server.public_url.starts_with("https://"),
        SecureCookies::Always => true,
        SecureCookies::Never => false,
    };
    let settings = HttpSettings {
        max_json_body: usize::try_from(config.server.max_json_body).unwrap_or(usize::MAX),
        origins: origin_policy(config)?,
        secure_cookies,
        trust_forwarded_headers: config.server.trust_forwarded_headers,
        llm_configured: config.llm.provider != LlmProviderKind::None,
        query_engine: QueryEngineLimits {
            max_concurrency: config.query.max_concurrency,
            queue_capacity: config.query.queue_capacity,
        },
        session_ttl: config.auth.session_ttl,
    };
    Ok(ApiState {
        auth: Arc::new(auth),
        conversations: Arc::new(conversations),
        usage: Arc::new(usage),
        health: Arc::new(HealthService::new(adapters.database)),
        settings: Arc::new(settings),
    })
}
