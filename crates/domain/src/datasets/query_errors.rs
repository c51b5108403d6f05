//! Error translation (behaviour.md §4.6): an engine message becomes `<guidance>\n\nTechnical details: <raw>`.
//! Patterns are tested case-insensitively in the table's order; the first match wins.

use std::fmt::Write as _;

/// A table of the conversation as the guidance names it.
#[derive(Debug, Clone)]
pub struct TableColumns {
    pub name: String,
    pub columns: Vec<String>,
}

const WINDOW_ONLY: &[&str] = &[
    "row_number",
    "rank",
    "dense_rank",
    "percent_rank",
    "cume_dist",
    "ntile",
    "lag",
    "lead",
    "first_value",
    "last_value",
    "nth_value",
];

const FOREIGN_FUNCTIONS: &[(&[&str], &str)] = &[
    (&["len"], "`length(s)` or `char_length(s)`"),
    (&["datediff"], "`(to_unixtime(b) - to_unixtime(a)) / 86400`"),
    (&["dateadd", "date_add"], "`ts + INTERVAL '7 days'`"),
    (&["strftime", "format_date"], "`to_char(ts, '%Y-%m')`"),
    (&["str_to_date", "parse_date"], "`to_date(s, '%d/%m/%Y')`"),
    (
        &["year", "month", "day"],
        "`date_part('year', ts)` or `EXTRACT(YEAR FROM ts)`",
    ),
    (&["getdate", "sysdate"], "`now()`"),
    (&["ifnull", "isnull", "nvl2"], "`coalesce(a, b)`"),
    (&["group_concat", "listagg"], "`string_agg(x, ', ')`"),
    (&["charindex", "instr", "locate"], "`strpos(s, sub)`"),
    (
        &["percentile", "quantile"],
        "`approx_percentile_cont(0.9) WITHIN GROUP (ORDER BY x)`",
    ),
    (&["stdev"], "`stddev(x)`"),
    (&["lcase"], "`lower(s)`"),
    (&["ucase"], "`upper(s)`"),
    (&["rlike", "regexp"], "`regexp_like(s, 'p')` or `s ~ 'p'`"),
];

/// A column name as it must be written in SQL.
pub fn sql_identifier(name: &str) -> String {
    if !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && !name.starts_with(|c: char| c.is_ascii_digit())
    {
        name.to_owned()
    } else {
        format!("\"{}\"", name.replace('"', "\"\""))
    }
}

/// The text after `marker` (case-insensitive) in `raw`, if present.
fn after<'a>(raw: &'a str, marker: &str) -> Option<&'a str> {
    let position = raw.to_lowercase().find(&marker.to_lowercase())?;
    Some(&raw[position + marker.len()..])
}

/// A quoted token `'x'` right at the start of `text`.
fn quoted(text: &str) -> Option<String> {
    let text = text.trim_start();
    let rest = text.strip_prefix('\'')?;
    Some(rest.split('\'').next()?.to_owned())
}

/// `Did you mean 'x'?` when the engine offered one.
fn did_you_mean(raw: &str) -> Option<String> {
    after(raw, "did you mean ").and_then(quoted)
}

fn squash(name: &str) -> String {
    name.chars()
        .filter(|c| !matches!(c, ' ' | '_' | '-'))
        .flat_map(char::to_lowercase)
        .collect()
}

/// The field named in `No field named <x>`: (qualifier, column).
fn missing_field(raw: &str) -> Option<(Option<String>, String)> {
    let rest = after(raw, "no field named ")?;
    let end = rest
        .find(". ")
        .or_else(|| rest.find('\n'))
        .unwrap_or(rest.len());
    let token = rest[..end].trim().trim_end_matches('.');
    let (qualifier, column) = match token.rsplit_once('.') {
        Some((q, c)) if !token.starts_with('"') || q.ends_with('"') => {
            (Some(q.trim_matches('"').to_owned()), c)
        }
        _ => (None, token),
    };
    Some((qualifier, column.trim_matches('"').to_owned()))
}

fn columns_text(tables: &[TableColumns], qualifier: Option<&str>) -> String {
    let chosen: Vec<&TableColumns> = match qualifier {
        Some(q) if tables.iter().any(|t| t.name.eq_ignore_ascii_case(q)) => tables
            .iter()
            .filter(|t| t.name.eq_ignore_ascii_case(q))
            .collect(),
        _ => tables.iter().collect(),
    };
    chosen
        .iter()
        .map(|t| {
            let columns: Vec<String> = t.columns.iter().map(|c| sql_identifier(c)).collect();
            format!("{}: {}", t.name, columns.join(", "))
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn field_guidance(raw: &str, sql: &str, tables: &[TableColumns]) -> Option<String> {
    let (qualifier, field) = missing_field(raw)?;
    let all_columns = || tables.iter().flat_map(|t| t.columns.iter());
    if let Some(actual) = all_columns().find(|c| squash(c) == squash(&field) && *c != &field) {
        return Some(format!(
            "Column names with capitals, spaces or symbols must be written in double quotes exactly as stored, e.g. \
             {}; unquoted names are folded to lower case.",
            sql_identifier(actual)
        ));
    }
    if sql.contains(&format!("\"{field}\"")) && !all_columns().any(|c| c == &field) {
        return Some(format!(
            "Double quotes mark column names; text values take single quotes: '{field}'."
        ));
    }
    let mut text = format!(
        "Column {} does not exist. Available columns: {}.",
        sql_identifier(&field),
        columns_text(tables, qualifier.as_deref())
    );
    if let Some(suggestion) = did_you_mean(raw) {
        let _ = write!(text, " Did you mean '{suggestion}'?");
    }
    Some(text)
}

fn function_guidance(raw: &str) -> Option<String> {
    let name = after(raw, "invalid function ").and_then(quoted)?;
    let lower = name.to_lowercase();
    if WINDOW_ONLY.contains(&lower.as_str()) {
        return Some(
            "Window functions need an OVER (…) clause, e.g. ROW_NUMBER() OVER (PARTITION BY g ORDER BY v DESC)."
                .to_owned(),
        );
    }
    let mut text = format!("{name} is not a DataFusion function.");
    if let Some(suggestion) = did_you_mean(raw) {
        let _ = write!(text, " Did you mean '{suggestion}'?");
    }
    if let Some((_, replacement)) = FOREIGN_FUNCTIONS
        .iter()
        .find(|(names, _)| names.contains(&lower.as_str()))
    {
        let _ = write!(text, " Use {replacement} instead.");
    }
    Some(text)
}

fn parser_guidance(raw: &str) -> String {
    let found = after(raw, "found: ")
        .map(|rest| {
            let token = rest.split([',', ')', '"']).next().unwrap_or_default();
            let lower = token.to_lowercase();
            token[..lower.find(" at line").unwrap_or(token.len())]
                .trim()
                .to_owned()
        })
        .filter(|f| !f.is_empty());
    let position = after(raw, "line: ").map(|rest| {
        let line: String = rest.chars().take_while(char::is_ascii_digit).collect();
        let column: String = after(rest, "column: ")
            .map(|c| c.chars().take_while(char::is_ascii_digit).collect())
            .unwrap_or_default();
        format!(" (line {line}, column {column})")
    });
    format!(
        "The SQL could not be parsed near {}{}; check commas, parentheses and quotes; use LIMIT n, not TOP n; text in \
         single quotes.",
        found.map_or_else(|| "the end".to_owned(), |f| format!("'{f}'")),
        position.unwrap_or_default()
    )
}

fn contains_any(lower: &str, needles: &[&str]) -> bool {
    needles.iter().any(|n| lower.contains(n))
}

fn is_temporal_word(text: &str) -> bool {
    contains_any(&text.to_lowercase(), &["date", "time", "interval"])
}

/// The guidance sentence for an engine message (without the technical details).
pub fn guidance(raw: &str, sql: &str, tables: &[TableColumns]) -> String {
    let lower = raw.to_lowercase();
    if contains_any(
        &lower,
        &[
            "ddl not supported",
            "dml not supported",
            "statement not supported",
        ],
    ) {
        return "Tabletalk is read-only; only SELECT / WITH … SELECT is allowed.".to_owned();
    }
    if lower.contains("no field named")
        && let Some(text) = field_guidance(raw, sql, tables)
    {
        return text;
    }
    if let Some(rest) = after(raw, "table '") {
        let name = rest.split('\'').next().unwrap_or_default();
        if after(rest, "not found").is_some() {
            let short = name.rsplit('.').next().unwrap_or(name);
            let names: Vec<&str> = tables.iter().map(|t| t.name.as_str()).collect();
            return format!(
                "Table {short} does not exist. Tables in this conversation: {}. Names are case-insensitive.",
                if names.is_empty() {
                    "none".to_owned()
                } else {
                    names.join(", ")
                }
            );
        }
    }
    if let Some(rest) = after(raw, "ambiguous reference to unqualified field ") {
        let field = rest
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .trim_matches(['"', '.']);
        return format!(
            "{field} exists in more than one joined table; qualify it, e.g. a.{field}."
        );
    }
    if lower.contains("invalid function")
        && let Some(text) = function_guidance(raw)
    {
        return text;
    }
    type_guidance(raw, &lower).unwrap_or_else(|| other_guidance(raw, &lower))
}

/// Rows 10–15: argument types, arithmetic, comparisons, casts and date literals.
fn type_guidance(raw: &str, lower: &str) -> Option<String> {
    if contains_any(
        lower,
        &[
            "no function matches the given name and argument types",
            "failed to coerce arguments to satisfy a call to",
            "failed to match any signature",
            "coercion failed",
        ],
    ) {
        return Some("The function does not accept these argument types; cast explicitly, e.g. CAST(x AS DOUBLE), \
                x::DATE, CAST(x AS VARCHAR)."
            .to_owned());
    }
    if let Some(rest) = after(raw, "cannot coerce arithmetic expression") {
        let expression = rest.lines().next().unwrap_or_default();
        let numeric = contains_any(
            &expression.to_lowercase(),
            &["int", "float", "decimal", "double"],
        );
        if is_temporal_word(expression) && numeric {
            return Some(
                "Date arithmetic uses intervals: d + INTERVAL '7 days'; days between: \
                    (to_unixtime(b) - to_unixtime(a)) / 86400."
                    .to_owned(),
            );
        }
        return Some("Arithmetic on text: CAST(col AS DOUBLE) (or TRY_CAST to turn bad values into NULL) first.".to_owned());
    }
    if lower.contains("cannot infer common argument type for comparison operation") {
        return Some("The two sides have incompatible types; cast one side, compare timestamps with TIMESTAMP \
                '2024-01-01 00:00:00', dates with DATE '2024-01-01', booleans with true/false."
            .to_owned());
    }
    if let Some(rest) = after(raw, "cannot cast string ") {
        let value = quoted(rest).unwrap_or_default();
        let target = after(rest, "to value of ")
            .and_then(|t| t.split_whitespace().next())
            .unwrap_or("the target type")
            .to_owned();
        return Some(format!(
            "'{value}' is not a valid {target}; use TRY_CAST(col AS {target}) or filter the bad values out."
        ));
    }
    if lower.contains("cast error") {
        return Some("A value is not valid for the requested type; use TRY_CAST(col AS <type>) or filter the bad values out."
            .to_owned());
    }
    if contains_any(
        lower,
        &[
            "error parsing timestamp from",
            "invalid input syntax for type interval",
            "error parsing date",
        ],
    ) {
        return Some("Write dates as 'YYYY-MM-DD', timestamps as 'YYYY-MM-DD HH:MM:SS', intervals as INTERVAL '3 months'; \
                parse other layouts with to_timestamp(s, '%d/%m/%Y %H:%M') (chrono format codes)."
            .to_owned());
    }
    None
}

/// Rows 16–25 and the fallback.
fn other_guidance(raw: &str, lower: &str) -> String {
    if contains_any(
        lower,
        &[
            "projection references non-aggregate values",
            "must appear in the group by clause",
        ],
    ) {
        let column = after(raw, "expression ")
            .and_then(|r| r.split_whitespace().next())
            .unwrap_or("x")
            .trim_matches(['"', '.', ','])
            .to_owned();
        return format!(
            "Every selected expression that is not inside an aggregate must be in GROUP BY; add it or wrap it, e.g. \
             MAX({column})."
        );
    }
    if contains_any(
        lower,
        &[
            "aggregate functions are not allowed in the where clause",
            "having clause references non-aggregate values",
        ],
    ) {
        return "Filter on aggregates with HAVING after GROUP BY; filter rows with WHERE before it.".to_owned();
    }
    if lower.contains("for select distinct, order by expressions") {
        return "With DISTINCT, ORDER BY may only use selected columns; select them too or use GROUP BY.".to_owned();
    }
    if lower.contains("projections require unique expression names") {
        return "Two output columns have the same name; give each an alias with AS.".to_owned();
    }
    if lower.contains("queries have different number of columns") {
        return "Both sides of UNION/INTERSECT/EXCEPT need the same number of columns in the same order; prefer UNION \
                ALL."
            .to_owned();
    }
    if lower.contains("divide by zero") {
        return "Guard divisions: a / NULLIF(b, 0).".to_owned();
    }
    if contains_any(lower, &["arithmetic overflow", "overflow happened"]) {
        return "Cast to BIGINT or DOUBLE before multiplying or summing large values.".to_owned();
    }
    if lower.contains("sql error: parsererror") || lower.contains("parsererror(") {
        return parser_guidance(raw);
    }
    if contains_any(
        lower,
        &["regular expression did not compile", "regex parse error"],
    ) {
        return "Patterns use Rust regex syntax (no look-around, no backreferences).".to_owned();
    }
    if lower.contains("this feature is not implemented") {
        return "DataFusion does not support this construct; rewrite with CTEs, CASE, window functions or joins."
            .to_owned();
    }
    "The query failed. Check table and column names (see the schema), quoting, and value types."
        .to_owned()
}

/// `<guidance>\n\nTechnical details: <raw>`.
pub fn translate(raw: &str, sql: &str, tables: &[TableColumns]) -> String {
    format!("{}\n\nTechnical details: {raw}", guidance(raw, sql, tables))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tables() -> Vec<TableColumns> {
        vec![TableColumns {
            name: "sales".to_owned(),
            columns: vec![
                "Order Date".to_owned(),
                "amount".to_owned(),
                "region".to_owned(),
            ],
        }]
    }

    #[test]
    fn patterns_pick_their_guidance_in_order() {
        let t = tables();
        let cases: &[(&str, &str, &str)] = &[
            (
                "Schema error: No field named orderdate. Valid fields are sales.\"Order Date\".",
                "select orderdate from sales",
                "\"Order Date\"",
            ),
            (
                "Schema error: No field named \"east\".",
                "select * from sales where region = \"east\"",
                "single quotes: 'east'",
            ),
            (
                "Schema error: No field named sales.price. Did you mean 'sales.region'?",
                "select price from sales",
                "Available columns: sales: \"Order Date\", amount, region",
            ),
            (
                "Error during planning: table 'datafusion.public.salez' not found",
                "",
                "Table salez does not exist. Tables in this conversation: sales",
            ),
            (
                "Error during planning: Invalid function 'row_number'.",
                "",
                "OVER (…)",
            ),
            (
                "Error during planning: Invalid function 'datediff'.\nDid you mean 'date_diff'?",
                "",
                "to_unixtime",
            ),
            (
                "Cannot coerce arithmetic expression Date32 + Int64 to valid types",
                "",
                "INTERVAL '7 days'",
            ),
            (
                "Cannot coerce arithmetic expression Utf8 * Int64 to valid types",
                "",
                "CAST(col AS DOUBLE)",
            ),
            (
                "Arrow error: Cast error: Cannot cast string 'abc' to value of Int64 type",
                "",
                "'abc' is not a valid Int64",
            ),
            ("Arrow error: Divide by zero error", "", "NULLIF"),
            (
                "SQL error: ParserError(\"Expected: end of statement, found: 10 at Line: 1, Column: 12\")",
                "",
                "near '10' (line 1, column 12)",
            ),
            (
                "Error during planning: Projections require unique expression names",
                "",
                "alias",
            ),
            ("something else entirely", "", "The query failed."),
        ];
        for (raw, sql, expected) in cases {
            let text = translate(raw, sql, &t);
            assert!(text.contains(expected), "{raw} → {text}");
            assert!(text.ends_with(&format!("Technical details: {raw}")));
        }
    }

    #[test]
    fn identifiers_are_quoted_unless_plain_lower_case() {
        assert_eq!(sql_identifier("amount_2"), "amount_2");
        assert_eq!(sql_identifier("Order Date"), "\"Order Date\"");
        assert_eq!(sql_identifier("say \"hi\""), "\"say \"\"hi\"\"\"");
    }
}
