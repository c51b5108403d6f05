//! One chat turn (docs/api.md, "Chat"): model rounds with tool calls until an answer, the caps, stop, and the
//! one-transaction persistence at the end, with the events of docs/api.md, "WebSocket" in order.

use std::sync::Arc;

use futures_util::StreamExt;
use serde_json::{Value, json};
use tabletalk_ports::{
    ConversationId, LlmEvent, LlmMessage, LlmRequest, MessageId, SqlExecution, ToolCall, ToolMode,
    ToolResult, TraceStep, UserId,
};

use super::cancel::{Cancel, CancelReason};
use super::context::{self, estimate_tokens};
use super::prompt::{system_prompt, tool_declarations_for};
use super::service::ChatService;
use super::setup::TurnSetup;
use crate::UsageStatus;
use crate::events::{DomainEvent, TurnFailure, TurnFailureKind};
use crate::llm_retry::{CallError, start_with_retries};

/// Characters of a tool result kept in the trace.
const TRACE_RESULT_CHARS: usize = 4000;

mod calls;
pub(super) mod failures;
mod finish;
#[cfg(test)]
mod tests;

use failures::{
    fixed_tokens, internal, keep_alive, llm_failure, provider_error, request_chars, too_long,
};
use finish::finish;

/// How the turn ended.
enum Outcome {
    Complete,
    Stopped,
    Failed(TurnFailure),
}

/// Everything the turn accumulates.
struct State {
    service: Arc<ChatService>,
    user: UserId,
    conversation: ConversationId,
    message_id: MessageId,
    cancel: Cancel,
    /// Model, temperature, tools and instructions, read once when the turn starts.
    setup: TurnSetup,
    content: String,
    reasoning: String,
    reasoning_completed: bool,
    trace: Vec<TraceStep>,
    executions: Vec<SqlExecution>,
    latest_success: Option<usize>,
    tool_calls: u32,
    sql_errors: u32,
    queries: u32,
    input_tokens: u64,
    output_tokens: u64,
    estimated: bool,
    /// When the turn started, for its duration metric.
    started: std::time::Instant,
}

fn cut(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}

impl State {
    fn deleted(&self) -> bool {
        self.cancel.reason() == Some(CancelReason::Deleted)
    }

    /// Publishes a turn event, unless the conversation is gone.
    fn emit(&self, event: DomainEvent) {
        if self.deleted() {
            return;
        }
        self.service
            .events
            .emit(self.user, self.conversation, event);
    }

    /// Appends answer text to the trace, merged with the text just before it.
    fn trace_text(&mut self, chunk: &str) {
        if let Some(TraceStep::Text(content)) = self.trace.last_mut() {
            content.push_str(chunk);
        } else {
            self.trace.push(TraceStep::Text(chunk.to_owned()));
        }
    }

    /// Appends reasoning to the trace, merged with the reasoning just before it.
    fn trace_reasoning(&mut self, chunk: &str) {
        if let Some(TraceStep::Reasoning(content)) = self.trace.last_mut() {
            content.push_str(chunk);
        } else {
            self.trace.push(TraceStep::Reasoning(chunk.to_owned()));
        }
    }
}

/// Runs the turn to its end; never panics, always releases through the caller's registration guard.
pub(super) async fn run(
    service: Arc<ChatService>,
    user: UserId,
    conversation: ConversationId,
    message_id: MessageId,
    cancel: Cancel,
    before: UsageStatus,
    setup: TurnSetup,
) {
    let mut state = State {
        service: service.clone(),
        user,
        conversation,
        message_id,
        cancel,
        setup,
        content: String::new(),
        reasoning: String::new(),
        reasoning_completed: false,
        trace: Vec::new(),
        executions: Vec::new(),
        latest_success: None,
        tool_calls: 0,
        sql_errors: 0,
        queries: 0,
        input_tokens: 0,
        output_tokens: 0,
        estimated: false,
        started: std::time::Instant::now(),
    };
    if before.warning() {
        service
            .events
            .emit(user, conversation, DomainEvent::RateLimitWarning(before));
    }
    let outcome = rounds(&mut state).await;
    finish(state, outcome).await;
}

/// What one model call produced.
struct Round {
    text: String,
    received: String,
    calls: Vec<ToolCall>,
    usage: Option<tabletalk_ports::TokenCounts>,
    provider_state: Option<tabletalk_ports::ProviderState>,
    failed: Option<Outcome>,
    stopped: bool,
}

/// Reads one streamed model answer, publishing its text and reasoning as it arrives.
async fn read_round(state: &mut State, mut stream: tabletalk_ports::LlmStream) -> Round {
    let mut round_text = String::new();
    let mut received = String::new();
    let mut calls: Vec<ToolCall> = Vec::new();
    let mut usage = None;
    let mut provider_state = None;
    let mut failed = None;
    let mut stopped = false;
    loop {
        let item = tokio::select! {
            item = stream.next() => item,
            () = state.cancel.cancelled() => { stopped = true; break; }
        };
        let Some(item) = item else { break };
        match item {
            Ok(LlmEvent::TextDelta(text)) => {
                if !state.reasoning.is_empty() && !state.reasoning_completed && !text.is_empty() {
                    state.reasoning_completed = true;
                    state.emit(DomainEvent::ReasoningComplete {
                        message_id: state.message_id,
                    });
                }
                received.push_str(&text);
                round_text.push_str(&text);
                state.content.push_str(&text);
                state.trace_text(&text);
                state.emit(DomainEvent::ChatToken {
                    message_id: state.message_id,
                    token: text,
                });
            }
            Ok(LlmEvent::ThoughtDelta(text)) => {
                received.push_str(&text);
                state.reasoning.push_str(&text);
                state.trace_reasoning(&text);
                state.emit(DomainEvent::ReasoningToken {
                    message_id: state.message_id,
                    token: text,
                });
            }
            Ok(LlmEvent::ToolCall(call)) => {
                received.push_str(&call.arguments);
                calls.push(call);
            }
            Ok(LlmEvent::Usage(counts)) => usage = Some(counts),
            Ok(LlmEvent::Finished {
                provider_state: s, ..
            }) => provider_state = s,
            Err(error) => {
                failed = Some(provider_error(&error));
                break;
            }
        }
    }
    drop(stream);
    Round {
        text: round_text,
        received,
        calls,
        usage,
        provider_state,
        failed,
        stopped,
    }
}

/// Runs a round's tool calls in order; `None` when the turn was cancelled meanwhile.
async fn run_calls(state: &mut State, calls: &[ToolCall]) -> Option<Vec<ToolResult>> {
    let mut results = Vec::new();
    for call in calls {
        if state.cancel.reason().is_some() {
            return None;
        }
        let result = state.call(call).await;
        let text = result.to_string();
        state.trace.push(TraceStep::ToolCall {
            tool: call.name.clone(),
            // Arguments that do not parse are kept as "none": the call itself was already refused for them.
            args: serde_json::from_str::<Value>(&call.arguments).unwrap_or(Value::Null),
            result: cut(&text, TRACE_RESULT_CHARS),
        });
        results.push(ToolResult {
            call_id: call.id.clone(),
            name: call.name.clone(),
            is_error: result["ok"] != json!(true),
            content: text,
        });
    }
    Some(results)
}

/// One model call's request: the prompt built fresh (datasets loaded mid-turn appear), tools while calls remain.
fn build_request(
    state: &State,
    datasets: &[tabletalk_ports::Dataset],
    history: &[LlmMessage],
    declarations: &[tabletalk_ports::ToolDeclaration],
    tools_left: bool,
) -> LlmRequest {
    let settings = &state.service.settings;
    // A user with every tool denied gets a plain answer.
    let tools_left = tools_left && !declarations.is_empty();
    LlmRequest {
        model: state.setup.model.clone(),
        system: system_prompt(datasets, &settings.prompt, &state.setup.instructions),
        messages: history.to_vec(),
        tools: if tools_left {
            declarations.to_vec()
        } else {
            Vec::new()
        },
        tool_mode: if tools_left {
            ToolMode::Auto
        } else {
            ToolMode::None
        },
        thinking: settings.thinking,
        temperature: state.setup.temperature,
        max_output_tokens: None,
    }
}

async fn rounds(state: &mut State) -> Outcome {
    let service = state.service.clone();
    let settings = &service.settings;
    let Some(llm) = service.llm.clone() else {
        return internal();
    };
    let Ok(stored) = context::stored(
        service.messages.as_ref(),
        state.conversation,
        settings.context_messages,
    )
    .await
    else {
        return internal();
    };
    let declarations = tool_declarations_for(&state.setup.tools);
    let fixed = fixed_tokens(settings, &declarations, &state.setup.instructions);
    let mut trimmed = false;
    let mut history = context::build(
        &stored,
        settings.context_messages,
        settings.context_token_budget,
        fixed,
    );
    loop {
        if state.cancel.reason().is_some() {
            return Outcome::Stopped;
        }
        let Ok(datasets) = service
            .datasets
            .list_for_conversation(state.conversation)
            .await
        else {
            return internal();
        };
        let tools_left = state.tool_calls < settings.max_tool_calls;
        let request = build_request(state, &datasets, &history, &declarations, tools_left);
        let keep_alive = keep_alive(state);
        let started = tokio::select! {
            started = start_with_retries(llm.as_ref(), &request, &settings.retry, &keep_alive) => started,
            () = state.cancel.cancelled() => return Outcome::Stopped,
        };
        service.count_call(tabletalk_ports::CallKind::Chat, &started);
        let stream = match started {
            Ok(stream) => stream,
            Err(CallError::Failed(error)) if too_long(&error) => {
                // docs/api.md, "Chat": drop the 10 oldest messages and retry once; a second refusal ends the turn.
                if trimmed {
                    return Outcome::Failed(TurnFailure {
                        kind: TurnFailureKind::ContextTooLarge,
                        message: "Conversation context too large. Try starting a new conversation."
                            .to_owned(),
                        details: None,
                    });
                }
                trimmed = true;
                let drop = 10.min(history.len() - 1);
                history.drain(..drop);
                continue;
            }
            Err(error) => {
                state.input_tokens += estimate_tokens(&request_chars(&request));
                state.estimated = true;
                return llm_failure(&error);
            }
        };
        let round = read_round(state, stream).await;
        if let Some(counts) = round.usage {
            state.input_tokens += counts.input;
            state.output_tokens += counts.output;
        } else {
            state.input_tokens += estimate_tokens(&request_chars(&request));
            state.output_tokens += estimate_tokens(&round.received);
            state.estimated = true;
        }
        if let Some(outcome) = round.failed {
            return outcome;
        }
        if round.stopped || state.cancel.reason().is_some() {
            return Outcome::Stopped;
        }
        let calls = round.calls;
        if calls.is_empty() {
            return Outcome::Complete;
        }
        let Some(results) = run_calls(state, &calls).await else {
            return Outcome::Stopped;
        };
        if state.cancel.reason().is_some() {
            return Outcome::Stopped;
        }
        history.push(LlmMessage::Assistant {
            text: round.text,
            tool_calls: calls,
            provider_state: round.provider_state,
        });
        history.push(LlmMessage::ToolResults { results });
    }
}
