//! Refused statements worded for people: a [`SqlProblem`] (classified by the engine adapter) becomes
//! `<guidance>\n\nTechnical details: <engine message>`. The guidance names the conversation's own tables and
//! columns and the DataFusion spelling of functions people bring from other SQL dialects (docs/api.md, "SQL errors").

use std::fmt::Write as _;

use tabletalk_ports::SqlProblem;

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

fn squash(name: &str) -> String {
    name.chars()
        .filter(|c| !matches!(c, ' ' | '_' | '-'))
        .flat_map(char::to_lowercase)
        .collect()
}

fn columns_text(tables: &[TableColumns], qualifier: Option<&str>, candidates: &[String]) -> String {
    if tables.is_empty() {
        return candidates.join(", ");
    }
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

/// What to say about a column that does not exist: a quoting mistake when the name only differs in case or
/// spacing, a text value in double quotes, else the columns there are.
fn column_guidance(
    column: &str,
    qualifier: Option<&str>,
    suggestion: Option<&str>,
    candidates: &[String],
    sql: &str,
    tables: &[TableColumns],
) -> String {
    let all_columns = || tables.iter().flat_map(|t| t.columns.iter());
    if let Some(actual) = all_columns().find(|c| squash(c) == squash(column) && *c != column) {
        return format!(
            "Column names with capitals, spaces or symbols must be written in double quotes exactly as stored, e.g. \
             {}; unquoted names are folded to lower case.",
            sql_identifier(actual)
        );
    }
    if sql.contains(&format!("\"{column}\"")) && !all_columns().any(|c| c == column) {
        return format!(
            "Double quotes mark column names; text values take single quotes: '{column}'."
        );
    }
    let mut text = format!(
        "Column {} does not exist. Available columns: {}.",
        sql_identifier(column),
        columns_text(tables, qualifier, candidates)
    );
    if let Some(suggestion) = suggestion {
        let _ = write!(text, " Did you mean '{suggestion}'?");
    }
    text
}

fn function_guidance(name: &str, suggestion: Option<&str>) -> String {
    let lower = name.to_lowercase();
    if WINDOW_ONLY.contains(&lower.as_str()) {
        return "Window functions need an OVER (…) clause, e.g. ROW_NUMBER() OVER (PARTITION BY g ORDER BY v DESC)."
            .to_owned();
    }
    let mut text = format!("{name} is not a DataFusion function.");
    if let Some(suggestion) = suggestion {
        let _ = write!(text, " Did you mean '{suggestion}'?");
    }
    if let Some((_, replacement)) = FOREIGN_FUNCTIONS
        .iter()
        .find(|(names, _)| names.contains(&lower.as_str()))
    {
        let _ = write!(text, " Use {replacement} instead.");
    }
    text
}

fn syntax_guidance(found: Option<&str>, line: Option<u64>, column: Option<u64>) -> String {
    let position = match (line, column) {
        (Some(line), Some(column)) => format!(" (line {line}, column {column})"),
        (Some(line), None) => format!(" (line {line})"),
        _ => String::new(),
    };
    format!(
        "The SQL could not be parsed near {}{position}; check commas, parentheses and quotes; use LIMIT n, not TOP n; \
         text in single quotes.",
        found.map_or_else(|| "the end".to_owned(), |f| format!("'{f}'")),
    )
}

/// The guidance sentence for a refused statement (without the technical details).
pub fn guidance(problem: &SqlProblem, sql: &str, tables: &[TableColumns]) -> String {
    match problem {
        SqlProblem::Syntax {
            found,
            line,
            column,
        } => syntax_guidance(found.as_deref(), *line, *column),
        SqlProblem::Empty => "The query is empty; write one SELECT statement.".to_owned(),
        SqlProblem::UnknownColumn {
            qualifier,
            column,
            suggestion,
            candidates,
        } => column_guidance(
            column,
            qualifier.as_deref(),
            suggestion.as_deref(),
            candidates,
            sql,
            tables,
        ),
        SqlProblem::UnknownTable { table } => {
            let names: Vec<&str> = tables.iter().map(|t| t.name.as_str()).collect();
            format!(
                "Table {table} does not exist. Tables in this conversation: {}. Names are case-insensitive.",
                if names.is_empty() {
                    "none".to_owned()
                } else {
                    names.join(", ")
                }
            )
        }
        SqlProblem::AmbiguousColumn { column } => {
            format!("{column} exists in more than one joined table; qualify it, e.g. a.{column}.")
        }
        SqlProblem::UnknownFunction { name, suggestion } => {
            function_guidance(name, suggestion.as_deref())
        }
        SqlProblem::ArgumentTypes => "The function does not accept these argument types; cast explicitly, e.g. \
            CAST(x AS DOUBLE), x::DATE, CAST(x AS VARCHAR)."
            .to_owned(),
        SqlProblem::Arithmetic { temporal: true } => "Date arithmetic uses intervals: d + INTERVAL '7 days'; days \
            between: (to_unixtime(b) - to_unixtime(a)) / 86400."
            .to_owned(),
        SqlProblem::Arithmetic { temporal: false } => {
            "Arithmetic on text: CAST(col AS DOUBLE) (or TRY_CAST to turn bad values into NULL) first.".to_owned()
        }
        SqlProblem::IncomparableTypes => "The two sides have incompatible types; cast one side, compare timestamps \
            with TIMESTAMP '2024-01-01 00:00:00', dates with DATE '2024-01-01', booleans with true/false."
            .to_owned(),
        SqlProblem::InvalidCast {
            value: Some(value),
            target,
        } => {
            let target = target.as_deref().unwrap_or("the target type");
            format!("'{value}' is not a valid {target}; use TRY_CAST(col AS {target}) or filter the bad values out.")
        }
        SqlProblem::InvalidCast { value: None, .. } => "A value is not valid for the requested type; use \
            TRY_CAST(col AS <type>) or filter the bad values out."
            .to_owned(),
        SqlProblem::TemporalLiteral => "Write dates as 'YYYY-MM-DD', timestamps as 'YYYY-MM-DD HH:MM:SS', intervals \
            as INTERVAL '3 months'; parse other layouts with to_timestamp(s, '%d/%m/%Y %H:%M') (chrono format codes)."
            .to_owned(),
        SqlProblem::NotGrouped { expression } => format!(
            "Every selected expression that is not inside an aggregate must be in GROUP BY; add it or wrap it, e.g. \
             MAX({}).",
            expression.as_deref().unwrap_or("x")
        ),
        SqlProblem::AggregateInFilter => {
            "Filter on aggregates with HAVING after GROUP BY; filter rows with WHERE before it.".to_owned()
        }
        SqlProblem::DistinctOrderBy => {
            "With DISTINCT, ORDER BY may only use selected columns; select them too or use GROUP BY.".to_owned()
        }
        SqlProblem::DuplicateNames => "Two output columns have the same name; give each an alias with AS.".to_owned(),
        SqlProblem::SetOperationArity => "Both sides of UNION/INTERSECT/EXCEPT need the same number of columns in \
            the same order; prefer UNION ALL."
            .to_owned(),
        SqlProblem::DivideByZero => "Guard divisions: a / NULLIF(b, 0).".to_owned(),
        SqlProblem::Overflow => "Cast to BIGINT or DOUBLE before multiplying or summing large values.".to_owned(),
        SqlProblem::InvalidRegex => "Patterns use Rust regex syntax (no look-around, no backreferences).".to_owned(),
        SqlProblem::Unsupported => "DataFusion does not support this construct; rewrite with CTEs, CASE, window \
            functions or joins."
            .to_owned(),
        SqlProblem::Other => {
            "The query failed. Check table and column names (see the schema), quoting, and value types.".to_owned()
        }
    }
}

/// `<guidance>\n\nTechnical details: <raw>`.
pub fn translate(problem: &SqlProblem, raw: &str, sql: &str, tables: &[TableColumns]) -> String {
    format!(
        "{}\n\nTechnical details: {raw}",
        guidance(problem, sql, tables)
    )
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

    fn unknown_column(column: &str, suggestion: Option<&str>) -> SqlProblem {
        SqlProblem::UnknownColumn {
            qualifier: None,
            column: column.to_owned(),
            suggestion: suggestion.map(str::to_owned),
            candidates: vec!["sales.amount".to_owned()],
        }
    }

    #[test]
    fn each_problem_is_worded_with_the_conversations_own_names() {
        let t = tables();
        let cases: Vec<(SqlProblem, &str, &str)> = vec![
            (
                unknown_column("orderdate", None),
                "select orderdate from sales",
                "\"Order Date\"",
            ),
            (
                unknown_column("east", None),
                "select * from sales where region = \"east\"",
                "single quotes: 'east'",
            ),
            (
                unknown_column("price", Some("sales.region")),
                "select price from sales",
                "Available columns: sales: \"Order Date\", amount, region. Did you mean 'sales.region'?",
            ),
            (
                SqlProblem::UnknownTable {
                    table: "salez".to_owned(),
                },
                "",
                "Table salez does not exist. Tables in this conversation: sales",
            ),
            (
                SqlProblem::UnknownFunction {
                    name: "row_number".to_owned(),
                    suggestion: None,
                },
                "",
                "OVER (…)",
            ),
            (
                SqlProblem::UnknownFunction {
                    name: "datediff".to_owned(),
                    suggestion: Some("date_diff".to_owned()),
                },
                "",
                "Did you mean 'date_diff'? Use `(to_unixtime(b) - to_unixtime(a)) / 86400` instead.",
            ),
            (
                SqlProblem::Arithmetic { temporal: true },
                "",
                "INTERVAL '7 days'",
            ),
            (
                SqlProblem::Arithmetic { temporal: false },
                "",
                "CAST(col AS DOUBLE)",
            ),
            (
                SqlProblem::InvalidCast {
                    value: Some("abc".to_owned()),
                    target: Some("Int64".to_owned()),
                },
                "",
                "'abc' is not a valid Int64",
            ),
            (SqlProblem::DivideByZero, "", "NULLIF"),
            (
                SqlProblem::Syntax {
                    found: Some("10".to_owned()),
                    line: Some(1),
                    column: Some(12),
                },
                "",
                "near '10' (line 1, column 12)",
            ),
            (SqlProblem::DuplicateNames, "", "alias"),
            (SqlProblem::Other, "", "The query failed."),
        ];
        for (problem, sql, expected) in cases {
            let text = translate(&problem, "engine says no", sql, &t);
            assert!(text.contains(expected), "{problem:?} → {text}");
            assert!(text.ends_with("\n\nTechnical details: engine says no"));
        }
    }

    #[test]
    fn without_table_names_the_engines_candidates_are_listed() {
        let text = guidance(&unknown_column("x", None), "select x", &[]);
        assert_eq!(
            text,
            "Column x does not exist. Available columns: sales.amount."
        );
    }

    #[test]
    fn identifiers_are_quoted_unless_plain_lower_case() {
        assert_eq!(sql_identifier("amount_2"), "amount_2");
        assert_eq!(sql_identifier("Order Date"), "\"Order Date\"");
        assert_eq!(sql_identifier("say \"hi\""), "\"say \"\"hi\"\"\"");
    }
}
