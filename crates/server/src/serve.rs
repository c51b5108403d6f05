//! Running the HTTP server: binding, the start-up announcement, background clean-up and graceful shutdown.

use std::net::{SocketAddr, TcpListener};
use std::time::Duration;

use actix_web::HttpServer;
use actix_web::dev::Server;
use secrecy::ExposeSecret;
use tabletalk_http_api::ApiState;
use tabletalk_query_engine::isolation::pool::WorkerCommand;

use crate::config::{Config, LlmProviderKind};
use crate::{AccessKey, StartupError, build_state, prepare_directories, real_adapters};

const CLEANUP_INTERVAL: Duration = Duration::from_hours(1);

/// The HTTP server on an already bound listener (the binary binds the configured address; tests bind port 0).
/// actix stops it gracefully on SIGINT/SIGTERM, giving running requests `server.shutdown_grace`.
pub fn http_server(
    state: ApiState,
    config: &Config,
    listener: TcpListener,
) -> Result<Server, StartupError> {
    let address = listener
        .local_addr()
        .map_or_else(|_| "?".to_owned(), |a| a.to_string());
    Ok(
        HttpServer::new(move || tabletalk_http_api::app(state.clone()))
            .listen(listener)
            .map_err(|source| StartupError::Bind { address, source })?
            .shutdown_timeout(config.server.shutdown_grace.as_secs())
            .run(),
    )
}

fn announce(config: &Config, key: &AccessKey) {
    if config.auth.is_local_mode() {
        if !config.server.host.is_loopback() {
            tracing::warn!(
                host = %config.server.host,
                "local mode is listening on a non-loopback address: anyone who can reach the port and learn the \
                 access key can sign in"
            );
        }
        let shown = if key.is_generated() {
            key.secret().expose_secret()
        } else {
            "(configured)"
        };
        // The one place the key may appear (docs/api.md, "Sign-in"); it goes to stderr, not to the logs.
        eprintln!(
            "Tabletalk is running in local mode. Open {} and sign in with access key: {shown}",
            config.server.public_url
        );
    }
    if config.llm.provider == LlmProviderKind::None {
        tracing::info!(
            "no LLM is configured, so chat is unavailable; set TABLETALK__LLM__API_KEY or GEMINI_API_KEY to enable it"
        );
    }
    if config.datasets.allow_private_networks {
        tracing::warn!(
            "datasets.allow_private_networks is on: dataset URLs may reach private networks"
        );
    }
}

/// `tabletalk serve`: prepares storage, applies migrations, and serves until SIGINT/SIGTERM.
pub async fn serve(config: Config) -> Result<(), StartupError> {
    prepare_directories(&config)?;
    let for_adapters = config.clone();
    let worker = WorkerCommand::this_executable().map_err(|e| {
        StartupError::Invalid(format!(
            "cannot find the tabletalk executable for query workers: {e}"
        ))
    })?;
    let adapters = tokio::task::spawn_blocking(move || real_adapters(&for_adapters, &worker))
        .await
        .map_err(|e| StartupError::Invalid(e.to_string()))??;
    let key = AccessKey::resolve(&config)?;
    let state = build_state(adapters, &config, &key)?;
    match state.datasets.fail_interrupted_loads().await {
        Ok(0) => {}
        Ok(n) => tracing::warn!(
            datasets = n,
            "background dataset loads cut off by the last stop are now errors"
        ),
        Err(error) => tracing::warn!(
            error = &error as &dyn std::error::Error,
            "could not check for background dataset loads cut off by the last stop"
        ),
    }
    let address = SocketAddr::new(config.server.host, config.server.port);
    let listener = TcpListener::bind(address).map_err(|source| StartupError::Bind {
        address: address.to_string(),
        source,
    })?;
    let server = http_server(state.clone(), &config, listener)?;
    tracing::info!(%address, public_url = %config.server.public_url, "listening");
    announce(&config, &key);
    if let Some(oidc) = state.oidc.clone() {
        actix_web::rt::spawn(discover_until_ready(oidc));
    }
    let connections = state.connections.clone();
    actix_web::rt::spawn(async move {
        // actix stops accepting and drains requests on these signals; open WebSockets are told to go (1001).
        shutdown_signal().await;
        connections.shutdown();
    });
    actix_web::rt::spawn(clean_up_periodically(state));
    server.await.map_err(StartupError::Server)
}

/// SIGINT or SIGTERM.
async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let terminate = async {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut stream) => {
                    stream.recv().await;
                }
                Err(_) => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            _ = interrupt => {}
            () = terminate => {}
        }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
}

/// Retries OIDC discovery with backoff until it succeeds, so `/ready` turns green without a sign-in attempt.
async fn discover_until_ready(oidc: std::sync::Arc<tabletalk_domain::auth::OidcSignIn>) {
    let mut delay = Duration::from_secs(1);
    loop {
        match oidc.discover().await {
            Ok(()) => {
                tracing::info!("OIDC discovery succeeded");
                return;
            }
            Err(error) => {
                tracing::warn!(%error, retry_in_s = delay.as_secs(), "OIDC discovery failed; will retry");
            }
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_mins(1));
    }
}

async fn clean_up_periodically(state: ApiState) {
    let mut ticks = tokio::time::interval(CLEANUP_INTERVAL);
    loop {
        ticks.tick().await;
        match state.auth.delete_expired_sessions().await {
            Ok(0) => {}
            Ok(deleted) => tracing::info!(deleted, "expired sessions deleted"),
            Err(error) => tracing::warn!(%error, "expired-session clean-up failed"),
        }
        if let Some(oidc) = &state.oidc {
            match oidc.delete_expired().await {
                Ok(0) => {}
                Ok(deleted) => tracing::info!(deleted, "expired pending sign-ins deleted"),
                Err(error) => tracing::warn!(%error, "pending sign-in clean-up failed"),
            }
        }
    }
}
