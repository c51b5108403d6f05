//! ID-token verification and the claims Tabletalk reads from it.

use chrono::{TimeDelta, Utc};
use openidconnect::core::{CoreGenderClaim, CoreTokenResponse};
use openidconnect::{
    ClaimsVerificationError, LocalizedClaim, Nonce, OAuth2TokenResponse,
    SignatureVerificationError, TokenResponse,
};
use tabletalk_ports::{IdentityError, VerifiedClaims};

use crate::discovery::Discovered;
use crate::provider::{HttpClient, OidcProviderSettings};

const LEEWAY: TimeDelta = TimeDelta::seconds(60);

pub(crate) enum VerifyOutcome {
    Verified(VerifiedClaims),
    /// No key of the snapshot's JWKS matches the token's `kid`.
    UnknownKey,
}

fn rejected(reason: impl Into<String>) -> IdentityError {
    IdentityError::Rejected(reason.into())
}

fn default_locale<T: std::ops::Deref<Target = String>>(
    claim: Option<&LocalizedClaim<T>>,
) -> Option<String> {
    claim.and_then(|c| c.get(None)).map(|v| (**v).clone())
}

/// Verifies the ID token of `response` against `discovered`: signature (asymmetric algorithms of the discovery
/// document only), `iss`, `aud`, `azp`, `exp` and `iat` with 60 s leeway, and `nonce`.
pub(crate) async fn verify(
    discovered: &Discovered,
    settings: &OidcProviderSettings,
    http: &HttpClient,
    response: &CoreTokenResponse,
    nonce: &Nonce,
) -> Result<VerifyOutcome, IdentityError> {
    let id_token = response
        .id_token()
        .ok_or_else(|| rejected("the token response has no id_token"))?;
    let verifier = discovered
        .client
        .id_token_verifier()
        .set_allowed_algs(discovered.algorithms.clone())
        // The crate compares `exp` with this clock; running it 60 s behind gives `exp` its leeway.
        .set_time_fn(|| Utc::now() - LEEWAY)
        .set_issue_time_verifier_fn(|iat| {
            if iat > Utc::now() + LEEWAY {
                Err(format!("issued in the future ({iat})"))
            } else {
                Ok(())
            }
        });
    let claims = match id_token.claims(&verifier, nonce) {
        Ok(claims) => claims.clone(),
        Err(ClaimsVerificationError::SignatureVerification(
            SignatureVerificationError::NoMatchingKey,
        )) => {
            return Ok(VerifyOutcome::UnknownKey);
        }
        Err(e) => return Err(rejected(format!("ID token refused: {e}"))),
    };
    if let Some(azp) = claims.authorized_party()
        && azp.as_str() != settings.client_id
    {
        return Err(rejected("ID token refused: azp is not this client"));
    }
    let mut accepted = VerifiedClaims {
        issuer: claims.issuer().as_str().to_owned(),
        subject: claims.subject().as_str().to_owned(),
        email: claims.email().map(|e| e.as_str().to_owned()),
        email_verified: claims.email_verified().unwrap_or(false),
        name: default_locale(claims.name()),
        picture: default_locale(claims.picture()),
    };
    if accepted.email.is_none() {
        fill_from_userinfo(
            discovered,
            http,
            response,
            claims.subject().clone(),
            &mut accepted,
        )
        .await?;
    }
    Ok(VerifyOutcome::Verified(accepted))
}

/// docs/api.md, "Sign-in": without an email in the ID token, ask the userinfo endpoint, whose `sub` must match.
async fn fill_from_userinfo(
    discovered: &Discovered,
    http: &HttpClient,
    response: &CoreTokenResponse,
    subject: openidconnect::SubjectIdentifier,
    verified: &mut VerifiedClaims,
) -> Result<(), IdentityError> {
    let Ok(request) = discovered
        .client
        .user_info(response.access_token().clone(), Some(subject))
    else {
        return Ok(());
    };
    let info: openidconnect::UserInfoClaims<openidconnect::EmptyAdditionalClaims, CoreGenderClaim> =
        request
            .request_async(http)
            .await
            .map_err(|e| rejected(format!("userinfo failed: {e}")))?;
    verified.email = info.email().map(|e| e.as_str().to_owned());
    verified.email_verified = info.email_verified().unwrap_or(false);
    verified.name = verified.name.take().or_else(|| default_locale(info.name()));
    verified.picture = verified
        .picture
        .take()
        .or_else(|| default_locale(info.picture()));
    Ok(())
}
