//! How provider and internal failures end a turn (docs/api.md, "Chat"), and what a request weighs when the provider
//! reported no usage.

use super::{Outcome, State, cut};
use crate::chat::context::estimate_tokens;
use crate::chat::prompt::system_prompt;
use crate::events::{DomainEvent, TurnFailure, TurnFailureKind};
use crate::llm_retry::CallError;
use tabletalk_ports::{LlmError, LlmMessage, LlmRequest};

/// The provider refused the request because the context is too long.
pub(super) fn too_long(error: &LlmError) -> bool {
    let LlmError::InvalidRequest { message, .. } = error else {
        return false;
    };
    let lower = message.to_lowercase();
    [
        "too long",
        "too large",
        "context length",
        "maximum context",
        "exceeds the maximum",
        "token count",
    ]
    .iter()
    .any(|needle| lower.contains(needle))
}

/// `chat_token{token: ""}` while a model call waits to be retried.
pub(super) fn keep_alive(
    state: &State,
) -> impl Fn(&crate::llm_retry::RetryNotice) + Send + Sync + use<> {
    let service = state.service.clone();
    let (user, conversation, id) = (state.user, state.conversation, state.message_id);
    move |_: &crate::llm_retry::RetryNotice| {
        service.events.emit(
            user,
            conversation,
            DomainEvent::ChatToken {
                message_id: id,
                token: String::new(),
            },
        );
    }
}

/// The estimated size of what every call carries besides the messages.
pub(in crate::chat) fn fixed_tokens(
    settings: &crate::chat::ChatSettings,
    declarations: &[tabletalk_ports::ToolDeclaration],
    instructions: &str,
) -> u64 {
    estimate_tokens(&system_prompt(&[], &settings.prompt, instructions))
        + declarations
            .iter()
            .map(|d| estimate_tokens(&d.parameters) + estimate_tokens(&d.description))
            .sum::<u64>()
}

/// An unexpected failure inside the turn.
pub(super) fn internal() -> Outcome {
    Outcome::Failed(TurnFailure {
        kind: TurnFailureKind::Internal,
        message: "Something went wrong while answering. Please try again.".to_owned(),
        details: None,
    })
}

pub(super) fn llm_failure(error: &CallError) -> Outcome {
    match error {
        CallError::Exhausted { last, retries } => Outcome::Failed(TurnFailure {
            kind: TurnFailureKind::ProviderUnavailable,
            message: "The AI service is temporarily busy. Please try again in a moment.".to_owned(),
            details: Some(format!("{} after {retries} retries", status_text(last))),
        }),
        CallError::Failed(last) => provider_error(last),
    }
}

pub(super) fn status_text(error: &LlmError) -> String {
    match error {
        LlmError::RateLimited { status, .. }
        | LlmError::InvalidRequest { status, .. }
        | LlmError::Unavailable {
            status: Some(status),
            ..
        } => format!("HTTP {status}"),
        LlmError::Timeout { .. } => "timeout".to_owned(),
        _ => "no response".to_owned(),
    }
}

pub(super) fn provider_error(error: &LlmError) -> Outcome {
    let message = match error {
        LlmError::RateLimited { message, .. }
        | LlmError::Unavailable { message, .. }
        | LlmError::Timeout { message, .. }
        | LlmError::InvalidRequest { message, .. }
        | LlmError::BadResponse { message } => message.clone(),
        LlmError::Blocked { reason } => reason.clone(),
        LlmError::NotConfigured => "not configured".to_owned(),
    };
    Outcome::Failed(TurnFailure {
        kind: TurnFailureKind::ProviderError,
        message: format!("The AI service returned an error: {}", cut(&message, 300)),
        details: Some(status_text(error)),
    })
}

pub(super) fn request_chars(request: &LlmRequest) -> String {
    let mut text = request.system.clone();
    for message in &request.messages {
        match message {
            LlmMessage::User { text: t } => text.push_str(t),
            LlmMessage::Assistant {
                text: t,
                tool_calls,
                ..
            } => {
                text.push_str(t);
                for call in tool_calls {
                    text.push_str(&call.arguments);
                }
            }
            LlmMessage::ToolResults { results } => {
                for result in results {
                    text.push_str(&result.content);
                }
            }
        }
    }
    text
}
