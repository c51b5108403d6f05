//! A user's stored preferences (docs/api.md, "Settings").

use crate::{Timestamp, UserId};

/// What a user chose; absent until the first change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserSettings {
    pub user_id: UserId,
    pub dev_mode: bool,
    /// The model the user picked; `None` means the deployment's default.
    pub selected_model: Option<String>,
    pub updated_at: Timestamp,
}
