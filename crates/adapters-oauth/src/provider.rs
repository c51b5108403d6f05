//! The identity provider: a cached discovery snapshot, the authorization URL and code redemption.

use std::sync::{PoisonError, RwLock};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use openidconnect::core::CoreAuthenticationFlow;
use openidconnect::{
    AuthorizationCode, CsrfToken, Nonce, PkceCodeChallenge, PkceCodeVerifier, Scope,
};
use tabletalk_ports::{AuthorizationParams, IdentityError, IdentityProvider, VerifiedClaims};

use crate::discovery::{Discovered, discover};
use crate::verification::{VerifyOutcome, verify};

/// The discovery document and keys are reused for this long.
const DISCOVERY_TTL: Duration = Duration::from_hours(1);
/// Every request to the issuer (discovery, JWKS, token, userinfo) gives up after this long.
const HTTP_TIMEOUT: Duration = Duration::from_secs(10);

pub(crate) type HttpClient = openidconnect::reqwest::Client;

/// What the provider needs from the configuration.
#[derive(Clone)]
pub struct OidcProviderSettings {
    /// Exactly as the issuer writes it in its discovery document and ID tokens.
    pub issuer: String,
    pub client_id: String,
    pub client_secret: String,
    /// `<public_url>/auth/google/callback`.
    pub redirect_uri: String,
    /// Must contain `openid` (added by the protocol regardless).
    pub scopes: Vec<String>,
}

impl std::fmt::Debug for OidcProviderSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcProviderSettings")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field("redirect_uri", &self.redirect_uri)
            .finish_non_exhaustive()
    }
}

/// Building the provider failed.
#[derive(Debug, thiserror::Error)]
#[error("cannot build the OIDC HTTP client: {0}")]
pub struct OidcProviderError(String);

struct Snapshot {
    discovered: Discovered,
    fetched_at: Instant,
}

/// An OpenID Connect issuer reached with a client that follows no redirects and times out.
pub struct OidcProvider {
    settings: OidcProviderSettings,
    http: HttpClient,
    snapshot: RwLock<Option<Snapshot>>,
    last_error: RwLock<Option<String>>,
}

impl std::fmt::Debug for OidcProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcProvider")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl OidcProvider {
    /// A provider that has not discovered anything yet (discovery happens on first use or `discover`).
    pub fn new(settings: OidcProviderSettings) -> Result<Self, OidcProviderError> {
        let http = openidconnect::reqwest::ClientBuilder::new()
            // Following redirects from the issuer would be an SSRF vector (openidconnect's own warning).
            .redirect(openidconnect::reqwest::redirect::Policy::none())
            .timeout(HTTP_TIMEOUT)
            .connect_timeout(HTTP_TIMEOUT)
            .build()
            .map_err(|e| OidcProviderError(e.to_string()))?;
        Ok(Self {
            settings,
            http,
            snapshot: RwLock::new(None),
            last_error: RwLock::new(None),
        })
    }

    fn cached(&self, max_age: Duration) -> Option<Discovered> {
        let snapshot = self.snapshot.read().unwrap_or_else(PoisonError::into_inner);
        snapshot
            .as_ref()
            .filter(|s| s.fetched_at.elapsed() < max_age)
            .map(|s| s.discovered.clone())
    }

    /// Fetches the discovery document and keys now and keeps them.
    async fn refresh(&self) -> Result<Discovered, IdentityError> {
        match discover(&self.settings, &self.http).await {
            Ok(discovered) => {
                *self
                    .snapshot
                    .write()
                    .unwrap_or_else(PoisonError::into_inner) = Some(Snapshot {
                    discovered: discovered.clone(),
                    fetched_at: Instant::now(),
                });
                *self
                    .last_error
                    .write()
                    .unwrap_or_else(PoisonError::into_inner) = None;
                Ok(discovered)
            }
            Err(reason) => {
                tracing::warn!(issuer = %self.settings.issuer, %reason, "OIDC discovery failed");
                *self
                    .last_error
                    .write()
                    .unwrap_or_else(PoisonError::into_inner) = Some(reason.clone());
                Err(IdentityError::Unavailable(reason))
            }
        }
    }

    /// The current snapshot, fetched again once it is an hour old.
    async fn current(&self) -> Result<Discovered, IdentityError> {
        match self.cached(DISCOVERY_TTL) {
            Some(discovered) => Ok(discovered),
            None => self.refresh().await,
        }
    }
}

#[async_trait]
impl IdentityProvider for OidcProvider {
    async fn authorization_url(
        &self,
        params: &AuthorizationParams,
    ) -> Result<String, IdentityError> {
        let discovered = self.current().await?;
        let (state, nonce) = (params.state.clone(), params.nonce.clone());
        let verifier = PkceCodeVerifier::new(params.pkce_verifier.clone());
        let mut request = discovered
            .client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                move || CsrfToken::new(state),
                move || Nonce::new(nonce),
            )
            .set_pkce_challenge(PkceCodeChallenge::from_code_verifier_sha256(&verifier));
        for scope in self
            .settings
            .scopes
            .iter()
            .filter(|s| s.as_str() != "openid")
        {
            request = request.add_scope(Scope::new(scope.clone()));
        }
        let (url, _, _) = request.url();
        Ok(url.to_string())
    }

    async fn redeem(
        &self,
        code: &str,
        pkce_verifier: &str,
        nonce: &str,
    ) -> Result<VerifiedClaims, IdentityError> {
        let discovered = self.current().await?;
        let exchange = discovered
            .client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|e| IdentityError::Rejected(format!("the issuer has no token endpoint: {e}")))?
            .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier.to_owned()));
        let response = exchange
            .request_async(&self.http)
            .await
            .map_err(|e| IdentityError::Rejected(format!("code exchange failed: {e}")))?;
        let nonce = Nonce::new(nonce.to_owned());
        match verify(&discovered, &self.settings, &self.http, &response, &nonce).await? {
            VerifyOutcome::Verified(claims) => Ok(claims),
            VerifyOutcome::UnknownKey => {
                // The issuer may have rotated its keys since the snapshot: fetch them again, once.
                let fresh = self.refresh().await?;
                match verify(&fresh, &self.settings, &self.http, &response, &nonce).await? {
                    VerifyOutcome::Verified(claims) => Ok(claims),
                    VerifyOutcome::UnknownKey => Err(IdentityError::Rejected(
                        "the ID token is signed with an unknown key".to_owned(),
                    )),
                }
            }
        }
    }

    async fn discover(&self) -> Result<(), IdentityError> {
        self.refresh().await.map(|_| ())
    }

    fn not_ready_reason(&self) -> Option<String> {
        if self
            .snapshot
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .is_some()
        {
            return None;
        }
        let error = self
            .last_error
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        Some(error.unwrap_or_else(|| "OIDC discovery has not completed yet".to_owned()))
    }
}
