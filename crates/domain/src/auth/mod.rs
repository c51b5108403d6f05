//! Sign-in and sessions (behaviour.md §1.4–1.5): session tokens, sliding expiry, logout and local mode.

mod service;
mod throttle;
mod token;

#[cfg(test)]
mod tests;

pub use service::{
    AuthError, AuthMode, AuthService, AuthSettings, Authenticated, DevLoginError, IssuedSession,
    LogoutError,
};
pub use token::{SessionToken, sha256};
