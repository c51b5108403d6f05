//! Users and the identity a sign-in presents.

use crate::{Timestamp, UserId};

/// A stored user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: UserId,
    /// Issuer URL, or `local` for the local-mode user.
    pub oidc_issuer: String,
    /// The ID token's `sub`, or `local` for the local-mode user.
    pub oidc_subject: String,
    pub email: String,
    pub name: String,
    pub avatar_url: Option<String>,
    pub created_at: Timestamp,
    pub last_login_at: Timestamp,
}

/// Who signed in, as the identity provider (or local mode) describes them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub issuer: String,
    pub subject: String,
    pub email: String,
    pub name: String,
    pub avatar_url: Option<String>,
}

impl Identity {
    /// The single built-in user of local mode.
    pub fn local_user() -> Self {
        Self {
            issuer: "local".to_owned(),
            subject: "local".to_owned(),
            email: "local@localhost".to_owned(),
            name: "Local user".to_owned(),
            avatar_url: None,
        }
    }

    /// Whether this is the local-mode identity.
    pub fn is_local(&self) -> bool {
        self.issuer == "local"
    }
}
