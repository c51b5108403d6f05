//! The end of a turn (§5.9–5.10): one transaction for the answer and its token usage, then `chat_complete` or
//! `chat_error`, `usage_update` and the warning.

use super::{Outcome, State};
use crate::chat::service::{usage_payload, warning_payload};
use serde_json::{Value, json};
use tabletalk_ports::{CallKind, Message, MessageRole, MessageStatus, TokenUsage, UsageId};

pub(super) fn limited(executions: &[Value], rows: usize) -> Vec<Value> {
    executions
        .iter()
        .map(|e| {
            let mut e = e.clone();
            if let Some(Value::Array(all)) = e.get_mut("rows") {
                all.truncate(rows);
            }
            e
        })
        .collect()
}

/// `chat_complete` or `chat_error` (websocket.md §5).
pub(super) fn announce(
    state: &State,
    outcome: Outcome,
    status: MessageStatus,
    sql_query: Option<&str>,
    trace: Option<&Value>,
    (input, output): (i64, i64),
) {
    let settings = &state.service.settings;
    match outcome {
        Outcome::Failed {
            code,
            error,
            details,
        } => {
            state.emit(
                "chat_error",
                json!({"error": error, "details": details, "code": code}),
            );
        }
        Outcome::Complete | Outcome::Stopped => state.emit(
            "chat_complete",
            json!({
                "content": state.content,
                "status": status.as_str(),
                "sql_query": sql_query,
                "sql_executions": limited(&state.executions, settings.ws_rows),
                "reasoning": (!state.reasoning.is_empty()).then_some(&state.reasoning),
                "tool_call_trace": trace,
                "input_tokens": input,
                "output_tokens": output,
                "token_count": input + output,
            }),
        ),
    }
}

pub(super) async fn finish(state: State, outcome: Outcome) {
    let service = state.service.clone();
    let settings = &service.settings;
    let now = service.clock.now();
    let (status, error_message) = match &outcome {
        Outcome::Complete => (MessageStatus::Complete, None),
        Outcome::Stopped => (MessageStatus::Stopped, None),
        Outcome::Failed { error, .. } => (MessageStatus::Error, Some(error.clone())),
    };
    let sql_query =
        (!state.executions.is_empty()).then(|| Value::Array(state.executions.clone()).to_string());
    let trace = (!state.trace.is_empty()).then(|| Value::Array(state.trace.clone()));
    let keep_message = !matches!(outcome, Outcome::Failed { .. })
        || !state.content.is_empty()
        || !state.executions.is_empty();
    let input = i64::try_from(state.input_tokens).unwrap_or(i64::MAX);
    let output = i64::try_from(state.output_tokens).unwrap_or(i64::MAX);
    let message = keep_message.then(|| Message {
        id: state.message_id,
        conversation_id: state.conversation,
        role: MessageRole::Assistant,
        content: state.content.clone(),
        status,
        error_message,
        sql_query: sql_query.clone(),
        reasoning: (!state.reasoning.is_empty()).then(|| state.reasoning.clone()),
        tool_call_trace: trace.as_ref().map(Value::to_string),
        input_tokens: input,
        output_tokens: output,
        model: Some(settings.model.clone()),
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
        model_name: settings.model.clone(),
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
    announce(
        &state,
        outcome,
        status,
        sql_query.as_deref(),
        trace.as_ref(),
        (input, output),
    );
    if usage.is_some()
        && let Ok(after) = service.usage.status(state.user).await
    {
        service.events.emit(
            state.user,
            state.conversation,
            "usage_update",
            usage_payload(&after),
        );
        if after.warning() && !state.deleted() {
            service.events.emit(
                state.user,
                state.conversation,
                "rate_limit_warning",
                warning_payload(&after),
            );
        }
    }
}
