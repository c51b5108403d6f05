//! OpenID Connect sign-in (docs/api.md, "Sign-in"): starting the flow and completing it at the callback.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use tabletalk_ports::{
    AuthorizationParams, Clock, Identity, IdentityError, IdentityProvider, PendingLogin,
    PendingLoginRepository, RepositoryError, UserRepository, VerifiedClaims,
};

use super::{AuthService, IssuedSession};

const PENDING_LIFETIME: Duration = Duration::from_mins(10);

/// Rules for accepting an identity.
#[derive(Debug, Clone)]
pub struct OidcSettings {
    /// New accounts need an unused referral key.
    pub require_referral: bool,
    /// Lower-cased; empty means any domain.
    pub allowed_email_domains: Vec<String>,
}

/// Starting a sign-in failed.
#[derive(Debug, thiserror::Error)]
pub enum StartSignInError {
    #[error("the identity provider is unavailable: {0}")]
    Unavailable(String),
    #[error("cannot generate sign-in secrets")]
    Randomness(#[source] getrandom::Error),
    #[error(transparent)]
    Storage(#[from] RepositoryError),
}

/// Why a callback did not sign anyone in; `reason()` is the `error` of the sign-in page redirect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallbackRejection {
    OauthError,
    ReferralKeyRequired,
    InvalidReferralKey,
    EmailNotVerified,
    EmailDomainNotAllowed,
}

impl CallbackRejection {
    /// The `error` query parameter of `/sign-in`.
    pub const fn reason(self) -> &'static str {
        match self {
            Self::OauthError => "oauth_error",
            Self::ReferralKeyRequired => "referral_key_required",
            Self::InvalidReferralKey => "invalid_referral_key",
            Self::EmailNotVerified => "email_not_verified",
            Self::EmailDomainNotAllowed => "email_domain_not_allowed",
        }
    }
}

/// Completing a sign-in failed.
#[derive(Debug, thiserror::Error)]
pub enum CallbackError {
    #[error("sign-in rejected: {}", .0.reason())]
    Rejected(CallbackRejection),
    #[error(transparent)]
    Storage(#[from] RepositoryError),
    #[error("cannot issue a session")]
    Session(#[source] getrandom::Error),
}

/// What the identity provider sent to the callback.
#[derive(Debug, Clone, Default)]
pub struct CallbackParams {
    pub code: Option<String>,
    pub state: Option<String>,
    pub error: Option<String>,
}

/// Runs the OIDC authorization-code flow with PKCE, state and nonce.
pub struct OidcSignIn {
    provider: Arc<dyn IdentityProvider>,
    pending: Arc<dyn PendingLoginRepository>,
    users: Arc<dyn UserRepository>,
    auth: Arc<AuthService>,
    clock: Arc<dyn Clock>,
    settings: OidcSettings,
}

impl std::fmt::Debug for OidcSignIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcSignIn")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

fn random_secret() -> Result<String, getrandom::Error> {
    let mut bytes = [0_u8; 32];
    getrandom::fill(&mut bytes)?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

fn rejected(rejection: CallbackRejection) -> CallbackError {
    CallbackError::Rejected(rejection)
}

impl OidcSignIn {
    pub fn new(
        provider: Arc<dyn IdentityProvider>,
        pending: Arc<dyn PendingLoginRepository>,
        users: Arc<dyn UserRepository>,
        auth: Arc<AuthService>,
        clock: Arc<dyn Clock>,
        settings: OidcSettings,
    ) -> Self {
        Self {
            provider,
            pending,
            users,
            auth,
            clock,
            settings,
        }
    }

    /// `None` when the provider's discovery succeeded; otherwise why sign-in cannot work yet.
    pub fn not_ready_reason(&self) -> Option<String> {
        self.provider.not_ready_reason()
    }

    /// Fetches the issuer's discovery document and keys now.
    pub async fn discover(&self) -> Result<(), IdentityError> {
        self.provider.discover().await
    }

    /// Starts a sign-in: fresh `state`, `nonce` and PKCE verifier, stored server-side for ten minutes; returns
    /// the authorization URL. The referral key is kept for the callback, not checked here.
    pub async fn start(&self, referral_key: Option<&str>) -> Result<String, StartSignInError> {
        let secret = || random_secret().map_err(StartSignInError::Randomness);
        let (state, nonce, verifier) = (secret()?, secret()?, secret()?);
        let params = AuthorizationParams {
            state: state.clone(),
            nonce: nonce.clone(),
            pkce_verifier: verifier.clone(),
        };
        let url = self
            .provider
            .authorization_url(&params)
            .await
            .map_err(|e| match e {
                IdentityError::Unavailable(reason) | IdentityError::Rejected(reason) => {
                    StartSignInError::Unavailable(reason)
                }
            })?;
        let now = self.clock.now();
        let referral_key = referral_key
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .map(str::to_owned);
        let login = PendingLogin {
            state,
            pkce_verifier: verifier,
            nonce,
            referral_key,
            created_at: now,
            expires_at: now + PENDING_LIFETIME,
        };
        self.pending.insert(&login).await?;
        Ok(url)
    }

    /// Completes a sign-in at the callback; every failure is a [`CallbackRejection`] or a storage error.
    pub async fn complete(&self, params: &CallbackParams) -> Result<IssuedSession, CallbackError> {
        if params.error.is_some() {
            if let Some(state) = &params.state {
                self.pending.discard(state).await?;
            }
            return Err(rejected(CallbackRejection::OauthError));
        }
        let (Some(code), Some(state)) = (&params.code, &params.state) else {
            return Err(rejected(CallbackRejection::OauthError));
        };
        let Some(login) = self.pending.consume(state, self.clock.now()).await? else {
            tracing::info!("sign-in callback with an unknown, expired or already used state");
            return Err(rejected(CallbackRejection::OauthError));
        };
        let claims = self.provider.redeem(code, &login.pkce_verifier, &login.nonce).await.map_err(|error| {
            tracing::warn!(%error, "sign-in callback refused by ID-token verification or code exchange");
            rejected(CallbackRejection::OauthError)
        })?;
        let identity = self.accept(&claims)?;
        let now = self.clock.now();
        let user = if self
            .users
            .find_by_identity(&identity.issuer, &identity.subject)
            .await?
            .is_some()
        {
            // A returning user: refresh the profile; any referral key is ignored and stays unused.
            self.users.sign_in(&identity, now).await?
        } else if self.settings.require_referral {
            let key = login
                .referral_key
                .as_deref()
                .ok_or(rejected(CallbackRejection::ReferralKeyRequired))?;
            self.users
                .create_with_referral(&identity, key, now)
                .await?
                .ok_or(rejected(CallbackRejection::InvalidReferralKey))?
        } else {
            self.users.sign_in(&identity, now).await?
        };
        self.auth.start_session(&user).await.map_err(|e| match e {
            super::service::IssueError::Storage(e) => CallbackError::Storage(e),
            super::service::IssueError::Randomness(e) => CallbackError::Session(e),
        })
    }

    /// The claim rules of docs/api.md, "Sign-in".
    fn accept(&self, claims: &VerifiedClaims) -> Result<Identity, CallbackError> {
        let email = claims
            .email
            .clone()
            .ok_or(rejected(CallbackRejection::OauthError))?;
        if !claims.email_verified {
            return Err(rejected(CallbackRejection::EmailNotVerified));
        }
        if !self.settings.allowed_email_domains.is_empty() {
            let domain = email
                .rsplit_once('@')
                .map(|(_, d)| d.to_lowercase())
                .unwrap_or_default();
            if !self.settings.allowed_email_domains.contains(&domain) {
                return Err(rejected(CallbackRejection::EmailDomainNotAllowed));
            }
        }
        let name = claims
            .name
            .clone()
            .filter(|n| !n.trim().is_empty())
            .unwrap_or_else(|| email.split('@').next().unwrap_or_default().to_owned());
        Ok(Identity {
            issuer: claims.issuer.clone(),
            subject: claims.subject.clone(),
            email,
            name,
            avatar_url: claims.picture.clone(),
        })
    }

    /// Deletes expired pending sign-ins; returns how many (the hourly clean-up).
    pub async fn delete_expired(&self) -> Result<u64, RepositoryError> {
        self.pending.delete_expired(self.clock.now()).await
    }
}
