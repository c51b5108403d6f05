//! Saved queries (docs/api.md, "Saved queries"): a user's named SQL with the result they saw, filed in folders,
//! pinned, and shareable as a read-only result page through an unguessable token.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use tabletalk_ports::{
    Clock, RepositoryError, SavedQuery, SavedQueryId, SavedQueryRepository, UserId,
};

use crate::input::InvalidInput;
use crate::rate_window::RateWindow;

/// Why a saved-query use case failed.
#[derive(Debug, thiserror::Error)]
pub enum SavedQueryError {
    /// Unknown, or another user's.
    #[error("Saved query not found")]
    NotFound,
    #[error("Shared result not found")]
    SharedNotFound,
    /// The client viewed too many shared results within the window.
    #[error("Too many requests")]
    TooMany { retry_after_secs: u64 },
    #[error(transparent)]
    Invalid(#[from] InvalidInput),
    #[error("no randomness for a share token")]
    Randomness(#[source] getrandom::Error),
    #[error(transparent)]
    Storage(#[from] RepositoryError),
}

/// A saved query to create, its fields checked.
#[derive(Debug, Clone, PartialEq)]
pub struct NewSavedQuery {
    name: String,
    query: String,
    result_json: Option<String>,
    execution_time_ms: Option<f64>,
    folder: String,
}

const fn invalid(field: &'static str, message: &'static str) -> InvalidInput {
    InvalidInput { field, message }
}

/// A folder name: trimmed, at most 50 characters (`""` is no folder).
pub fn folder_name(raw: &str) -> Result<String, InvalidInput> {
    let folder = raw.trim();
    if folder.chars().count() > 50 {
        return Err(invalid("folder", "must be at most 50 characters"));
    }
    Ok(folder.to_owned())
}

impl NewSavedQuery {
    /// Largest result snapshot kept, in bytes.
    pub const MAX_RESULT_BYTES: usize = 2 * 1024 * 1024;

    /// Checks each field: name 1..100 characters after trimming, query 1..10,000 not only whitespace, result at
    /// most 2 MiB, time a finite number ≥ 0, folder at most 50.
    pub fn parse(
        name: &str,
        query: &str,
        result_json: Option<String>,
        execution_time_ms: Option<f64>,
        folder: Option<&str>,
    ) -> Result<Self, InvalidInput> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 100 {
            return Err(invalid("name", "must be 1 to 100 characters"));
        }
        if query.trim().is_empty() || query.chars().count() > 10_000 {
            return Err(invalid("query", "must be 1 to 10000 characters"));
        }
        if result_json
            .as_ref()
            .is_some_and(|r| r.len() > Self::MAX_RESULT_BYTES)
        {
            return Err(invalid("result_json", "must be at most 2 MiB"));
        }
        if execution_time_ms.is_some_and(|t| !t.is_finite() || t < 0.0) {
            return Err(invalid(
                "execution_time_ms",
                "must be a number of at least 0",
            ));
        }
        Ok(Self {
            name: name.to_owned(),
            query: query.to_owned(),
            result_json,
            execution_time_ms,
            folder: folder_name(folder.unwrap_or_default())?,
        })
    }
}

/// Views of shared results one client address may make per minute (unknown tokens count too).
const VIEWS_PER_MINUTE: usize = 60;

/// The saved-query use cases.
pub struct SavedQueryService {
    queries: Arc<dyn SavedQueryRepository>,
    clock: Arc<dyn Clock>,
    views: RateWindow,
}

impl std::fmt::Debug for SavedQueryService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SavedQueryService").finish_non_exhaustive()
    }
}

impl SavedQueryService {
    pub fn new(queries: Arc<dyn SavedQueryRepository>, clock: Arc<dyn Clock>) -> Self {
        Self {
            queries,
            clock,
            views: RateWindow::new(VIEWS_PER_MINUTE, std::time::Duration::from_mins(1)),
        }
    }

    /// Create.
    ///
    /// # Errors
    /// Storage failures.
    pub async fn create(
        &self,
        user: UserId,
        new: NewSavedQuery,
    ) -> Result<SavedQuery, SavedQueryError> {
        let query = SavedQuery {
            id: SavedQueryId::new(),
            user_id: user,
            name: new.name,
            query: new.query,
            result_json: new.result_json,
            execution_time_ms: new.execution_time_ms,
            folder: new.folder,
            is_pinned: false,
            share_token: None,
            shared_at: None,
            created_at: self.clock.now(),
        };
        self.queries.create(&query).await?;
        Ok(query)
    }

    /// The user's saved queries, pinned first, then newest first.
    ///
    /// # Errors
    /// Storage failures.
    pub async fn list(&self, user: UserId) -> Result<Vec<SavedQuery>, SavedQueryError> {
        Ok(self.queries.list(user).await?)
    }

    /// The user's folders.
    ///
    /// # Errors
    /// Storage failures.
    pub async fn folders(&self, user: UserId) -> Result<Vec<String>, SavedQueryError> {
        Ok(self.queries.folders(user).await?)
    }

    /// Moves a query into a folder (`""`: out of any).
    ///
    /// # Errors
    /// `NotFound`; storage failures.
    pub async fn set_folder(
        &self,
        user: UserId,
        id: SavedQueryId,
        folder: &str,
    ) -> Result<(), SavedQueryError> {
        if self.queries.set_folder(user, id, folder).await? {
            Ok(())
        } else {
            Err(SavedQueryError::NotFound)
        }
    }

    /// Pin toggle.
    ///
    /// # Errors
    /// `NotFound`; storage failures.
    pub async fn toggle_pin(
        &self,
        user: UserId,
        id: SavedQueryId,
    ) -> Result<SavedQuery, SavedQueryError> {
        self.queries
            .toggle_pin(user, id)
            .await?
            .ok_or(SavedQueryError::NotFound)
    }

    /// Share: the query's token (16 random bytes, base64url), created on first share and reused after.
    ///
    /// # Errors
    /// `NotFound`; `Randomness`; storage failures.
    pub async fn share(
        &self,
        user: UserId,
        id: SavedQueryId,
    ) -> Result<SavedQuery, SavedQueryError> {
        let mut bytes = [0_u8; 16];
        getrandom::fill(&mut bytes).map_err(SavedQueryError::Randomness)?;
        self.queries
            .share(user, id, &URL_SAFE_NO_PAD.encode(bytes), self.clock.now())
            .await?
            .ok_or(SavedQueryError::NotFound)
    }

    /// Unshare (idempotent).
    ///
    /// # Errors
    /// `NotFound`; storage failures.
    pub async fn unshare(&self, user: UserId, id: SavedQueryId) -> Result<(), SavedQueryError> {
        if self.queries.unshare(user, id).await? {
            Ok(())
        } else {
            Err(SavedQueryError::NotFound)
        }
    }

    /// Delete.
    ///
    /// # Errors
    /// `NotFound`; storage failures.
    pub async fn delete(&self, user: UserId, id: SavedQueryId) -> Result<(), SavedQueryError> {
        if self.queries.delete(user, id).await? {
            Ok(())
        } else {
            Err(SavedQueryError::NotFound)
        }
    }

    /// The public view of a shared result, limited per client address.
    ///
    /// # Errors
    /// `TooMany`; `SharedNotFound`; storage failures.
    pub async fn view_shared(
        &self,
        client: &str,
        token: &str,
    ) -> Result<SavedQuery, SavedQueryError> {
        let now = self.clock.now();
        if let Some(retry_after_secs) = self.views.locked_for(client, now) {
            return Err(SavedQueryError::TooMany { retry_after_secs });
        }
        self.views.record(client, now);
        self.queries
            .find_shared(token)
            .await?
            .ok_or(SavedQueryError::SharedNotFound)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_checked_and_trimmed() {
        let ok = NewSavedQuery::parse(
            " Top cities ",
            "SELECT 1",
            None,
            Some(0.0),
            Some(" reports "),
        )
        .unwrap();
        assert_eq!(
            (ok.name.as_str(), ok.folder.as_str()),
            ("Top cities", "reports")
        );
        let field = |r: Result<NewSavedQuery, InvalidInput>| r.unwrap_err().field;
        assert_eq!(
            field(NewSavedQuery::parse(" ", "SELECT 1", None, None, None)),
            "name"
        );
        assert_eq!(
            field(NewSavedQuery::parse(
                &"n".repeat(101),
                "q",
                None,
                None,
                None
            )),
            "name"
        );
        assert_eq!(
            field(NewSavedQuery::parse("n", "  ", None, None, None)),
            "query"
        );
        assert_eq!(
            field(NewSavedQuery::parse(
                "n",
                &"q".repeat(10_001),
                None,
                None,
                None
            )),
            "query"
        );
        let big = Some("x".repeat(NewSavedQuery::MAX_RESULT_BYTES + 1));
        assert_eq!(
            field(NewSavedQuery::parse("n", "q", big, None, None)),
            "result_json"
        );
        assert_eq!(
            field(NewSavedQuery::parse("n", "q", None, Some(-1.0), None)),
            "execution_time_ms"
        );
        assert_eq!(
            field(NewSavedQuery::parse("n", "q", None, Some(f64::NAN), None)),
            "execution_time_ms"
        );
        assert_eq!(
            field(NewSavedQuery::parse(
                "n",
                "q",
                None,
                None,
                Some(&"f".repeat(51))
            )),
            "folder"
        );
    }
}
