//! Referral keys (docs/api.md, "Sign-in"): single-use invitations for new OIDC accounts.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use tabletalk_ports::{Clock, ReferralKey, ReferralKeyRepository, RepositoryError};

/// Creating or listing keys failed.
#[derive(Debug, thiserror::Error)]
pub enum ReferralError {
    #[error("count must be between 1 and 1000, got {0}")]
    InvalidCount(u32),
    #[error("cannot generate keys")]
    Randomness(#[source] getrandom::Error),
    #[error(transparent)]
    Storage(#[from] RepositoryError),
}

/// Creates and lists referral keys (used by the CLI; there is no HTTP endpoint).
pub struct ReferralService {
    keys: Arc<dyn ReferralKeyRepository>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for ReferralService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReferralService").finish_non_exhaustive()
    }
}

impl ReferralService {
    pub fn new(keys: Arc<dyn ReferralKeyRepository>, clock: Arc<dyn Clock>) -> Self {
        Self { keys, clock }
    }

    /// Creates `count` (1..=1000) new keys of 16 random bytes, base64url (22 characters).
    pub async fn create(&self, count: u32) -> Result<Vec<String>, ReferralError> {
        if !(1..=1000).contains(&count) {
            return Err(ReferralError::InvalidCount(count));
        }
        let keys = (0..count)
            .map(|_| {
                let mut bytes = [0_u8; 16];
                getrandom::fill(&mut bytes).map(|()| URL_SAFE_NO_PAD.encode(bytes))
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(ReferralError::Randomness)?;
        self.keys.create(&keys, None, self.clock.now()).await?;
        Ok(keys)
    }

    /// Every key (or only the unused ones), oldest first.
    pub async fn list(&self, unused_only: bool) -> Result<Vec<ReferralKey>, ReferralError> {
        Ok(self.keys.list(unused_only).await?)
    }
}
