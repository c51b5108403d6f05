//! Picking adapters and building the services from them.

use std::sync::Arc;

use secrecy::ExposeSecret;
use tabletalk_adapters_export::FileWriter;
use tabletalk_adapters_gemini::{GeminiClient, GeminiSettings};
use tabletalk_adapters_metrics::PrometheusTelemetry;
use tabletalk_adapters_oauth::{OidcProvider, OidcProviderSettings};
use tabletalk_adapters_openai::{OpenAiClient, OpenAiSettings};
use tabletalk_adapters_sqlite::{SqliteDatabase, SqliteOptions};
use tabletalk_domain::InProcessBus;
use tabletalk_domain::assistants::{AssistantParts, AssistantService};
use tabletalk_domain::auth::{OidcSettings, OidcSignIn, ReferralService, sha256};
use tabletalk_domain::chat::{ChatParts, ChatService, ChatSettings, PromptLimits};
use tabletalk_domain::datasets::size_text;
use tabletalk_domain::datasets::{DatasetService, DatasetSettings, SqlRunner, SqlRunnerSettings};
use tabletalk_domain::export::ExportService;
use tabletalk_domain::llm_retry::RetryPolicy;
use tabletalk_domain::saved_queries::SavedQueryService;
use tabletalk_domain::transfer::{ConversationTransfer, TransferParts, TransferSettings};
use tabletalk_domain::{
    AuthMode, AuthService, AuthSettings, ConversationRemoval, ConversationService, HealthService,
    ModelChoice, SettingsService, UsageService,
};
use tabletalk_http_api::{
    ApiState, Connections, DeploymentLimits, HttpSettings, MetricsEndpoint, OriginPolicy,
    QueryEngineLimits, WebsocketSettings,
};
use tabletalk_llm_http::CallTimeouts;
use tabletalk_ports::{
    AssistantRepository, Clock, ConversationRepository, DatabaseHealth, DatasetContent,
    DatasetRepository, IdentityProvider, LlmClient, MessageRepository, NoTelemetry,
    PendingLoginRepository, QueryEngine, QueryHistoryRepository, ReferralKeyRepository, RowLimits,
    SavedQueryRepository, SessionRepository, SettingsRepository, SystemClock, Telemetry,
    TokenUsageRepository, UserRepository,
};
use tabletalk_query_engine::content::{ContentLoader, ContentSettings};
use tabletalk_query_engine::engine::{DataFusionEngine, EngineSettings};
use tabletalk_query_engine::fetch::{AddressPolicy, Cidr, FetchSettings};
use tabletalk_query_engine::files::{DatasetFiles, FileSettings};
use tabletalk_query_engine::isolation::pool::WorkerCommand;

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
    pub pending_logins: Arc<dyn PendingLoginRepository>,
    pub referral_keys: Arc<dyn ReferralKeyRepository>,
    pub clock: Arc<dyn Clock>,
    /// The OpenID Connect issuer; `None` in local mode.
    pub identity: Option<Arc<dyn IdentityProvider>>,
    /// The chat model; `None` when `llm.provider = "none"`.
    pub llm: Option<Arc<dyn LlmClient>>,
    pub query_history: Arc<dyn QueryHistoryRepository>,
    pub settings: Arc<dyn SettingsRepository>,
    pub saved_queries: Arc<dyn SavedQueryRepository>,
    pub assistants: Arc<dyn AssistantRepository>,
    pub query_engine: Arc<dyn QueryEngine>,
    pub content: Arc<dyn DatasetContent>,
    /// Where every layer reports what it measures (`GET /metrics`).
    pub telemetry: Arc<dyn Telemetry>,
}

/// The query engine and the dataset-content adapter, which share the dataset files and the engine's threads.
#[derive(Clone)]
#[expect(
    missing_debug_implementations,
    reason = "trait objects of ports are not Debug"
)]
pub struct DatasetAccess {
    pub engine: Arc<dyn QueryEngine>,
    pub content: Arc<dyn DatasetContent>,
    /// The metrics registry (Prometheus when `observability.metrics_enabled`), shared with the engine's fetcher.
    pub telemetry: Arc<dyn Telemetry>,
}

impl Adapters {
    /// Every repository served by one store (the SQLite database, or an in-memory fake in tests).
    pub fn from_store<T>(store: Arc<T>, clock: Arc<dyn Clock>, access: DatasetAccess) -> Self
    where
        T: UserRepository
            + SessionRepository
            + ConversationRepository
            + MessageRepository
            + DatasetRepository
            + TokenUsageRepository
            + DatabaseHealth
            + PendingLoginRepository
            + ReferralKeyRepository
            + QueryHistoryRepository
            + SettingsRepository
            + SavedQueryRepository
            + AssistantRepository,
    {
        Self {
            users: store.clone(),
            sessions: store.clone(),
            conversations: store.clone(),
            messages: store.clone(),
            datasets: store.clone(),
            token_usage: store.clone(),
            database: store.clone(),
            pending_logins: store.clone(),
            referral_keys: store.clone(),
            query_history: store.clone(),
            settings: store.clone(),
            saved_queries: store.clone(),
            assistants: store,
            clock,
            identity: None,
            llm: None,
            query_engine: access.engine,
            content: access.content,
            telemetry: access.telemetry,
        }
    }
}

/// `GET /metrics` as `observability.*` configures it, over the adapters' telemetry.
fn metrics_endpoint(adapters: &Adapters, config: &Config) -> Arc<MetricsEndpoint> {
    Arc::new(MetricsEndpoint {
        telemetry: adapters.telemetry.clone(),
        enabled: config.observability.metrics_enabled,
        token: config
            .observability
            .metrics_token
            .as_ref()
            .map(|t| t.expose_secret().to_owned()),
    })
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

/// The production adapters: SQLite (migrated), the system clock and, in OIDC mode, the OpenID Connect issuer
/// (not contacted yet: discovery happens in the background and on first use). Blocking.
pub fn real_adapters(config: &Config, worker: &WorkerCommand) -> Result<Adapters, StartupError> {
    let database = Arc::new(open_database(config)?);
    let mut adapters = Adapters::from_store(
        database,
        Arc::new(SystemClock),
        dataset_access(config, worker)?,
    );
    adapters.identity = identity_provider(config)?;
    adapters.llm = llm_client(config)?;
    Ok(adapters)
}

/// The LLM adapter `llm.provider` names, or `None` for `"none"`.
pub fn llm_client(config: &Config) -> Result<Option<Arc<dyn LlmClient>>, StartupError> {
    let llm = &config.llm;
    let timeouts = CallTimeouts {
        idle: llm.idle_timeout,
        call: llm.call_timeout,
    };
    let connect_timeout = llm.idle_timeout.min(std::time::Duration::from_secs(10));
    let invalid = |e: &dyn std::fmt::Display| {
        StartupError::Invalid(format!("cannot build the LLM HTTP client: {e}"))
    };
    let client: Arc<dyn LlmClient> = match llm.provider {
        LlmProviderKind::None => return Ok(None),
        LlmProviderKind::Gemini => {
            let api_key = llm
                .api_key
                .clone()
                .ok_or_else(|| StartupError::Invalid("llm.api_key is required".to_owned()))?;
            let settings = GeminiSettings {
                base_url: llm.base_url.clone(),
                api_key,
                connect_timeout,
                timeouts,
            };
            Arc::new(GeminiClient::new(settings).map_err(|e| invalid(&e))?)
        }
        LlmProviderKind::OpenAi => {
            let settings = OpenAiSettings {
                base_url: llm.base_url.clone(),
                api_key: llm.api_key.clone(),
                connect_timeout,
                timeouts,
            };
            Arc::new(OpenAiClient::new(settings).map_err(|e| invalid(&e))?)
        }
    };
    Ok(Some(client))
}

/// The DataFusion engine with the `query.*` limits (its queries in worker processes started with `worker`) and the
/// dataset-content adapter, both reading through the one SSRF-guarded fetcher and the shared file cache.
pub fn dataset_access(
    config: &Config,
    worker: &WorkerCommand,
) -> Result<DatasetAccess, StartupError> {
    let query = &config.query;
    let datasets = &config.datasets;
    let invalid = |e: &dyn std::fmt::Display| {
        StartupError::Invalid(format!("cannot start the query engine: {e}"))
    };
    let allowed_cidrs = datasets
        .allowed_cidrs
        .iter()
        .map(|c| c.parse::<Cidr>().map_err(|e| invalid(&e)))
        .collect::<Result<Vec<_>, _>>()?;
    let telemetry: Arc<dyn Telemetry> = if config.observability.metrics_enabled {
        Arc::new(PrometheusTelemetry::new().map_err(|e| invalid(&e))?)
    } else {
        Arc::new(NoTelemetry)
    };
    let files = DatasetFiles::open(
        FileSettings {
            fetch: FetchSettings {
                policy: AddressPolicy {
                    allow_private_networks: datasets.allow_private_networks,
                    allowed_hosts: datasets.allowed_hosts.clone(),
                    allowed_cidrs,
                },
                user_agent: format!("Tabletalk/{}", env!("CARGO_PKG_VERSION")),
            },
            upload_dir: config.storage.upload_dir.clone(),
            cache_dir: config.storage.cache_dir.clone(),
            cache_max_bytes: config.storage.cache_max_bytes,
            max_upload_bytes: datasets.max_upload_bytes,
            max_download_bytes: datasets.max_download_bytes,
            probe_timeout: datasets.probe_timeout,
            download_timeout: datasets.download_timeout,
        },
        telemetry.clone(),
    )
    .map_err(|e| invalid(&e))?;
    let memory_limit = usize::try_from(query.memory_limit).unwrap_or(usize::MAX);
    let settings = EngineSettings {
        timeout: query.timeout,
        memory_limit,
        max_concurrency: query.max_concurrency,
        max_concurrency_per_user: query.max_concurrency_per_user,
        total_memory: usize::try_from(query.total_memory).unwrap_or(usize::MAX),
        max_join_rows: query.max_join_rows,
        queue_capacity: query.queue_capacity,
        queue_timeout: query.queue_timeout,
        worker: worker.clone(),
    };
    let engine = DataFusionEngine::new(settings, files.clone()).map_err(|e| invalid(&e))?;
    let handle = engine
        .runtime_handle()
        .ok_or_else(|| StartupError::Invalid("the query engine has no runtime".to_owned()))?;
    let content = ContentLoader::new(
        files,
        ContentSettings {
            infer_rows: usize::try_from(datasets.csv_infer_rows).unwrap_or(10_000),
            schema_timeout: query.timeout,
            memory_limit,
        },
        handle,
    );
    Ok(DatasetAccess {
        engine: Arc::new(engine),
        content: Arc::new(content),
        telemetry,
    })
}

/// The OIDC adapter for the configured issuer, or `None` in local mode.
pub fn identity_provider(
    config: &Config,
) -> Result<Option<Arc<dyn IdentityProvider>>, StartupError> {
    let oidc = &config.auth.oidc;
    let (Some(client_id), Some(client_secret)) = (&oidc.client_id, &oidc.client_secret) else {
        return Ok(None);
    };
    let settings = OidcProviderSettings {
        issuer: oidc.issuer.clone(),
        client_id: client_id.clone(),
        client_secret: client_secret.expose_secret().to_owned(),
        redirect_uri: format!("{}/auth/google/callback", config.server.public_url),
        scopes: oidc.scopes.clone(),
    };
    let provider = OidcProvider::new(settings).map_err(|e| StartupError::Invalid(e.to_string()))?;
    Ok(Some(Arc::new(provider)))
}

/// The referral-key service for the CLI (the database alone: no query engine, no identity provider).
pub fn referral_service(keys: Arc<dyn ReferralKeyRepository>) -> ReferralService {
    ReferralService::new(keys, Arc::new(SystemClock))
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

/// The dataset use cases and the SQL runner over the shared engine, content adapter and repositories.
fn dataset_services(
    adapters: &Adapters,
    config: &Config,
    conversations: &Arc<ConversationService>,
    events: &Arc<InProcessBus>,
) -> (DatasetService, SqlRunner) {
    let memory_limit = config.query.memory_limit;
    let timeout_secs = config.query.timeout.as_secs();
    let datasets = DatasetService::new(
        conversations.clone(),
        adapters.datasets.clone(),
        adapters.content.clone(),
        adapters.query_engine.clone(),
        events.clone(),
        adapters.clock.clone(),
        DatasetSettings {
            max_per_conversation: config.datasets.max_per_conversation,
            profile_sample_rows: u64::from(config.datasets.profile_sample_rows),
            query_timeout_secs: timeout_secs,
            memory_limit,
        },
    )
    .with_telemetry(adapters.telemetry.clone());
    let sql = SqlRunner::new(
        conversations.clone(),
        adapters.datasets.clone(),
        adapters.query_engine.clone(),
        adapters.query_history.clone(),
        adapters.clock.clone(),
        SqlRunnerSettings {
            limits: RowLimits {
                auto_limit: config.query.auto_limit,
                kept_rows: config.query.max_returned_rows,
                file_order: false,
            },
            timeout_secs,
            memory_limit,
            cache_entries: usize::try_from(config.query.result_cache_entries).unwrap_or(usize::MAX),
            cache_max_bytes: usize::try_from(config.query.result_cache_max_bytes)
                .unwrap_or(usize::MAX),
            cache_ttl_millis: i64::try_from(config.query.result_cache_ttl.as_millis())
                .unwrap_or(i64::MAX),
            history_max_entries: config.history.max_entries_per_user,
        },
    )
    .with_telemetry(adapters.telemetry.clone());
    (datasets, sql)
}

/// The chat use case over the LLM adapter, the dataset services and the repositories.
fn chat_service(config: &Config, parts: ChatParts) -> ChatService {
    let llm = &config.llm;
    let query = &config.query;
    let settings = ChatSettings {
        thinking: llm.thinking,
        max_tool_calls: llm.max_tool_calls,
        max_sql_errors: llm.max_sql_errors,
        context_messages: usize::try_from(llm.context_messages).unwrap_or(50),
        context_token_budget: llm.context_token_budget,
        retry: RetryPolicy {
            max_retries: llm.max_retries,
            base_delay: llm.retry_base_delay,
        },
        price_input_per_mtok: llm.price_input_per_mtok,
        price_output_per_mtok: llm.price_output_per_mtok,
        llm_rows: usize::try_from(query.llm_rows).unwrap_or(20),
        ws_rows: usize::try_from(query.ws_rows).unwrap_or(100),
        prompt: PromptLimits {
            auto_limit: query.auto_limit,
            llm_rows: query.llm_rows,
            max_returned_rows: query.max_returned_rows,
            timeout_secs: query.timeout.as_secs(),
            memory_text: size_text(query.memory_limit),
            max_datasets: config.datasets.max_per_conversation,
            max_tool_calls: llm.max_tool_calls,
            max_sql_errors: llm.max_sql_errors,
        },
    };
    ChatService::new(
        parts,
        usize::try_from(llm.max_concurrent_turns).unwrap_or(64),
        settings,
    )
}

/// The HTTP layer's settings from the configuration.
fn http_settings(config: &Config, llm_configured: bool) -> Result<HttpSettings, StartupError> {
    let secure_cookies = match config.auth.secure_cookies {
        SecureCookies::Auto => config.server.public_url.starts_with("https://"),
        SecureCookies::Always => true,
        SecureCookies::Never => false,
    };
    let settings = HttpSettings {
        max_json_body: usize::try_from(config.server.max_json_body).unwrap_or(usize::MAX),
        max_large_json_body: usize::try_from(config.server.max_large_json_body)
            .unwrap_or(usize::MAX),
        origins: origin_policy(config)?,
        secure_cookies,
        trust_forwarded_headers: config.server.trust_forwarded_headers,
        llm_configured,
        query_engine: QueryEngineLimits {
            max_concurrency: config.query.max_concurrency,
            queue_capacity: config.query.queue_capacity,
        },
        session_ttl: config.auth.session_ttl,
        max_upload_body: config.datasets.max_upload_bytes.saturating_add(64 * 1024),
        websocket: WebsocketSettings {
            heartbeat_interval: config.websocket.heartbeat_interval,
            missed_pongs: config.websocket.missed_pongs,
            send_queue: usize::try_from(config.websocket.send_queue).unwrap_or(256),
            max_connections_per_user: usize::try_from(config.websocket.max_connections_per_user)
                .unwrap_or(20),
        },
        frontend_url: config.server.frontend_url.clone(),
        public_url: config.server.public_url.clone(),
        limits: DeploymentLimits {
            max_datasets_per_conversation: config.datasets.max_per_conversation,
            max_upload_bytes: config.datasets.max_upload_bytes,
            query_timeout_s: config.query.timeout.as_secs(),
        },
    };
    Ok(settings)
}

/// OIDC sign-in over the identity provider; `None` in local mode.
fn oidc_sign_in(
    adapters: &Adapters,
    config: &Config,
    auth: &Arc<AuthService>,
) -> Result<Option<Arc<OidcSignIn>>, StartupError> {
    Ok(match (&adapters.identity, config.auth.is_local_mode()) {
        (Some(provider), false) => Some(Arc::new(OidcSignIn::new(
            provider.clone(),
            adapters.pending_logins.clone(),
            adapters.users.clone(),
            auth.clone(),
            adapters.clock.clone(),
            OidcSettings {
                require_referral: config.auth.require_referral,
                allowed_email_domains: config.auth.allowed_email_domains.clone(),
            },
        ))),
        (None, false) => {
            return Err(StartupError::Invalid(
                "OIDC mode needs an identity provider".to_owned(),
            ));
        }
        (_, true) => None,
    })
}

/// Each user's settings, with the models the configuration offers.
fn settings_service(adapters: &Adapters, config: &Config) -> Arc<SettingsService> {
    // Without a model there is nothing to choose: settings then show no models.
    let choice = if adapters.llm.is_some() {
        ModelChoice {
            default_model: config.llm.model.clone(),
            models: config.llm.models.clone(),
        }
    } else {
        ModelChoice {
            default_model: String::new(),
            models: Vec::new(),
        }
    };
    Arc::new(
        SettingsService::new(adapters.settings.clone(), adapters.clock.clone(), choice)
            .with_default_tools(config.llm.default_tools.clone()),
    )
}

/// Import, fork and export, and the assistants that start conversations through the same path.
fn transfer_and_assistants(
    adapters: &Adapters,
    config: &Config,
    conversations: Arc<ConversationService>,
    datasets: Arc<DatasetService>,
    user_settings: Arc<SettingsService>,
) -> (Arc<ConversationTransfer>, Arc<AssistantService>) {
    let transfer = Arc::new(ConversationTransfer::new(
        TransferParts {
            conversations,
            conversation_store: adapters.conversations.clone(),
            messages: adapters.messages.clone(),
            dataset_store: adapters.datasets.clone(),
            datasets,
            clock: adapters.clock.clone(),
        },
        TransferSettings {
            max_datasets: config.datasets.max_per_conversation,
        },
    ));
    let assistants = Arc::new(AssistantService::new(AssistantParts {
        assistants: adapters.assistants.clone(),
        settings: user_settings,
        content: adapters.content.clone(),
        transfer: transfer.clone(),
        clock: adapters.clock.clone(),
        max_datasets_per_conversation: config.datasets.max_per_conversation,
    }));
    (transfer, assistants)
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
    let auth = Arc::new(AuthService::new(
        adapters.users.clone(),
        adapters.sessions.clone(),
        adapters.clock.clone(),
        AuthSettings {
            mode,
            session_ttl: config.auth.session_ttl,
        },
    ));
    let oidc = oidc_sign_in(&adapters, config, &auth)?;
    let conversations = ConversationService::new(
        adapters.conversations.clone(),
        adapters.messages.clone(),
        adapters.datasets.clone(),
        adapters.clock.clone(),
    );
    let conversations = Arc::new(conversations);
    let events = Arc::new(InProcessBus::new(1024));
    let (datasets, sql) = dataset_services(&adapters, config, &conversations, &events);
    let datasets = Arc::new(datasets);
    let sql = Arc::new(sql);
    let usage = Arc::new(UsageService::new(
        adapters.token_usage.clone(),
        adapters.clock.clone(),
        config.budget.token_limit,
        config.budget.warning_threshold_pct,
    ));
    let user_settings = settings_service(&adapters, config);
    let chat = Arc::new(chat_service(
        config,
        ChatParts {
            conversations: conversations.clone(),
            messages: adapters.messages.clone(),
            datasets: adapters.datasets.clone(),
            dataset_service: datasets.clone(),
            sql: sql.clone(),
            usage: usage.clone(),
            token_usage: adapters.token_usage.clone(),
            llm: adapters.llm.clone(),
            events: events.clone(),
            clock: adapters.clock.clone(),
            user_settings: user_settings.clone(),
            telemetry: adapters.telemetry.clone(),
        },
    ));
    let settings = http_settings(config, adapters.llm.is_some())?;
    let removal = Arc::new(ConversationRemoval::new(
        conversations.clone(),
        chat.clone(),
        sql.clone(),
        datasets.clone(),
    ));
    let (transfer, assistants) = transfer_and_assistants(
        &adapters,
        config,
        conversations.clone(),
        datasets.clone(),
        user_settings.clone(),
    );
    let metrics = metrics_endpoint(&adapters, config);
    Ok(ApiState {
        assistants,
        auth,
        conversations,
        removal,
        transfer,
        user_settings,
        exports: Arc::new(ExportService::new(Arc::new(FileWriter))),
        saved_queries: Arc::new(SavedQueryService::new(
            adapters.saved_queries.clone(),
            adapters.clock.clone(),
        )),
        usage: usage.clone(),
        datasets,
        sql,
        chat,
        connections: Arc::new(Connections::default()),
        events,
        health: Arc::new(HealthService::new(
            adapters.database,
            adapters.query_engine.clone(),
        )),
        oidc,
        settings: Arc::new(settings),
        metrics,
    })
}
