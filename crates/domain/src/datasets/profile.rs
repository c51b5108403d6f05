//! Profiles (docs/api.md, "Datasets") and preview sampling (docs/api.md, "Datasets"), written as SQL over the first
//! rows of a dataset and run through the query engine with its limits.

use serde_json::Value;
use tabletalk_ports::{Dataset, QueryColumn, QueryEngine, QueryOutput, RowLimits, UserId};

use super::errors::DatasetError;
use super::service::{DatasetSettings, round, run_on};
use super::tables::schema_columns;

/// Profile's answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Profiles {
    pub profiles: Vec<ColumnProfile>,
    pub sampled_rows: u64,
}

/// One column over the sampled rows. Values taken from the data (`min`, `max`, lengths) are result cells, `null`
/// when the sample has none.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnProfile {
    pub name: String,
    pub sql_type: String,
    pub null_count: u64,
    /// Of the sampled rows, one decimal.
    pub null_percent: f64,
    /// Not counted for nested columns.
    pub unique_count: Option<u64>,
    pub detail: ProfileDetail,
}

/// What a column's kind adds to its profile.
#[derive(Debug, Clone, PartialEq)]
pub enum ProfileDetail {
    Numeric {
        min: Value,
        max: Value,
        /// Two decimals.
        mean: Option<f64>,
    },
    Text {
        min_length: Value,
        max_length: Value,
    },
    Temporal {
        min: Value,
        max: Value,
    },
    Plain,
}

/// One column's statistics in depth.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnStatistics {
    pub null_count: u64,
    /// Not counted for nested columns.
    pub distinct_count: Option<u64>,
    pub detail: StatisticsDetail,
}

/// What a column's kind adds to its statistics.
#[derive(Debug, Clone, PartialEq)]
pub enum StatisticsDetail {
    Numeric {
        min: Value,
        max: Value,
        /// Four decimals.
        mean: Option<f64>,
        median: Value,
        /// Equal-width bins from `min` to `max` (empty when they are not finite numbers).
        histogram: Vec<HistogramBin>,
    },
    Text {
        min_length: Value,
        max_length: Value,
        /// The five most frequent values with their counts, most frequent first.
        top_values: Vec<(Value, Value)>,
    },
    /// `min` and `max` as text.
    Temporal {
        min: Value,
        max: Value,
    },
    Plain,
}

/// Values in `[lower, upper)` (the last bin includes `upper`).
#[derive(Debug, Clone, PartialEq)]
pub struct HistogramBin {
    pub lower: f64,
    pub upper: f64,
    pub count: u64,
}

/// At most this many bins; a whole-number column with a smaller range gets one bin per value.
const HISTOGRAM_BINS: u32 = 10;

fn mean(value: &Value, places: i32) -> Option<f64> {
    (!value.is_null()).then(|| round(number(value), places))
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
        let column_kind = kind(&column.sql_type);
        let unique_count = (column_kind != Kind::Nested).then(|| integer(&next()));
        let detail = match column_kind {
            Kind::Numeric => ProfileDetail::Numeric {
                min: next(),
                max: next(),
                mean: mean(&next(), 2),
            },
            Kind::Text => ProfileDetail::Text {
                min_length: next(),
                max_length: next(),
            },
            Kind::Temporal => ProfileDetail::Temporal {
                min: next(),
                max: next(),
            },
            Kind::Nested | Kind::Other => ProfileDetail::Plain,
        };
        profiles.push(ColumnProfile {
            name: column.name.clone(),
            sql_type: column.sql_type.clone(),
            null_count: nulls,
            null_percent: percent,
            unique_count,
            detail,
        });
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
) -> Result<(ColumnStatistics, u64), DatasetError> {
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
    let null_count = sampled.saturating_sub(integer(&cell(&output, 1)));
    let distinct_count = (column_kind != Kind::Nested).then(|| integer(&cell(&output, 2)));
    let detail = match column_kind {
        Kind::Numeric => {
            let (min, max) = (cell(&output, 3), cell(&output, 4));
            let histogram = match (finite(&min), finite(&max)) {
                (Some(low), Some(high)) => {
                    let bins = Bins::new(low, high, whole_numbers(&column.sql_type));
                    histogram(engine, owner, dataset, settings, &c, &from, &bins).await?
                }
                _ => Vec::new(),
            };
            StatisticsDetail::Numeric {
                min,
                max,
                mean: mean(&cell(&output, 5), 4),
                median: cell(&output, 6),
                histogram,
            }
        }
        Kind::Text => {
            let top = format!(
                "SELECT {c} AS value, count(*) AS count FROM {from} WHERE {c} IS NOT NULL GROUP BY {c} ORDER BY count \
                 DESC, value ASC LIMIT 5"
            );
            let values = run_on(engine, owner, dataset, settings, &top, AGGREGATE_LIMITS).await?;
            StatisticsDetail::Text {
                min_length: cell(&output, 3),
                max_length: cell(&output, 4),
                top_values: values
                    .rows
                    .iter()
                    .map(|r| {
                        (
                            r.first().cloned().unwrap_or(Value::Null),
                            r.get(1).cloned().unwrap_or(Value::Null),
                        )
                    })
                    .collect(),
            }
        }
        Kind::Temporal => StatisticsDetail::Temporal {
            min: cell(&output, 3),
            max: cell(&output, 4),
        },
        Kind::Nested | Kind::Other => StatisticsDetail::Plain,
    };
    let stats = ColumnStatistics {
        null_count,
        distinct_count,
        detail,
    };
    Ok((stats, sampled))
}

/// A finite number from a result cell (decimals may come as text).
fn finite(value: &Value) -> Option<f64> {
    value
        .as_f64()
        .or_else(|| value.as_str().and_then(|s| s.parse().ok()))
        .filter(|v: &f64| v.is_finite())
}

fn whole_numbers(sql_type: &str) -> bool {
    let t = sql_type.to_uppercase();
    ["INT", "BIGINT", "SMALLINT", "TINYINT"]
        .iter()
        .any(|n| t.starts_with(n))
}

/// Equal-width bins over `[low, high]`.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Bins {
    low: f64,
    width: f64,
    count: u32,
}

impl Bins {
    fn new(low: f64, high: f64, whole_numbers: bool) -> Self {
        let range = high - low;
        if range <= 0.0 || !range.is_finite() {
            return Self {
                low,
                width: 0.0,
                count: 1,
            };
        }
        if whole_numbers && range < f64::from(HISTOGRAM_BINS) {
            #[allow(
                clippy::cast_possible_truncation,
                clippy::cast_sign_loss,
                reason = "a whole range below 10"
            )]
            let count = range as u32 + 1;
            return Self {
                low,
                width: 1.0,
                count,
            };
        }
        Self {
            low,
            width: range / f64::from(HISTOGRAM_BINS),
            count: HISTOGRAM_BINS,
        }
    }

    /// The bins with the counts found per bin index (missing indexes are empty bins).
    fn filled(&self, counts: &[(u64, u64)]) -> Vec<HistogramBin> {
        (0..self.count)
            .map(|i| {
                let lower = self.low + self.width * f64::from(i);
                let upper = if self.width == 0.0 {
                    self.low
                } else {
                    self.low + self.width * f64::from(i + 1)
                };
                let count = counts
                    .iter()
                    .filter(|(bin, _)| *bin == u64::from(i))
                    .map(|(_, n)| n)
                    .sum();
                HistogramBin {
                    lower,
                    upper,
                    count,
                }
            })
            .collect()
    }
}

/// Counts the sampled values of column `c` per bin, in one grouped query.
async fn histogram(
    engine: &dyn QueryEngine,
    owner: UserId,
    dataset: &Dataset,
    settings: &DatasetSettings,
    c: &str,
    from: &str,
    bins: &Bins,
) -> Result<Vec<HistogramBin>, DatasetError> {
    let last = bins.count - 1;
    // Literals as Rust's shortest round-trip text (`-350.0`, `30.7`, `1e300`), which the SQL parser reads back
    // exactly; a zero width puts every value in the one bin.
    let bin = if bins.width == 0.0 {
        "CAST(0 AS BIGINT)".to_owned()
    } else {
        format!(
            "least(greatest(CAST(floor((CAST({c} AS DOUBLE) - ({:?})) / ({:?})) AS BIGINT), 0), {last})",
            bins.low, bins.width
        )
    };
    let sql = format!(
        "SELECT {bin} AS bin, count(*) AS n FROM {from} WHERE {c} IS NOT NULL AND NOT isnan(CAST({c} AS DOUBLE)) \
         GROUP BY 1 ORDER BY 1"
    );
    let output = run_on(engine, owner, dataset, settings, &sql, AGGREGATE_LIMITS).await?;
    let counts: Vec<(u64, u64)> = output
        .rows
        .iter()
        .map(|r| {
            (
                integer(r.first().unwrap_or(&Value::Null)),
                integer(r.get(1).unwrap_or(&Value::Null)),
            )
        })
        .collect();
    Ok(bins.filled(&counts))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bins_cover_the_range_and_whole_numbers_get_one_bin_per_value() {
        let tenths = Bins::new(0.0, 5.0, false);
        assert_eq!((tenths.count, tenths.width), (10, 0.5));
        let values = Bins::new(3.0, 7.0, true);
        assert_eq!((values.count, values.width), (5, 1.0));
        let filled = values.filled(&[(0, 2), (4, 1)]);
        assert_eq!(
            filled
                .iter()
                .map(|b| (b.lower, b.count))
                .collect::<Vec<_>>(),
            [(3.0, 2), (4.0, 0), (5.0, 0), (6.0, 0), (7.0, 1)]
        );
        let one = Bins::new(4.0, 4.0, true).filled(&[(0, 9)]);
        assert_eq!(
            one,
            [HistogramBin {
                lower: 4.0,
                upper: 4.0,
                count: 9
            }]
        );
    }
}
