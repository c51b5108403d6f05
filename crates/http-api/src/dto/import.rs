//! Reading an import body (docs/api.md, "Import"): chatDF's shape and our own export, checked field by field with
//! the messages chatDF's client knows. Anything that does not fit is a 422 naming the field; nothing is stored.

use std::collections::BTreeMap;

use serde_json::{Map, Value};
use tabletalk_domain::transfer::{ImportedConversation, ImportedDataset, ImportedMessage};
use tabletalk_ports::{ExecutionOutcome, ExecutionResult, MessageRole, SqlExecution, Timestamp};

use crate::ApiError;

const MAX_MESSAGES: usize = 1_000;
const MAX_DATASETS: usize = 50;
const MAX_CONTENT_CHARS: usize = 100_000;
/// Rows kept per execution, as for answers.
const MAX_ROWS: usize = 1_000;

fn refuse(field: &str, message: &str) -> ApiError {
    ApiError::validation(&[(field, message)])
}

/// The body as an import, or the first problem found.
pub(crate) fn read_import(body: Value) -> Result<ImportedConversation, ApiError> {
    let Value::Object(body) = body else {
        return Err(refuse("body", "body must be an object"));
    };
    let title = match body.get("title") {
        None | Some(Value::Null) => body
            .get("conversation")
            .and_then(|c| c.get("title"))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        Some(Value::String(title)) => title.clone(),
        Some(_) => return Err(refuse("title", "title must be a string")),
    };
    let messages = array(&body, "messages", MAX_MESSAGES)?
        .iter()
        .enumerate()
        .map(|(i, m)| read_message(i, m))
        .collect::<Result<_, _>>()?;
    let datasets = array(&body, "datasets", MAX_DATASETS)?
        .iter()
        .enumerate()
        .map(|(i, d)| read_dataset(i, d))
        .collect::<Result<_, _>>()?;
    Ok(ImportedConversation {
        title,
        messages,
        datasets,
    })
}

fn array<'a>(body: &'a Map<String, Value>, key: &str, max: usize) -> Result<&'a [Value], ApiError> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(&[]),
        Some(Value::Array(items)) if items.len() > max => Err(refuse(
            key,
            &format!("{key} array exceeds maximum of {max} items"),
        )),
        Some(Value::Array(items)) => Ok(items),
        Some(_) => Err(refuse(key, &format!("{key} must be an array"))),
    }
}

fn read_message(i: usize, value: &Value) -> Result<ImportedMessage, ApiError> {
    let field = |name: &str| format!("messages[{i}].{name}");
    let Value::Object(m) = value else {
        let at = format!("messages[{i}]");
        return Err(refuse(&at, &format!("{at} must be an object")));
    };
    let role = match m.get("role").and_then(Value::as_str) {
        Some("user") => MessageRole::User,
        Some("assistant") => MessageRole::Assistant,
        _ => {
            let at = field("role");
            return Err(refuse(&at, &format!("{at} must be 'user' or 'assistant'")));
        }
    };
    let Some(content) = m.get("content").and_then(Value::as_str) else {
        let at = field("content");
        return Err(refuse(&at, &format!("{at} must be a string")));
    };
    if content.chars().count() > MAX_CONTENT_CHARS {
        let at = field("content");
        return Err(refuse(
            &at,
            &format!("{at} must be at most {MAX_CONTENT_CHARS} characters"),
        ));
    }
    let created_at = m
        .get("created_at")
        .or_else(|| m.get("timestamp"))
        .and_then(Value::as_str)
        .and_then(Timestamp::parse_lenient);
    Ok(ImportedMessage {
        role,
        content: content.to_owned(),
        created_at,
        sql_executions: m.get("sql_query").map(executions).unwrap_or_default(),
        reasoning: m
            .get("reasoning")
            .and_then(Value::as_str)
            .map(str::to_owned),
    })
}

/// `sql_query`: the JSON-encoded array of executions our export and chatDF write (or the array itself); any other
/// value is one statement whose result was not recorded.
fn executions(value: &Value) -> Vec<SqlExecution> {
    match value {
        Value::Null => Vec::new(),
        Value::String(text) if text.trim().is_empty() => Vec::new(),
        Value::String(text) => match serde_json::from_str::<Value>(text) {
            Ok(Value::Array(items)) => items.iter().filter_map(execution).collect(),
            _ => vec![unrecorded(text.clone())],
        },
        Value::Array(items) => items.iter().filter_map(execution).collect(),
        other => vec![unrecorded(other.to_string())],
    }
}

const fn unrecorded(query: String) -> SqlExecution {
    SqlExecution {
        query,
        outcome: ExecutionOutcome::NotRecorded,
    }
}

/// One element of the executions array: a failed statement keeps its error, a whole result its rows (at most
/// 1,000), anything less only its statement.
fn execution(item: &Value) -> Option<SqlExecution> {
    let item = match item {
        Value::String(query) => return Some(unrecorded(query.clone())),
        Value::Object(item) => item,
        _ => return None,
    };
    let query = item.get("query")?.as_str()?.to_owned();
    if let Some(error) = item.get("error").and_then(Value::as_str) {
        return Some(SqlExecution {
            query,
            outcome: ExecutionOutcome::Failed {
                error: error.to_owned(),
            },
        });
    }
    let columns: Option<Vec<String>> = item.get("columns").and_then(|c| {
        c.as_array()?
            .iter()
            .map(|name| name.as_str().map(str::to_owned))
            .collect()
    });
    let rows: Option<Vec<Vec<Value>>> = item.get("rows").and_then(|r| {
        r.as_array()?
            .iter()
            .take(MAX_ROWS)
            .map(|row| row.as_array().cloned())
            .collect()
    });
    let outcome = match (columns, rows) {
        (Some(columns), Some(rows)) => ExecutionOutcome::Succeeded(ExecutionResult {
            total_rows: item
                .get("total_rows")
                .and_then(Value::as_u64)
                .unwrap_or(rows.len() as u64),
            execution_ms: item
                .get("execution_time_ms")
                .and_then(Value::as_f64)
                .unwrap_or(0.0),
            limit_applied: item
                .get("limit_applied")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            columns,
            rows,
        }),
        _ => ExecutionOutcome::NotRecorded,
    };
    Some(SqlExecution { query, outcome })
}

fn read_dataset(i: usize, value: &Value) -> Result<ImportedDataset, ApiError> {
    let Value::Object(d) = value else {
        let at = format!("datasets[{i}]");
        return Err(refuse(&at, &format!("{at} must be an object")));
    };
    let at = format!("datasets[{i}].url");
    let Some(url) = d.get("url").and_then(Value::as_str) else {
        return Err(refuse(
            &at,
            &format!("{at} is required and must be a string"),
        ));
    };
    let scheme_ok =
        url::Url::parse(url.trim()).is_ok_and(|u| matches!(u.scheme(), "http" | "https"));
    if !scheme_ok {
        return Err(refuse(&at, &format!("{at} must be an http or https URL")));
    }
    Ok(ImportedDataset {
        url: url.to_owned(),
        name: d.get("name").and_then(Value::as_str).map(str::to_owned),
        column_descriptions: descriptions(d.get("column_descriptions")),
    })
}

/// Column descriptions as an object or as its JSON text (our export writes text, as chatDF does); anything else
/// is none.
fn descriptions(value: Option<&Value>) -> BTreeMap<String, String> {
    let object = match value {
        Some(Value::Object(object)) => object.clone(),
        Some(Value::String(text)) => match serde_json::from_str(text) {
            Ok(Value::Object(object)) => object,
            _ => Map::new(),
        },
        _ => Map::new(),
    };
    object
        .into_iter()
        .filter_map(|(column, text)| Some((column, text.as_str()?.to_owned())))
        .collect()
}
