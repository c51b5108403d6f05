//! Conversation exports (docs/api.md, "Export"): the JSON file `POST /conversations/import` reads back unchanged,
//! and the self-contained HTML page.

use serde::Serialize;
use tabletalk_domain::ConversationDetail;
use tabletalk_ports::{DatasetSource, Timestamp};

use super::dataset::columns;
use super::message::executions_text;

/// The export format's name and version; an import reads any file with the same fields.
const FORMAT: &str = "tabletalk.conversation.v1";

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct ExportDto {
    format: &'static str,
    exported_at: String,
    /// Also at the top level so the file is an import body as it is.
    title: String,
    conversation: ExportedConversation,
    messages: Vec<ExportedMessage>,
    datasets: Vec<ExportedDataset>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
struct ExportedConversation {
    id: String,
    title: String,
    created_at: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
struct ExportedMessage {
    role: &'static str,
    content: String,
    created_at: String,
    sql_query: Option<String>,
    reasoning: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
struct ExportedDataset {
    name: String,
    url: String,
    row_count: i64,
    column_count: i64,
    schema_json: String,
    column_descriptions: String,
}

impl ExportDto {
    pub(crate) fn new(detail: &ConversationDetail, now: Timestamp) -> Self {
        let c = &detail.conversation;
        Self {
            format: FORMAT,
            exported_at: now.to_string(),
            title: c.title.clone(),
            conversation: ExportedConversation {
                id: c.id.to_string(),
                title: c.title.clone(),
                created_at: c.created_at.to_string(),
            },
            messages: detail
                .messages
                .iter()
                .map(|m| ExportedMessage {
                    role: m.role.as_str(),
                    content: m.content.clone(),
                    created_at: m.created_at.to_string(),
                    sql_query: executions_text(&m.sql_executions),
                    reasoning: m.reasoning.clone(),
                })
                .collect(),
            // Uploaded files are not part of an export; only URL datasets can be loaded again.
            datasets: detail
                .datasets
                .iter()
                .filter(|d| d.source == DatasetSource::Url)
                .map(|d| ExportedDataset {
                    name: d.name.clone(),
                    url: d.url.clone(),
                    row_count: d.row_count,
                    column_count: d.column_count,
                    schema_json: serde_json::to_string(&columns(d)).unwrap_or_default(),
                    column_descriptions: serde_json::to_string(&d.column_descriptions)
                        .unwrap_or_default(),
                })
                .collect(),
        }
    }
}
