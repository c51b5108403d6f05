//! The identity-provider port (OpenID Connect) and the records of a sign-in in progress.

use async_trait::async_trait;

use crate::{Timestamp, UserId};

/// What the authorization URL must carry; the service generates every secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationParams {
    pub state: String,
    pub nonce: String,
    /// The PKCE code verifier; the URL carries `BASE64URL(SHA-256(verifier))` with `code_challenge_method=S256`.
    pub pkce_verifier: String,
}

/// The claims of a verified ID token (after the userinfo fallback for a missing email).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedClaims {
    pub issuer: String,
    pub subject: String,
    pub email: Option<String>,
    pub email_verified: bool,
    pub name: Option<String>,
    pub picture: Option<String>,
}

/// Why the identity provider could not help.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    /// The discovery document or the keys could not be fetched.
    #[error("identity provider unavailable: {0}")]
    Unavailable(String),
    /// The code exchange failed or the ID token did not verify.
    #[error("sign-in rejected: {0}")]
    Rejected(String),
}

/// An OpenID Connect issuer: builds authorization URLs, redeems codes into verified claims.
#[async_trait]
pub trait IdentityProvider: Send + Sync + 'static {
    /// The authorization endpoint URL with `response_type=code`, client id, redirect URI, scopes, `state`,
    /// `nonce` and the S256 code challenge.
    ///
    /// # Errors
    /// `Unavailable` when discovery fails.
    async fn authorization_url(
        &self,
        params: &AuthorizationParams,
    ) -> Result<String, IdentityError>;

    /// Exchanges `code` (with the PKCE verifier) and verifies the ID token: signature, issuer, audience,
    /// expiry, issue time and `nonce`.
    ///
    /// # Errors
    /// `Rejected` for any failed exchange or verification; `Unavailable` when the keys cannot be fetched.
    async fn redeem(
        &self,
        code: &str,
        pkce_verifier: &str,
        nonce: &str,
    ) -> Result<VerifiedClaims, IdentityError>;

    /// Fetches the discovery document and keys now (start-up and background retries).
    ///
    /// # Errors
    /// `Unavailable` when they cannot be fetched.
    async fn discover(&self) -> Result<(), IdentityError>;

    /// `None` when discovery has succeeded; otherwise why the provider is not ready.
    fn not_ready_reason(&self) -> Option<String>;
}

/// A started OIDC sign-in: single use, lives ten minutes.
#[derive(Clone, PartialEq, Eq)]
pub struct PendingLogin {
    pub state: String,
    pub pkce_verifier: String,
    pub nonce: String,
    pub referral_key: Option<String>,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

impl std::fmt::Debug for PendingLogin {
    // The verifier and nonce are secrets of the flow; keep them out of logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingLogin")
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// A referral key as `tabletalk referral list` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReferralKey {
    pub key: String,
    pub created_by: Option<UserId>,
    pub created_at: Timestamp,
    pub used_at: Option<Timestamp>,
    /// Email of the user who used it, while that user exists.
    pub used_by_email: Option<String>,
}
