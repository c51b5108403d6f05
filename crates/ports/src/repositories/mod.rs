//! Repository ports: one per aggregate, methods named for intent, one method = one transaction.

mod assistants;
mod conversations;
mod datasets;
mod health;
mod messages;
mod pending_logins;
mod query_history;
mod referral_keys;
mod saved_queries;
mod sessions;
mod settings;
mod token_usage;
mod users;

pub use assistants::AssistantRepository;
pub use conversations::ConversationRepository;
pub use datasets::{AddedDataset, DatasetRepository, DatasetWriteError, NewDataset};
pub use health::DatabaseHealth;
pub use messages::MessageRepository;
pub use pending_logins::PendingLoginRepository;
pub use query_history::QueryHistoryRepository;
pub use referral_keys::ReferralKeyRepository;
pub use saved_queries::SavedQueryRepository;
pub use sessions::SessionRepository;
pub use settings::SettingsRepository;
pub use token_usage::TokenUsageRepository;
pub use users::UserRepository;
