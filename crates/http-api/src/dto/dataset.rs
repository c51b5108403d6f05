//! The Dataset object.

use serde::Serialize;
use serde_json::Value;
use tabletalk_ports::{ColumnSchema, Dataset};

/// A column object: name, type, nullability, sample values and the statistics that are known.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct ColumnDto<'a> {
    name: &'a str,
    #[serde(rename = "type")]
    sql_type: &'a str,
    nullable: bool,
    sample_values: &'a [String],
    column_stats: StatsDto<'a>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
struct StatsDto<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    null_count: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    min: Option<&'a Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max: Option<&'a Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    unique_count: Option<i64>,
}

impl<'a> From<&'a ColumnSchema> for ColumnDto<'a> {
    fn from(c: &'a ColumnSchema) -> Self {
        Self {
            name: &c.name,
            sql_type: &c.sql_type,
            nullable: c.nullable,
            sample_values: &c.sample_values,
            column_stats: StatsDto {
                null_count: c.stats.null_count,
                min: c.stats.min.as_ref(),
                max: c.stats.max.as_ref(),
                unique_count: c.stats.unique_count,
            },
        }
    }
}

/// The column objects of a dataset.
pub(crate) fn columns(dataset: &Dataset) -> Vec<ColumnDto<'_>> {
    dataset.columns.iter().map(ColumnDto::from).collect()
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
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
            // Serialising plain data into a string cannot fail.
            schema_json: serde_json::to_string(&columns(d)).unwrap_or_default(),
            column_descriptions: serde_json::to_string(&d.column_descriptions).unwrap_or_default(),
            file_size_bytes: d.file_size_bytes,
            created_at: d.created_at.to_string(),
            loaded_at: d.loaded_at.map(|t| t.to_string()),
        }
    }
}
