//! One chat turn (behaviour.md §5.6–5.9): model rounds with tool calls until an answer, the caps, stop, and the
//! one-transaction persistence at the end, with the events of websocket.md §5 in order.

use std::sync::Arc;

use futures_util::StreamExt;
use serde_json::{Map, Value, json};
use tabletalk_ports::{
    CallKind, ConversationId, LlmError, LlmEvent, LlmMessage, LlmRequest, Message, MessageId,
    MessageRole, MessageStatus, QuerySource, TokenUsage, ToolCall, ToolMode, ToolResult, UsageId,
    UserId,
};

use super::cancel::{Cancel, CancelReason};
use super::context::{self, estimate_tokens};
use super::prompt::{system_prompt, tool_declarations};
use super::service::{ChatService, usage_payload, warning_payload};
use super::tools::{clean_suggestions, failure, validate_chart};
use crate::UsageStatus;
use crate::datasets::{DatasetError, schema_columns};
use crate::llm_retry::{CallError, start_with_retries};

/// Characters of a tool result kept in the trace.
const TRACE_RESULT_CHARS: usize = 4000;

/// How the turn ended.
enum Outcome {
    Complete,
    Stopped,
    Failed {
        code: &'static str,
        error: String,
        details: Option<String>,
    },
}

/// Everything the turn accumulates.
struct State {
    service: Arc<ChatService>,
    user: UserId,
    conversation: ConversationId,
    message_id: MessageId,
    cancel: Cancel,
    content: String,
    reasoning: String,
    reasoning_completed: bool,
    trace: Vec<Value>,
    executions: Vec<Value>,
    latest_success: Option<usize>,
    tool_calls: u32,
    sql_errors: u32,
    queries: u32,
    input_tokens: u64,
    output_tokens: u64,
    estimated: bool,
}

fn cut(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}

impl State {
    fn deleted(&self) -> bool {
        self.cancel.reason() == Some(CancelReason::Deleted)
    }

    /// Publishes a turn event (with `message_id`), unless the conversation is gone.
    fn emit(&self, kind: &'static str, mut payload: Value) {
        if self.deleted() {
            return;
        }
        if let Value::Object(map) = &mut payload {
            map.insert("message_id".into(), json!(self.message_id.to_string()));
        }
        self.service
            .events
            .emit(self.user, self.conversation, kind, payload);
    }

    /// Appends text or reasoning to the trace, merging consecutive chunks of one kind.
    fn trace_text(&mut self, kind: &str, chunk: &str) {
        if let Some(last) = self.trace.last_mut()
            && last["type"] == kind
            && let Some(Value::String(content)) = last.get_mut("content")
        {
            content.push_str(chunk);
            return;
        }
        self.trace.push(json!({"type": kind, "content": chunk}));
    }

    fn tables(datasets: &[tabletalk_ports::Dataset]) -> Value {
        let map: Map<String, Value> = datasets
            .iter()
            .filter(|d| d.status == tabletalk_ports::DatasetStatus::Ready)
            .map(|d| {
                (
                    d.name.clone(),
                    json!(
                        schema_columns(d)
                            .into_iter()
                            .map(|c| c.name)
                            .collect::<Vec<_>>()
                    ),
                )
            })
            .collect();
        Value::Object(map)
    }

    async fn execute_sql(&mut self, args: &Map<String, Value>) -> Value {
        let max_errors = self.service.settings.max_sql_errors;
        let instruction = "Do not run more SQL in this answer. Explain to the user what went wrong and what they could try.";
        if self.sql_errors >= max_errors {
            return json!({"ok": false, "error": format!("Query not run: {max_errors} queries already failed in this answer."), "instruction": instruction});
        }
        let Some(query) = args.get("query").and_then(Value::as_str).map(str::to_owned) else {
            return failure("The query argument is required.");
        };
        if query.chars().count() > 50_000 {
            return failure("The query is longer than 50,000 characters.");
        }
        self.queries += 1;
        self.emit("query_progress", json!({"query_number": self.queries}));
        let run = self
            .service
            .sql
            .run(self.user, self.conversation, &query, QuerySource::Llm);
        let outcome = tokio::select! {
            outcome = run => Some(outcome),
            () = self.cancel.cancelled() => None,
        };
        let failed = |error: String, raw_error: &str| {
            json!({
                "query": query, "columns": null, "rows": null, "total_rows": null, "error": error,
                "execution_time_ms": null, "limit_applied": false, "_raw": raw_error,
            })
        };
        let result = match outcome {
            None => {
                let mut execution = failed("Stopped by user".to_owned(), "");
                execution.as_object_mut().map(|m| m.remove("_raw"));
                self.executions.push(execution);
                return failure("Stopped by user");
            }
            Some(Ok(result)) => result,
            Some(Err(error)) => {
                let message = match &error {
                    DatasetError::Query(f) => f.message.clone(),
                    other => other.to_string(),
                };
                let mut execution = failed(message.clone(), "");
                execution.as_object_mut().map(|m| m.remove("_raw"));
                self.executions.push(execution);
                self.sql_errors += 1;
                let datasets = self
                    .service
                    .datasets
                    .list_for_conversation(self.conversation)
                    .await
                    .unwrap_or_default();
                let mut answer =
                    json!({"ok": false, "error": message, "tables": Self::tables(&datasets)});
                if self.sql_errors >= max_errors {
                    answer["instruction"] = json!(instruction);
                }
                return answer;
            }
        };
        let output = result.output;
        let columns: Vec<String> = output.columns.iter().map(|c| c.name.clone()).collect();
        self.executions.push(json!({
            "query": query,
            "columns": columns,
            "rows": output.rows,
            "total_rows": output.total_rows,
            "error": null,
            "execution_time_ms": result.execution_ms,
            "limit_applied": output.limit_applied,
        }));
        self.latest_success = Some(self.executions.len() - 1);
        let shown = self.service.settings.llm_rows;
        let mut answer = json!({
            "ok": true,
            "columns": columns,
            "column_types": output.columns.iter().map(|c| c.sql_type.clone()).collect::<Vec<_>>(),
            "total_rows": output.total_rows,
            "limit_applied": output.limit_applied,
            "rows": output.rows.iter().take(shown).collect::<Vec<_>>(),
        });
        if output.total_rows > shown as u64 {
            answer["note"] = json!(format!(
                "First {shown} of {} rows shown; the user sees up to {} rows.",
                output.total_rows, self.service.settings.prompt.max_returned_rows
            ));
        }
        answer
    }

    async fn load_dataset(&mut self, args: &Map<String, Value>) -> Value {
        let Some(url) = args.get("url").and_then(Value::as_str) else {
            return failure("Error loading dataset: the url argument is required.");
        };
        let name = args
            .get("name")
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty());
        let load = self
            .service
            .dataset_service
            .add_url(self.user, self.conversation, url, name);
        let outcome = tokio::select! {
            outcome = load => outcome,
            () = self.cancel.cancelled() => return failure("Stopped by user"),
        };
        match outcome {
            Ok(dataset) => json!({
                "ok": true,
                "table": dataset.name,
                "row_count": dataset.row_count,
                "columns": schema_columns(&dataset).into_iter().map(|c| json!({"name": c.name, "type": c.sql_type})).collect::<Vec<_>>(),
            }),
            Err(error) => failure(&format!("Error loading dataset: {error}")),
        }
    }

    fn create_chart(&self, args: &Map<String, Value>) -> Value {
        let columns: Option<Vec<String>> = self.latest_success.map(|i| {
            self.executions[i]["columns"]
                .as_array()
                .map(|c| {
                    c.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default()
        });
        match validate_chart(args, columns.as_deref()) {
            Ok(()) => {
                self.emit(
                    "chart_spec",
                    json!({"execution_index": self.latest_success, "spec": Value::Object(args.clone())}),
                );
                let kind = args
                    .get("chart_type")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                let title = args
                    .get("title")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                json!({"ok": true, "message": format!("Chart created: {kind} — {title}")})
            }
            Err(message) => failure(&message),
        }
    }

    fn suggest_followups(&self, args: &Map<String, Value>) -> Value {
        let suggestions = clean_suggestions(args);
        if suggestions.is_empty() {
            return failure("No usable suggestions");
        }
        self.emit("followup_suggestions", json!({"suggestions": suggestions}));
        json!({"ok": true})
    }

    /// Runs one tool call (or refuses it beyond the cap).
    async fn call(&mut self, call: &ToolCall) -> Value {
        let max = self.service.settings.max_tool_calls;
        self.tool_calls += 1;
        if self.tool_calls > max {
            return failure(&format!(
                "Tool call limit reached ({max} per answer). Answer now with the information you already have."
            ));
        }
        let args: Map<String, Value> = serde_json::from_str(&call.arguments).unwrap_or_default();
        self.emit(
            "tool_call_start",
            json!({"tool": call.name, "args": Value::Object(args.clone())}),
        );
        match call.name.as_str() {
            "execute_sql" => self.execute_sql(&args).await,
            "load_dataset" => self.load_dataset(&args).await,
            "create_chart" => self.create_chart(&args),
            "suggest_followups" => self.suggest_followups(&args),
            other => failure(&format!("Unknown tool '{other}'")),
        }
    }
}

/// The provider refused the request because the context is too long.
fn too_long(error: &LlmError) -> bool {
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
fn keep_alive(state: &State) -> impl Fn(&crate::llm_retry::RetryNotice) + Send + Sync + use<> {
    let service = state.service.clone();
    let (user, conversation, id) = (state.user, state.conversation, state.message_id);
    move |_: &crate::llm_retry::RetryNotice| {
        service.events.emit(
            user,
            conversation,
            "chat_token",
            json!({"message_id": id.to_string(), "token": ""}),
        );
    }
}

/// The estimated size of what every call carries besides the messages.
fn fixed_tokens(
    settings: &super::ChatSettings,
    declarations: &[tabletalk_ports::ToolDeclaration],
) -> u64 {
    estimate_tokens(&system_prompt(&[], &settings.prompt))
        + declarations
            .iter()
            .map(|d| estimate_tokens(&d.parameters) + estimate_tokens(&d.description))
            .sum::<u64>()
}

/// An unexpected failure inside the turn.
fn internal() -> Outcome {
    Outcome::Failed {
        code: "internal_error",
        error: "Something went wrong while answering. Please try again.".to_owned(),
        details: None,
    }
}

fn llm_failure(error: &CallError) -> Outcome {
    match error {
        CallError::Exhausted { last, retries } => Outcome::Failed {
            code: "llm_unavailable",
            error: "The AI service is temporarily busy. Please try again in a moment.".to_owned(),
            details: Some(format!("{} after {retries} retries", status_text(last))),
        },
        CallError::Failed(last) => provider_error(last),
    }
}

fn status_text(error: &LlmError) -> String {
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

fn provider_error(error: &LlmError) -> Outcome {
    let message = match error {
        LlmError::RateLimited { message, .. }
        | LlmError::Unavailable { message, .. }
        | LlmError::Timeout { message, .. }
        | LlmError::InvalidRequest { message, .. }
        | LlmError::BadResponse { message } => message.clone(),
        LlmError::Blocked { reason } => reason.clone(),
        LlmError::NotConfigured => "not configured".to_owned(),
    };
    Outcome::Failed {
        code: "llm_error",
        error: format!("The AI service returned an error: {}", cut(&message, 300)),
        details: Some(status_text(error)),
    }
}

fn request_chars(request: &LlmRequest) -> String {
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

/// Runs the turn to its end; never panics, always releases through the caller's registration guard.
pub(super) async fn run(
    service: Arc<ChatService>,
    user: UserId,
    conversation: ConversationId,
    message_id: MessageId,
    cancel: Cancel,
    before: UsageStatus,
) {
    let mut state = State {
        service: service.clone(),
        user,
        conversation,
        message_id,
        cancel,
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
    };
    if before.warning() {
        service.events.emit(
            user,
            conversation,
            "rate_limit_warning",
            warning_payload(&before),
        );
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
                    state.emit("reasoning_complete", json!({}));
                }
                received.push_str(&text);
                round_text.push_str(&text);
                state.content.push_str(&text);
                state.trace_text("text", &text);
                state.emit("chat_token", json!({"token": text}));
            }
            Ok(LlmEvent::ThoughtDelta(text)) => {
                received.push_str(&text);
                state.reasoning.push_str(&text);
                state.trace_text("reasoning", &text);
                state.emit("reasoning_token", json!({"token": text}));
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
        state.trace.push(json!({
            "type": "tool_call",
            "tool": call.name,
            "args": serde_json::from_str::<Value>(&call.arguments).unwrap_or(Value::Null),
            "result": cut(&text, TRACE_RESULT_CHARS),
        }));
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
    settings: &super::ChatSettings,
    datasets: &[tabletalk_ports::Dataset],
    history: &[LlmMessage],
    declarations: &[tabletalk_ports::ToolDeclaration],
    tools_left: bool,
) -> LlmRequest {
    LlmRequest {
        model: settings.model.clone(),
        system: system_prompt(datasets, &settings.prompt),
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
        temperature: None,
        max_output_tokens: None,
    }
}

async fn rounds(state: &mut State) -> Outcome {
    let service = state.service.clone();
    let settings = &service.settings;
    let Some(llm) = service.llm.clone() else {
        return internal();
    };
    let Ok(stored) = service
        .messages
        .list_for_conversation(state.conversation)
        .await
    else {
        return internal();
    };
    let declarations = tool_declarations();
    let fixed = fixed_tokens(settings, &declarations);
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
        let request = build_request(settings, &datasets, &history, &declarations, tools_left);
        let keep_alive = keep_alive(state);
        let started = tokio::select! {
            started = start_with_retries(llm.as_ref(), &request, &settings.retry, &keep_alive) => started,
            () = state.cancel.cancelled() => return Outcome::Stopped,
        };
        let stream = match started {
            Ok(stream) => stream,
            Err(CallError::Failed(error)) if too_long(&error) => {
                // §5.3 step 7: drop the 10 oldest messages and retry once; a second refusal ends the turn.
                if trimmed {
                    return Outcome::Failed {
                        code: "context_too_large",
                        error: "Conversation context too large. Try starting a new conversation."
                            .to_owned(),
                        details: None,
                    };
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

fn limited(executions: &[Value], rows: usize) -> Vec<Value> {
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
fn announce(
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

async fn finish(state: State, outcome: Outcome) {
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
