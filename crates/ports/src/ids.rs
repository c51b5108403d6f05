//! Typed identifiers: lowercase hyphenated UUID v7 strings on every wire and in every table.

use std::fmt;
use std::str::FromStr;

use uuid::Uuid;

/// A string that is not a UUID.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a valid id: {0:?}")]
pub struct IdParseError(pub String);

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(Uuid);

        impl $name {
            /// A fresh time-ordered (v7) id.
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }

            /// Wraps an existing UUID.
            pub const fn from_uuid(uuid: Uuid) -> Self {
                Self(uuid)
            }

            /// The underlying UUID.
            pub const fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0.hyphenated(), f)
            }
        }

        impl FromStr for $name {
            type Err = IdParseError;

            /// Accepts only the hyphenated form, so every id has exactly one spelling on the wire.
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                if s.len() != 36 {
                    return Err(IdParseError(s.to_owned()));
                }
                Uuid::parse_str(s).map(Self).map_err(|_| IdParseError(s.to_owned()))
            }
        }
    };
}

id_type!(
    /// Identifies a user.
    UserId
);
id_type!(
    /// Identifies a session row (internal; never sent to clients).
    SessionId
);
id_type!(
    /// Identifies a conversation.
    ConversationId
);
id_type!(
    /// Identifies a message.
    MessageId
);
id_type!(
    /// Identifies a dataset.
    DatasetId
);
id_type!(
    /// Identifies a stored upload file.
    UploadId
);
id_type!(
    /// Identifies a token-usage row.
    UsageId
);
id_type!(
    /// Identifies a query-history entry.
    HistoryId
);
id_type!(
    /// Identifies a saved query.
    SavedQueryId
);
id_type!(
    /// Identifies an assistant.
    AssistantId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_in_lowercase_hyphenated_form() {
        let id = ConversationId::new();
        let text = id.to_string();
        assert_eq!(text, text.to_lowercase());
        assert_eq!(text.len(), 36);
        assert_eq!(text.parse::<ConversationId>(), Ok(id));
    }

    #[test]
    fn malformed_ids_are_refused() {
        for bad in [
            "",
            "abc",
            "0193",
            "01936f7e2c1a7b3e9d405a8e0c2f4b11",
            "urn:uuid:01936f7e-2c1a-7b3e-9d40-5a8e0c2f4b11",
        ] {
            assert!(bad.parse::<UserId>().is_err(), "{bad} parsed");
        }
    }

    #[test]
    fn new_ids_are_time_ordered() {
        let a = MessageId::new();
        let b = MessageId::new();
        assert!(a < b);
    }
}
