//! The authentication service: issuing, validating, extending and ending sessions; local-mode sign-in.

use std::sync::Arc;
use std::time::Duration;

use subtle::ConstantTimeEq;
use tabletalk_ports::{
    Clock, Identity, RepositoryError, Session, SessionId, SessionRepository, Timestamp, User,
    UserRepository,
};

use super::token::{SessionToken, sha256};
use crate::rate_window::RateWindow;

/// A valid session is extended at most once per this interval (docs/api.md, "Sign-in").
const EXTENSION_INTERVAL_MS: i64 = 60_000;

/// How users sign in on this server.
#[derive(Debug, Clone)]
pub enum AuthMode {
    /// One built-in user, signed in with the local access key (only its SHA-256 is kept).
    Local { access_key_hash: [u8; 32] },
    /// Users sign in through an OpenID Connect issuer.
    Oidc,
}

/// Settings of the authentication service.
#[derive(Debug, Clone)]
pub struct AuthSettings {
    pub mode: AuthMode,
    /// Lifetime of a session from its creation or latest extension.
    pub session_ttl: Duration,
}

/// A session just issued; the token goes into the cookie and is never stored.
#[derive(Debug)]
pub struct IssuedSession {
    pub token: SessionToken,
    pub user: User,
}

/// The outcome of validating a presented session token.
#[derive(Debug, Clone)]
pub struct Authenticated {
    pub user: User,
    pub session_id: SessionId,
    /// True when this validation extended the session, so the cookie must be re-issued.
    pub extended: bool,
}

/// Validating a session failed.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// No such session, or it expired, or its user is gone.
    #[error("not authenticated")]
    NotAuthenticated,
    #[error(transparent)]
    Storage(#[from] RepositoryError),
}

/// Local sign-in failed.
#[derive(Debug, thiserror::Error)]
pub enum DevLoginError {
    /// The server runs in OIDC mode, where local sign-in does not exist.
    #[error("local sign-in is not available in OIDC mode")]
    NotLocalMode,
    #[error("invalid access key")]
    InvalidKey,
    /// Too many failures from this client address; retry after this many seconds.
    #[error("too many failed sign-in attempts")]
    TooManyAttempts { retry_after_secs: u64 },
    /// The operating system could not provide randomness for the token.
    #[error("cannot generate a session token")]
    Randomness(#[source] getrandom::Error),
    #[error(transparent)]
    Storage(#[from] RepositoryError),
}

/// Ending a session failed.
#[derive(Debug, thiserror::Error)]
pub enum LogoutError {
    #[error(transparent)]
    Storage(#[from] RepositoryError),
}

/// Issues, validates, extends and ends sessions.
pub struct AuthService {
    users: Arc<dyn UserRepository>,
    sessions: Arc<dyn SessionRepository>,
    clock: Arc<dyn Clock>,
    settings: AuthSettings,
    /// Failed local sign-ins per client address: ten within ten minutes lock the address out.
    throttle: RateWindow,
}

impl std::fmt::Debug for AuthService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthService")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl AuthService {
    pub fn new(
        users: Arc<dyn UserRepository>,
        sessions: Arc<dyn SessionRepository>,
        clock: Arc<dyn Clock>,
        settings: AuthSettings,
    ) -> Self {
        Self {
            users,
            sessions,
            clock,
            settings,
            throttle: RateWindow::new(10, std::time::Duration::from_mins(10)),
        }
    }

    /// Whether the server runs in local mode.
    pub fn is_local_mode(&self) -> bool {
        matches!(self.settings.mode, AuthMode::Local { .. })
    }

    /// Session lifetime, which is also the cookie's `Max-Age`.
    pub fn session_ttl(&self) -> Duration {
        self.settings.session_ttl
    }

    /// Local-mode sign-in with the access key (docs/api.md, "Sign-in"). `client` is the caller's address, used to
    /// throttle guessing.
    pub async fn dev_login(
        &self,
        presented_key: &str,
        client: &str,
    ) -> Result<IssuedSession, DevLoginError> {
        let AuthMode::Local { access_key_hash } = &self.settings.mode else {
            return Err(DevLoginError::NotLocalMode);
        };
        let now = self.clock.now();
        if let Some(retry_after_secs) = self.throttle.locked_for(client, now) {
            return Err(DevLoginError::TooManyAttempts { retry_after_secs });
        }
        // Hashing both sides gives equal-length inputs, so the comparison time says nothing about the key.
        let presented_hash = sha256(presented_key.trim().as_bytes());
        if !bool::from(presented_hash.ct_eq(access_key_hash)) {
            self.throttle.record(client, now);
            tracing::warn!(client, "local sign-in with a wrong access key");
            return Err(DevLoginError::InvalidKey);
        }
        let user = self.users.sign_in(&Identity::local_user(), now).await?;
        self.start_session(&user).await.map_err(|e| match e {
            IssueError::Randomness(msg) => DevLoginError::Randomness(msg),
            IssueError::Storage(e) => DevLoginError::Storage(e),
        })
    }

    /// Issues a new session for a user who just signed in.
    pub(crate) async fn start_session(&self, user: &User) -> Result<IssuedSession, IssueError> {
        let token = self.issue(user, self.clock.now()).await?;
        Ok(IssuedSession {
            token,
            user: user.clone(),
        })
    }

    async fn issue(&self, user: &User, now: Timestamp) -> Result<SessionToken, IssueError> {
        let token = SessionToken::generate().map_err(IssueError::Randomness)?;
        let session = Session {
            id: SessionId::new(),
            token_hash: token.hash(),
            user_id: user.id,
            created_at: now,
            expires_at: now + self.settings.session_ttl,
            last_extended_at: now,
        };
        self.sessions.create(&session).await?;
        Ok(token)
    }

    /// Validates a presented token: the session must exist and not be expired (an expired row is deleted).
    /// A session last extended a minute or more ago is extended to `now + session_ttl`.
    /// Whether the session still exists and has not expired, without extending it (the WebSocket's heartbeat
    /// re-check); `None` when storage could not answer.
    pub async fn session_alive(&self, token: &SessionToken) -> Option<bool> {
        let now = self.clock.now();
        match self.sessions.find_by_token_hash(&token.hash()).await {
            Ok(Some(session)) => Some(session.expires_at > now),
            Ok(None) => Some(false),
            Err(_) => None,
        }
    }

    pub async fn authenticate(&self, token: &SessionToken) -> Result<Authenticated, AuthError> {
        let now = self.clock.now();
        let Some(session) = self.sessions.find_by_token_hash(&token.hash()).await? else {
            return Err(AuthError::NotAuthenticated);
        };
        if session.expires_at <= now {
            self.sessions.delete(session.id).await?;
            return Err(AuthError::NotAuthenticated);
        }
        let Some(user) = self.users.find(session.user_id).await? else {
            return Err(AuthError::NotAuthenticated);
        };
        let extended = now.millis_since(session.last_extended_at) >= EXTENSION_INTERVAL_MS
            && self
                .sessions
                .extend(session.id, now + self.settings.session_ttl, now)
                .await?;
        Ok(Authenticated {
            user,
            session_id: session.id,
            extended,
        })
    }

    /// Ends one session (other sessions of the user stay).
    pub async fn logout(&self, session: SessionId) -> Result<(), LogoutError> {
        self.sessions.delete(session).await?;
        Ok(())
    }

    /// Deletes expired sessions; returns how many (the hourly clean-up).
    pub async fn delete_expired_sessions(&self) -> Result<u64, RepositoryError> {
        self.sessions.delete_expired(self.clock.now()).await
    }
}

#[derive(Debug)]
pub(crate) enum IssueError {
    Randomness(getrandom::Error),
    Storage(RepositoryError),
}

impl From<RepositoryError> for IssueError {
    fn from(e: RepositoryError) -> Self {
        Self::Storage(e)
    }
}
