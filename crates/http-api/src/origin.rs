//! Which browser origins may call the API (docs/api.md, "Conventions").

use std::collections::BTreeSet;

/// A configured origin is not of the form `scheme://host[:port]`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not an origin of the form scheme://host[:port] with scheme http or https")]
pub struct OriginPolicyError(pub String);

/// The server's own public origins plus the configured CORS origins.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OriginPolicy {
    /// The server's own origins: allowed for state-changing requests, never need CORS headers listed.
    own: BTreeSet<String>,
    /// `server.cors_origins`: allowed for both.
    cors: BTreeSet<String>,
}

/// Normalises an origin (`scheme://host[:port]`, lower-cased, no trailing slash), or refuses it.
pub fn normalise_origin(raw: &str) -> Result<String, OriginPolicyError> {
    let refuse = || OriginPolicyError(raw.to_owned());
    let lower = raw.trim().trim_end_matches('/').to_ascii_lowercase();
    let (scheme, rest) = lower.split_once("://").ok_or_else(refuse)?;
    if !matches!(scheme, "http" | "https")
        || rest.is_empty()
        || rest.contains(['/', '?', '#', '@', ' ', '*'])
    {
        return Err(refuse());
    }
    Ok(lower)
}

impl OriginPolicy {
    /// Builds the policy; every entry must be a valid origin.
    pub fn new<'a>(
        own: impl IntoIterator<Item = &'a str>,
        cors: impl IntoIterator<Item = &'a str>,
    ) -> Result<Self, OriginPolicyError> {
        Ok(Self {
            own: own
                .into_iter()
                .map(normalise_origin)
                .collect::<Result<_, _>>()?,
            cors: cors
                .into_iter()
                .map(normalise_origin)
                .collect::<Result<_, _>>()?,
        })
    }

    /// May a state-changing request carrying this `Origin` header proceed? `null` never may.
    pub fn allows_state_change(&self, origin: &str) -> bool {
        normalise_origin(origin).is_ok_and(|o| self.own.contains(&o) || self.cors.contains(&o))
    }

    /// Should responses to this origin carry CORS headers?
    pub fn allows_cors(&self, origin: &str) -> bool {
        self.allows_state_change(origin)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_listed_origins_pass_and_null_never_does() {
        let policy =
            OriginPolicy::new(["http://127.0.0.1:8000"], ["http://localhost:5173"]).unwrap();
        assert!(policy.allows_state_change("http://127.0.0.1:8000"));
        assert!(policy.allows_state_change("HTTP://LOCALHOST:5173"));
        assert!(!policy.allows_state_change("http://localhost:5174"));
        assert!(!policy.allows_state_change("https://evil.example"));
        assert!(!policy.allows_state_change("null"));
        assert!(OriginPolicy::new([], ["*"]).is_err());
        assert!(OriginPolicy::new([], ["http://a.example/path"]).is_err());
    }
}
