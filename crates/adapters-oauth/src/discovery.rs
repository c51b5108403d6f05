//! Fetching the discovery document and keys, and building the client from them.

use openidconnect::core::{
    CoreClient, CoreClientAuthMethod, CoreJwsSigningAlgorithm, CoreProviderMetadata,
};
use openidconnect::{
    AuthType, ClientId, ClientSecret, EndpointMaybeSet, EndpointNotSet, EndpointSet, IssuerUrl,
    RedirectUrl,
};

use crate::provider::{HttpClient, OidcProviderSettings};

/// The client type discovery produces: auth URL set, token and userinfo endpoints as discovered.
pub(crate) type DiscoveredClient = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// A usable snapshot of the issuer: the client (with the JWKS of that moment) and the algorithms to accept.
#[derive(Clone)]
pub(crate) struct Discovered {
    pub client: DiscoveredClient,
    pub algorithms: Vec<CoreJwsSigningAlgorithm>,
}

/// Only asymmetric signatures: `none` and HMAC (keyed with the client secret) are refused.
fn is_asymmetric(alg: &CoreJwsSigningAlgorithm) -> bool {
    use CoreJwsSigningAlgorithm as A;
    matches!(
        alg,
        A::RsaSsaPkcs1V15Sha256
            | A::RsaSsaPkcs1V15Sha384
            | A::RsaSsaPkcs1V15Sha512
            | A::RsaSsaPssSha256
            | A::RsaSsaPssSha384
            | A::RsaSsaPssSha512
            | A::EcdsaP256Sha256
            | A::EcdsaP384Sha384
            | A::EcdsaP521Sha512
            | A::EdDsa
    )
}

/// GETs `<issuer>/.well-known/openid-configuration` (the crate checks `issuer` matches exactly) and the JWKS.
pub(crate) async fn discover(
    settings: &OidcProviderSettings,
    http: &HttpClient,
) -> Result<Discovered, String> {
    let issuer =
        IssuerUrl::new(settings.issuer.clone()).map_err(|e| format!("invalid issuer URL: {e}"))?;
    let metadata = CoreProviderMetadata::discover_async(issuer, http)
        .await
        .map_err(|e| {
            let mut message = e.to_string();
            let mut source = std::error::Error::source(&e);
            while let Some(cause) = source {
                message.push_str(": ");
                message.push_str(&cause.to_string());
                source = cause.source();
            }
            message
        })?;
    let algorithms: Vec<_> = metadata
        .id_token_signing_alg_values_supported()
        .iter()
        .filter(|a| is_asymmetric(a))
        .cloned()
        .collect();
    if algorithms.is_empty() {
        return Err("the issuer lists no asymmetric ID-token signing algorithm".to_owned());
    }
    let post_only = metadata
        .token_endpoint_auth_methods_supported()
        .is_some_and(|methods| {
            methods.contains(&CoreClientAuthMethod::ClientSecretPost)
                && !methods.contains(&CoreClientAuthMethod::ClientSecretBasic)
        });
    let redirect = RedirectUrl::new(settings.redirect_uri.clone())
        .map_err(|e| format!("invalid redirect URI: {e}"))?;
    let mut client = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(settings.client_id.clone()),
        Some(ClientSecret::new(settings.client_secret.clone())),
    )
    .set_redirect_uri(redirect);
    if post_only {
        client = client.set_auth_type(AuthType::RequestBody);
    }
    Ok(Discovered { client, algorithms })
}
