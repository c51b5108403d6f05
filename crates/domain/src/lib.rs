//! Tabletalk's services and rules: sign-in and sessions, conversations and their removal, datasets and SQL, the
//! chat turn, the token budget, health and the retry policy for model calls. Services talk to the outside world
//! only through the traits of `tabletalk-ports`, held as `Arc<dyn Port>`; outcomes are typed enums and events are
//! [`DomainEvent`]s — statuses, error codes and JSON shapes belong to the HTTP layer.
//!
//! Must not import adapters, actix, diesel, reqwest, datafusion or openidconnect.

pub mod assistants;
pub mod auth;
pub mod chat;
pub mod conversations;
pub mod datasets;
pub mod events;
pub mod export;
pub mod health;
pub mod input;
pub mod llm_retry;
mod rate_window;
pub mod removal;
pub mod saved_queries;
pub mod settings;
#[cfg(test)]
mod testkit;
pub mod transfer;
pub mod usage;

pub use auth::{
    AuthError, AuthMode, AuthService, AuthSettings, Authenticated, DevLoginError, IssuedSession,
    LogoutError, SessionToken,
};
pub use conversations::{ConversationDetail, ConversationError, ConversationService};
pub use events::{
    CompletedTurn, DomainEvent, EventBus, InProcessBus, Published, Subscription, TurnFailure,
    TurnFailureKind,
};
pub use health::{HealthReport, HealthService};
pub use input::{ConversationIds, InvalidInput, MessageText, Page, SqlText};
pub use removal::ConversationRemoval;
pub use settings::{EffectiveSettings, ModelChoice, SettingsError, SettingsService, ToolChange};
pub use usage::{UsageError, UsageService, UsageStatus};
