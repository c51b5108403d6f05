//! The system prompt (docs/api.md, "Chat") and the four tool declarations (docs/api.md, "Chat").

use std::fmt::Write as _;

use serde_json::{Value, json};
use tabletalk_ports::{ColumnSchema, Dataset, DatasetStatus, ToolDeclaration};

use crate::datasets::sql_identifier;

/// Columns listed per table before the rest is summarised.
const MAX_COLUMNS: usize = 300;

const ROLE: &str = "You are the data analyst inside Tabletalk. You answer questions about the user's tables by running \
SQL with the execute_sql tool. Be concise. Every number in your answer must come from a query result, never from a \
guess. Reply in the user's language.";

const DIALECT: &str = "## SQL dialect: Apache DataFusion (close to PostgreSQL), read-only
- Only SELECT and WITH … SELECT; one statement per execute_sql call.
- Unquoted identifiers are folded to lower case. Columns whose names contain capitals, spaces or symbols must be \
double-quoted exactly: \"Total Sales\". Text literals use single quotes; double quotes never mean text.
- ILIKE for case-insensitive matching (LIKE is case-sensitive). Regular expressions: ~, ~*, !~, regexp_like(s, 'p'), \
regexp_replace(s, 'p', 'r', 'g'), regexp_match; Rust regex syntax (no look-around, no backreferences).
- Strings: a || b (NULL if either side is NULL), concat(a, b, …) skips NULLs, concat_ws(sep, …), lower, upper, \
length/char_length, substr(s, start, len), left, right, trim/btrim/ltrim/rtrim, replace, split_part(s, delim, n), \
strpos(s, sub), starts_with, lpad, rpad, initcap, reverse, string_agg(s, ', ').
- Dates: DATE_TRUNC('month', ts) (returns a timestamp), date_part('year', ts), EXTRACT(YEAR FROM ts), \
ts + INTERVAL '7 days', INTERVAL '3 months', date_bin(INTERVAL '15 minutes', ts), now(), current_date(), \
to_timestamp(s[, format…]), to_date(s[, format…]), to_char(ts, '%Y-%m') with chrono format codes (%Y %m %d %H %M %S), \
not 'YYYY-MM'. to_unixtime(ts) gives epoch seconds: days between = (to_unixtime(b) - to_unixtime(a)) / 86400. \
A date plus a plain number is an error: use an INTERVAL. Compare with DATE '2024-01-01' or \
TIMESTAMP '2024-01-01 00:00:00'; BETWEEN works on dates.
- Casting: CAST(x AS DOUBLE), x::BIGINT, TRY_CAST(x AS INT) (NULL instead of an error). Types: BOOLEAN, INT, BIGINT, \
DOUBLE, REAL, DECIMAL(p,s), VARCHAR, DATE, TIMESTAMP, INTERVAL. No implicit cast from text to numbers in arithmetic.
- Integer division truncates (7 / 2 = 3): cast to DOUBLE for ratios and percentages; guard zero with NULLIF(b, 0).
- NULLs: COALESCE(a, b, c), NULLIF, IS [NOT] NULL, IS DISTINCT FROM; aggregates skip NULLs; COUNT(*) counts rows, \
COUNT(col) non-null values.
- Aggregates: count, sum, avg, min, max, median, stddev, var, corr, bool_and, bool_or, array_agg, count(DISTINCT x), \
and FILTER (WHERE …). Approximate: approx_distinct(x), approx_median(x), \
approx_percentile_cont(0.95) WITHIN GROUP (ORDER BY x).
- GROUP BY lists every non-aggregated selected expression; GROUP BY 1, 2 and ORDER BY 2 DESC work; filter aggregates \
with HAVING.
- Window functions: ROW_NUMBER, RANK, DENSE_RANK, NTILE, LAG, LEAD, FIRST_VALUE, LAST_VALUE and aggregates \
OVER (PARTITION BY … ORDER BY … ROWS BETWEEN …); top-N per group = ROW_NUMBER in a CTE, then WHERE rn <= N.
- UNION ALL (preferred), UNION, INTERSECT, EXCEPT; CTEs with WITH; ORDER BY … NULLS FIRST|LAST; LIMIT n OFFSET m \
(no TOP). Booleans are true/false, not 1/0.
- Nested data: col['field'] for struct fields, col[1] for list elements (1-based), unnest(col), array_length(col).";

const EXAMPLES: &str = "## Example patterns
- SELECT category, SUM(amount) AS total FROM sales GROUP BY category ORDER BY total DESC LIMIT 10
- SELECT DATE_TRUNC('month', order_date) AS month, COUNT(*) AS orders FROM sales GROUP BY 1 ORDER BY 1
- SELECT * FROM customers WHERE name ILIKE '%smith%' LIMIT 100
- WITH ranked AS (SELECT *, ROW_NUMBER() OVER (PARTITION BY region ORDER BY amount DESC) AS rn FROM sales) \
SELECT * FROM ranked WHERE rn <= 3
- SELECT region, SUM(amount) * 100.0 / SUM(SUM(amount)) OVER () AS share FROM sales GROUP BY region
- SELECT * FROM sales WHERE order_date BETWEEN DATE '2024-01-01' AND DATE '2024-01-01' + INTERVAL '1 month'
- SELECT CAST(SUM(returned) AS DOUBLE) / NULLIF(COUNT(*), 0) AS return_rate FROM orders
- SELECT COUNT(*) FILTER (WHERE status = 'open') AS open, COUNT(*) AS all_rows FROM tickets
- SELECT c.name, SUM(o.amount) FROM orders o JOIN customers c ON o.customer_id = c.id GROUP BY c.name LIMIT 20
- SELECT approx_percentile_cont(0.9) WITHIN GROUP (ORDER BY amount) FROM sales";

const PERFORMANCE: &str = "## Performance
Select only the columns you need (Parquet reads only those); filter before aggregating; start with LIMIT 100 when \
exploring; use ORDER BY + LIMIT for large groupings and approximate aggregates on large tables; prefer one query with \
joins over many small ones.";

const FAILURES: &str = "## When a query fails
Read the guidance in the error, fix the cause (a missing or mis-quoted column, a type mismatch, an unknown function, \
a timeout, memory) and retry with a corrected query. After the third failure, stop and explain the problem instead.";

const CHARTS: &str = "## Charts (create_chart)
Call it after a successful query whose result suits a picture: comparisons across categories → bar (horizontal_bar \
for long labels); trends over time → line; relationships → scatter; distributions → histogram or box; parts of a \
whole with at most 8 slices → pie; two categorical axes with a value → heatmap (z_column); values per US state or \
country → choropleth (location_column, location_type). Diverging colours for changes around zero; show_values for at \
most 15 bars. Not for a single number, one or two rows, an error, or when the user asked for a table only. The chart \
draws the latest successful query of the current answer; re-run a query from an earlier answer before charting it.";

const FOLLOWUPS: &str = "## Follow-ups (suggest_followups)
After a complete answer, offer 2–3 short, specific questions that build on it; not after only loading a dataset and \
not after an error.";

const NO_DATASETS: &str = "## No datasets yet
There are no tables yet. Explain that a dataset is needed: the user can add one in the dataset panel by URL or \
upload, or give you a URL to load with load_dataset.";

const LAST_LINE: &str = "When the user's message contains an http(s) URL of a data file (Parquet, CSV, TSV, NDJSON, \
optionally .gz) that is not loaded yet, call load_dataset with it before answering.";

/// Limits the rules section states.
#[derive(Debug, Clone)]
pub struct PromptLimits {
    pub auto_limit: u64,
    pub llm_rows: u64,
    pub max_returned_rows: u64,
    pub timeout_secs: u64,
    pub memory_text: String,
    pub max_datasets: u32,
    pub max_tool_calls: u32,
    pub max_sql_errors: u32,
}

fn column_hint(column: &ColumnSchema) -> String {
    let mut parts = Vec::new();
    let samples: Vec<&str> = column
        .sample_values
        .iter()
        .take(5)
        .map(String::as_str)
        .collect();
    if !samples.is_empty() {
        parts.push(format!("e.g. {}", samples.join(", ")));
    }
    let stats = &column.stats;
    if let (Some(min), Some(max)) = (&stats.min, &stats.max) {
        parts.push(format!("{min}..{max}").replace('"', ""));
    }
    if let Some(unique) = stats.unique_count {
        parts.push(format!("~{unique} distinct"));
    }
    if let Some(nulls) = stats.null_count {
        parts.push(format!("{nulls} nulls"));
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!(" ({})", parts.join("; "))
    }
}

/// The tables section (docs/api.md, "Chat"): ready datasets only.
pub fn tables_section(datasets: &[Dataset]) -> String {
    let ready: Vec<&Dataset> = datasets
        .iter()
        .filter(|d| d.status == DatasetStatus::Ready)
        .collect();
    let mut out = String::from("## Tables\n");
    let mut first_columns: Vec<(String, String)> = Vec::new();
    for (index, dataset) in ready.iter().enumerate() {
        let columns = &dataset.columns;
        let descriptions = &dataset.column_descriptions;
        let _ = writeln!(
            out,
            "\n### {} ({} rows, {} columns, {})",
            dataset.name,
            dataset.row_count,
            dataset.column_count,
            dataset.format.as_str()
        );
        for column in columns.iter().take(MAX_COLUMNS) {
            let name = column.name.as_str();
            let sql_type = column.sql_type.as_str();
            let identifier = sql_identifier(name);
            if index > 0
                && first_columns
                    .iter()
                    .any(|(n, t)| n == name && t == sql_type)
            {
                let _ = writeln!(
                    out,
                    "- {identifier} {sql_type}: same as {}.{identifier}",
                    ready[0].name
                );
                continue;
            }
            let description = descriptions
                .get(name)
                .map(|d| format!(" — {d}"))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "- {identifier} {sql_type}{description}{}",
                column_hint(column)
            );
        }
        if columns.len() > MAX_COLUMNS {
            let _ = writeln!(
                out,
                "… and {} more columns (run SELECT * FROM {} LIMIT 1 to see them all)",
                columns.len() - MAX_COLUMNS,
                dataset.name
            );
        }
        if index == 0 {
            first_columns = columns
                .iter()
                .map(|c| (c.name.clone(), c.sql_type.clone()))
                .collect();
        }
    }
    out
}

/// The whole system prompt, built fresh for every model call. `instructions` are those of the assistant the
/// conversation started from (`""`: none); they follow the rules, so the built-in rules keep their place.
pub fn system_prompt(datasets: &[Dataset], limits: &PromptLimits, instructions: &str) -> String {
    let any_ready = datasets.iter().any(|d| d.status == DatasetStatus::Ready);
    let rules = format!(
        "## Rules\nUse only the tables listed, with their names exactly as listed. When unsure of values, look at the \
         data first (SELECT … LIMIT 10). Always write a LIMIT (1,000 is a good default); results beyond {} rows are \
         cut. You are shown {} rows of a result while the user sees up to {} in a table. A query may run {} s and \
         use {}. At most {} datasets per conversation; at most {} tool calls and {} failed queries per answer; one \
         statement per execute_sql.",
        limits.auto_limit,
        limits.llm_rows,
        limits.max_returned_rows,
        limits.timeout_secs,
        limits.memory_text,
        limits.max_datasets,
        limits.max_tool_calls,
        limits.max_sql_errors
    );
    let mut sections = vec![
        ROLE.to_owned(),
        tables_section(datasets),
        rules,
        DIALECT.to_owned(),
        EXAMPLES.to_owned(),
    ];
    sections.extend([PERFORMANCE, FAILURES, CHARTS, FOLLOWUPS].map(str::to_owned));
    if !instructions.trim().is_empty() {
        sections.push(format!(
            "## Instructions for this conversation\n{}",
            instructions.trim()
        ));
    }
    if !any_ready {
        sections.push(NO_DATASETS.to_owned());
    }
    sections.push(LAST_LINE.to_owned());
    sections.join("\n\n")
}

fn declaration(name: &str, description: &str, parameters: &Value) -> ToolDeclaration {
    ToolDeclaration {
        name: name.to_owned(),
        description: description.to_owned(),
        parameters: parameters.to_string(),
    }
}

/// The four tools of docs/api.md, "Chat".
/// Every tool a turn can offer, in the order they are declared.
pub const TOOL_NAMES: [&str; 4] = [
    "execute_sql",
    "load_dataset",
    "create_chart",
    "suggest_followups",
];

/// The declarations of `tools` (names of [`TOOL_NAMES`]), in declaration order.
pub fn tool_declarations_for(tools: &[String]) -> Vec<ToolDeclaration> {
    tool_declarations()
        .into_iter()
        .filter(|d| tools.contains(&d.name))
        .collect()
}

pub fn tool_declarations() -> Vec<ToolDeclaration> {
    vec![
        declaration(
            "execute_sql",
            "Run one read-only DataFusion SQL query over this conversation's tables. Returns the columns, the total row \
             count and the first 20 rows.",
            &json!({"type": "object",
                "properties": {"query": {"type": "string", "description": "A single SELECT or WITH query in DataFusion SQL."}},
                "required": ["query"]}),
        ),
        declaration(
            "load_dataset",
            "Add a dataset to this conversation from an http(s) URL of a Parquet, CSV, TSV or NDJSON file (optionally \
             .gz). Returns the table name and columns.",
            &json!({"type": "object",
                "properties": {
                    "url": {"type": "string", "description": "http or https URL of the file."},
                    "name": {"type": "string", "description": "Optional table name: letters, digits and underscores, starting with a letter or underscore."}},
                "required": ["url"]}),
        ),
        declaration(
            "create_chart",
            "Ask the user's screen to draw an interactive chart of the latest successful query result of this answer.",
            &json!({"type": "object",
                "properties": {
                    "chart_type": {"type": "string", "enum": super::tools::CHART_TYPES},
                    "title": {"type": "string"},
                    "x_column": {"type": "string"},
                    "y_columns": {"type": "array", "items": {"type": "string"}},
                    "color_column": {"type": "string"},
                    "orientation": {"type": "string", "enum": ["vertical", "horizontal"]},
                    "aggregation": {"type": "string", "enum": ["none", "sum", "avg", "count", "min", "max"]},
                    "bar_mode": {"type": "string", "enum": ["group", "stack", "relative"]},
                    "color_scale": {"type": "string", "enum": ["default", "diverging", "sequential", "categorical"]},
                    "x_label": {"type": "string"},
                    "y_label": {"type": "string"},
                    "show_values": {"type": "boolean"},
                    "z_column": {"type": "string", "description": "Heatmap cell value."},
                    "location_column": {"type": "string", "description": "Choropleth location."},
                    "location_type": {"type": "string", "enum": ["state_name", "state_abbr", "country_name", "country_iso3"]}},
                "required": ["chart_type", "title"]}),
        ),
        declaration(
            "suggest_followups",
            "After a complete answer, offer 2 or 3 short follow-up questions the user might ask next.",
            &json!({"type": "object",
                "properties": {"suggestions": {"type": "array", "items": {"type": "string"}, "description": "2 or 3 questions, each at most 80 characters."}},
                "required": ["suggestions"]}),
        ),
    ]
}
