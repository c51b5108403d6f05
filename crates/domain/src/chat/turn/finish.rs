//! The end of a turn: one transaction for the answer and its token usage, then `chat_complete` or `chat_error`,
//! `usage_update` and the warning (docs/api.md, "Chat").

use super::{Outcome, State};
use crate::events::{CompletedTurn, DomainEvent};
use tabletalk_ports::{
    CallKind, Message, MessageRole, MessageStatus, TokenUsage, TurnEnd, UsageId,
};

/// `chat_complete` or `chat_error`.
fn announce(state: &State, outcome: Outcome, status: MessageStatus, (input, output): (i64, i64)) {
    let message_id = state.message_id;
    match outcome {
        Outcome::Failed(failure) => state.emit(DomainEvent::ChatError {
            message_id,
            failure,
        }),
        Outcome::Complete | Outcome::Stopped => {
            state.emit(DomainEvent::ChatComplete(Box::new(CompletedTurn {
                message_id,
                content: state.content.clone(),
                status,
                sql_executions: state.executions.clone(),
                rows_shown: state.service.settings.ws_rows,
                reasoning: (!state.reasoning.is_empty()).then(|| state.reasoning.clone()),
                trace: state.trace.clone(),
                input_tokens: input,
                output_tokens: output,
            })));
        }
    }
}

pub(super) async fn finish(state: State, outcome: Outcome) {
    let service = state.service.clone();
    let settings = &service.settings;
    let now = service.clock.now();
    let (status, error_message) = match &outcome {
        Outcome::Complete => (MessageStatus::Complete, None),
        Outcome::Stopped => (MessageStatus::Stopped, None),
        Outcome::Failed(failure) => (MessageStatus::Error, Some(failure.message.clone())),
    };
    let keep_message = !matches!(outcome, Outcome::Failed(_))
        || !state.content.is_empty()
        || !state.executions.is_empty();
    let end = match &outcome {
        Outcome::Complete => TurnEnd::Complete,
        Outcome::Stopped => TurnEnd::Stopped,
        Outcome::Failed(_) => TurnEnd::Error,
    };
    service
        .telemetry
        .turn_finished(end, Some(state.started.elapsed()));
    service.telemetry.llm_tokens(
        service.provider().as_str(),
        &state.setup.model,
        CallKind::Chat,
        state.input_tokens,
        state.output_tokens,
    );
    let input = i64::try_from(state.input_tokens).unwrap_or(i64::MAX);
    let output = i64::try_from(state.output_tokens).unwrap_or(i64::MAX);
    let message = keep_message.then(|| Message {
        id: state.message_id,
        conversation_id: state.conversation,
        role: MessageRole::Assistant,
        content: state.content.clone(),
        status,
        error_message,
        sql_executions: state.executions.clone(),
        reasoning: (!state.reasoning.is_empty()).then(|| state.reasoning.clone()),
        trace: state.trace.clone(),
        input_tokens: input,
        output_tokens: output,
        model: Some(state.setup.model.clone()),
        created_at: now,
    });
    #[allow(
        clippy::cast_precision_loss,
        reason = "token counts are far below 2^52"
    )]
    let cost = state.input_tokens as f64 / 1e6 * settings.price_input_per_mtok
        + state.output_tokens as f64 / 1e6 * settings.price_output_per_mtok;
    let usage = (input + output > 0).then(|| TokenUsage {
        id: UsageId::new(),
        user_id: state.user,
        conversation_id: Some(state.conversation),
        message_id: Some(state.message_id),
        call_kind: CallKind::Chat,
        provider: service.provider(),
        model_name: state.setup.model.clone(),
        input_tokens: input,
        output_tokens: output,
        estimated: state.estimated,
        cost,
        timestamp: now,
    });
    if let Err(error) = service
        .messages
        .finish_turn(message.as_ref(), usage.as_ref())
        .await
    {
        tracing::error!(%error, conversation = %state.conversation, "could not store the turn");
    }
    // The turn is over once it is stored: a client that sends again on `chat_complete` must not get a 409.
    service
        .turns
        .release_turn(state.conversation, &state.cancel);
    tracing::info!(
        conversation = %state.conversation, input_tokens = input, output_tokens = output,
        outcome = status.as_str(), "chat turn finished"
    );
    announce(&state, outcome, status, (input, output));
    if usage.is_some()
        && let Ok(after) = service.usage.status(state.user).await
    {
        let warning = after.warning() && !state.deleted();
        service.events.emit(
            state.user,
            state.conversation,
            DomainEvent::UsageUpdate(after.clone()),
        );
        if warning {
            service.events.emit(
                state.user,
                state.conversation,
                DomainEvent::RateLimitWarning(after),
            );
        }
    }
}
