//! Saved queries: a user's named SQL with an optional result snapshot (docs/api.md, "Saved queries").

use crate::{SavedQueryId, Timestamp, UserId};

/// A stored saved query.
#[derive(Debug, Clone, PartialEq)]
pub struct SavedQuery {
    pub id: SavedQueryId,
    pub user_id: UserId,
    pub name: String,
    pub query: String,
    /// The client's result snapshot, stored as given (opaque text).
    pub result_json: Option<String>,
    pub execution_time_ms: Option<f64>,
    /// `""` for none.
    pub folder: String,
    pub is_pinned: bool,
    pub share_token: Option<String>,
    pub shared_at: Option<Timestamp>,
    pub created_at: Timestamp,
}
