//! What the engine's plan-rule tests compare: a query's plan as text and its rows as a pretty-printed table, in a
//! context with or without the rule under test.

use std::sync::Arc;

use datafusion::arrow::record_batch::RecordBatch;
use datafusion::arrow::util::pretty::pretty_format_batches;
use datafusion::datasource::MemTable;
use datafusion::execution::session_state::SessionStateBuilder;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::displayable;
use datafusion::prelude::{SessionConfig, SessionContext};

/// The optimized logical plan (where logical rules show) and the rows of `sql`.
pub async fn logical_plan_and_rows(context: &SessionContext, sql: &str) -> (String, String) {
    let frame = context.sql(sql).await.unwrap();
    let plan = frame
        .clone()
        .into_optimized_plan()
        .unwrap()
        .display_indent()
        .to_string();
    (plan, rows(frame).await)
}

/// The physical plan (where physical rules show) and the rows of `sql`.
pub async fn physical_plan_and_rows(context: &SessionContext, sql: &str) -> (String, String) {
    let frame = context.sql(sql).await.unwrap();
    let plan = frame.clone().create_physical_plan().await.unwrap();
    let plan = displayable(plan.as_ref()).indent(true).to_string();
    (plan, rows(frame).await)
}

async fn rows(frame: datafusion::dataframe::DataFrame) -> String {
    pretty_format_batches(&frame.collect().await.unwrap())
        .unwrap()
        .to_string()
}

/// A context holding the batches as table `t`, one partition per batch, with DataFusion's rules and `rules` after
/// them (none: DataFusion's plan, to compare with).
pub fn context_with_rules(
    batches: Vec<RecordBatch>,
    rules: Vec<Arc<dyn PhysicalOptimizerRule + Send + Sync>>,
) -> SessionContext {
    let partitions = batches.len();
    let table = MemTable::try_new(
        batches[0].schema(),
        batches.into_iter().map(|b| vec![b]).collect(),
    )
    .unwrap();
    let mut state = SessionStateBuilder::new()
        .with_config(SessionConfig::new().with_target_partitions(partitions))
        .with_default_features();
    for rule in rules {
        state = state.with_physical_optimizer_rule(rule);
    }
    let context = SessionContext::new_with_state(state.build());
    context.register_table("t", Arc::new(table)).unwrap();
    context
}
