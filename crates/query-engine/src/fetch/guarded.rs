//! The guarded request: resolve once, check every address, connect to exactly those addresses (the name is never
//! resolved again for that connection), ignore proxies, and follow at most five redirects by hand, each through
//! the same checks.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{HeaderMap, LOCATION};
use reqwest::{Method, Response};
use tabletalk_ports::{FetchKind, NoTelemetry, Telemetry};
use url::{Host, Url};

use super::{AddressPolicy, FetchError};

const MAX_REDIRECTS: usize = 5;

/// What the guard needs from the configuration.
#[derive(Debug, Clone)]
pub struct FetchSettings {
    pub policy: AddressPolicy,
    /// Sent on every request: `Tabletalk/<version>`.
    pub user_agent: String,
}

/// A response and the URL that finally answered (after redirects; never stored as the dataset's URL).
#[derive(Debug)]
pub struct Fetched {
    pub response: Response,
    pub final_url: Url,
    /// The client pinned to the final hop's checked addresses: later range reads of the same query reuse it (and
    /// its connections) instead of resolving the name again.
    pub pinned: reqwest::Client,
}

/// Sends dataset requests through the SSRF guard, and reports the bytes its callers receive.
#[derive(Clone)]
pub struct GuardedFetcher {
    settings: FetchSettings,
    telemetry: Arc<dyn Telemetry>,
}

impl std::fmt::Debug for GuardedFetcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GuardedFetcher")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl GuardedFetcher {
    pub fn new(settings: FetchSettings) -> Self {
        Self {
            settings,
            telemetry: Arc::new(NoTelemetry),
        }
    }

    /// Reports received dataset bytes to `telemetry` (every clone of this fetcher shares it).
    #[must_use]
    pub fn with_telemetry(mut self, telemetry: Arc<dyn Telemetry>) -> Self {
        self.telemetry = telemetry;
        self
    }

    /// Where this fetcher reports.
    pub fn telemetry(&self) -> Arc<dyn Telemetry> {
        self.telemetry.clone()
    }

    /// Counts `bytes` received for `kind`; called by whoever reads a response body.
    pub fn received(&self, kind: FetchKind, bytes: usize) {
        self.telemetry.fetched(kind, bytes as u64);
    }

    /// Resolves the URL's host (a literal IP as is) and checks every address; one blocked address blocks all.
    async fn checked_addresses(
        &self,
        url: &Url,
    ) -> Result<(Option<String>, Vec<SocketAddr>), FetchError> {
        let port = url
            .port_or_known_default()
            .ok_or_else(|| FetchError::Other("no port".to_owned()))?;
        let (name, addresses) = match url.host() {
            Some(Host::Ipv4(ip)) => (None, vec![SocketAddr::new(IpAddr::V4(ip), port)]),
            Some(Host::Ipv6(ip)) => (None, vec![SocketAddr::new(IpAddr::V6(ip), port)]),
            Some(Host::Domain(name)) => {
                let resolved: Vec<SocketAddr> = tokio::net::lookup_host((name, port))
                    .await
                    .map_err(|_| FetchError::HostNotFound)?
                    .collect();
                if resolved.is_empty() {
                    return Err(FetchError::HostNotFound);
                }
                (Some(name.to_owned()), resolved)
            }
            None => return Err(FetchError::HostNotFound),
        };
        if addresses
            .iter()
            .any(|a| !self.settings.policy.allows(name.as_deref(), a.ip()))
        {
            tracing::warn!(host = ?url.host_str(), "dataset URL refused by the SSRF guard");
            return Err(FetchError::Blocked);
        }
        Ok((name, addresses))
    }

    /// The guard's address check alone: resolves `url`'s host and checks every address, sending nothing.
    ///
    /// # Errors
    /// `Blocked`, `HostNotFound`, `UnsupportedScheme`.
    pub async fn check(&self, url: &Url) -> Result<(), FetchError> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(FetchError::UnsupportedScheme(url.scheme().to_owned()));
        }
        self.checked_addresses(url).await.map(|_| ())
    }

    /// One hop: a client pinned to the checked addresses, without proxies or automatic redirects.
    async fn hop(
        &self,
        method: &Method,
        url: &Url,
        headers: &HeaderMap,
        timeout: Duration,
    ) -> Result<(Response, reqwest::Client), FetchError> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(FetchError::UnsupportedScheme(url.scheme().to_owned()));
        }
        let (name, addresses) = self.checked_addresses(url).await?;
        let mut builder = reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(self.settings.user_agent.clone())
            .connect_timeout(timeout)
            .timeout(timeout);
        if let Some(name) = &name {
            // `Host` and TLS SNI keep the name; the connection goes only to the addresses checked above.
            builder = builder.resolve_to_addrs(name, &addresses);
        }
        let client = builder
            .build()
            .map_err(|e| FetchError::Other(e.to_string()))?;
        let response = client
            .request(method.clone(), url.clone())
            .headers(headers.clone())
            .send()
            .await
            .map_err(|e| FetchError::from_transport(&e, timeout))?;
        Ok((response, client))
    }

    /// Sends `method url` with `headers` through the guard. `timeout` bounds connect and each hop's whole exchange
    /// up to the response headers and body reads started from it.
    pub async fn send(
        &self,
        method: Method,
        url: &Url,
        headers: HeaderMap,
        timeout: Duration,
    ) -> Result<Fetched, FetchError> {
        let mut current = url.clone();
        for redirects in 0..=MAX_REDIRECTS {
            let (response, pinned) = self.hop(&method, &current, &headers, timeout).await?;
            let location = response
                .headers()
                .get(LOCATION)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let Some(location) = location.filter(|_| response.status().is_redirection()) else {
                return Ok(Fetched {
                    response,
                    final_url: current,
                    pinned,
                });
            };
            if redirects == MAX_REDIRECTS {
                return Err(FetchError::TooManyRedirects);
            }
            let next = current
                .join(&location)
                .map_err(|_| FetchError::NonHttpRedirect)?;
            if !matches!(next.scheme(), "http" | "https") {
                return Err(FetchError::NonHttpRedirect);
            }
            if current.scheme() == "https" && next.scheme() == "http" {
                return Err(FetchError::HttpsToHttp);
            }
            current = next;
        }
        Err(FetchError::TooManyRedirects)
    }
}
