//! DataFusion's refusals, classified into [`SqlProblem`]s: the typed error values first (schema errors, parser
//! errors, Arrow kernels' errors, "not implemented"), then the wording of planner messages that DataFusion only
//! gives as text. Everything that depends on how DataFusion phrases an error lives here, so a DataFusion upgrade
//! that changes a message fails this module's tests rather than a user-facing sentence.

use datafusion::arrow::error::ArrowError;
use datafusion::common::SchemaError;
use datafusion::error::DataFusionError;
use datafusion::sql::sqlparser::parser::ParserError;
use tabletalk_ports::SqlProblem;

/// What was wrong with the statement `error` refused.
pub(crate) fn classify(error: &DataFusionError) -> SqlProblem {
    let root = error.find_root();
    typed(root).unwrap_or_else(|| from_text(&error.to_string()))
}

/// A parse error of the statement text.
pub(crate) fn syntax(error: &DataFusionError) -> SqlProblem {
    match error.find_root() {
        DataFusionError::SQL(parser, _) => parser_problem(parser),
        other => syntax_from_text(&other.to_string()),
    }
}

fn typed(root: &DataFusionError) -> Option<SqlProblem> {
    match root {
        DataFusionError::SchemaError(schema, _) => match schema.as_ref() {
            SchemaError::FieldNotFound {
                field,
                valid_fields,
            } => Some(SqlProblem::UnknownColumn {
                qualifier: field.relation.as_ref().map(|r| r.table().to_owned()),
                column: field.name.clone(),
                suggestion: quoted_after(&schema.to_string(), "did you mean "),
                candidates: valid_fields
                    .iter()
                    .map(datafusion::prelude::Column::flat_name)
                    .collect(),
            }),
            SchemaError::AmbiguousReference { field } => Some(SqlProblem::AmbiguousColumn {
                column: field.name.clone(),
            }),
            SchemaError::DuplicateQualifiedField { .. }
            | SchemaError::DuplicateUnqualifiedField { .. } => Some(SqlProblem::DuplicateNames),
        },
        DataFusionError::SQL(parser, _) => Some(parser_problem(parser)),
        DataFusionError::NotImplemented(_) => Some(SqlProblem::Unsupported),
        DataFusionError::ArrowError(arrow, _) => arrow_problem(arrow),
        _ => None,
    }
}

fn arrow_problem(error: &ArrowError) -> Option<SqlProblem> {
    match error {
        ArrowError::DivideByZero => Some(SqlProblem::DivideByZero),
        ArrowError::ArithmeticOverflow(_) => Some(SqlProblem::Overflow),
        ArrowError::CastError(message) => Some(cast_problem(message)),
        ArrowError::ParseError(message) if is_temporal(message) => {
            Some(SqlProblem::TemporalLiteral)
        }
        _ => None,
    }
}

fn parser_problem(error: &ParserError) -> SqlProblem {
    match error {
        ParserError::ParserError(text) | ParserError::TokenizerError(text) => {
            syntax_from_text(text)
        }
        ParserError::RecursionLimitExceeded => SqlProblem::Syntax {
            found: None,
            line: None,
            column: None,
        },
    }
}

/// `… found: <token> at Line: <l>, Column: <c>`.
fn syntax_from_text(text: &str) -> SqlProblem {
    let found = after(text, "found: ")
        .map(|rest| {
            let token = rest.split([',', ')', '"']).next().unwrap_or_default();
            let end = token.to_lowercase().find(" at line").unwrap_or(token.len());
            token[..end].trim().to_owned()
        })
        .filter(|f| !f.is_empty());
    let number = |rest: &str| -> Option<u64> {
        rest.chars()
            .take_while(char::is_ascii_digit)
            .collect::<String>()
            .parse()
            .ok()
    };
    let line_rest = after(text, "line: ");
    SqlProblem::Syntax {
        found,
        line: line_rest.and_then(number),
        column: line_rest
            .and_then(|rest| after(rest, "column: "))
            .and_then(number),
    }
}

/// `Cannot cast string 'abc' to value of Int64 type`.
fn cast_problem(message: &str) -> SqlProblem {
    let Some(rest) = after(message, "cannot cast string ") else {
        return SqlProblem::InvalidCast {
            value: None,
            target: None,
        };
    };
    SqlProblem::InvalidCast {
        value: quoted(rest),
        target: after(rest, "to value of ")
            .and_then(|t| t.split_whitespace().next())
            .map(str::to_owned),
    }
}

/// Planner and execution messages DataFusion gives only as text, tested in order; the first match wins.
fn from_text(raw: &str) -> SqlProblem {
    let lower = raw.to_lowercase();
    if let Some(rest) = after(raw, "table '")
        && after(rest, "not found").is_some()
    {
        let name = rest.split('\'').next().unwrap_or_default();
        return SqlProblem::UnknownTable {
            table: name.rsplit('.').next().unwrap_or(name).to_owned(),
        };
    }
    if let Some(rest) = after(raw, "ambiguous reference to unqualified field ") {
        let column = rest.split_whitespace().next().unwrap_or_default();
        return SqlProblem::AmbiguousColumn {
            column: column.trim_matches(['"', '.']).to_owned(),
        };
    }
    if let Some(name) = after(raw, "invalid function ").and_then(quoted) {
        return SqlProblem::UnknownFunction {
            name,
            suggestion: quoted_after(raw, "did you mean "),
        };
    }
    if contains_any(
        &lower,
        &[
            "no function matches the given name and argument types",
            "failed to coerce arguments to satisfy a call to",
            "failed to match any signature",
            "coercion failed",
        ],
    ) {
        return SqlProblem::ArgumentTypes;
    }
    if let Some(rest) = after(raw, "cannot coerce arithmetic expression") {
        let expression = rest.lines().next().unwrap_or_default();
        let numeric = contains_any(
            &expression.to_lowercase(),
            &["int", "float", "decimal", "double"],
        );
        return SqlProblem::Arithmetic {
            temporal: is_temporal(expression) && numeric,
        };
    }
    if contains_any(
        &lower,
        &[
            "cannot get result type for temporal operation",
            "invalid date arithmetic operation",
        ],
    ) {
        return SqlProblem::Arithmetic { temporal: true };
    }
    if lower.contains("cannot infer common argument type for comparison operation") {
        return SqlProblem::IncomparableTypes;
    }
    if lower.contains("cannot cast string ") || lower.contains("cast error") {
        return cast_problem(raw);
    }
    if contains_any(
        &lower,
        &[
            "error parsing timestamp from",
            "invalid input syntax for type interval",
            "error parsing date",
        ],
    ) {
        return SqlProblem::TemporalLiteral;
    }
    other_from_text(raw, &lower)
}

fn other_from_text(raw: &str, lower: &str) -> SqlProblem {
    if contains_any(
        lower,
        &[
            "projection references non-aggregate values",
            "must appear in the group by clause",
        ],
    ) {
        // "column "t.x" must appear in the GROUP BY clause" or "… Expression t.x could not be resolved …".
        let named = after(raw, "column \"")
            .and_then(|r| r.split('"').next())
            .or_else(|| after(raw, "expression ").and_then(|r| r.split_whitespace().next()));
        return SqlProblem::NotGrouped {
            expression: named
                .map(|e| e.trim_matches(['"', '.', ',']).to_owned())
                .filter(|e| !e.is_empty()),
        };
    }
    if contains_any(
        lower,
        &[
            "aggregate functions are not allowed in the where clause",
            "having clause references non-aggregate values",
        ],
    ) {
        return SqlProblem::AggregateInFilter;
    }
    let table: &[(&[&str], SqlProblem)] = &[
        (
            &["for select distinct, order by expressions"],
            SqlProblem::DistinctOrderBy,
        ),
        (
            &["projections require unique expression names"],
            SqlProblem::DuplicateNames,
        ),
        (
            &["queries have different number of columns"],
            SqlProblem::SetOperationArity,
        ),
        (&["divide by zero"], SqlProblem::DivideByZero),
        (
            &["arithmetic overflow", "overflow happened"],
            SqlProblem::Overflow,
        ),
        (
            &["regular expression did not compile", "regex parse error"],
            SqlProblem::InvalidRegex,
        ),
        (
            &["this feature is not implemented"],
            SqlProblem::Unsupported,
        ),
    ];
    if let Some((_, problem)) = table
        .iter()
        .find(|(needles, _)| contains_any(lower, needles))
    {
        return problem.clone();
    }
    if lower.contains("parsererror") {
        return syntax_from_text(raw);
    }
    SqlProblem::Other
}

fn contains_any(lower: &str, needles: &[&str]) -> bool {
    needles.iter().any(|n| lower.contains(n))
}

fn is_temporal(text: &str) -> bool {
    contains_any(&text.to_lowercase(), &["date", "time", "interval"])
}

/// The text after `marker` (ASCII case-insensitive) in `raw`.
fn after<'a>(raw: &'a str, marker: &str) -> Option<&'a str> {
    let position = raw
        .to_ascii_lowercase()
        .find(&marker.to_ascii_lowercase())?;
    Some(&raw[position + marker.len()..])
}

/// A quoted token `'x'` right at the start of `text`.
fn quoted(text: &str) -> Option<String> {
    let rest = text.trim_start().strip_prefix('\'')?;
    Some(rest.split('\'').next()?.to_owned())
}

fn quoted_after(raw: &str, marker: &str) -> Option<String> {
    after(raw, marker).and_then(quoted)
}
