//! Assistants (docs/api.md, "Assistants"): a team's reusable setup — instructions, model, temperature, tools and
//! datasets — that conversations start from. The owner alone changes, shares or deletes one; a shared one is
//! visible to and usable by every user; another user's unshared one does not exist for the caller.

mod input;

pub use input::{AssistantChange, DatasetSpec, MAX_DATASETS, Patch};

use std::sync::Arc;

use tabletalk_ports::{
    Assistant, AssistantId, AssistantRepository, Clock, Conversation, DatasetContent,
    LoadErrorKind, RepositoryError, UserId,
};

use crate::ConversationError;
use crate::settings::SettingsService;
use crate::transfer::ConversationTransfer;
use input::invalid;

/// Why an assistant use case failed; on every one nothing is stored.
#[derive(Debug, thiserror::Error)]
pub enum AssistantError {
    /// Unknown, or another user's and not shared.
    #[error("Assistant not found")]
    NotFound,
    /// A shared assistant changed by someone other than its owner.
    #[error("Only the assistant's owner can change it")]
    NotOwner,
    /// A field breaks its rule; `field` is its dotted path (`datasets[2].url`).
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    #[error(transparent)]
    Conversation(#[from] ConversationError),
    #[error(transparent)]
    Storage(#[from] RepositoryError),
}

/// What an assistant service is built from.
#[expect(
    missing_debug_implementations,
    reason = "trait objects of ports are not Debug"
)]
pub struct AssistantParts {
    pub assistants: Arc<dyn AssistantRepository>,
    pub settings: Arc<SettingsService>,
    /// For the SSRF guard on dataset URLs (nothing is fetched when an assistant is saved).
    pub content: Arc<dyn DatasetContent>,
    pub transfer: Arc<ConversationTransfer>,
    pub clock: Arc<dyn Clock>,
    /// `datasets.max_per_conversation`.
    pub max_datasets_per_conversation: u32,
}

/// Creates, lists, changes, shares and deletes assistants, and starts conversations from them.
pub struct AssistantService {
    assistants: Arc<dyn AssistantRepository>,
    settings: Arc<SettingsService>,
    content: Arc<dyn DatasetContent>,
    transfer: Arc<ConversationTransfer>,
    clock: Arc<dyn Clock>,
    max_datasets: usize,
}

impl std::fmt::Debug for AssistantService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AssistantService")
            .field("max_datasets", &self.max_datasets)
            .finish_non_exhaustive()
    }
}

impl AssistantService {
    pub fn new(parts: AssistantParts) -> Self {
        let per_conversation =
            usize::try_from(parts.max_datasets_per_conversation).unwrap_or(usize::MAX);
        Self {
            assistants: parts.assistants,
            settings: parts.settings,
            content: parts.content,
            transfer: parts.transfer,
            clock: parts.clock,
            max_datasets: per_conversation.min(MAX_DATASETS),
        }
    }

    /// Create: `name` is required; the rest defaults to empty, the user's model, the provider's temperature, every
    /// tool the user has and no datasets. Not shared.
    ///
    /// # Errors
    /// `Invalid` for the first broken rule (nothing stored); storage failures.
    pub async fn create(
        &self,
        user: UserId,
        change: AssistantChange,
    ) -> Result<Assistant, AssistantError> {
        if change.name.is_none() {
            return Err(invalid("name", "is required"));
        }
        let now = self.clock.now();
        let blank = Assistant {
            id: AssistantId::new(),
            user_id: user,
            name: String::new(),
            description: String::new(),
            instructions: String::new(),
            model: None,
            temperature: None,
            tools: None,
            datasets: Vec::new(),
            is_shared: false,
            created_at: now,
            updated_at: now,
        };
        let assistant = self.apply(user, blank, change).await?;
        self.assistants.create(&assistant).await?;
        Ok(assistant)
    }

    /// The caller's own assistants and the shared ones, most recently updated first.
    ///
    /// # Errors
    /// Storage failures.
    pub async fn list(&self, user: UserId) -> Result<Vec<Assistant>, AssistantError> {
        Ok(self.assistants.list_visible(user).await?)
    }

    /// One assistant the caller may see.
    ///
    /// # Errors
    /// `NotFound`; storage failures.
    pub async fn get(&self, user: UserId, id: AssistantId) -> Result<Assistant, AssistantError> {
        match self.assistants.find(id).await? {
            Some(assistant) if assistant.visible_to(user) => Ok(assistant),
            _ => Err(AssistantError::NotFound),
        }
    }

    /// One assistant the caller owns: 404 before 403, like conversations.
    async fn owned(&self, user: UserId, id: AssistantId) -> Result<Assistant, AssistantError> {
        let assistant = self.get(user, id).await?;
        if assistant.user_id != user {
            return Err(AssistantError::NotOwner);
        }
        Ok(assistant)
    }

    /// Partial update by the owner: the given fields change, the others stay.
    ///
    /// # Errors
    /// `NotFound`, `NotOwner`, `Invalid` (nothing changes); storage failures.
    pub async fn update(
        &self,
        user: UserId,
        id: AssistantId,
        change: AssistantChange,
    ) -> Result<Assistant, AssistantError> {
        let stored = self.owned(user, id).await?;
        let assistant = self.apply(user, stored, change).await?;
        self.save(assistant).await
    }

    /// Share with every user of the deployment, or stop sharing (owner only).
    ///
    /// # Errors
    /// `NotFound`, `NotOwner`; storage failures.
    pub async fn set_shared(
        &self,
        user: UserId,
        id: AssistantId,
        shared: bool,
    ) -> Result<Assistant, AssistantError> {
        let mut assistant = self.owned(user, id).await?;
        assistant.is_shared = shared;
        self.save(assistant).await
    }

    /// Stores a changed assistant with `updated_at = now`; `NotFound` when it was deleted meanwhile.
    async fn save(&self, mut assistant: Assistant) -> Result<Assistant, AssistantError> {
        assistant.updated_at = self.clock.now();
        if !self.assistants.update(&assistant).await? {
            return Err(AssistantError::NotFound);
        }
        Ok(assistant)
    }

    /// Delete (owner only); conversations started from it keep what they copied.
    ///
    /// # Errors
    /// `NotFound`, `NotOwner`; storage failures.
    pub async fn delete(&self, user: UserId, id: AssistantId) -> Result<(), AssistantError> {
        self.owned(user, id).await?;
        if !self.assistants.delete(id).await? {
            return Err(AssistantError::NotFound);
        }
        Ok(())
    }

    /// A new conversation of `user` started from an assistant they may see: its setup copied, its datasets
    /// loading in the background.
    ///
    /// # Errors
    /// `NotFound`; storage failures.
    pub async fn start_conversation(
        &self,
        user: UserId,
        id: AssistantId,
    ) -> Result<Conversation, AssistantError> {
        let assistant = self.get(user, id).await?;
        Ok(self.transfer.start_from(user, &assistant).await?)
    }

    /// `change` applied to `assistant`, every rule checked in field order; the SSRF guard runs last, once the
    /// cheap checks passed.
    async fn apply(
        &self,
        user: UserId,
        mut assistant: Assistant,
        change: AssistantChange,
    ) -> Result<Assistant, AssistantError> {
        if let Some(name) = &change.name {
            assistant.name = input::name(name)?;
        }
        if let Some(description) = &change.description {
            assistant.description = input::description(description)?;
        }
        if let Some(instructions) = &change.instructions {
            assistant.instructions = input::instructions(instructions)?;
        }
        match change.model {
            Patch::Keep => {}
            Patch::Clear => assistant.model = None,
            Patch::Set(model) => assistant.model = Some(self.model(model)?),
        }
        match change.temperature {
            Patch::Keep => {}
            Patch::Clear => assistant.temperature = None,
            Patch::Set(t) => assistant.temperature = Some(input::temperature(t)?),
        }
        match change.tools {
            Patch::Keep => {}
            Patch::Clear => assistant.tools = None,
            Patch::Set(tools) => assistant.tools = Some(self.tools(user, tools).await?),
        }
        if let Some(specs) = &change.datasets {
            let datasets = input::datasets(specs, self.max_datasets)?;
            for (index, dataset) in datasets.iter().enumerate() {
                self.guard(index, &dataset.url).await?;
            }
            assistant.datasets = datasets;
        }
        Ok(assistant)
    }

    /// One of `llm.models`.
    fn model(&self, model: String) -> Result<String, AssistantError> {
        let choice = self.settings.model_choice();
        if !choice.models.contains(&model) {
            return Err(invalid(
                "model",
                format!(
                    "Unknown model '{model}'. Available: {}",
                    choice.models.join(", ")
                ),
            ));
        }
        Ok(model)
    }

    /// Known tool names the caller has, deduplicated in the order given.
    async fn tools(&self, user: UserId, tools: Vec<String>) -> Result<Vec<String>, AssistantError> {
        let effective = self.settings.tools_for(user).await;
        let mut kept: Vec<String> = Vec::with_capacity(tools.len());
        for tool in tools {
            if !effective.contains(&tool) {
                return Err(invalid(
                    "tools",
                    format!(
                        "The tool '{tool}' is not available to you. Available: {}",
                        effective.join(", ")
                    ),
                ));
            }
            if !kept.contains(&tool) {
                kept.push(tool);
            }
        }
        Ok(kept)
    }

    /// The SSRF guard for one dataset URL, as an add by URL applies it: an address the deployment does not allow is
    /// refused now. A host that does not resolve at this moment is not: every load checks again, and a
    /// conversation reports such a dataset with `dataset_error`.
    async fn guard(&self, index: usize, url: &str) -> Result<(), AssistantError> {
        match self.content.check_url(url).await {
            Err(error)
                if matches!(
                    error.kind,
                    LoadErrorKind::Blocked | LoadErrorKind::UnsupportedScheme
                ) =>
            {
                Err(invalid(format!("datasets[{index}].url"), error.message))
            }
            _ => Ok(()),
        }
    }
}
