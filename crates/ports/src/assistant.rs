//! Assistants (docs/api.md, "Assistants"): a reusable setup — instructions, model, temperature, tools and datasets —
//! that conversations start from. A conversation copies what it needs when it starts ([`AssistantSetup`]), so
//! later edits or a deletion of the assistant never change a conversation already under way.

use std::collections::BTreeMap;

use crate::{AssistantId, Timestamp, UserId};

/// A sampling temperature in 0..=2 (never NaN, so it compares like a number).
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub struct Temperature(f64);

// Construction refuses NaN, so equality is reflexive.
impl Eq for Temperature {}

impl Temperature {
    pub const MAX: f64 = 2.0;

    /// `None` unless `value` is a finite number in 0..=2.
    pub fn new(value: f64) -> Option<Self> {
        (value.is_finite() && (0.0..=Self::MAX).contains(&value)).then_some(Self(value))
    }

    /// As given.
    pub fn get(self) -> f64 {
        self.0
    }
}

/// A dataset an assistant brings to every conversation started from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssistantDataset {
    /// Normalised http(s) URL.
    pub url: String,
    /// The table name wished for; a taken or invalid one becomes the next `table<N>`.
    pub name: Option<String>,
    /// People's descriptions of columns, by column name.
    pub column_descriptions: BTreeMap<String, String>,
}

/// A stored assistant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assistant {
    pub id: AssistantId,
    /// The owner: the only user who may change, share or delete it.
    pub user_id: UserId,
    pub name: String,
    pub description: String,
    /// Added to the system prompt of every turn in its conversations; `""` for none.
    pub instructions: String,
    /// `None`: the user's own model.
    pub model: Option<String>,
    /// `None`: the provider's default.
    pub temperature: Option<Temperature>,
    /// `None`: every tool effective for the user; otherwise only these, where also effective.
    pub tools: Option<Vec<String>>,
    pub datasets: Vec<AssistantDataset>,
    /// Visible to and usable by every user of the deployment (never editable by them).
    pub is_shared: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl Assistant {
    /// What a conversation started from this assistant keeps.
    pub fn setup(&self) -> AssistantSetup {
        AssistantSetup {
            assistant_id: self.id,
            instructions: self.instructions.clone(),
            model: self.model.clone(),
            temperature: self.temperature,
            tools: self.tools.clone(),
        }
    }

    /// Whether `user` may see and use it.
    pub fn visible_to(&self, user: UserId) -> bool {
        self.user_id == user || self.is_shared
    }
}

/// The part of an assistant a conversation copies when it starts from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssistantSetup {
    /// Where it came from; the assistant may since have been changed or deleted.
    pub assistant_id: AssistantId,
    pub instructions: String,
    pub model: Option<String>,
    pub temperature: Option<Temperature>,
    pub tools: Option<Vec<String>>,
}

#[cfg(test)]
mod tests {
    use super::Temperature;

    #[test]
    fn temperatures_are_finite_and_within_zero_to_two() {
        assert_eq!(Temperature::new(0.0).map(Temperature::get), Some(0.0));
        assert_eq!(Temperature::new(2.0).map(Temperature::get), Some(2.0));
        assert_eq!(Temperature::new(0.7).map(Temperature::get), Some(0.7));
        for bad in [-0.01, 2.01, f64::NAN, f64::INFINITY] {
            assert_eq!(Temperature::new(bad), None, "{bad}");
        }
    }
}
