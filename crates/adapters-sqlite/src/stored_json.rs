//! The JSON documents kept in text columns (`messages.sql_query`, `messages.tool_call_trace`,
//! `datasets.schema_json`, `datasets.column_descriptions`), read and written here only: records carry typed
//! values, and a document that does not read back is reported as corrupt rather than silently becoming empty. The
//! shapes are the ones docs/api.md shows for messages and datasets, so rows written by earlier versions read
//! unchanged.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tabletalk_ports::{
    AssistantDataset, ColumnSchema, ColumnStats, ExecutionOutcome, ExecutionResult,
    RepositoryError, SqlExecution, TraceStep,
};

use crate::rows::corrupt;

#[derive(Serialize, Deserialize)]
struct StoredExecution {
    query: String,
    #[serde(default)]
    columns: Option<Vec<String>>,
    #[serde(default)]
    rows: Option<Vec<Vec<Value>>>,
    #[serde(default)]
    total_rows: Option<u64>,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    execution_time_ms: Option<f64>,
    #[serde(default)]
    limit_applied: bool,
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum StoredStep {
    Text {
        content: String,
    },
    Reasoning {
        content: String,
    },
    ToolCall {
        tool: String,
        #[serde(default)]
        args: Value,
        #[serde(default)]
        result: String,
    },
}

impl From<&SqlExecution> for StoredExecution {
    fn from(execution: &SqlExecution) -> Self {
        let query = execution.query.clone();
        match &execution.outcome {
            ExecutionOutcome::Succeeded(result) => Self {
                query,
                columns: Some(result.columns.clone()),
                rows: Some(result.rows.clone()),
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
                error: Some(error.clone()),
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

impl TryFrom<StoredExecution> for SqlExecution {
    type Error = String;

    /// A failed execution has its error; a successful one must have its whole result; an imported statement
    /// without its result has neither.
    fn try_from(stored: StoredExecution) -> Result<Self, String> {
        let outcome = match (stored.error, stored.columns, stored.rows, stored.total_rows) {
            (Some(error), ..) => ExecutionOutcome::Failed { error },
            (None, Some(columns), Some(rows), Some(total_rows)) => {
                ExecutionOutcome::Succeeded(ExecutionResult {
                    columns,
                    rows,
                    total_rows,
                    execution_ms: stored.execution_time_ms.ok_or("no execution_time_ms")?,
                    limit_applied: stored.limit_applied,
                })
            }
            (None, None, None, None) => ExecutionOutcome::NotRecorded,
            _ => return Err("an execution has part of a result".to_owned()),
        };
        Ok(Self {
            query: stored.query,
            outcome,
        })
    }
}

impl From<&TraceStep> for StoredStep {
    fn from(step: &TraceStep) -> Self {
        match step {
            TraceStep::Text(content) => Self::Text {
                content: content.clone(),
            },
            TraceStep::Reasoning(content) => Self::Reasoning {
                content: content.clone(),
            },
            TraceStep::ToolCall { tool, args, result } => Self::ToolCall {
                tool: tool.clone(),
                args: args.clone(),
                result: result.clone(),
            },
        }
    }
}

impl TryFrom<StoredStep> for TraceStep {
    type Error = String;

    fn try_from(step: StoredStep) -> Result<Self, String> {
        Ok(match step {
            StoredStep::Text { content } => Self::Text(content),
            StoredStep::Reasoning { content } => Self::Reasoning(content),
            StoredStep::ToolCall { tool, args, result } => Self::ToolCall { tool, args, result },
        })
    }
}

/// `None` for no executions (the column stays NULL, as for user messages).
pub(crate) fn executions_text(
    executions: &[SqlExecution],
) -> Result<Option<String>, RepositoryError> {
    write(
        &executions
            .iter()
            .map(StoredExecution::from)
            .collect::<Vec<_>>(),
    )
}

pub(crate) fn trace_text(trace: &[TraceStep]) -> Result<Option<String>, RepositoryError> {
    write(&trace.iter().map(StoredStep::from).collect::<Vec<_>>())
}

fn write<S: Serialize>(stored: &[S]) -> Result<Option<String>, RepositoryError> {
    if stored.is_empty() {
        return Ok(None);
    }
    serde_json::to_string(stored)
        .map(Some)
        .map_err(|e| RepositoryError::Other(Box::new(e)))
}

pub(crate) fn executions(text: Option<&str>) -> Result<Vec<SqlExecution>, RepositoryError> {
    read::<StoredExecution, SqlExecution>(text, "messages.sql_query")
}

pub(crate) fn trace(text: Option<&str>) -> Result<Vec<TraceStep>, RepositoryError> {
    read::<StoredStep, TraceStep>(text, "messages.tool_call_trace")
}

fn read<S: for<'de> Deserialize<'de>, T: TryFrom<S, Error = String>>(
    text: Option<&str>,
    column: &str,
) -> Result<Vec<T>, RepositoryError> {
    let Some(text) = text else {
        return Ok(Vec::new());
    };
    let stored: Vec<S> =
        serde_json::from_str(text).map_err(|e| corrupt(format!("{column}: {e}")))?;
    stored
        .into_iter()
        .map(|s| T::try_from(s).map_err(|reason| corrupt(format!("{column}: {reason}"))))
        .collect()
}

#[derive(Serialize, Deserialize)]
struct StoredColumn {
    name: String,
    #[serde(rename = "type")]
    sql_type: String,
    #[serde(default = "yes")]
    nullable: bool,
    #[serde(default)]
    sample_values: Vec<String>,
    #[serde(default)]
    column_stats: StoredStats,
}

const fn yes() -> bool {
    true
}

#[derive(Serialize, Deserialize, Default)]
struct StoredStats {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    null_count: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    min: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    max: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    unique_count: Option<i64>,
}

impl From<&ColumnSchema> for StoredColumn {
    fn from(column: &ColumnSchema) -> Self {
        Self {
            name: column.name.clone(),
            sql_type: column.sql_type.clone(),
            nullable: column.nullable,
            sample_values: column.sample_values.clone(),
            column_stats: StoredStats {
                null_count: column.stats.null_count,
                min: column.stats.min.clone(),
                max: column.stats.max.clone(),
                unique_count: column.stats.unique_count,
            },
        }
    }
}

impl TryFrom<StoredColumn> for ColumnSchema {
    type Error = String;

    fn try_from(stored: StoredColumn) -> Result<Self, String> {
        let stats = stored.column_stats;
        Ok(Self {
            name: stored.name,
            sql_type: stored.sql_type,
            nullable: stored.nullable,
            sample_values: stored.sample_values,
            stats: ColumnStats {
                null_count: stats.null_count,
                // A JSON null is "not known", like a missing key.
                min: stats.min.filter(|v| !v.is_null()),
                max: stats.max.filter(|v| !v.is_null()),
                unique_count: stats.unique_count,
            },
        })
    }
}

pub(crate) fn columns_text(columns: &[ColumnSchema]) -> Result<String, RepositoryError> {
    let stored: Vec<StoredColumn> = columns.iter().map(StoredColumn::from).collect();
    serde_json::to_string(&stored).map_err(|e| RepositoryError::Other(Box::new(e)))
}

pub(crate) fn columns(text: &str) -> Result<Vec<ColumnSchema>, RepositoryError> {
    read::<StoredColumn, ColumnSchema>(Some(text), "datasets.schema_json")
}

pub(crate) fn descriptions_text(
    descriptions: &BTreeMap<String, String>,
) -> Result<String, RepositoryError> {
    serde_json::to_string(descriptions).map_err(|e| RepositoryError::Other(Box::new(e)))
}

pub(crate) fn descriptions(text: &str) -> Result<BTreeMap<String, String>, RepositoryError> {
    serde_json::from_str(text).map_err(|e| corrupt(format!("datasets.column_descriptions: {e}")))
}

/// Tool names (`assistants.tools`, `conversations.assistant_tools`): a JSON array, `NULL` for "no restriction".
pub(crate) fn tool_names_text(tools: Option<&[String]>) -> Result<Option<String>, RepositoryError> {
    tools
        .map(serde_json::to_string)
        .transpose()
        .map_err(|e| RepositoryError::Other(Box::new(e)))
}

pub(crate) fn tool_names(
    text: Option<&str>,
    column: &str,
) -> Result<Option<Vec<String>>, RepositoryError> {
    text.map(|t| serde_json::from_str(t).map_err(|e| corrupt(format!("{column}: {e}"))))
        .transpose()
}

#[derive(Serialize, Deserialize)]
struct StoredAssistantDataset {
    url: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    column_descriptions: BTreeMap<String, String>,
}

/// `assistants.datasets`: a JSON array of `{url, name, column_descriptions}`.
pub(crate) fn assistant_datasets_text(
    datasets: &[AssistantDataset],
) -> Result<String, RepositoryError> {
    let stored: Vec<StoredAssistantDataset> = datasets
        .iter()
        .map(|d| StoredAssistantDataset {
            url: d.url.clone(),
            name: d.name.clone(),
            column_descriptions: d.column_descriptions.clone(),
        })
        .collect();
    serde_json::to_string(&stored).map_err(|e| RepositoryError::Other(Box::new(e)))
}

pub(crate) fn assistant_datasets(text: &str) -> Result<Vec<AssistantDataset>, RepositoryError> {
    let stored: Vec<StoredAssistantDataset> =
        serde_json::from_str(text).map_err(|e| corrupt(format!("assistants.datasets: {e}")))?;
    Ok(stored
        .into_iter()
        .map(|d| AssistantDataset {
            url: d.url,
            name: d.name,
            column_descriptions: d.column_descriptions,
        })
        .collect())
}
