//! Per-user settings (docs/api.md, "Settings"): developer mode and the chat model, chosen among `llm.models`.
//! Every chat turn asks [`SettingsService::model_for`] which model to call.

use std::sync::Arc;

use tabletalk_ports::{Clock, RepositoryError, SettingsRepository, UserId, UserSettings};

use crate::chat::TOOL_NAMES;

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
    #[error(
        "Unknown tool '{0}'. Tools: execute_sql, load_dataset, create_chart, suggest_followups"
    )]
    UnknownTool(String),
    #[error(transparent)]
    Storage(#[from] RepositoryError),
}

/// A change to a user's tool overrides (the `tabletalk users tools` command).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ToolChange {
    /// Clear both lists first.
    pub reset: bool,
    pub allow: Vec<String>,
    pub deny: Vec<String>,
}

/// Reads and changes users' settings.
pub struct SettingsService {
    settings: Arc<dyn SettingsRepository>,
    clock: Arc<dyn Clock>,
    choice: ModelChoice,
    /// `llm.default_tools`: what every user gets before their overrides.
    default_tools: Vec<String>,
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
            default_tools: TOOL_NAMES.iter().map(|t| (*t).to_owned()).collect(),
        }
    }

    /// Every user's tools before overrides (`llm.default_tools`; all of them unless set).
    #[must_use]
    pub fn with_default_tools(mut self, tools: Vec<String>) -> Self {
        self.default_tools = tools;
        self
    }

    /// The models and the default one, as configured.
    pub fn model_choice(&self) -> &ModelChoice {
        &self.choice
    }

    /// Effective tools: the defaults plus the user's allow list minus their deny list (deny wins), in declaration
    /// order.
    fn effective_tools(&self, stored: Option<&UserSettings>) -> Vec<String> {
        let (allow, deny) = stored.map_or((&[][..], &[][..]), |s| {
            (s.tools_allow.as_slice(), s.tools_deny.as_slice())
        });
        TOOL_NAMES
            .iter()
            .map(|t| (*t).to_owned())
            .filter(|t| (self.default_tools.contains(t) || allow.contains(t)) && !deny.contains(t))
            .collect()
    }

    /// The tools the user's turns may offer. A storage failure falls back to the defaults.
    pub async fn tools_for(&self, user: UserId) -> Vec<String> {
        match self.settings.find(user).await {
            Ok(stored) => self.effective_tools(stored.as_ref()),
            Err(error) => {
                tracing::warn!(
                    error = &error as &dyn std::error::Error,
                    "could not read the user's tools; using the defaults"
                );
                self.effective_tools(None)
            }
        }
    }

    /// Changes the user's tool overrides; returns the effective tools afterwards. An `--allow` takes the name off
    /// the deny list and a `--deny` off the allow list; a name in both of one change ends denied.
    ///
    /// # Errors
    /// `UnknownTool` for a name that is not a tool (nothing is stored); storage failures.
    pub async fn change_tools(
        &self,
        user: UserId,
        change: &ToolChange,
    ) -> Result<Vec<String>, SettingsError> {
        if let Some(unknown) = change
            .allow
            .iter()
            .chain(&change.deny)
            .find(|t| !TOOL_NAMES.contains(&t.as_str()))
        {
            return Err(SettingsError::UnknownTool(unknown.clone()));
        }
        let now = self.clock.now();
        let mut settings = self
            .settings
            .find(user)
            .await?
            .unwrap_or_else(|| UserSettings::initial(user, now));
        if change.reset {
            settings.tools_allow.clear();
            settings.tools_deny.clear();
        }
        for tool in &change.allow {
            settings.tools_deny.retain(|t| t != tool);
            if !settings.tools_allow.contains(tool) {
                settings.tools_allow.push(tool.clone());
            }
        }
        for tool in &change.deny {
            settings.tools_allow.retain(|t| t != tool);
            if !settings.tools_deny.contains(tool) {
                settings.tools_deny.push(tool.clone());
            }
        }
        settings.updated_at = now;
        self.settings.save(&settings).await?;
        Ok(self.effective_tools(Some(&settings)))
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
        let now = self.clock.now();
        let base = stored
            .clone()
            .unwrap_or_else(|| UserSettings::initial(user, now));
        let settings = UserSettings {
            dev_mode: dev_mode.unwrap_or(current.dev_mode),
            selected_model: selected_model
                .map(str::to_owned)
                .or_else(|| stored.and_then(|s| s.selected_model)),
            updated_at: now,
            ..base
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

    #[tokio::test]
    async fn tool_changes_follow_the_last_word_and_deny_wins_within_one() {
        let store = Arc::new(InMemoryStore::new());
        let clock = Arc::new(ManualClock::at_new_year());
        let user = store
            .sign_in(&Identity::local_user(), clock.now())
            .await
            .unwrap()
            .id;
        let choice = ModelChoice {
            default_model: "flash".to_owned(),
            models: vec!["flash".to_owned()],
        };
        let service = SettingsService::new(store.clone(), clock.clone(), choice)
            .with_default_tools(vec!["execute_sql".to_owned(), "create_chart".to_owned()]);
        assert_eq!(
            service.tools_for(user).await,
            ["execute_sql", "create_chart"]
        );
        let names = |list: &[&str]| list.iter().map(|t| (*t).to_owned()).collect::<Vec<_>>();
        let change = |reset, allow: &[&str], deny: &[&str]| ToolChange {
            reset,
            allow: names(allow),
            deny: names(deny),
        };
        let denied = service
            .change_tools(
                user,
                &change(false, &["load_dataset"], &["create_chart", "load_dataset"]),
            )
            .await
            .unwrap();
        assert_eq!(denied, ["execute_sql"], "deny wins within one change");
        let allowed = service
            .change_tools(user, &change(false, &["create_chart"], &[]))
            .await
            .unwrap();
        assert_eq!(
            allowed,
            ["execute_sql", "create_chart"],
            "a later allow lifts a deny"
        );
        // Developer mode and the model survive tool changes, and tool overrides survive settings changes.
        service.update(user, Some(false), None).await.unwrap();
        assert_eq!(
            service.tools_for(user).await,
            ["execute_sql", "create_chart"]
        );
        let unknown = service
            .change_tools(user, &change(false, &[], &["rm_rf"]))
            .await
            .unwrap_err();
        assert!(matches!(unknown, SettingsError::UnknownTool(ref t) if t == "rm_rf"));
        assert_eq!(
            service.tools_for(user).await,
            ["execute_sql", "create_chart"],
            "nothing stored"
        );
        let reset = service
            .change_tools(user, &change(true, &["suggest_followups"], &[]))
            .await
            .unwrap();
        assert_eq!(reset, ["execute_sql", "create_chart", "suggest_followups"]);
        assert!(!service.get(user).await.unwrap().dev_mode);
    }
}
