//! The Dataset object of api.md §1.5, shared by REST answers and WebSocket events so both say the same thing.

use serde_json::{Value, json};
use tabletalk_ports::Dataset;

/// api.md §1.5.
pub fn dataset_json(dataset: &Dataset) -> Value {
    json!({
        "id": dataset.id.to_string(),
        "conversation_id": dataset.conversation_id.to_string(),
        "name": dataset.name,
        "url": dataset.url,
        "source": dataset.source.as_str(),
        "format": dataset.format.as_str(),
        "compression": dataset.compression.as_str(),
        "status": dataset.status.as_str(),
        "error_message": dataset.error_message,
        "row_count": dataset.row_count,
        "column_count": dataset.column_count,
        "schema_json": dataset.schema_json,
        "column_descriptions": dataset.column_descriptions,
        "file_size_bytes": dataset.file_size_bytes,
        "created_at": dataset.created_at.to_string(),
        "loaded_at": dataset.loaded_at.map(|t| t.to_string()),
    })
}
