//! The Message object, with the answer's SQL executions and trace.

use serde::Serialize;
use serde_json::Value;
use tabletalk_ports::{ExecutionOutcome, Message, SqlExecution, TraceStep};

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct MessageDto {
    id: String,
    role: &'static str,
    content: String,
    status: &'static str,
    error_message: Option<String>,
    /// The executions as a JSON-encoded string, as chatDF sends it.
    sql_query: Option<String>,
    reasoning: Option<String>,
    tool_call_trace: Option<Vec<TraceStepDto>>,
    input_tokens: i64,
    output_tokens: i64,
    token_count: i64,
    created_at: String,
}

impl From<&Message> for MessageDto {
    fn from(m: &Message) -> Self {
        Self {
            id: m.id.to_string(),
            role: m.role.as_str(),
            content: m.content.clone(),
            status: m.status.as_str(),
            error_message: m.error_message.clone(),
            sql_query: executions_text(&m.sql_executions),
            reasoning: m.reasoning.clone(),
            tool_call_trace: trace(&m.trace),
            input_tokens: m.input_tokens,
            output_tokens: m.output_tokens,
            token_count: m.token_count(),
            created_at: m.created_at.to_string(),
        }
    }
}

/// One statement run for an answer; a failed one has `error` and nulls for the result.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct ExecutionDto<'a> {
    query: &'a str,
    columns: Option<&'a [String]>,
    rows: Option<&'a [Vec<Value>]>,
    total_rows: Option<u64>,
    error: Option<&'a str>,
    execution_time_ms: Option<f64>,
    limit_applied: bool,
}

impl<'a> ExecutionDto<'a> {
    /// The execution with at most `max_rows` rows.
    pub(crate) fn new(execution: &'a SqlExecution, max_rows: usize) -> Self {
        let query = execution.query.as_str();
        match &execution.outcome {
            ExecutionOutcome::Succeeded(result) => Self {
                query,
                columns: Some(&result.columns),
                rows: Some(&result.rows[..result.rows.len().min(max_rows)]),
                total_rows: Some(result.total_rows),
                error: None,
                execution_time_ms: Some(result.execution_ms),
                limit_applied: result.limit_applied,
            },
            ExecutionOutcome::Failed { error } => Self {
                query,
                columns: None,
                rows: None,
                total_rows: None,
                error: Some(error),
                execution_time_ms: None,
                limit_applied: false,
            },
            ExecutionOutcome::NotRecorded => Self {
                query,
                columns: None,
                rows: None,
                total_rows: None,
                error: None,
                execution_time_ms: None,
                limit_applied: false,
            },
        }
    }
}

/// The executions with every kept row, JSON-encoded into a string (`sql_query`); `None` when there are none.
pub(crate) fn executions_text(executions: &[SqlExecution]) -> Option<String> {
    if executions.is_empty() {
        return None;
    }
    let all: Vec<ExecutionDto<'_>> = executions
        .iter()
        .map(|e| ExecutionDto::new(e, usize::MAX))
        .collect();
    serde_json::to_string(&all).ok()
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(crate) enum TraceStepDto {
    Text {
        content: String,
    },
    Reasoning {
        content: String,
    },
    ToolCall {
        tool: String,
        args: Value,
        result: String,
    },
}

/// The trace as an array; `None` when there is none.
pub(crate) fn trace(steps: &[TraceStep]) -> Option<Vec<TraceStepDto>> {
    (!steps.is_empty()).then(|| {
        steps
            .iter()
            .map(|step| match step {
                TraceStep::Text(content) => TraceStepDto::Text {
                    content: content.clone(),
                },
                TraceStep::Reasoning(content) => TraceStepDto::Reasoning {
                    content: content.clone(),
                },
                TraceStep::ToolCall { tool, args, result } => TraceStepDto::ToolCall {
                    tool: tool.clone(),
                    args: args.clone(),
                    result: result.clone(),
                },
            })
            .collect()
    })
}
