//! The error every repository port returns.

/// A storage operation failed. Absence is never an error (`Ok(None)`); these are real failures.
#[derive(Debug, thiserror::Error)]
pub enum RepositoryError {
    /// A uniqueness or foreign-key rule refused the write; the message names the rule.
    #[error("constraint violated: {0}")]
    Constraint(String),
    /// The store could not be reached or did not answer in time (pool exhausted, file locked, disk full).
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// A stored value could not be read back into a record (corrupt or hand-edited row).
    #[error("stored data is invalid: {0}")]
    Corrupt(String),
    /// Anything else.
    #[error(transparent)]
    Other(Box<dyn std::error::Error + Send + Sync>),
}
