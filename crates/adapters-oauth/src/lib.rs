//! OpenID Connect implementation of Tabletalk's identity-provider port, on openidconnect 4: discovery (cached for
//! an hour), the authorization-code flow with PKCE S256, `state` and `nonce`, the code exchange, and full ID-token
//! verification (JWKS signature with a re-fetch on an unknown `kid`, only asymmetric algorithms, `iss`, `aud`,
//! `azp`, `exp`/`iat` with 60 s leeway, `nonce`), with the userinfo fallback for a missing email.
//!
//! Imports `tabletalk-ports` and its own technology only: never the domain, http-api, server or another adapter.

mod discovery;
mod provider;
mod verification;

pub use provider::{OidcProvider, OidcProviderError, OidcProviderSettings};
