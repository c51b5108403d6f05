//! Builds the typed configuration from the layered values: defaults (some depend on the auth mode), bounds,
//! and the cross-key rules of docs/configuration.md.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use secrecy::ExposeSecret;
use tabletalk_adapters_sqlite::parse_database_url;

use super::model::{
    AuthConfig, BudgetConfig, DatasetsConfig, HistoryConfig, LlmConfig, LlmProviderKind, LogFormat,
    ObservabilityConfig, OidcConfig, QueryConfig, SecureCookies, ServerConfig, StorageConfig,
    WebsocketConfig,
};
use super::resolver::Resolver;
use super::{Config, ConfigErrors};

const KIB: u64 = 1 << 10;
const MIB: u64 = 1 << 20;
const GIB: u64 = 1 << 30;
const TIB: u64 = 1 << 40;

const fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn u32_key(r: &mut Resolver, key: &'static str, default: u32, min: u32, max: u32) -> u32 {
    u32::try_from(r.int(key, default.into(), min.into()..=max.into())).unwrap_or(default)
}

fn u64_key(r: &mut Resolver, key: &'static str, default: u64, min: u64, max: u64) -> u64 {
    let clamp = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
    u64::try_from(r.int(key, clamp(default), clamp(min)..=clamp(max))).unwrap_or(default)
}

pub(super) fn build(mut r: Resolver) -> Result<Config, ConfigErrors> {
    let auth = auth(&mut r);
    let server = server(&mut r, auth.is_local_mode());
    let storage = storage(&mut r);
    let llm = llm(&mut r);
    let budget = BudgetConfig {
        token_limit: r.int("budget.token_limit", 5_000_000, 1_000..=1_000_000_000_000),
        warning_threshold_pct: u8::try_from(r.int("budget.warning_threshold_pct", 80, 1..=100))
            .unwrap_or(80),
    };
    let datasets = datasets(&mut r);
    let query = query(&mut r);
    let websocket = WebsocketConfig {
        heartbeat_interval: r.duration(
            "websocket.heartbeat_interval",
            secs(30),
            secs(5)..=secs(300),
        ),
        missed_pongs: u32_key(&mut r, "websocket.missed_pongs", 2, 1, 10),
        send_queue: u32_key(&mut r, "websocket.send_queue", 256, 16, 65_536),
        max_connections_per_user: u32_key(
            &mut r,
            "websocket.max_connections_per_user",
            20,
            1,
            1_000,
        ),
    };
    let history = HistoryConfig {
        max_entries_per_user: u64_key(
            &mut r,
            "history.max_entries_per_user",
            10_000,
            100,
            10_000_000,
        ),
    };
    let observability = observability(&mut r);

    r.check(
        "storage.cache_max_bytes",
        storage.cache_max_bytes >= datasets.max_download_bytes,
        || {
            format!(
                "must be at least datasets.max_download_bytes ({} bytes)",
                datasets.max_download_bytes
            )
        },
    );
    let mut warnings = Vec::new();
    if auth.secure_cookies == SecureCookies::Always && server.public_url.starts_with("http://") {
        warnings.push(
            "auth.secure_cookies = \"true\" with an http public_url: browsers will not send the cookie"
                .to_owned(),
        );
    }

    let (problems, effective) = r.into_parts();
    if !problems.is_empty() {
        return Err(ConfigErrors(problems));
    }
    Ok(Config {
        server,
        storage,
        auth,
        llm,
        budget,
        datasets,
        query,
        websocket,
        history,
        observability,
        effective,
        warnings,
    })
}

/// Keys that are parsed and validated but not used by anything yet.
/// An absolute http(s) URL without path (other than `/`), query or fragment; returned without trailing slash.
fn base_url(text: &str) -> Result<String, String> {
    let url = url::Url::parse(text)
        .map_err(|e| format!("expected an absolute http(s) URL, got {text:?} ({e})"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(format!("expected an http or https URL, got {text:?}"));
    }
    if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
        return Err(format!(
            "must have no path, query or fragment, got {text:?}"
        ));
    }
    Ok(text.trim_end_matches('/').to_owned())
}

fn is_loopback_url(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

fn server(r: &mut Resolver, local: bool) -> ServerConfig {
    let default_host = if local { "127.0.0.1" } else { "0.0.0.0" };
    let host_text = r
        .string("server.host", Some(default_host.to_owned()))
        .unwrap_or_default();
    let host = host_text.parse::<IpAddr>().unwrap_or_else(|_| {
        r.problem(
            "server.host",
            format!("expected an IPv4 or IPv6 address, got {host_text:?}"),
        );
        IpAddr::from([127, 0, 0, 1])
    });
    let port = u16::try_from(r.int("server.port", 8000, 1..=65_535)).unwrap_or(8000);
    let public_url_configured = r.is_set("server.public_url");
    let public_url = match r.string("server.public_url", None) {
        Some(text) => base_url(&text).unwrap_or_else(|m| {
            r.problem("server.public_url", m);
            String::new()
        }),
        None if local => format!("http://127.0.0.1:{port}"),
        None => {
            r.problem(
                "server.public_url",
                "is required in OIDC mode (auth.oidc.client_id is set)",
            );
            String::new()
        }
    };
    let frontend_url = match r.string("server.frontend_url", None) {
        Some(text) => base_url(&text).unwrap_or_else(|m| {
            r.problem("server.frontend_url", m);
            String::new()
        }),
        None => public_url.clone(),
    };
    let default_cors = if local {
        vec![
            "http://localhost:5173".to_owned(),
            "http://127.0.0.1:5173".to_owned(),
        ]
    } else {
        Vec::new()
    };
    let cors_origins = r.list("server.cors_origins", default_cors);
    for origin in &cors_origins {
        let valid = origin != "*" && base_url(origin).is_ok() && !origin.ends_with('/');
        r.check("server.cors_origins", valid, || {
            format!("each entry must be scheme://host[:port], got {origin:?}")
        });
    }
    let max_json_body = r.size("server.max_json_body", MIB, KIB..=64 * MIB);
    let max_large_json_body = r.size("server.max_large_json_body", 32 * MIB, KIB..=GIB);
    r.check(
        "server.max_large_json_body",
        max_large_json_body >= max_json_body,
        || "must be at least server.max_json_body".to_owned(),
    );
    ServerConfig {
        host,
        port,
        public_url_configured,
        public_url,
        frontend_url,
        cors_origins,
        max_json_body,
        max_large_json_body,
        trust_forwarded_headers: r.bool("server.trust_forwarded_headers", false),
        shutdown_grace: r.duration("server.shutdown_grace", secs(10), secs(0)..=secs(300)),
    }
}

fn storage(r: &mut Resolver) -> StorageConfig {
    let url = r
        .string(
            "storage.database_url",
            Some("sqlite:///tabletalk.db".to_owned()),
        )
        .unwrap_or_default();
    let database_path = match parse_database_url(&url) {
        Ok(path) => {
            let parent = path.parent().filter(|p| !p.as_os_str().is_empty());
            if let Some(parent) = parent.filter(|p| !p.is_dir()) {
                r.problem(
                    "storage.database_url",
                    format!("directory {} does not exist", parent.display()),
                );
            }
            path
        }
        Err(e) => {
            r.problem("storage.database_url", e.to_string());
            PathBuf::from("tabletalk.db")
        }
    };
    let data_dir = PathBuf::from(
        r.string("storage.data_dir", Some("./tabletalk-data".to_owned()))
            .unwrap_or_default(),
    );
    let upload_default = data_dir.join("uploads").to_string_lossy().into_owned();
    let cache_default = data_dir.join("cache").to_string_lossy().into_owned();
    StorageConfig {
        database_path,
        upload_dir: PathBuf::from(
            r.string("storage.upload_dir", Some(upload_default))
                .unwrap_or_default(),
        ),
        cache_dir: PathBuf::from(
            r.string("storage.cache_dir", Some(cache_default))
                .unwrap_or_default(),
        ),
        data_dir,
        cache_max_bytes: r.size("storage.cache_max_bytes", 2 * GIB, 0..=u64::MAX),
    }
}

fn is_dns_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

fn auth(r: &mut Resolver) -> AuthConfig {
    let secure_text = r
        .string("auth.secure_cookies", Some("auto".to_owned()))
        .unwrap_or_default();
    let secure_cookies = match secure_text.as_str() {
        "auto" => SecureCookies::Auto,
        "true" => SecureCookies::Always,
        "false" => SecureCookies::Never,
        other => {
            r.problem(
                "auth.secure_cookies",
                format!("expected \"auto\", \"true\" or \"false\", got {other:?}"),
            );
            SecureCookies::Auto
        }
    };
    let domains: Vec<String> = r
        .list("auth.allowed_email_domains", Vec::new())
        .into_iter()
        .map(|d| d.to_ascii_lowercase())
        .collect();
    for domain in &domains {
        r.check("auth.allowed_email_domains", is_dns_name(domain), || {
            format!("{domain:?} is not a DNS name")
        });
    }
    let local_access_key = r.secret("auth.local_access_key");
    if let Some(key) = &local_access_key {
        let key = key.expose_secret();
        r.check("auth.local_access_key", key.chars().count() >= 16, || {
            "must be at least 16 characters".to_owned()
        });
        r.check("auth.local_access_key", key.trim() == key, || {
            "must not start or end with whitespace".to_owned()
        });
    }
    AuthConfig {
        session_ttl: r.duration(
            "auth.session_ttl",
            secs(7 * 86_400),
            secs(300)..=secs(365 * 86_400),
        ),
        secure_cookies,
        require_referral: r.bool("auth.require_referral", true),
        allowed_email_domains: domains,
        local_access_key,
        oidc: oidc(r),
    }
}

fn oidc(r: &mut Resolver) -> OidcConfig {
    let issuer = r
        .string(
            "auth.oidc.issuer",
            Some("https://accounts.google.com".to_owned()),
        )
        .unwrap_or_default();
    match url::Url::parse(&issuer) {
        Ok(url) if url.scheme() == "https" || (url.scheme() == "http" && is_loopback_url(&url)) => {
        }
        _ => r.problem(
            "auth.oidc.issuer",
            format!("expected an https URL (http only for loopback), got {issuer:?}"),
        ),
    }
    let client_id = r
        .string("auth.oidc.client_id", None)
        .filter(|id| !id.is_empty());
    let client_secret = r.secret("auth.oidc.client_secret");
    if client_id.is_some() && client_secret.is_none() {
        r.problem(
            "auth.oidc.client_secret",
            "is required when auth.oidc.client_id is set",
        );
    }
    let scopes = r.list(
        "auth.oidc.scopes",
        vec!["openid".into(), "email".into(), "profile".into()],
    );
    r.check(
        "auth.oidc.scopes",
        scopes.iter().any(|s| s == "openid"),
        || "must contain \"openid\"".to_owned(),
    );
    OidcConfig {
        issuer,
        client_id,
        client_secret,
        scopes,
    }
}

/// `llm.default_tools`: every tool unless set; each name must be a tool.
fn default_tools(r: &mut Resolver) -> Vec<String> {
    let tools = tabletalk_domain::chat::TOOL_NAMES;
    let chosen = r.list(
        "llm.default_tools",
        tools.iter().map(|t| (*t).to_owned()).collect(),
    );
    if let Some(unknown) = chosen.iter().find(|t| !tools.contains(&t.as_str())) {
        let unknown = unknown.clone();
        r.check("llm.default_tools", false, || {
            format!("unknown tool {unknown:?}; tools: {}", tools.join(", "))
        });
    }
    chosen
}

fn llm(r: &mut Resolver) -> LlmConfig {
    let api_key = r
        .secret("llm.api_key")
        .filter(|k| !k.expose_secret().is_empty());
    let default_provider = if api_key.is_some() { "gemini" } else { "none" };
    let provider_text = r
        .string("llm.provider", Some(default_provider.to_owned()))
        .unwrap_or_default();
    let provider = match provider_text.as_str() {
        "gemini" => LlmProviderKind::Gemini,
        "openai" => LlmProviderKind::OpenAi,
        "none" => LlmProviderKind::None,
        other => {
            r.problem(
                "llm.provider",
                format!("expected \"gemini\", \"openai\" or \"none\", got {other:?}"),
            );
            LlmProviderKind::None
        }
    };
    if provider == LlmProviderKind::Gemini && api_key.is_none() {
        r.problem(
            "llm.api_key",
            "is required when llm.provider is \"gemini\" (or set GEMINI_API_KEY)",
        );
    }
    let openai = provider == LlmProviderKind::OpenAi;
    let default_base = if openai {
        "https://api.openai.com/v1"
    } else {
        "https://generativelanguage.googleapis.com"
    };
    let base_url = r
        .string("llm.base_url", Some(default_base.to_owned()))
        .unwrap_or_default();
    match url::Url::parse(&base_url) {
        Ok(url) if matches!(url.scheme(), "http" | "https") => {}
        _ => r.problem(
            "llm.base_url",
            format!("expected an absolute http(s) URL, got {base_url:?}"),
        ),
    }
    let model = r
        .string(
            "llm.model",
            (!openai).then(|| "gemini-2.5-flash".to_owned()),
        )
        .unwrap_or_default();
    if model.trim().is_empty() {
        r.problem(
            "llm.model",
            if openai {
                "is required when llm.provider is \"openai\""
            } else {
                "must not be empty"
            },
        );
    }
    let default_models = if openai {
        Vec::new()
    } else {
        vec![
            "gemini-2.5-flash".into(),
            "gemini-2.5-pro".into(),
            "gemini-2.0-flash".into(),
        ]
    };
    let mut models = r.list("llm.models", default_models);
    if !model.is_empty() && !models.contains(&model) {
        models.push(model.clone());
    }
    let default_tools = default_tools(r);
    let idle_timeout = r.duration("llm.idle_timeout", secs(60), secs(5)..=secs(600));
    let call_timeout = r.duration("llm.call_timeout", secs(300), secs(5)..=secs(1800));
    r.check("llm.call_timeout", call_timeout >= idle_timeout, || {
        "must be at least llm.idle_timeout".to_owned()
    });
    LlmConfig {
        provider,
        api_key,
        base_url,
        model,
        models,
        default_tools,
        thinking: r.bool("llm.thinking", true),
        max_retries: u32_key(r, "llm.max_retries", 3, 0, 10),
        retry_base_delay: r.duration(
            "llm.retry_base_delay",
            secs(2),
            Duration::from_millis(100)..=secs(30),
        ),
        idle_timeout,
        call_timeout,
        max_tool_calls: u32_key(r, "llm.max_tool_calls", 5, 1, 20),
        max_sql_errors: u32_key(r, "llm.max_sql_errors", 3, 1, 10),
        context_messages: u32_key(r, "llm.context_messages", 50, 2, 500),
        context_token_budget: u64_key(r, "llm.context_token_budget", 800_000, 4_000, 10_000_000),
        max_concurrent_turns: u32_key(r, "llm.max_concurrent_turns", 32, 1, 1_000),
        price_input_per_mtok: r.float("llm.price_input_per_mtok", 0.0, 0.0),
        price_output_per_mtok: r.float("llm.price_output_per_mtok", 0.0, 0.0),
    }
}

fn is_cidr(text: &str) -> bool {
    text.parse::<tabletalk_query_engine::fetch::Cidr>().is_ok()
}

fn datasets(r: &mut Resolver) -> DatasetsConfig {
    let allow_private_networks = r.bool("datasets.allow_private_networks", false);
    let allowed_hosts: Vec<String> = r
        .list("datasets.allowed_hosts", Vec::new())
        .into_iter()
        .map(|h| h.to_ascii_lowercase())
        .collect();
    for host in &allowed_hosts {
        let name = host.strip_prefix("*.").unwrap_or(host);
        r.check("datasets.allowed_hosts", is_dns_name(name), || {
            format!("{host:?} is not a host name or *.host")
        });
    }
    let allowed_cidrs = r.list("datasets.allowed_cidrs", Vec::new());
    for cidr in &allowed_cidrs {
        r.check("datasets.allowed_cidrs", is_cidr(cidr), || {
            format!("{cidr:?} is not a network in CIDR form")
        });
    }
    DatasetsConfig {
        max_per_conversation: u32_key(r, "datasets.max_per_conversation", 50, 1, 1_000),
        max_upload_bytes: r.size("datasets.max_upload_bytes", 500 * MIB, KIB..=TIB),
        max_download_bytes: r.size("datasets.max_download_bytes", 500 * MIB, KIB..=TIB),
        allow_private_networks,
        allowed_hosts,
        allowed_cidrs,
        probe_timeout: r.duration("datasets.probe_timeout", secs(30), secs(1)..=secs(300)),
        download_timeout: r.duration(
            "datasets.download_timeout",
            secs(300),
            secs(10)..=secs(7_200),
        ),
        csv_infer_rows: u32_key(r, "datasets.csv_infer_rows", 10_000, 100, 1_000_000),
        stats_timeout: r.duration("datasets.stats_timeout", secs(30), secs(0)..=secs(600)),
        profile_sample_rows: u32_key(
            r,
            "datasets.profile_sample_rows",
            100_000,
            1_000,
            10_000_000,
        ),
    }
}

/// Half of the machine's memory (`MemTotal` of `/proc/meminfo`), the default of `query.total_memory`; 4 GiB where
/// the machine does not say.
fn half_of_machine_memory() -> u64 {
    let total = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| {
            let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
            let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
            kib.checked_mul(1024)
        })
        .unwrap_or(8 * GIB);
    total / 2
}

fn query(r: &mut Resolver) -> QueryConfig {
    let configured_concurrency = u64_key(r, "query.max_concurrency", 0, 0, 1_024);
    let max_concurrency = match usize::try_from(configured_concurrency).unwrap_or(0) {
        0 => std::thread::available_parallelism().map_or(1, std::num::NonZero::get),
        n => n,
    };
    let memory_limit = r.size("query.memory_limit", GIB, 64 * MIB..=TIB);
    let configured_per_user = u64_key(r, "query.max_concurrency_per_user", 0, 0, 1_024);
    let max_concurrency_per_user = match usize::try_from(configured_per_user).unwrap_or(0) {
        0 => max_concurrency.div_ceil(2),
        n => n.min(max_concurrency),
    };
    let total_memory = r.size(
        "query.total_memory",
        half_of_machine_memory(),
        64 * MIB..=16 * TIB,
    );
    r.check("query.total_memory", total_memory >= memory_limit, || {
        "must be at least query.memory_limit".into()
    });
    let auto_limit = u64_key(r, "query.auto_limit", 10_000, 1, 10_000_000);
    let max_returned_rows = u64_key(r, "query.max_returned_rows", 1_000, 1, 100_000);
    let ws_rows = u64_key(r, "query.ws_rows", 100, 1, 100_000);
    let llm_rows = u64_key(r, "query.llm_rows", 20, 1, 100_000);
    r.check("query.auto_limit", auto_limit >= max_returned_rows, || {
        "must be at least query.max_returned_rows".into()
    });
    r.check(
        "query.max_returned_rows",
        max_returned_rows >= ws_rows,
        || "must be at least query.ws_rows".into(),
    );
    r.check("query.ws_rows", ws_rows >= llm_rows, || {
        "must be at least query.llm_rows".into()
    });
    QueryConfig {
        timeout: r.duration("query.timeout", secs(60), secs(1)..=secs(3_600)),
        memory_limit,
        max_concurrency,
        max_concurrency_per_user,
        total_memory,
        max_join_rows: u64_key(
            r,
            "query.max_join_rows",
            1_000_000_000,
            0,
            u64::try_from(i64::MAX).unwrap_or(u64::MAX),
        ),
        queue_capacity: usize::try_from(u64_key(r, "query.queue_capacity", 32, 0, 10_000))
            .unwrap_or(32),
        queue_timeout: r.duration("query.queue_timeout", secs(30), secs(0)..=secs(600)),
        auto_limit,
        max_returned_rows,
        ws_rows,
        llm_rows,
        result_cache_entries: u64_key(r, "query.result_cache_entries", 100, 0, 100_000),
        result_cache_max_bytes: r.size("query.result_cache_max_bytes", 64 * MIB, 0..=16 * GIB),
        result_cache_ttl: r.duration("query.result_cache_ttl", secs(300), secs(0)..=secs(86_400)),
    }
}

fn observability(r: &mut Resolver) -> ObservabilityConfig {
    let format_text = r
        .string("observability.log_format", Some("pretty".to_owned()))
        .unwrap_or_default();
    let log_format = match format_text.as_str() {
        "pretty" => LogFormat::Pretty,
        "json" => LogFormat::Json,
        other => {
            r.problem(
                "observability.log_format",
                format!("expected \"pretty\" or \"json\", got {other:?}"),
            );
            LogFormat::Pretty
        }
    };
    let log_level = r
        .string("observability.log_level", Some("info".to_owned()))
        .unwrap_or_default();
    if let Err(e) = tracing_subscriber::EnvFilter::try_new(&log_level) {
        r.problem(
            "observability.log_level",
            format!("not a valid tracing filter directive: {e}"),
        );
    }
    let metrics_token = r.secret("observability.metrics_token");
    if let Some(token) = &metrics_token {
        r.check(
            "observability.metrics_token",
            token.expose_secret().chars().count() >= 16,
            || "must be at least 16 characters".to_owned(),
        );
    }
    ObservabilityConfig {
        log_format,
        log_level,
        metrics_enabled: r.bool("observability.metrics_enabled", true),
        metrics_token,
    }
}
