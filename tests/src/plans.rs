//! What the engine's plan-rule tests compare: a query's plan as text and its rows as a pretty-printed table.

use datafusion::arrow::util::pretty::pretty_format_batches;
use datafusion::physical_plan::displayable;
use datafusion::prelude::SessionContext;

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
