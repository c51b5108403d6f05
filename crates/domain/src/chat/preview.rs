//! Prompt preview (docs/api.md, "Chat"): what the next turn would send for a message — the system prompt, the
//! context after pruning, the tools and the new message — with token estimates (characters / 4, rounded up). No model
//! is called and nothing is stored or counted.

use tabletalk_ports::{ConversationId, LlmMessage, Message, MessageRole, UserId};

use super::context::{self, estimate_tokens};
use super::prompt::{system_prompt, tool_declarations_for};
use super::turn::failures::fixed_tokens;
use super::{ChatError, ChatService};
use crate::input::MessageText;

/// One context message as the preview shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreviewMessage {
    pub role: MessageRole,
    pub content: String,
    pub tokens: u64,
}

/// What the next turn would send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromptPreview {
    pub system_prompt: String,
    pub system_prompt_tokens: u64,
    /// The context before the new message, oldest first.
    pub messages: Vec<PreviewMessage>,
    pub tools: Vec<String>,
    pub tools_tokens: u64,
    pub new_message: String,
    pub new_message_tokens: u64,
}

impl PromptPreview {
    pub fn total_tokens(&self) -> u64 {
        self.system_prompt_tokens
            + self.messages.iter().map(|m| m.tokens).sum::<u64>()
            + self.tools_tokens
            + self.new_message_tokens
    }
}

impl ChatService {
    /// The preview of sending `content` now: the same context selection, pruning, prompt and tools as a turn.
    ///
    /// # Errors
    /// Ownership; storage failures.
    pub async fn prompt_preview(
        &self,
        user: UserId,
        conversation: ConversationId,
        content: &MessageText,
    ) -> Result<PromptPreview, ChatError> {
        let owned = self.conversations.owned(user, conversation).await?;
        let setup = self.turn_setup(user, &owned).await;
        let settings = &self.settings;
        let datasets = self.datasets.list_for_conversation(conversation).await?;
        let mut stored = context::stored(
            self.messages.as_ref(),
            conversation,
            settings.context_messages,
        )
        .await?;
        stored.push(Message::user(
            conversation,
            content.as_str(),
            self.clock.now(),
        ));
        let declarations = tool_declarations_for(&setup.tools);
        let history = context::build(
            &stored,
            settings.context_messages,
            settings.context_token_budget,
            fixed_tokens(settings, &declarations, &setup.instructions),
        );
        let mut messages: Vec<PreviewMessage> = history
            .into_iter()
            .filter_map(|m| match m {
                LlmMessage::User { text } => Some((MessageRole::User, text)),
                LlmMessage::Assistant { text, .. } => Some((MessageRole::Assistant, text)),
                // A turn's context is built from stored messages only; tool results live inside a turn.
                LlmMessage::ToolResults { .. } => None,
            })
            .map(|(role, content)| PreviewMessage {
                tokens: estimate_tokens(&content),
                role,
                content,
            })
            .collect();
        let new_message = messages
            .pop()
            .map_or_else(|| content.as_str().to_owned(), |m| m.content);
        let system = system_prompt(&datasets, &settings.prompt, &setup.instructions);
        Ok(PromptPreview {
            system_prompt_tokens: estimate_tokens(&system),
            system_prompt: system,
            messages,
            tools_tokens: declarations
                .iter()
                .map(|d| estimate_tokens(&d.parameters) + estimate_tokens(&d.description))
                .sum(),
            tools: declarations.into_iter().map(|d| d.name).collect(),
            new_message_tokens: estimate_tokens(&new_message),
            new_message,
        })
    }
}
