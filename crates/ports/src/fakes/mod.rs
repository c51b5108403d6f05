//! In-memory fakes of every port, for domain and handler tests. They keep real state, enforce the same rules
//! as the SQLite adapter (the contract suite in [`crate::contract`] runs against both), and can be told to
//! fail.

mod clock;
mod content;
mod identity;
mod llm;
mod query;
mod store;

pub use clock::ManualClock;
pub use content::{ScriptedContent, parquet_content};
pub use identity::ScriptedIdentityProvider;
pub use llm::{ScriptedCall, ScriptedLlm};
pub use query::{EngineCall, ScriptedEngine, integer_output};
pub use store::InMemoryStore;

/// A poisoned lock still guards consistent data here: every fake updates its state in one step.
fn lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
