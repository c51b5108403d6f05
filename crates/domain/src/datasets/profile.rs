//! Profiles (docs/api.md, "Datasets") and preview sampling (docs/api.md, "Datasets"), written as SQL over the first
//! rows of a dataset and run through the query engine with its limits.

use serde_json::{Map, Value, json};
use tabletalk_ports::{Dataset, QueryColumn, QueryEngine, QueryOutput, RowLimits, UserId};

use super::errors::DatasetError;
use super::service::{DatasetSettings, round, run_on};
use super::tables::schema_columns;

/// Profile's answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Profiles {
    pub profiles: Vec<Value>,
    pub sampled_rows: u64,
}

/// Preview's parameters, validated by the caller.
#[derive(Debug, Clone, PartialEq)]
pub struct PreviewRequest {
    pub sample_size: u64,
    pub random_sample: bool,
    pub method: String,
    pub sample_column: Option<String>,
    pub sample_percentage: f64,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Numeric,
    Text,
    Temporal,
    Nested,
    Other,
}

fn kind(sql_type: &str) -> Kind {
    let t = sql_type.to_uppercase();
    if t.ends_with("[]") || t.starts_with("STRUCT") || t.starts_with("MAP") {
        Kind::Nested
    } else if [
        "INT", "BIGINT", "SMALLINT", "TINYINT", "REAL", "DOUBLE", "DECIMAL",
    ]
    .iter()
    .any(|n| t.starts_with(n))
    {
        Kind::Numeric
    } else if t == "VARCHAR" {
        Kind::Text
    } else if t.starts_with("DATE") || t.starts_with("TIME") {
        Kind::Temporal
    } else {
        Kind::Other
    }
}

fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn sample_from(dataset: &Dataset, rows: u64) -> String {
    format!(
        "(SELECT * FROM {} LIMIT {rows}) AS sample",
        quote(&dataset.name.to_lowercase())
    )
}

const AGGREGATE_LIMITS: RowLimits = RowLimits {
    auto_limit: 10,
    kept_rows: 10,
    file_order: true,
};

fn cell(output: &QueryOutput, index: usize) -> Value {
    output
        .rows
        .first()
        .and_then(|r| r.get(index))
        .cloned()
        .unwrap_or(Value::Null)
}

fn number(value: &Value) -> f64 {
    value
        .as_f64()
        .or_else(|| value.as_str().and_then(|s| s.parse().ok()))
        .unwrap_or(0.0)
}

fn integer(value: &Value) -> u64 {
    value
        .as_u64()
        .or_else(|| value.as_str().and_then(|s| s.parse().ok()))
        .unwrap_or(0)
}

/// Profile and the automatic profile.
pub async fn profile(
    engine: &dyn QueryEngine,
    owner: UserId,
    dataset: &Dataset,
    settings: &DatasetSettings,
) -> Result<Profiles, DatasetError> {
    let columns = schema_columns(dataset);
    let mut select = vec!["count(*)".to_owned()];
    for column in &columns {
        let c = quote(&column.name);
        select.push(format!("count({c})"));
        match kind(&column.sql_type) {
            Kind::Nested => {}
            _ => select.push(format!("count(DISTINCT {c})")),
        }
        match kind(&column.sql_type) {
            Kind::Numeric => {
                select.push(format!("min({c})"));
                select.push(format!("max({c})"));
                select.push(format!("avg(CAST({c} AS DOUBLE))"));
            }
            Kind::Text => {
                select.push(format!("min(character_length({c}))"));
                select.push(format!("max(character_length({c}))"));
            }
            Kind::Temporal => {
                select.push(format!("min({c})"));
                select.push(format!("max({c})"));
            }
            Kind::Nested | Kind::Other => {}
        }
    }
    let sql = format!(
        "SELECT {} FROM {}",
        select.join(", "),
        sample_from(dataset, settings.profile_sample_rows)
    );
    let output = run_on(engine, owner, dataset, settings, &sql, AGGREGATE_LIMITS).await?;
    let sampled = integer(&cell(&output, 0));
    let mut index = 1;
    let mut next = || {
        let value = cell(&output, index);
        index += 1;
        value
    };
    let mut profiles = Vec::new();
    for column in &columns {
        let non_null = integer(&next());
        let nulls = sampled.saturating_sub(non_null);
        #[allow(clippy::cast_precision_loss, reason = "row counts are far below 2^52")]
        let percent = if sampled == 0 {
            0.0
        } else {
            round(100.0 * nulls as f64 / sampled as f64, 1)
        };
        let mut object = Map::new();
        object.insert("name".into(), json!(column.name));
        object.insert("type".into(), json!(column.sql_type));
        object.insert("null_count".into(), json!(nulls));
        object.insert("null_percent".into(), json!(percent));
        let column_kind = kind(&column.sql_type);
        let unique = if column_kind == Kind::Nested {
            Value::Null
        } else {
            json!(integer(&next()))
        };
        object.insert("unique_count".into(), unique);
        match column_kind {
            Kind::Numeric => {
                object.insert("min".into(), next());
                object.insert("max".into(), next());
                let mean = next();
                object.insert(
                    "mean".into(),
                    if mean.is_null() {
                        mean
                    } else {
                        json!(round(number(&mean), 2))
                    },
                );
            }
            Kind::Text => {
                object.insert("min_length".into(), next());
                object.insert("max_length".into(), next());
            }
            Kind::Temporal => {
                object.insert("min".into(), next());
                object.insert("max".into(), next());
            }
            Kind::Nested | Kind::Other => {}
        }
        profiles.push(Value::Object(object));
    }
    Ok(Profiles {
        profiles,
        sampled_rows: sampled,
    })
}

fn find_column<'a>(
    columns: &'a [QueryColumn],
    name: &str,
) -> Result<&'a QueryColumn, DatasetError> {
    columns
        .iter()
        .find(|c| c.name == name)
        .ok_or_else(|| DatasetError::ColumnNotFound(name.to_owned()))
}

/// Profile one column.
pub async fn profile_column(
    engine: &dyn QueryEngine,
    owner: UserId,
    dataset: &Dataset,
    settings: &DatasetSettings,
    name: &str,
) -> Result<(Map<String, Value>, u64), DatasetError> {
    let columns = schema_columns(dataset);
    let column = find_column(&columns, name)?;
    let c = quote(&column.name);
    let from = sample_from(dataset, settings.profile_sample_rows);
    let column_kind = kind(&column.sql_type);
    let mut select = vec!["count(*)".to_owned(), format!("count({c})")];
    if column_kind != Kind::Nested {
        select.push(format!("count(DISTINCT {c})"));
    }
    match column_kind {
        Kind::Numeric => select.extend([
            format!("min({c})"),
            format!("max({c})"),
            format!("avg(CAST({c} AS DOUBLE))"),
            format!("median(CAST({c} AS DOUBLE))"),
        ]),
        Kind::Text => select.extend([
            format!("min(character_length({c}))"),
            format!("max(character_length({c}))"),
        ]),
        Kind::Temporal => select.extend([
            format!("CAST(min({c}) AS VARCHAR)"),
            format!("CAST(max({c}) AS VARCHAR)"),
        ]),
        Kind::Nested | Kind::Other => {}
    }
    let sql = format!("SELECT {} FROM {from}", select.join(", "));
    let output = run_on(engine, owner, dataset, settings, &sql, AGGREGATE_LIMITS).await?;
    let sampled = integer(&cell(&output, 0));
    let mut stats = Map::new();
    stats.insert(
        "null_count".into(),
        json!(sampled.saturating_sub(integer(&cell(&output, 1)))),
    );
    let distinct = if column_kind == Kind::Nested {
        Value::Null
    } else {
        json!(integer(&cell(&output, 2)))
    };
    stats.insert("distinct_count".into(), distinct);
    match column_kind {
        Kind::Numeric => {
            stats.insert("min".into(), cell(&output, 3));
            stats.insert("max".into(), cell(&output, 4));
            let mean = cell(&output, 5);
            stats.insert(
                "mean".into(),
                if mean.is_null() {
                    mean
                } else {
                    json!(round(number(&mean), 4))
                },
            );
            stats.insert("median".into(), cell(&output, 6));
        }
        Kind::Text => {
            stats.insert("min_length".into(), cell(&output, 3));
            stats.insert("max_length".into(), cell(&output, 4));
            let top = format!(
                "SELECT {c} AS value, count(*) AS count FROM {from} WHERE {c} IS NOT NULL GROUP BY {c} ORDER BY count \
                 DESC, value ASC LIMIT 5"
            );
            let output = run_on(engine, owner, dataset, settings, &top, AGGREGATE_LIMITS).await?;
            let values: Vec<Value> = output
                .rows
                .iter()
                .map(|r| json!({"value": r.first().cloned().unwrap_or(Value::Null), "count": r.get(1).cloned().unwrap_or(Value::Null)}))
                .collect();
            stats.insert("top_5_values".into(), Value::Array(values));
        }
        Kind::Temporal => {
            stats.insert("min".into(), cell(&output, 3));
            stats.insert("max".into(), cell(&output, 4));
        }
        Kind::Nested | Kind::Other => {}
    }
    Ok((stats, sampled))
}

/// Preview.
pub async fn preview(
    engine: &dyn QueryEngine,
    owner: UserId,
    dataset: &Dataset,
    settings: &DatasetSettings,
    request: &PreviewRequest,
) -> Result<QueryOutput, DatasetError> {
    let columns = schema_columns(dataset);
    let table = quote(&dataset.name.to_lowercase());
    let list = columns
        .iter()
        .map(|c| quote(&c.name))
        .collect::<Vec<_>>()
        .join(", ");
    let n = request.sample_size;
    let method = if request.random_sample && request.method == "head" {
        "random"
    } else {
        request.method.as_str()
    };
    let sql = match method {
        "head" => format!("SELECT * FROM {table} LIMIT {n}"),
        "tail" => {
            let skip = u64::try_from(dataset.row_count)
                .unwrap_or(0)
                .saturating_sub(n);
            format!("SELECT * FROM {table} LIMIT {n} OFFSET {skip}")
        }
        "random" => format!("SELECT * FROM {table} ORDER BY random() LIMIT {n}"),
        "percentage" => {
            #[allow(
                clippy::cast_precision_loss,
                clippy::cast_possible_truncation,
                clippy::cast_sign_loss,
                reason = "bounded to 1..=100"
            )]
            let k = (dataset.row_count as f64 * request.sample_percentage / 100.0)
                .round()
                .clamp(1.0, 100.0) as u64;
            format!("SELECT * FROM {table} ORDER BY random() LIMIT {k}")
        }
        "stratified" => {
            let name = request
                .sample_column
                .as_deref()
                .ok_or(DatasetError::SampleColumnRequired)?;
            let c = quote(&find_column(&columns, name)?.name);
            format!(
                "SELECT {list} FROM (SELECT {list}, __rank FROM (SELECT *, row_number() OVER (PARTITION BY {c} ORDER \
                 BY random()) AS __rank FROM {table}) AS ranked ORDER BY __rank, {c} NULLS FIRST LIMIT {n}) AS \
                 picked ORDER BY {c} NULLS FIRST, __rank"
            )
        }
        _ => {
            return Err(DatasetError::Validation {
                field: "sample_method",
                message: "must be one of head, tail, random, stratified, percentage".to_owned(),
            });
        }
    };
    let limits = RowLimits {
        auto_limit: 100,
        kept_rows: 100,
        file_order: matches!(method, "head" | "tail"),
    };
    run_on(engine, owner, dataset, settings, &sql, limits).await
}
