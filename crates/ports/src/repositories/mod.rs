//! Repository ports: one per aggregate, methods named for intent, one method = one transaction.

mod conversations;
mod datasets;
mod health;
mod messages;
mod sessions;
mod token_usage;
mod users;

pub use conversations::ConversationRepository;
pub use datasets::DatasetRepository;
pub use health::DatabaseHealth;
pub use messages::MessageRepository;
pub use sessions::SessionRepository;
pub use token_usage::TokenUsageRepository;
pub use users::UserRepository;
