//! Sign-in and sessions (docs/api.md, "Sign-in"): session tokens, sliding expiry, logout and local mode.

mod oidc;
mod referral;
mod service;
mod token;

#[cfg(test)]
mod oidc_tests;
#[cfg(test)]
mod tests;

pub use oidc::{
    CallbackError, CallbackParams, CallbackRejection, OidcSettings, OidcSignIn, StartSignInError,
};
pub use referral::{ReferralError, ReferralService};
pub use service::{
    AuthError, AuthMode, AuthService, AuthSettings, Authenticated, DevLoginError, IssuedSession,
    LogoutError,
};
pub use token::{SessionToken, sha256};
