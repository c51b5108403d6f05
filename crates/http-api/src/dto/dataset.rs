//! The Dataset object.

use serde::Serialize;
use tabletalk_ports::Dataset;

#[derive(Debug, Serialize)]
pub(crate) struct DatasetDto {
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
    /// A JSON-encoded string, as chatDF sends it.
    schema_json: String,
    /// A JSON-encoded string, as chatDF sends it.
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
