//! The engine's partial aggregation by runs of equal keys: over clustered keys it groups by runs (groups cut by
//! batch and partition boundaries, null keys, several key columns, strings, `FILTER`, `HAVING`) and gives the rows
//! of DataFusion's own plan; scattered keys, keys in runs that come back (also after a batch too small to judge),
//! and a stream whose keys stop coming in runs halfway are handed to DataFusion's hash aggregate with the same
//! rows; shapes it must not take stay DataFusion's.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, Float64Array, Int64Array, StringArray};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::arrow::util::pretty::pretty_format_batches;
use datafusion::datasource::MemTable;
use datafusion::execution::session_state::SessionStateBuilder;
use datafusion::physical_plan::collect;
use datafusion::physical_plan::display::DisplayableExecutionPlan;
use datafusion::prelude::{SessionConfig, SessionContext};
use tabletalk_query_engine::engine::ClusteredGroups;
use tabletalk_tests::plans::physical_plan_and_rows;

/// Order lines for the orders numbered by `order_of(line)`, lines `lines`: a nullable order number, its
/// customer, a quantity and a nullable price.
fn lines(lines: std::ops::Range<i64>, order_of: impl Fn(i64) -> Option<i64>) -> RecordBatch {
    let orders: Vec<Option<i64>> = lines.clone().map(&order_of).collect();
    let customer: StringArray = orders
        .iter()
        .map(|order| order.map(|o| format!("customer {:03}", o / 3)))
        .collect();
    let quantity = Int64Array::from_iter_values(lines.clone().map(|l| 1 + l % 9));
    let price: Float64Array = lines
        .map(|l| (l % 17 != 4).then(|| f64::from(u8::try_from(l % 50).unwrap()) * 1.25))
        .collect();
    RecordBatch::try_from_iter(vec![
        ("order_id", Arc::new(Int64Array::from(orders)) as ArrayRef),
        ("customer", Arc::new(customer)),
        ("quantity", Arc::new(quantity)),
        ("price", Arc::new(price)),
    ])
    .unwrap()
}

/// Order lines stored by order: 1 to 4 lines per order, a run of null orders, orders cut by batch boundaries
/// and continued in the next partition.
fn clustered(line: i64) -> Option<i64> {
    let order = line / 4 + line / 7;
    (!(130..140).contains(&line)).then_some(order)
}

/// The same lines with orders scattered over the rows.
#[expect(
    clippy::unnecessary_wraps,
    reason = "the shape `lines` takes, where orders may be null"
)]
fn scattered(line: i64) -> Option<i64> {
    Some((line * 7_919) % 101)
}

/// Runs of two, but the same two orders over and over.
#[expect(
    clippy::unnecessary_wraps,
    reason = "the shape `lines` takes, where orders may be null"
)]
fn returning(line: i64) -> Option<i64> {
    Some((line / 2) % 2)
}

fn context(with_rule: bool, partitions: Vec<Vec<RecordBatch>>) -> SessionContext {
    let config = SessionConfig::new().with_target_partitions(partitions.len());
    let mut state = SessionStateBuilder::new()
        .with_config(config)
        .with_default_features();
    if with_rule {
        state = state.with_physical_optimizer_rule(Arc::new(ClusteredGroups));
    }
    let context = SessionContext::new_with_state(state.build());
    let table = MemTable::try_new(partitions[0][0].schema(), partitions).unwrap();
    context.register_table("lines", Arc::new(table)).unwrap();
    context
}

/// Three partitions of three batches each (the second one short), their lines numbered on across partitions.
fn partitions(order_of: impl Fn(i64) -> Option<i64> + Copy) -> Vec<Vec<RecordBatch>> {
    (0..3)
        .map(|part| {
            let start = part * 901;
            vec![
                lines(start..start + 401, order_of),
                lines(start + 401..start + 431, order_of),
                lines(start + 431..start + 901, order_of),
            ]
        })
        .collect()
}

/// The plan with its metrics after running it, and its rows.
async fn run(context: &SessionContext, sql: &str) -> (String, String) {
    let plan = context
        .sql(sql)
        .await
        .unwrap()
        .create_physical_plan()
        .await
        .unwrap();
    let batches = collect(Arc::clone(&plan), context.task_ctx())
        .await
        .unwrap();
    let shown = DisplayableExecutionPlan::with_metrics(plan.as_ref())
        .indent(true)
        .to_string();
    (shown, pretty_format_batches(&batches).unwrap().to_string())
}

/// The value of the metric `name` on the line of the clustered aggregate.
fn metric(plan: &str, name: &str) -> usize {
    metric_of(plan, "ClusteredPartialAggregateExec", name)
}

/// The value of the metric `name` on the first line of `operator`.
fn metric_of(plan: &str, operator: &str, name: &str) -> usize {
    let line = plan
        .lines()
        .find(|l| l.contains(operator))
        .unwrap_or_else(|| panic!("no {operator} in\n{plan}"));
    let value = line
        .split(&format!("{name}="))
        .nth(1)
        .unwrap_or_else(|| panic!("no {name} in {line}"));
    value
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

const GROUP_BYS: [&str; 5] = [
    "SELECT order_id, count(*), count(price), sum(quantity), avg(price), min(price), max(quantity) FROM lines GROUP BY order_id ORDER BY order_id NULLS FIRST",
    "SELECT order_id, customer, sum(quantity) FILTER (WHERE price > 20) AS dear, sum(price) FROM lines GROUP BY order_id, customer ORDER BY 1 NULLS FIRST, 2",
    "SELECT order_id FROM lines GROUP BY order_id HAVING sum(quantity) > 14 ORDER BY 1",
    "SELECT customer, count(*) AS n, avg(quantity) FROM lines WHERE quantity > 2 GROUP BY customer ORDER BY 1 NULLS LAST",
    "SELECT order_id + 1 AS next, count(*) FROM lines GROUP BY order_id + 1 ORDER BY 1 NULLS FIRST",
];

#[tokio::test]
async fn clustered_keys_are_grouped_by_runs_with_datafusions_rows() {
    let datafusion_only = context(false, partitions(clustered));
    let ours = context(true, partitions(clustered));
    for sql in GROUP_BYS {
        let (plain_plan, expected) = physical_plan_and_rows(&datafusion_only, sql).await;
        assert!(
            !plain_plan.contains("ClusteredPartialAggregateExec"),
            "{plain_plan}"
        );
        let (plan, rows) = run(&ours, sql).await;
        assert_eq!(rows, expected, "{sql}\n{plan}");
        // Every batch of the three partitions went through runs (a filter's output is coalesced into one batch
        // per partition); none was handed over.
        let batches = if sql.contains("lines WHERE") { 3 } else { 9 };
        assert_eq!(metric(&plan, "run_batches"), batches, "{sql}\n{plan}");
        assert_eq!(metric(&plan, "handed_over"), 0, "{sql}\n{plan}");
        // One partial row per run: fewer than half the 2,703 lines, more than the orders (cut runs repeat).
        let partial_rows = metric(&plan, "output_rows");
        assert!(partial_rows < 2_703 / 2, "{sql}\n{plan}");
    }
    // The runs really are the orders: 2,703 lines in about 1,060 orders, one partial row per order and cut.
    let (plan, rows) = run(
        &ours,
        "SELECT count(*) FROM (SELECT order_id FROM lines GROUP BY order_id)",
    )
    .await;
    let orders: usize = rows
        .lines()
        .nth(3)
        .unwrap()
        .trim_matches(|c: char| c == '|' || c.is_whitespace())
        .parse()
        .unwrap();
    let partial_rows = metric(&plan, "output_rows");
    assert!(
        (orders..orders + 12).contains(&partial_rows),
        "{orders} orders, {partial_rows} partial rows\n{plan}"
    );
}

#[tokio::test]
async fn keys_not_in_runs_go_to_the_hash_aggregate() {
    let mixed_partitions: Vec<Vec<RecordBatch>> = vec![
        vec![lines(0..400, scattered), lines(400..800, scattered)],
        vec![lines(800..1_200, returning), lines(1_200..1_600, clustered)],
        // Runs first, then scattered keys: handed over halfway, the runs' groups already out.
        vec![
            lines(1_600..2_000, clustered),
            lines(2_000..2_400, scattered),
            lines(2_400..2_800, clustered),
        ],
        // A batch too small to judge goes through runs; the next shows its runs' keys coming back.
        vec![
            lines(2_800..2_810, returning),
            lines(2_810..3_210, returning),
        ],
    ];
    let datafusion_only = context(false, mixed_partitions.clone());
    let ours = context(true, mixed_partitions);
    for sql in GROUP_BYS {
        let (_, expected) = physical_plan_and_rows(&datafusion_only, sql).await;
        let (plan, rows) = run(&ours, sql).await;
        assert_eq!(rows, expected, "{sql}\n{plan}");
        if sql.contains("lines WHERE") {
            // The filter coalesces each partition's batches into one: the batches above are gone.
            continue;
        }
        // All four partitions were handed over, the third and the fourth after their first batch.
        assert_eq!(metric(&plan, "handed_over"), 4, "{sql}\n{plan}");
        assert_eq!(metric(&plan, "run_batches"), 2, "{sql}\n{plan}");
        // The hash aggregate's rows count as the operator's output: all that the repartition above received.
        assert_eq!(
            metric(&plan, "output_rows"),
            metric_of(&plan, "RepartitionExec", "output_rows"),
            "{sql}\n{plan}"
        );
    }
}

#[tokio::test]
async fn other_aggregates_are_left_to_datafusion() {
    let datafusion_only = context(false, partitions(clustered));
    let ours = context(true, partitions(clustered));
    let cases = [
        // A float key, an ordered aggregate, grouping sets, no key at all.
        "SELECT price, count(*) FROM lines GROUP BY price ORDER BY 1 NULLS FIRST",
        "SELECT order_id, array_agg(quantity ORDER BY quantity) FROM lines GROUP BY order_id ORDER BY 1 NULLS FIRST",
        "SELECT customer, order_id, count(*) FROM lines GROUP BY ROLLUP (customer, order_id) ORDER BY 1, 2",
        "SELECT count(*), sum(quantity) FROM lines",
    ];
    for sql in cases {
        let (plan, rows) = physical_plan_and_rows(&ours, sql).await;
        assert!(
            !plan.contains("ClusteredPartialAggregateExec"),
            "{sql} was taken:\n{plan}"
        );
        assert_eq!(
            rows,
            physical_plan_and_rows(&datafusion_only, sql).await.1,
            "{sql}"
        );
    }
    // A DISTINCT is planned as a group-by of (order, quantity) under one of the order: whatever is taken, the
    // rows stay DataFusion's.
    let sql = "SELECT order_id, count(DISTINCT quantity) FROM lines GROUP BY order_id ORDER BY 1 NULLS FIRST";
    assert_eq!(
        run(&ours, sql).await.1,
        physical_plan_and_rows(&datafusion_only, sql).await.1
    );
}
