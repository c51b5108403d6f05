//! Sign-in sessions. Only the SHA-256 of a session token is ever stored.

use std::fmt;

use crate::{SessionId, Timestamp, UserId};

/// SHA-256 of a session token.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TokenHash(pub [u8; 32]);

impl fmt::Debug for TokenHash {
    // Deliberately opaque: a hash of a bearer token is still worth keeping out of logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenHash(..)")
    }
}

/// A stored session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub id: SessionId,
    pub token_hash: TokenHash,
    pub user_id: UserId,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    /// When `expires_at` was last moved; extensions are throttled to one per minute.
    pub last_extended_at: Timestamp,
}
