//! The engine's shared-subplan rule: a join or aggregate that a query computes twice (a `WITH` view used twice)
//! is computed once when its copies run one after the other, gives DataFusion's rows in every shape (scalar
//! subquery, join of a view with itself, both copies at once under `UNION ALL`), and bare scans are not shared.

use std::path::Path;
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, Int64Array, StringArray};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::datasource::MemTable;
use datafusion::datasource::source::DataSourceExec;
use datafusion::execution::session_state::SessionStateBuilder;
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::physical_plan::{ExecutionPlan, collect, displayable};
use datafusion::prelude::{ParquetReadOptions, SessionConfig, SessionContext};
use tabletalk_query_engine::engine::{
    RepeatedJoins, SharedSubplanExec, physical_rules_with_shared_subplans,
};
use tabletalk_tests::plans::physical_plan_and_rows;

const ROWS: i64 = 60_000;

async fn context(dir: &Path, with_rule: bool) -> SessionContext {
    let path = dir.join("sales.parquet");
    if !path.exists() {
        let region: StringArray = (0..ROWS)
            .map(|i| {
                Some(["north", "south", "east", "west", "centre"][usize::try_from(i % 5).unwrap()])
            })
            .collect();
        let batch = RecordBatch::try_from_iter(vec![
            (
                "id",
                Arc::new(Int64Array::from_iter_values(0..ROWS)) as ArrayRef,
            ),
            ("region", Arc::new(region)),
            (
                "amount",
                Arc::new(Int64Array::from_iter_values(
                    (0..ROWS).map(|i| (i * 7_919) % 1_009),
                )),
            ),
        ])
        .unwrap();
        write_parquet(&path, &batch);
    }
    let targets = dir.join("targets.parquet");
    if !targets.exists() {
        let batch = RecordBatch::try_from_iter(vec![
            (
                "region",
                Arc::new(StringArray::from(vec![
                    "north", "south", "east", "west", "centre",
                ])) as ArrayRef,
            ),
            ("weight", Arc::new(Int64Array::from(vec![1, 2, 3, 4, 5]))),
        ])
        .unwrap();
        write_parquet(&targets, &batch);
    }
    let mut state = SessionStateBuilder::new()
        .with_config(SessionConfig::new().with_target_partitions(4))
        .with_default_features();
    if with_rule {
        state = state.with_physical_optimizer_rules(physical_rules_with_shared_subplans());
    }
    let context = SessionContext::new_with_state(state.build());
    if with_rule {
        context.add_optimizer_rule(Arc::new(RepeatedJoins));
    }
    for (name, file) in [("sales", &path), ("targets", &targets)] {
        context
            .register_parquet(name, file.to_str().unwrap(), ParquetReadOptions::default())
            .await
            .unwrap();
    }
    // An in-memory table prints only its sizes, so its subplans are never taken for another's.
    let memo = RecordBatch::try_from_iter(vec![(
        "k",
        Arc::new(Int64Array::from_iter_values((0..1_000).map(|i| i % 7))) as ArrayRef,
    )])
    .unwrap();
    context
        .register_table(
            "memo",
            Arc::new(MemTable::try_new(memo.schema(), vec![vec![memo]]).unwrap()),
        )
        .unwrap();
    context
}

fn write_parquet(path: &Path, batch: &RecordBatch) {
    let mut writer =
        ArrowWriter::try_new(std::fs::File::create(path).unwrap(), batch.schema(), None).unwrap();
    writer.write(batch).unwrap();
    writer.close().unwrap();
}

/// Runs `sql` with the rules: the plan has two shared copies, the scans below them produced `scanned` rows in all
/// (one copy read, the other replayed), and the rows are DataFusion's. Returns those rows, printed.
async fn run_shared(
    ours: &SessionContext,
    datafusion_only: &SessionContext,
    sql: &str,
    scanned: usize,
) -> String {
    let frame = ours.sql(sql).await.unwrap();
    let plan = frame.create_physical_plan().await.unwrap();
    let text = displayable(plan.as_ref()).indent(true).to_string();
    assert_eq!(text.matches("SharedSubplanExec").count(), 2, "{text}");
    let batches = collect(Arc::clone(&plan), ours.task_ctx()).await.unwrap();
    assert_eq!(rows_scanned_under_shared(&plan, false), scanned, "{text}");
    let (_, expected) = physical_plan_and_rows(datafusion_only, sql).await;
    let ours_rows = datafusion::arrow::util::pretty::pretty_format_batches(&batches)
        .unwrap()
        .to_string();
    assert_eq!(ours_rows, expected);
    expected
}

/// The rows every scan below a shared copy produced, once executed.
fn rows_scanned_under_shared(plan: &Arc<dyn ExecutionPlan>, shared: bool) -> usize {
    let here = plan.downcast_ref::<SharedSubplanExec>().is_some() || shared;
    let own = if shared && plan.downcast_ref::<DataSourceExec>().is_some() {
        plan.metrics()
            .and_then(|metrics| metrics.output_rows())
            .unwrap_or(0)
    } else {
        0
    };
    own + plan
        .children()
        .into_iter()
        .map(|child| rows_scanned_under_shared(child, here))
        .sum::<usize>()
}

#[tokio::test]
async fn a_view_used_twice_is_computed_once() {
    let dir = tempfile::tempdir().unwrap();
    let ours = context(dir.path(), true).await;
    let datafusion_only = context(dir.path(), false).await;
    // TPC-H Q15's shape: the scalar subquery runs first, the join of the view afterwards.
    let sql = "WITH totals AS (SELECT region, sum(amount) AS total FROM sales WHERE id % 3 <> 0 GROUP BY region) \
               SELECT region, total FROM totals WHERE total = (SELECT max(total) FROM totals) ORDER BY region";
    // One copy read the table, the other replayed its groups.
    let expected = run_shared(&ours, &datafusion_only, sql, usize::try_from(ROWS).unwrap()).await;
    assert!(expected.lines().count() > 4, "{expected}");
}

#[tokio::test]
async fn a_join_repeated_with_other_columns_is_computed_once() {
    let dir = tempfile::tempdir().unwrap();
    let ours = context(dir.path(), true).await;
    let datafusion_only = context(dir.path(), false).await;
    // TPC-H Q11's shape: the subquery reads fewer columns of the join than the query around it (not `id`), so
    // DataFusion prunes the two copies differently.
    let join = "FROM sales JOIN targets ON sales.region = targets.region WHERE targets.weight > 1";
    let sql = format!(
        "SELECT id % 10 AS bucket, sum(amount * weight) AS v {join} GROUP BY id % 10 \
         HAVING sum(amount * weight) > (SELECT sum(amount * weight) * 0.09 {join}) ORDER BY bucket"
    );
    // One copy read both tables (all five targets, every sale), the other replayed its rows.
    let expected = run_shared(
        &ours,
        &datafusion_only,
        &sql,
        usize::try_from(ROWS).unwrap() + 5,
    )
    .await;
    assert!(expected.lines().count() > 6, "{expected}");
    assert!(
        expected.lines().count() < 14,
        "the HAVING keeps some buckets only: {expected}"
    );

    // Joins that differ in a condition, or a table read under another alias, are still two joins.
    for other in [
        "FROM sales JOIN targets ON sales.region = targets.region WHERE targets.weight > 2",
        "FROM sales AS s JOIN targets ON s.region = targets.region WHERE targets.weight > 1",
    ] {
        let sql = format!(
            "SELECT id % 10 AS bucket, sum(amount * weight) AS v {join} GROUP BY id % 10 \
             HAVING sum(amount * weight) > (SELECT sum(amount * weight) * 0.09 {other}) ORDER BY bucket"
        );
        let (plan, rows) = physical_plan_and_rows(&ours, &sql).await;
        let (_, expected) = physical_plan_and_rows(&datafusion_only, &sql).await;
        assert!(!plan.contains("SharedSubplanExec"), "{sql}\n{plan}");
        assert_eq!(rows, expected, "{sql}");
    }
}

#[tokio::test]
async fn shared_copies_give_datafusions_rows_in_every_shape() {
    let dir = tempfile::tempdir().unwrap();
    let ours = context(dir.path(), true).await;
    let datafusion_only = context(dir.path(), false).await;
    let view = "WITH totals AS (SELECT region, sum(amount) AS total, count(*) AS n FROM sales GROUP BY region)";
    for (sql, shared) in [
        (
            format!("{view} SELECT region, total FROM totals WHERE total > (SELECT avg(total) FROM totals) ORDER BY region"),
            true,
        ),
        // Both copies at once: one keeps, the other runs its own (neither waits).
        (
            format!("{view} SELECT * FROM (SELECT * FROM totals UNION ALL SELECT * FROM totals) ORDER BY region, total"),
            true,
        ),
        (
            format!("{view} SELECT a.region, a.total + b.n - a.n * b.total AS x FROM totals a JOIN totals b ON a.region = b.region ORDER BY a.region"),
            true,
        ),
        (
            "WITH pairs AS (SELECT a.id, a.amount FROM sales a JOIN sales b ON a.id = b.id + 1 WHERE b.amount > 900) \
             SELECT count(*), sum(x.amount - y.amount * 2) FROM pairs x JOIN pairs y ON x.id = y.id"
                .to_owned(),
            true,
        ),
        (
            "WITH t AS (SELECT k, count(*) AS c FROM memo GROUP BY k) \
             SELECT k FROM t WHERE c = (SELECT max(c) FROM t) ORDER BY k"
                .to_owned(),
            false,
        ),
        // A scan twice is not worth keeping in memory.
        (
            "SELECT count(*) FROM (SELECT id FROM sales UNION ALL SELECT id FROM sales)".to_owned(),
            false,
        ),
    ] {
        let (plan, rows) = physical_plan_and_rows(&ours, &sql).await;
        let (_, expected) = physical_plan_and_rows(&datafusion_only, &sql).await;
        assert_eq!(plan.contains("SharedSubplanExec"), shared, "{sql}\n{plan}");
        assert_eq!(rows, expected, "{sql}\n{plan}");
        assert!(rows.lines().count() > 4, "{sql}: {rows}");
    }
}
