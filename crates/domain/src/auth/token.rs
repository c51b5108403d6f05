//! Session tokens: 32 bytes from the OS CSPRNG, base64url without padding; only their SHA-256 is stored.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use tabletalk_ports::TokenHash;

/// SHA-256 of `bytes`.
pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// An opaque session token as the cookie carries it. `Debug` never shows the value.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionToken(String);

impl SessionToken {
    /// A fresh token from the operating system's CSPRNG.
    ///
    /// # Errors
    /// When the operating system cannot provide randomness.
    pub fn generate() -> Result<Self, getrandom::Error> {
        let mut bytes = [0_u8; 32];
        getrandom::fill(&mut bytes)?;
        Ok(Self(URL_SAFE_NO_PAD.encode(bytes)))
    }

    /// Wraps a token presented by a client (not validated: an unknown token simply finds no session).
    pub fn presented(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The token text, for the `Set-Cookie` header only.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The stored form of the token.
    pub fn hash(&self) -> TokenHash {
        TokenHash(sha256(self.0.as_bytes()))
    }
}

impl fmt::Debug for SessionToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionToken(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_43_url_safe_characters_and_unique() {
        let a = SessionToken::generate().unwrap();
        let b = SessionToken::generate().unwrap();
        assert_eq!(a.expose().len(), 43);
        assert!(
            a.expose()
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        );
        assert_ne!(a, b);
        assert_ne!(a.hash(), b.hash());
        assert_eq!(format!("{a:?}"), "SessionToken(***)");
    }
}
