//! The repository ports, implemented on [`SqliteDatabase`](crate::SqliteDatabase), one file per aggregate.

mod assistants;
mod conversations;
mod datasets;
mod health;
mod messages;
mod pending_logins;
mod query_history;
mod referral_keys;
mod saved_queries;
mod search;
mod sessions;
mod settings;
mod token_usage;
mod users;
