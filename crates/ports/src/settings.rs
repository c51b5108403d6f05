//! A user's stored preferences (docs/api.md, "Settings").

use crate::{Timestamp, UserId};

/// What a user chose; absent until the first change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserSettings {
    pub user_id: UserId,
    pub dev_mode: bool,
    /// The model the user picked; `None` means the deployment's default.
    pub selected_model: Option<String>,
    /// Tools added to the deployment's default set for this user (managed from the command line).
    pub tools_allow: Vec<String>,
    /// Tools taken from it; deny wins over allow.
    pub tools_deny: Vec<String>,
    pub updated_at: Timestamp,
}

impl UserSettings {
    /// What a user has before any change: developer mode on, the default model, no tool overrides.
    pub fn initial(user_id: UserId, now: Timestamp) -> Self {
        Self {
            user_id,
            dev_mode: true,
            selected_model: None,
            tools_allow: Vec::new(),
            tools_deny: Vec::new(),
            updated_at: now,
        }
    }
}
