//! The first read-only barrier: exactly one statement, and it must be a query (`SELECT` or `WITH … SELECT`).
//! The second barrier is `SQLOptions` at planning time (see `run`).

use std::collections::HashSet;

use datafusion::sql::parser::{DFParser, Statement as DfStatement};
use datafusion::sql::resolve::resolve_table_references;
use datafusion::sql::sqlparser::ast::Statement;
use datafusion::sql::sqlparser::dialect::GenericDialect;
use tabletalk_ports::{CanonicalSql, QueryError, SqlProblem};

use super::sql_problems;

/// Functions whose result changes between calls: such queries are never served from the result cache.
const VOLATILE: &[&str] = &[
    "random",
    "now",
    "uuid",
    "current_date",
    "current_time",
    "current_timestamp",
    "localtime",
    "localtimestamp",
    "today",
];

/// The single query statement of `sql`.
fn parse(sql: &str) -> Result<Statement, QueryError> {
    let mut statements =
        DFParser::parse_sql_with_dialect(sql, &GenericDialect {}).map_err(|e| QueryError::Sql {
            problem: Box::new(sql_problems::syntax(&e)),
            raw: format!("SQL error: {e}"),
        })?;
    match statements.len() {
        0 => Err(QueryError::Sql {
            problem: Box::new(SqlProblem::Empty),
            raw: "SQL error: the query is empty".to_owned(),
        }),
        1 => match statements.pop_front() {
            Some(DfStatement::Statement(statement))
                if matches!(*statement, Statement::Query(_)) =>
            {
                Ok(*statement)
            }
            _ => Err(QueryError::ReadOnlyViolation),
        },
        _ => Err(QueryError::MultipleStatements),
    }
}

/// Checks `sql` before anything is planned, and gives the names of the tables it reads, lower-cased — by their
/// table part and as written whole (`schema.table`), in any letter case, CTE names excluded — or `None` when they
/// cannot be resolved here (then the caller keeps every table and DataFusion reports the problem as it always
/// does). Naming more tables than needed only costs time.
pub(crate) fn check_and_name_tables(sql: &str) -> Result<Option<HashSet<String>>, QueryError> {
    let statement = DfStatement::Statement(Box::new(parse(sql)?));
    let Ok((references, _ctes)) = resolve_table_references(&statement, true) else {
        return Ok(None);
    };
    Ok(Some(
        references
            .iter()
            .flat_map(|reference| {
                [
                    reference.table().to_lowercase(),
                    reference.to_string().to_lowercase(),
                ]
            })
            .collect(),
    ))
}

/// The statement printed back by the parser (canonical spacing, no comments) and whether it is volatile.
pub(crate) fn canonical(sql: &str) -> Result<CanonicalSql, QueryError> {
    let text = parse(sql)?.to_string();
    let lower = text.to_lowercase();
    let volatile = lower
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .any(|word| VOLATILE.contains(&word));
    Ok(CanonicalSql { text, volatile })
}
