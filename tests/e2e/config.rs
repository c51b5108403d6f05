//! Configuration layering and validation (docs/configuration.md), through `Config::load` with an injected environment.

use std::collections::BTreeMap;
use std::time::Duration;

use tabletalk_server::config::{LlmProviderKind, Source};
use tabletalk_server::{Config, ConfigInputs};

fn load(env: &[(&str, &str)]) -> Result<Config, Vec<String>> {
    let env: BTreeMap<String, String> = env
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    Config::load(&ConfigInputs { file: None, env })
        .map_err(|e| e.0.iter().map(ToString::to_string).collect())
}

fn load_file(toml: &str, env: &[(&str, &str)]) -> Result<Config, Vec<String>> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tabletalk.toml");
    std::fs::write(&path, toml).unwrap();
    let env: BTreeMap<String, String> = env
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    Config::load(&ConfigInputs {
        file: Some(path),
        env,
    })
    .map_err(|e| e.0.iter().map(ToString::to_string).collect())
}

#[test]
fn no_configuration_means_local_mode_on_loopback_without_an_llm() {
    let config = load(&[]).unwrap();
    assert!(config.auth.is_local_mode());
    assert_eq!(config.server.host.to_string(), "127.0.0.1");
    assert_eq!(config.server.port, 8000);
    assert_eq!(config.server.public_url, "http://127.0.0.1:8000");
    assert_eq!(
        config.server.cors_origins,
        ["http://localhost:5173", "http://127.0.0.1:5173"]
    );
    assert_eq!(config.storage.database_path.to_str(), Some("tabletalk.db"));
    assert_eq!(
        config.storage.upload_dir.to_str(),
        Some("./tabletalk-data/uploads")
    );
    assert_eq!(config.llm.provider, LlmProviderKind::None);
    assert_eq!(config.budget.token_limit, 5_000_000);
    assert_eq!(config.query.timeout, Duration::from_mins(1));
    assert_eq!(config.query.memory_limit, 1 << 30);
    assert_eq!(config.datasets.max_upload_bytes, 500 << 20);
    assert_eq!(config.auth.session_ttl, Duration::from_hours(7 * 24));
}

#[test]
fn a_bad_value_names_the_key_and_its_source() {
    let errors = load(&[("TABLETALK__QUERY__TIMEOUT", "abc")]).unwrap_err();
    assert_eq!(
        errors,
        [
            r#"configuration error: query.timeout (env TABLETALK__QUERY__TIMEOUT): expected a duration such as "60s", got "abc""#
        ]
    );
    let errors = load(&[
        ("TABLETALK__SERVER__PORT", "0"),
        ("TABLETALK__NOPE", "1"),
        ("TOKEN_LIMIT", "12"),
    ])
    .unwrap_err();
    assert_eq!(errors.len(), 3, "every problem is reported: {errors:?}");
    assert!(errors.iter().any(|e| e.starts_with(
        "configuration error: server.port (env TABLETALK__SERVER__PORT): must be between"
    )));
    assert!(
        errors
            .iter()
            .any(|e| e.contains("TABLETALK__NOPE (env TABLETALK__NOPE): unknown setting"))
    );
    assert!(
        errors
            .iter()
            .any(|e| e.contains("budget.token_limit (env TOKEN_LIMIT)"))
    );
}

#[test]
fn layers_apply_in_order_and_the_canonical_variable_wins() {
    let toml = "[query]\ntimeout = \"90s\"\nmemory_limit = 134217728\n[auth]\nsession_ttl = \"2d\"\n[server]\ncors_origins = [\"https://a.example\"]\n";
    let config = load_file(
        toml,
        &[
            ("SESSION_DURATION_DAYS", "3"),
            ("WORKER_MEMORY_LIMIT", "256"),
        ],
    )
    .unwrap();
    assert_eq!(config.query.timeout, Duration::from_secs(90));
    assert_eq!(
        config.auth.session_ttl,
        Duration::from_hours(3 * 24),
        "alias beats file"
    );
    assert_eq!(config.query.memory_limit, 256 << 20, "alias in MiB");
    assert_eq!(config.server.cors_origins, ["https://a.example"]);
    assert!(matches!(
        config.effective["query.timeout"].1,
        Source::File(_)
    ));

    let config = load_file(
        toml,
        &[
            ("SESSION_DURATION_DAYS", "3"),
            ("TABLETALK__AUTH__SESSION_TTL", "1h"),
        ],
    )
    .unwrap();
    assert_eq!(
        config.auth.session_ttl,
        Duration::from_hours(1),
        "canonical beats alias"
    );
    assert_eq!(
        config.effective["auth.session_ttl"].1,
        Source::Env("TABLETALK__AUTH__SESSION_TTL".into())
    );
}

#[test]
fn files_with_unknown_keys_or_bad_syntax_are_refused() {
    let errors = load_file("[query]\ntimeout = \"60s\"\ntimout = \"5s\"\n", &[]).unwrap_err();
    assert_eq!(errors.len(), 1);
    assert!(
        errors[0].starts_with("configuration error: query.timout (file "),
        "{errors:?}"
    );
    assert!(errors[0].ends_with("unknown key"));
    assert!(load_file("[query\n", &[]).is_err());
    let missing = load(&[("TABLETALK_CONFIG", "/definitely/not/here.toml")]).unwrap_err();
    assert!(missing[0].contains("does not exist"), "{missing:?}");
}

#[test]
fn cross_key_rules_and_modes_are_enforced() {
    let errors = load(&[("TABLETALK__QUERY__WS_ROWS", "2000")]).unwrap_err();
    assert!(
        errors
            .iter()
            .any(|e| e.contains("query.max_returned_rows") && e.contains("query.ws_rows")),
        "{errors:?}"
    );
    let errors = load(&[("GOOGLE_CLIENT_ID", "abc")]).unwrap_err();
    assert!(
        errors.iter().any(|e| e.contains("auth.oidc.client_secret")),
        "{errors:?}"
    );
    assert!(
        errors
            .iter()
            .any(|e| e.contains("server.public_url") && e.contains("required")),
        "{errors:?}"
    );
    let errors = load(&[("TABLETALK__LLM__PROVIDER", "gemini")]).unwrap_err();
    assert!(
        errors.iter().any(|e| e.contains("llm.api_key")),
        "{errors:?}"
    );
    let errors = load(&[("TABLETALK__AUTH__LOCAL_ACCESS_KEY", "short")]).unwrap_err();
    assert!(
        errors.iter().any(|e| e.contains("at least 16 characters")),
        "{errors:?}"
    );
    let errors = load(&[("CORS_ORIGINS", "*")]).unwrap_err();
    assert!(
        errors
            .iter()
            .any(|e| e.contains("server.cors_origins (env CORS_ORIGINS)")),
        "{errors:?}"
    );
    let errors = load(&[("CHATDF_ALLOW_PRIVATE_URLS", "perhaps")]).unwrap_err();
    assert!(
        errors
            .iter()
            .any(|e| e.contains("datasets.allow_private_networks")),
        "{errors:?}"
    );

    let oidc = load(&[
        ("GOOGLE_CLIENT_ID", "abc"),
        ("GOOGLE_CLIENT_SECRET", "s"),
        ("TABLETALK__SERVER__PUBLIC_URL", "https://t.example/"),
    ])
    .unwrap();
    assert!(!oidc.auth.is_local_mode());
    assert_eq!(oidc.server.host.to_string(), "0.0.0.0");
    assert_eq!(oidc.server.public_url, "https://t.example");
    assert!(oidc.server.cors_origins.is_empty());
    let gemini = load(&[("GEMINI_API_KEY", "k")]).unwrap();
    assert_eq!(gemini.llm.provider, LlmProviderKind::Gemini);
    assert_eq!(gemini.llm.model, "gemini-2.5-flash");
}

#[test]
fn the_effective_configuration_masks_secrets() {
    let config = load(&[
        ("GEMINI_API_KEY", "super-secret-key"),
        ("TABLETALK__AUTH__LOCAL_ACCESS_KEY", "another-secret-value"),
    ])
    .unwrap();
    let described = config.describe();
    assert!(
        !described.contains("super-secret-key") && !described.contains("another-secret-value"),
        "{described}"
    );
    assert!(
        described.lines().any(|l| l.starts_with("llm.api_key")
            && l.contains("***")
            && l.contains("(env GEMINI_API_KEY)")),
        "{described}"
    );
    assert!(
        described.lines().any(|l| l.starts_with("query.timeout")
            && l.contains("60s")
            && l.contains("(default)")),
        "{described}"
    );
}

#[test]
fn every_key_takes_effect_without_a_warning() {
    let quiet = load(&[]).unwrap();
    assert!(quiet.warnings.is_empty(), "{:?}", quiet.warnings);
    let config = load(&[
        ("TABLETALK__LLM__MODELS", "a,b"),
        ("TABLETALK__OBSERVABILITY__METRICS_ENABLED", "false"),
        (
            "TABLETALK__OBSERVABILITY__METRICS_TOKEN",
            "a-scrape-token-of-some-length",
        ),
    ])
    .unwrap();
    assert!(config.warnings.is_empty(), "{:?}", config.warnings);
    assert!(!config.observability.metrics_enabled);
    assert!(config.observability.metrics_token.is_some());
}
