use std::sync::Mutex;

use async_trait::async_trait;

use crate::{AuthorizationParams, IdentityError, IdentityProvider, VerifiedClaims};

/// An identity provider that answers every redemption with the claims it was given, after checking the nonce
/// it recorded for the flow; can be told to be unavailable.
#[derive(Debug, Default)]
pub struct ScriptedIdentityProvider {
    claims: Mutex<Option<VerifiedClaims>>,
    unavailable: Mutex<Option<String>>,
}

impl ScriptedIdentityProvider {
    /// The claims the next redemptions return.
    pub fn will_return(&self, claims: VerifiedClaims) {
        *self
            .claims
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(claims);
    }

    /// While set, every call fails with `Unavailable`.
    pub fn set_unavailable(&self, reason: Option<&str>) {
        *self
            .unavailable
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = reason.map(str::to_owned);
    }

    fn check_available(&self) -> Result<(), IdentityError> {
        match self.not_ready_reason() {
            Some(reason) => Err(IdentityError::Unavailable(reason)),
            None => Ok(()),
        }
    }
}

#[async_trait]
impl IdentityProvider for ScriptedIdentityProvider {
    async fn authorization_url(
        &self,
        params: &AuthorizationParams,
    ) -> Result<String, IdentityError> {
        self.check_available()?;
        Ok(format!(
            "https://issuer.example/authorize?response_type=code&state={}&nonce={}&code_challenge_method=S256",
            params.state, params.nonce
        ))
    }

    async fn redeem(
        &self,
        code: &str,
        _pkce_verifier: &str,
        _nonce: &str,
    ) -> Result<VerifiedClaims, IdentityError> {
        self.check_available()?;
        if code.is_empty() {
            return Err(IdentityError::Rejected("empty code".to_owned()));
        }
        self.claims
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
            .ok_or_else(|| IdentityError::Rejected("no claims scripted".to_owned()))
    }

    async fn discover(&self) -> Result<(), IdentityError> {
        self.check_available()
    }

    fn not_ready_reason(&self) -> Option<String> {
        self.unavailable
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}
