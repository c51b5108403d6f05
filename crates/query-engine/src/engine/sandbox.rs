//! The first read-only barrier (behaviour.md §4.2 steps 1–2): exactly one statement, and it must be a query.
//! The second barrier is `SQLOptions` at planning time (see `run`).

use datafusion::sql::parser::{DFParser, Statement as DfStatement};
use datafusion::sql::sqlparser::ast::Statement;
use datafusion::sql::sqlparser::dialect::GenericDialect;
use tabletalk_ports::QueryError;

/// Checks `sql` before anything is planned.
pub(crate) fn check(sql: &str) -> Result<(), QueryError> {
    let statements =
        DFParser::parse_sql_with_dialect(sql, &GenericDialect {}).map_err(|e| QueryError::Sql {
            raw: format!("SQL error: {e}"),
        })?;
    match statements.len() {
        0 => Err(QueryError::Sql {
            raw: "SQL error: the query is empty".to_owned(),
        }),
        1 => match &statements[0] {
            DfStatement::Statement(statement) if matches!(**statement, Statement::Query(_)) => {
                Ok(())
            }
            _ => Err(QueryError::ReadOnlyViolation),
        },
        _ => Err(QueryError::MultipleStatements),
    }
}
