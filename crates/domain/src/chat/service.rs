//! The chat use case (docs/api.md, "Chat"): accepting a message, stopping a turn, reporting a conversation's
//! token usage. The turn itself runs in `turn`.

use std::sync::Arc;

use tabletalk_ports::{
    CallKind, Clock, ConversationId, DatasetRepository, LlmCallEnd, LlmClient, LlmProvider,
    Message, MessageId, MessageRepository, MessageRole, RepositoryError, Telemetry,
    TokenUsageRepository, TurnEnd, UserId,
};

use super::cancel::CancelReason;
use super::prompt::PromptLimits;
use super::turns::{ActiveTurns, RegisterError};
use crate::datasets::{DatasetService, SqlRunner};
use crate::events::{DomainEvent, EventBus};
use crate::input::MessageText;
use crate::llm_retry::{CallError, RetryPolicy};
use crate::{
    ConversationError, ConversationService, SettingsService, UsageError, UsageService, UsageStatus,
};

/// `llm.*` and the row limits a turn uses.
#[derive(Debug, Clone)]
pub struct ChatSettings {
    pub thinking: bool,
    pub max_tool_calls: u32,
    pub max_sql_errors: u32,
    pub context_messages: usize,
    pub context_token_budget: u64,
    pub retry: RetryPolicy,
    pub price_input_per_mtok: f64,
    pub price_output_per_mtok: f64,
    pub llm_rows: usize,
    pub ws_rows: usize,
    pub prompt: PromptLimits,
}

/// Why a message was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum ChatError {
    #[error(transparent)]
    Conversation(#[from] ConversationError),
    #[error(
        "No LLM is configured on this server, so chat is unavailable. Datasets and the SQL runner still work."
    )]
    NotConfigured,
    #[error("A reply is already being generated in this conversation. Wait for it or stop it.")]
    TurnInProgress,
    #[error("Server busy, try again shortly")]
    Busy,
    #[error("Message not found in this conversation")]
    MessageNotFound,
    /// The conversation has no ready dataset to write SQL for.
    #[error("No datasets loaded in this conversation")]
    NoDatasets,
    /// The provider stayed overloaded through the retries.
    #[error("The AI service is temporarily busy. Please try again in a moment.")]
    ProviderUnavailable { details: String },
    /// The provider refused or failed the call.
    #[error("LLM error: {0}")]
    ProviderFailed(String),
    #[error("Can only redo assistant messages")]
    NotAssistantMessage,
    #[error("No preceding user message found")]
    NoPrecedingUserMessage,
    /// The 24 h budget is used up.
    #[error("Daily token limit reached.")]
    BudgetExceeded(UsageStatus),
    #[error(transparent)]
    Storage(#[from] RepositoryError),
}

impl From<UsageError> for ChatError {
    fn from(error: UsageError) -> Self {
        match error {
            UsageError::Storage(e) => Self::Storage(e),
        }
    }
}

/// A message accepted for a turn.
#[derive(Debug, Clone, Copy)]
pub struct Accepted {
    pub message_id: MessageId,
    pub user_message_id: MessageId,
}

/// The chat use case.
pub struct ChatService {
    pub(super) conversations: Arc<ConversationService>,
    pub(super) messages: Arc<dyn MessageRepository>,
    pub(super) datasets: Arc<dyn DatasetRepository>,
    pub(super) dataset_service: Arc<DatasetService>,
    pub(super) sql: Arc<SqlRunner>,
    pub(super) usage: Arc<UsageService>,
    pub(super) token_usage: Arc<dyn TokenUsageRepository>,
    pub(super) llm: Option<Arc<dyn LlmClient>>,
    pub(super) events: Arc<dyn EventBus>,
    pub(super) clock: Arc<dyn Clock>,
    pub(super) user_settings: Arc<SettingsService>,
    pub(super) telemetry: Arc<dyn Telemetry>,
    pub(super) turns: ActiveTurns,
    pub(super) settings: ChatSettings,
}

impl std::fmt::Debug for ChatService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChatService")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// How a turn's user message comes about.
enum Opening {
    /// A new message from the user.
    Message(String),
    /// Redo: the assistant message `answer` and the user message `question` before it are replaced by a new copy
    /// of the question.
    Redo {
        answer: MessageId,
        question: MessageId,
        content: String,
    },
}

/// The collaborators of the chat service.
#[expect(
    missing_debug_implementations,
    reason = "trait objects of ports are not Debug"
)]
pub struct ChatParts {
    pub conversations: Arc<ConversationService>,
    pub messages: Arc<dyn MessageRepository>,
    pub datasets: Arc<dyn DatasetRepository>,
    pub dataset_service: Arc<DatasetService>,
    pub sql: Arc<SqlRunner>,
    pub usage: Arc<UsageService>,
    pub token_usage: Arc<dyn TokenUsageRepository>,
    pub llm: Option<Arc<dyn LlmClient>>,
    pub events: Arc<dyn EventBus>,
    pub clock: Arc<dyn Clock>,
    /// Which model each user's turns call.
    pub user_settings: Arc<SettingsService>,
    /// Where turns and model calls are reported.
    pub telemetry: Arc<dyn Telemetry>,
}

/// The title rule (docs/api.md, "Chat"): whitespace collapsed, first 50 characters, `…` when cut.
pub fn title_from(message: &str) -> String {
    let flat = message.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() > 50 {
        format!("{}…", flat.chars().take(50).collect::<String>())
    } else {
        flat
    }
}

impl ChatService {
    pub fn new(parts: ChatParts, max_concurrent_turns: usize, settings: ChatSettings) -> Self {
        Self {
            conversations: parts.conversations,
            messages: parts.messages,
            datasets: parts.datasets,
            dataset_service: parts.dataset_service,
            sql: parts.sql,
            usage: parts.usage,
            token_usage: parts.token_usage,
            llm: parts.llm,
            events: parts.events,
            clock: parts.clock,
            user_settings: parts.user_settings,
            telemetry: parts.telemetry,
            turns: ActiveTurns::new(max_concurrent_turns),
            settings,
        }
    }

    /// The provider the turns use.
    /// Reports one model call (after its retries) to the telemetry port.
    pub(super) fn count_call<T>(&self, kind: CallKind, result: &Result<T, CallError>) {
        let end = match result {
            Ok(_) => LlmCallEnd::Success,
            Err(CallError::Exhausted { .. }) => LlmCallEnd::Unavailable,
            Err(CallError::Failed(_)) => LlmCallEnd::Error,
        };
        self.telemetry.llm_call(self.provider().as_str(), kind, end);
    }

    pub(super) fn provider(&self) -> LlmProvider {
        self.llm
            .as_ref()
            .map_or(LlmProvider::Gemini, |l| l.provider())
    }

    /// Send a message (docs/api.md, "Chat"): checks in the documented order, commits the user message, starts the turn in
    /// the background.
    ///
    /// # Errors
    /// The refusals of [`ChatError`]; nothing is stored on any of them.
    pub async fn send(
        self: &Arc<Self>,
        user: UserId,
        conversation: ConversationId,
        content: &MessageText,
    ) -> Result<Accepted, ChatError> {
        let owned = self.conversations.owned(user, conversation).await?;
        let accepted = self
            .begin(user, &owned, Opening::Message(content.as_str().to_owned()))
            .await?;
        self.unarchive(user, &owned).await;
        Ok(accepted)
    }

    /// A message sent to an archived conversation brings it back to the list (docs/api.md, "Conversations").
    /// The message is already accepted: a failure here is logged, not returned.
    async fn unarchive(&self, user: UserId, conversation: &tabletalk_ports::Conversation) {
        if !conversation.is_archived {
            return;
        }
        if let Err(error) = self
            .conversations
            .set_archived(user, conversation.id, false)
            .await
        {
            tracing::warn!(%error, "could not unarchive a conversation after a message");
        }
    }

    /// Redo (docs/api.md, "Chat"): the answer `message` and the closest user message before it are replaced by a new
    /// copy of that user message at the end, and a new turn answers it. The message checks come first, then those
    /// of [`ChatService::send`]; nothing changes on any refusal.
    ///
    /// # Errors
    /// Ownership; `MessageNotFound`; `NotAssistantMessage`; `NoPrecedingUserMessage`; then as `send`.
    pub async fn redo(
        self: &Arc<Self>,
        user: UserId,
        conversation: ConversationId,
        message: MessageId,
    ) -> Result<Accepted, ChatError> {
        let owned = self.conversations.owned(user, conversation).await?;
        let messages = self.messages.list_for_conversation(conversation).await?;
        let position = messages
            .iter()
            .position(|m| m.id == message)
            .ok_or(ChatError::MessageNotFound)?;
        if messages[position].role != MessageRole::Assistant {
            return Err(ChatError::NotAssistantMessage);
        }
        let question = messages[..position]
            .iter()
            .rev()
            .find(|m| m.role == MessageRole::User)
            .ok_or(ChatError::NoPrecedingUserMessage)?;
        let accepted = self
            .begin(
                user,
                &owned,
                Opening::Redo {
                    answer: message,
                    question: question.id,
                    content: question.content.clone(),
                },
            )
            .await?;
        self.unarchive(user, &owned).await;
        Ok(accepted)
    }

    /// The checks shared by send and redo from "LLM configured" on, the write, and the background turn.
    async fn begin(
        self: &Arc<Self>,
        user: UserId,
        owned: &tabletalk_ports::Conversation,
        opening: Opening,
    ) -> Result<Accepted, ChatError> {
        if self.llm.is_none() {
            return Err(ChatError::NotConfigured);
        }
        let conversation = owned.id;
        let setup = self.turn_setup(user, owned).await;
        let cancel = self.turns.register(conversation).map_err(|e| {
            self.telemetry.turn_finished(TurnEnd::Refused, None);
            match e {
                RegisterError::InProgress => ChatError::TurnInProgress,
                RegisterError::Busy => ChatError::Busy,
            }
        })?;
        let accepted = self.start(user, conversation, opening).await;
        match accepted {
            Ok((accepted, status)) => {
                let service = self.clone();
                tokio::spawn(async move {
                    let _registration = service.turns.guard(conversation, cancel.clone());
                    super::turn::run(
                        service.clone(),
                        user,
                        conversation,
                        accepted.message_id,
                        cancel,
                        status,
                        setup,
                    )
                    .await;
                });
                Ok(accepted)
            }
            Err(error) => {
                self.turns.release(conversation);
                if matches!(error, ChatError::BudgetExceeded(_)) {
                    self.telemetry.turn_finished(TurnEnd::Refused, None);
                }
                Err(error)
            }
        }
    }

    /// Steps 4–6 before the background turn.
    async fn start(
        &self,
        user: UserId,
        conversation: ConversationId,
        opening: Opening,
    ) -> Result<(Accepted, UsageStatus), ChatError> {
        let status = self.usage.status(user).await?;
        if !status.allowed() {
            self.events.emit(
                user,
                conversation,
                DomainEvent::RateLimitWarning(status.clone()),
            );
            self.events.emit(
                user,
                conversation,
                DomainEvent::RateLimitExceeded {
                    resets_in_seconds: status.resets_in_seconds,
                },
            );
            return Err(ChatError::BudgetExceeded(status));
        }
        let now = self.clock.now();
        let message = match opening {
            Opening::Message(content) => {
                let message = Message::user(conversation, content, now);
                let title = title_from(&message.content);
                if self.messages.append_user_message(&message, &title).await? {
                    self.events
                        .emit(user, conversation, DomainEvent::TitleUpdated { title });
                }
                message
            }
            Opening::Redo {
                answer,
                question,
                content,
            } => {
                let message = Message::user(conversation, content, now);
                if !self
                    .messages
                    .replace_exchange(conversation, answer, question, &message)
                    .await?
                {
                    // Deleted by another request since the checks.
                    return Err(ChatError::MessageNotFound);
                }
                message
            }
        };
        Ok((
            Accepted {
                message_id: MessageId::new(),
                user_message_id: message.id,
            },
            status,
        ))
    }

    /// Deletes one message of a conversation that has no turn running.
    ///
    /// # Errors
    /// Ownership; `TurnInProgress`; `MessageNotFound` when the message is not in this conversation.
    pub async fn delete_message(
        &self,
        user: UserId,
        conversation: ConversationId,
        message: MessageId,
    ) -> Result<(), ChatError> {
        self.conversations.owned(user, conversation).await?;
        if self.turns.is_running(conversation) {
            return Err(ChatError::TurnInProgress);
        }
        if self.messages.delete(conversation, message).await? {
            Ok(())
        } else {
            Err(ChatError::MessageNotFound)
        }
    }

    /// Stop: asks the running turn to stop; `true` when one was running.
    ///
    /// # Errors
    /// Ownership failures.
    pub async fn stop(
        &self,
        user: UserId,
        conversation: ConversationId,
    ) -> Result<bool, ChatError> {
        self.conversations.owned(user, conversation).await?;
        Ok(self.turns.cancel(conversation, CancelReason::Stopped))
    }

    /// Cancels the turn of a conversation that is being deleted; it sends no further events.
    pub fn conversation_deleted(&self, conversation: ConversationId) {
        self.turns.cancel(conversation, CancelReason::Deleted);
    }

    /// Token usage: `(input, output, cost, rows)` of the conversation.
    ///
    /// # Errors
    /// Ownership and storage failures.
    pub async fn token_usage(
        &self,
        user: UserId,
        conversation: ConversationId,
    ) -> Result<(i64, i64, f64, i64), ChatError> {
        self.conversations.owned(user, conversation).await?;
        Ok(self
            .token_usage
            .totals_for_conversation(conversation)
            .await?)
    }

    /// Turns running now.
    pub fn active_turns(&self) -> usize {
        self.turns.count()
    }
}
