//! Sharing a conversation as a read-only snapshot (docs/api.md, "Sharing"): unguessable tokens, revocable, and
//! a public view limited per client address.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use tabletalk_ports::{Conversation, ConversationId, UserId};

use super::{ConversationDetail, ConversationError, ConversationService};

/// Views of shared conversations one client address may make per window.
pub(super) const VIEWS_PER_WINDOW: usize = 60;
pub(super) const VIEW_WINDOW: std::time::Duration = std::time::Duration::from_mins(1);

/// Why a shared conversation was not shown.
#[derive(Debug, thiserror::Error)]
pub enum SharedViewError {
    #[error("Shared conversation not found")]
    NotFound,
    /// The client viewed too many shares within the window.
    #[error("Too many requests")]
    TooMany { retry_after_secs: u64 },
    #[error(transparent)]
    Storage(#[from] tabletalk_ports::RepositoryError),
}

/// 16 random bytes, base64url without padding (22 characters): 128 bits nobody can guess.
fn new_token() -> Result<String, ConversationError> {
    let mut bytes = [0_u8; 16];
    getrandom::fill(&mut bytes).map_err(ConversationError::Randomness)?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

impl ConversationService {
    /// Share: the conversation's token, created on first share (with `shared_at`); later shares return the same.
    ///
    /// # Errors
    /// Ownership; `Randomness`; `Storage`.
    pub async fn share(
        &self,
        user: UserId,
        id: ConversationId,
    ) -> Result<Conversation, ConversationError> {
        let conversation = self.owned(user, id).await?;
        if conversation.share_token.is_some() {
            return Ok(conversation);
        }
        self.conversations
            .share(id, &new_token()?, self.clock.now())
            .await?
            .ok_or(ConversationError::NotFound)
    }

    /// Unshare: the token stops working at once (idempotent).
    ///
    /// # Errors
    /// Ownership; `Storage`.
    pub async fn unshare(&self, user: UserId, id: ConversationId) -> Result<(), ConversationError> {
        self.owned(user, id).await?;
        self.conversations.unshare(id).await?;
        Ok(())
    }

    /// The public view: the live conversation behind `token`, for anyone who has the token. `client` is the
    /// caller's address, which may view [`VIEWS_PER_WINDOW`] shares per minute; unknown tokens count too, so
    /// tokens cannot be guessed at speed.
    ///
    /// # Errors
    /// `TooMany`; `NotFound`; `Storage`.
    pub async fn view_shared(
        &self,
        client: &str,
        token: &str,
    ) -> Result<ConversationDetail, SharedViewError> {
        let now = self.clock.now();
        if let Some(retry_after_secs) = self.shared_views.locked_for(client, now) {
            return Err(SharedViewError::TooMany { retry_after_secs });
        }
        self.shared_views.record(client, now);
        let conversation = self
            .conversations
            .find_shared(token)
            .await?
            .ok_or(SharedViewError::NotFound)?;
        let messages = self.messages.list_for_conversation(conversation.id).await?;
        let datasets = self.datasets.list_for_conversation(conversation.id).await?;
        Ok(ConversationDetail {
            conversation,
            messages,
            datasets,
        })
    }
}
