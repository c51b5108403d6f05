//! A query engine that answers from a script keyed by SQL text, and records what it was asked.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;

use super::lock;

use crate::{
    CanonicalSql, QueryEngine, QueryError, QueryOutput, QueryOwner, QueryTable, RowLimits,
};

/// What the engine was asked to run.
#[derive(Debug, Clone, PartialEq)]
pub struct EngineCall {
    pub owner: QueryOwner,
    pub tables: Vec<String>,
    pub sql: String,
}

/// Answers each SQL text with what [`ScriptedEngine::answer`] set for it; unknown SQL is refused like a statement
/// the engine cannot plan.
#[derive(Debug, Default)]
pub struct ScriptedEngine {
    answers: Mutex<HashMap<String, Result<QueryOutput, QueryError>>>,
    calls: Mutex<Vec<EngineCall>>,
}

impl ScriptedEngine {
    /// From now on, `sql` answers `outcome`.
    pub fn answer(&self, sql: &str, outcome: Result<QueryOutput, QueryError>) -> &Self {
        lock(&self.answers).insert(sql.to_owned(), outcome);
        self
    }

    /// Every call, in order.
    pub fn calls(&self) -> Vec<EngineCall> {
        lock(&self.calls).clone()
    }
}

/// A one-column result with the given integers.
pub fn integer_output(column: &str, values: &[i64]) -> QueryOutput {
    QueryOutput {
        columns: vec![crate::QueryColumn {
            name: column.to_owned(),
            sql_type: "BIGINT".to_owned(),
        }],
        rows: values.iter().map(|v| vec![serde_json::json!(v)]).collect(),
        total_rows: values.len() as u64,
        limit_applied: false,
        execution_ms: 1.0,
    }
}

#[async_trait]
impl QueryEngine for ScriptedEngine {
    async fn run(
        &self,
        owner: QueryOwner,
        tables: &[QueryTable],
        sql: &str,
        _limits: RowLimits,
    ) -> Result<QueryOutput, QueryError> {
        lock(&self.calls).push(EngineCall {
            owner,
            tables: tables.iter().map(|t| t.name.clone()).collect(),
            sql: sql.to_owned(),
        });
        lock(&self.answers).get(sql).cloned().unwrap_or_else(|| {
            Err(QueryError::Sql {
                problem: Box::new(crate::SqlProblem::Other),
                raw: format!("no scripted answer for {sql}"),
            })
        })
    }

    fn canonical_sql(&self, sql: &str) -> Result<CanonicalSql, QueryError> {
        Ok(CanonicalSql {
            text: sql.trim().to_owned(),
            volatile: false,
        })
    }

    fn load(&self) -> (usize, usize) {
        (0, 0)
    }

    fn cached_bytes(&self) -> u64 {
        // The scripted engine keeps no files.
        0
    }

    fn accepts_work(&self) -> bool {
        true
    }
}
