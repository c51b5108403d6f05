//! Response shapes of api.md §1.2–1.7.

use serde::Serialize;
use serde_json::Value;
use tabletalk_domain::ConversationDetail;
use tabletalk_ports::{Conversation, ConversationSummary, Dataset, Message};

#[derive(Serialize)]
pub(super) struct CreatedDto {
    id: String,
    title: String,
    created_at: String,
    updated_at: String,
    is_pinned: bool,
}

impl From<&Conversation> for CreatedDto {
    fn from(c: &Conversation) -> Self {
        Self {
            id: c.id.to_string(),
            title: c.title.clone(),
            created_at: c.created_at.to_string(),
            updated_at: c.updated_at.to_string(),
            is_pinned: c.is_pinned,
        }
    }
}

#[derive(Serialize)]
pub(super) struct ConversationSummaryDto {
    id: String,
    title: String,
    created_at: String,
    updated_at: String,
    dataset_count: u64,
    message_count: u64,
    last_message_preview: Option<String>,
    is_pinned: bool,
}

impl From<&ConversationSummary> for ConversationSummaryDto {
    fn from(s: &ConversationSummary) -> Self {
        let c = &s.conversation;
        Self {
            id: c.id.to_string(),
            title: c.title.clone(),
            created_at: c.created_at.to_string(),
            updated_at: c.updated_at.to_string(),
            dataset_count: s.dataset_count,
            message_count: s.message_count,
            last_message_preview: s.last_message_preview.clone(),
            is_pinned: c.is_pinned,
        }
    }
}

#[derive(Serialize)]
pub(super) struct MessageDto {
    id: String,
    role: &'static str,
    content: String,
    status: &'static str,
    error_message: Option<String>,
    /// A JSON-encoded string, as chatDF sends it.
    sql_query: Option<String>,
    reasoning: Option<String>,
    tool_call_trace: Option<Value>,
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
            sql_query: m.sql_query.clone(),
            reasoning: m.reasoning.clone(),
            // Stored as JSON text (the column checks json_valid), sent as an array.
            tool_call_trace: m
                .tool_call_trace
                .as_deref()
                .and_then(|t| serde_json::from_str(t).ok()),
            input_tokens: m.input_tokens,
            output_tokens: m.output_tokens,
            token_count: m.token_count(),
            created_at: m.created_at.to_string(),
        }
    }
}

#[derive(Serialize)]
pub(super) struct DatasetDto {
    id: String,
    conversation_id: String,
    name: String,
    url: String,
    source: &'static str,
    format: &'static str,
    compression: &'static str,
    status: &'static str,
    error_message: Option<String>,
    row_count: i64,
    column_count: i64,
    schema_json: String,
    column_descriptions: String,
    file_size_bytes: Option<i64>,
    created_at: String,
    loaded_at: Option<String>,
}

impl From<&Dataset> for DatasetDto {
    fn from(d: &Dataset) -> Self {
        Self {
            id: d.id.to_string(),
            conversation_id: d.conversation_id.to_string(),
            name: d.name.clone(),
            url: d.url.clone(),
            source: d.source.as_str(),
            format: d.format.as_str(),
            compression: d.compression.as_str(),
            status: d.status.as_str(),
            error_message: d.error_message.clone(),
            row_count: d.row_count,
            column_count: d.column_count,
            schema_json: d.schema_json.clone(),
            column_descriptions: d.column_descriptions.clone(),
            file_size_bytes: d.file_size_bytes,
            created_at: d.created_at.to_string(),
            loaded_at: d.loaded_at.map(|t| t.to_string()),
        }
    }
}

#[derive(Serialize)]
pub(super) struct ConversationDetailDto {
    id: String,
    title: String,
    created_at: String,
    updated_at: String,
    is_pinned: bool,
    share_token: Option<String>,
    shared_at: Option<String>,
    messages: Vec<MessageDto>,
    datasets: Vec<DatasetDto>,
}

impl From<&ConversationDetail> for ConversationDetailDto {
    fn from(d: &ConversationDetail) -> Self {
        let c = &d.conversation;
        Self {
            id: c.id.to_string(),
            title: c.title.clone(),
            created_at: c.created_at.to_string(),
            updated_at: c.updated_at.to_string(),
            is_pinned: c.is_pinned,
            share_token: c.share_token.clone(),
            shared_at: c.shared_at.map(|t| t.to_string()),
            messages: d.messages.iter().map(MessageDto::from).collect(),
            datasets: d.datasets.iter().map(DatasetDto::from).collect(),
        }
    }
}
