//! WebSocket event frames: one JSON object per event with its `type` and `conversation_id` (docs/api.md,
//! "WebSocket events"). Turn events carry the answer's `message_id`.

use serde::Serialize;
use serde_json::{Map, Value};
use tabletalk_domain::datasets::DatasetError;
use tabletalk_domain::{CompletedTurn, DomainEvent, Published, TurnFailureKind, UsageStatus};

use super::message::{ExecutionDto, TraceStepDto, executions_text, trace};
use super::{DatasetDto, profiles_json};

#[derive(Debug, Serialize)]
struct Frame<'a> {
    #[serde(flatten)]
    event: EventDto<'a>,
    conversation_id: String,
}

#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum EventDto<'a> {
    ChatToken {
        message_id: String,
        token: &'a str,
    },
    ReasoningToken {
        message_id: String,
        token: &'a str,
    },
    ReasoningComplete {
        message_id: String,
    },
    ToolCallStart {
        message_id: String,
        tool: &'a str,
        args: &'a Map<String, Value>,
    },
    QueryProgress {
        message_id: String,
        query_number: u32,
    },
    ChartSpec {
        message_id: String,
        execution_index: Option<usize>,
        spec: &'a Map<String, Value>,
    },
    FollowupSuggestions {
        message_id: String,
        suggestions: &'a [String],
    },
    ChatComplete {
        message_id: String,
        content: &'a str,
        status: &'static str,
        sql_query: Option<String>,
        sql_executions: Vec<ExecutionDto<'a>>,
        reasoning: Option<&'a str>,
        tool_call_trace: Option<Vec<TraceStepDto>>,
        input_tokens: i64,
        output_tokens: i64,
        token_count: i64,
    },
    ChatError {
        message_id: String,
        error: &'a str,
        details: Option<&'a str>,
        code: &'static str,
    },
    UsageUpdate {
        tokens_used: i64,
        token_limit: i64,
        remaining: i64,
        usage_percent: f64,
    },
    RateLimitWarning {
        usage_percent: f64,
        remaining_tokens: i64,
        daily_limit_reached: bool,
        tokens_used: i64,
        token_limit: i64,
    },
    RateLimitExceeded {
        resets_in_seconds: u64,
    },
    ConversationTitleUpdated {
        title: &'a str,
    },
    DatasetProgress {
        url: &'a str,
        bytes_loaded: u64,
        total_bytes: Option<u64>,
    },
    DatasetLoaded {
        dataset: DatasetDto,
    },
    DatasetError {
        dataset_id: String,
        error: String,
        code: &'static str,
    },
    DatasetProfiled {
        dataset_id: String,
        profiles: Vec<Value>,
    },
}

/// The API code of a failed turn.
const fn turn_failure_code(kind: TurnFailureKind) -> &'static str {
    match kind {
        TurnFailureKind::Internal => "internal_error",
        TurnFailureKind::ProviderUnavailable => "llm_unavailable",
        TurnFailureKind::ProviderError => "llm_error",
        TurnFailureKind::ContextTooLarge => "context_too_large",
    }
}

fn warning(status: &UsageStatus) -> EventDto<'static> {
    EventDto::RateLimitWarning {
        usage_percent: status.usage_percent,
        remaining_tokens: status.remaining,
        daily_limit_reached: !status.allowed(),
        tokens_used: status.tokens_used,
        token_limit: status.token_limit,
    }
}

/// `chat_complete`: the answer with every execution, each carrying the rows the event shows.
fn completed(turn: &CompletedTurn) -> EventDto<'_> {
    EventDto::ChatComplete {
        message_id: turn.message_id.to_string(),
        content: &turn.content,
        status: turn.status.as_str(),
        sql_query: executions_text(&turn.sql_executions),
        sql_executions: turn
            .sql_executions
            .iter()
            .map(|e| ExecutionDto::new(e, turn.rows_shown))
            .collect(),
        reasoning: turn.reasoning.as_deref(),
        tool_call_trace: trace(&turn.trace),
        input_tokens: turn.input_tokens,
        output_tokens: turn.output_tokens,
        token_count: turn.input_tokens + turn.output_tokens,
    }
}

fn dto(event: &DomainEvent) -> EventDto<'_> {
    match event {
        DomainEvent::ChatToken { message_id, token } => EventDto::ChatToken {
            message_id: message_id.to_string(),
            token,
        },
        DomainEvent::ReasoningToken { message_id, token } => EventDto::ReasoningToken {
            message_id: message_id.to_string(),
            token,
        },
        DomainEvent::ReasoningComplete { message_id } => EventDto::ReasoningComplete {
            message_id: message_id.to_string(),
        },
        DomainEvent::ToolCallStarted {
            message_id,
            tool,
            args,
        } => EventDto::ToolCallStart {
            message_id: message_id.to_string(),
            tool,
            args,
        },
        DomainEvent::QueryProgress {
            message_id,
            query_number,
        } => EventDto::QueryProgress {
            message_id: message_id.to_string(),
            query_number: *query_number,
        },
        DomainEvent::ChartSpec {
            message_id,
            execution_index,
            spec,
        } => EventDto::ChartSpec {
            message_id: message_id.to_string(),
            execution_index: *execution_index,
            spec,
        },
        DomainEvent::FollowupSuggestions {
            message_id,
            suggestions,
        } => EventDto::FollowupSuggestions {
            message_id: message_id.to_string(),
            suggestions,
        },
        DomainEvent::ChatComplete(turn) => completed(turn),
        DomainEvent::ChatError {
            message_id,
            failure,
        } => EventDto::ChatError {
            message_id: message_id.to_string(),
            error: &failure.message,
            details: failure.details.as_deref(),
            code: turn_failure_code(failure.kind),
        },
        DomainEvent::UsageUpdate(status) => EventDto::UsageUpdate {
            tokens_used: status.tokens_used,
            token_limit: status.token_limit,
            remaining: status.remaining,
            usage_percent: status.usage_percent,
        },
        DomainEvent::RateLimitWarning(status) => warning(status),
        DomainEvent::RateLimitExceeded { resets_in_seconds } => EventDto::RateLimitExceeded {
            resets_in_seconds: *resets_in_seconds,
        },
        DomainEvent::TitleUpdated { title } => EventDto::ConversationTitleUpdated { title },
        DomainEvent::DatasetProgress {
            url,
            bytes_loaded,
            total_bytes,
        } => EventDto::DatasetProgress {
            url,
            bytes_loaded: *bytes_loaded,
            total_bytes: *total_bytes,
        },
        DomainEvent::DatasetLoaded(dataset) => EventDto::DatasetLoaded {
            dataset: DatasetDto::from(dataset.as_ref()),
        },
        DomainEvent::DatasetFailed { dataset_id, error } => EventDto::DatasetError {
            dataset_id: dataset_id.to_string(),
            error: error.message.clone(),
            // The code an add by URL would have answered with for the same failure.
            code: crate::ApiError::from(DatasetError::Load(error.clone())).code(),
        },
        DomainEvent::DatasetProfiled {
            dataset_id,
            profiles,
        } => EventDto::DatasetProfiled {
            dataset_id: dataset_id.to_string(),
            profiles: profiles_json(profiles),
        },
    }
}

/// The frame's text.
pub(crate) fn event_frame(published: &Published) -> String {
    let frame = Frame {
        event: dto(&published.event),
        conversation_id: published.conversation_id.to_string(),
    };
    // Serialising plain data into a string cannot fail; an empty frame would only be dropped by clients.
    serde_json::to_string(&frame).unwrap_or_default()
}
