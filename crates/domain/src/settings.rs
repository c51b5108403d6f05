//! Per-user settings (docs/api.md, "Settings"): developer mode and the chat model, chosen among `llm.models`.
//! Every chat turn asks [`SettingsService::model_for`] which model to call.

use std::sync::Arc;

use tabletalk_ports::{Clock, RepositoryError, SettingsRepository, UserId, UserSettings};

/// The models a deployment offers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelChoice {
    /// `llm.model`: what a user who picked nothing gets (`""` without an LLM).
    pub default_model: String,
    /// `llm.models` (always including the default).
    pub models: Vec<String>,
}

/// Settings as a user sees them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EffectiveSettings {
    pub dev_mode: bool,
    pub selected_model: String,
    pub available_models: Vec<String>,
}

/// Why settings were not changed.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("Unknown model '{model}'. Available: {}", available.join(", "))]
    UnknownModel {
        model: String,
        available: Vec<String>,
    },
    #[error(transparent)]
    Storage(#[from] RepositoryError),
}

/// Reads and changes users' settings.
pub struct SettingsService {
    settings: Arc<dyn SettingsRepository>,
    clock: Arc<dyn Clock>,
    choice: ModelChoice,
}

impl std::fmt::Debug for SettingsService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SettingsService")
            .field("choice", &self.choice)
            .finish_non_exhaustive()
    }
}

impl SettingsService {
    pub fn new(
        settings: Arc<dyn SettingsRepository>,
        clock: Arc<dyn Clock>,
        choice: ModelChoice,
    ) -> Self {
        Self {
            settings,
            clock,
            choice,
        }
    }

    /// A stored choice counts only while the deployment still offers it.
    fn effective(&self, stored: Option<&UserSettings>) -> EffectiveSettings {
        let selected = stored
            .and_then(|s| s.selected_model.as_ref())
            .filter(|m| self.choice.models.contains(m))
            .cloned()
            .unwrap_or_else(|| self.choice.default_model.clone());
        EffectiveSettings {
            dev_mode: stored.is_none_or(|s| s.dev_mode),
            selected_model: selected,
            available_models: self.choice.models.clone(),
        }
    }

    /// The user's settings; defaults (developer mode on, the default model) before the first change.
    ///
    /// # Errors
    /// Storage failures.
    pub async fn get(&self, user: UserId) -> Result<EffectiveSettings, SettingsError> {
        Ok(self.effective(self.settings.find(user).await?.as_ref()))
    }

    /// Changes the given fields and keeps the others.
    ///
    /// # Errors
    /// `UnknownModel` for a model `llm.models` does not list (nothing is changed); storage failures.
    pub async fn update(
        &self,
        user: UserId,
        dev_mode: Option<bool>,
        selected_model: Option<&str>,
    ) -> Result<EffectiveSettings, SettingsError> {
        if let Some(model) = selected_model
            && !self.choice.models.iter().any(|m| m == model)
        {
            return Err(SettingsError::UnknownModel {
                model: model.to_owned(),
                available: self.choice.models.clone(),
            });
        }
        let stored = self.settings.find(user).await?;
        let current = self.effective(stored.as_ref());
        let settings = UserSettings {
            user_id: user,
            dev_mode: dev_mode.unwrap_or(current.dev_mode),
            selected_model: selected_model
                .map(str::to_owned)
                .or_else(|| stored.and_then(|s| s.selected_model)),
            updated_at: self.clock.now(),
        };
        self.settings.save(&settings).await?;
        Ok(self.effective(Some(&settings)))
    }

    /// The model the user's next model call uses. A storage failure falls back to the default: the turn still
    /// runs, with the model most users get.
    pub async fn model_for(&self, user: UserId) -> String {
        match self.settings.find(user).await {
            Ok(stored) => self.effective(stored.as_ref()).selected_model,
            Err(error) => {
                tracing::warn!(
                    error = &error as &dyn std::error::Error,
                    "could not read the user's model; using the default"
                );
                self.choice.default_model.clone()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use tabletalk_ports::fakes::{InMemoryStore, ManualClock};
    use tabletalk_ports::{Identity, UserRepository};

    use super::*;

    #[tokio::test]
    async fn models_are_chosen_from_the_list_and_stale_choices_fall_back() {
        let store = Arc::new(InMemoryStore::new());
        let clock = Arc::new(ManualClock::at_new_year());
        let user = store
            .sign_in(&Identity::local_user(), clock.now())
            .await
            .unwrap()
            .id;
        let choice = ModelChoice {
            default_model: "flash".to_owned(),
            models: vec!["flash".to_owned(), "pro".to_owned()],
        };
        let service = SettingsService::new(store.clone(), clock.clone(), choice.clone());
        let fresh = service.get(user).await.unwrap();
        assert_eq!(
            (fresh.dev_mode, fresh.selected_model.as_str()),
            (true, "flash")
        );
        let unknown = service
            .update(user, Some(false), Some("gpt"))
            .await
            .unwrap_err();
        assert_eq!(
            unknown.to_string(),
            "Unknown model 'gpt'. Available: flash, pro"
        );
        assert_eq!(service.get(user).await.unwrap(), fresh, "nothing changed");

        service.update(user, None, Some("pro")).await.unwrap();
        let off = service.update(user, Some(false), None).await.unwrap();
        assert_eq!((off.dev_mode, off.selected_model.as_str()), (false, "pro"));
        assert_eq!(service.model_for(user).await, "pro");

        let narrower = SettingsService::new(
            store,
            clock,
            ModelChoice {
                models: vec!["flash".to_owned()],
                ..choice
            },
        );
        assert_eq!(
            narrower.model_for(user).await,
            "flash",
            "a model no longer offered"
        );
    }
}
