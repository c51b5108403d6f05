//! The engine's filtered-aggregate rule: a partial aggregate over a filter gives the rows of DataFusion's own plan
//! whether a batch keeps most rows (aggregated under a mask) or few (filtered first); a group whose rows the
//! predicate all drops never appears; an expression that fails on a dropped row fails nothing; the expression
//! rules still rewrite the operators it took in; and shapes it must not take are left as planned.

use std::sync::Arc;

use datafusion::arrow::array::{
    ArrayRef, Decimal128Array, Int32Array, Int64Array, RecordBatch, StringViewArray,
};
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::datasource::MemTable;
use datafusion::execution::session_state::SessionStateBuilder;
use datafusion::physical_plan::{ExecutionPlan, collect};
use datafusion::prelude::{SessionConfig, SessionContext};
use tabletalk_query_engine::engine::{
    DecimalArithmetics, FilteredAggregates, FilteredPartialAggregateExec,
};
use tabletalk_tests::plans::physical_plan_and_rows;

/// `rows` order lines from `first`: a day 0–999, a flag and a status of a few letters (nulls among the statuses;
/// the flag `Z` only on days above 990), a quantity with nulls, a decimal price and discount, and a divisor that
/// is zero exactly on the days `divisor <> 0` drops.
fn lines(first: i64, rows: i64) -> RecordBatch {
    let ids = first..first + rows;
    let day = |i: i64| i32::try_from(i * 7_919 % 1_000).unwrap();
    let flag: StringViewArray = ids
        .clone()
        .map(|i| {
            Some(if day(i) > 990 {
                "Z"
            } else {
                ["A", "N", "R"][usize::try_from(i % 3).unwrap()]
            })
        })
        .collect();
    let status: StringViewArray = ids
        .clone()
        .map(|i| (i % 17 != 4).then_some(if i % 2 == 0 { "F" } else { "O" }))
        .collect();
    let decimal = |values: Vec<Option<i128>>| -> ArrayRef {
        Arc::new(
            Decimal128Array::from(values)
                .with_precision_and_scale(15, 2)
                .unwrap(),
        )
    };
    RecordBatch::try_from_iter(vec![
        (
            "day",
            Arc::new(Int32Array::from_iter_values(ids.clone().map(day))) as ArrayRef,
        ),
        ("flag", Arc::new(flag)),
        ("status", Arc::new(status)),
        (
            "qty",
            Arc::new(
                ids.clone()
                    .map(|i| (i % 13 != 6).then_some(i % 50 + 1))
                    .collect::<Int64Array>(),
            ),
        ),
        (
            "price",
            decimal(
                ids.clone()
                    .map(|i| Some(i128::from(i * 37 % 100_000 + 100)))
                    .collect(),
            ),
        ),
        (
            "discount",
            decimal(ids.clone().map(|i| Some(i128::from(i % 11))).collect()),
        ),
        (
            "divisor",
            Arc::new(Int64Array::from_iter_values(
                ids.map(|i| if day(i) < 40 { 0 } else { i % 7 + 1 }),
            )),
        ),
    ])
    .unwrap()
}

/// Four partitions of three batches each.
fn context(with_rules: bool) -> SessionContext {
    let partitions: Vec<Vec<RecordBatch>> = (0..4_i64)
        .map(|p| {
            (0..3_i64)
                .map(|b| lines((p * 3 + b) * 2_000, 2_000))
                .collect()
        })
        .collect();
    let table = MemTable::try_new(partitions[0][0].schema(), partitions).unwrap();
    let mut state = SessionStateBuilder::new()
        .with_config(SessionConfig::new().with_target_partitions(4))
        .with_default_features();
    if with_rules {
        state = state
            .with_physical_optimizer_rule(Arc::new(FilteredAggregates))
            .with_physical_optimizer_rule(Arc::new(DecimalArithmetics));
    }
    let context = SessionContext::new_with_state(state.build());
    context.register_table("lines", Arc::new(table)).unwrap();
    context
}

/// Rows aggregated under the mask and rows filtered first, over every filtered aggregate of an executed plan.
fn masked_and_filtered_rows(plan: &Arc<dyn ExecutionPlan>) -> (usize, usize) {
    let own = plan
        .downcast_ref::<FilteredPartialAggregateExec>()
        .and_then(ExecutionPlan::metrics)
        .map_or((0, 0), |metrics| {
            let count = |name| metrics.sum_by_name(name).map_or(0, |v| v.as_usize());
            (count("masked_rows"), count("filtered_rows"))
        });
    plan.children()
        .into_iter()
        .map(masked_and_filtered_rows)
        .fold(own, |(a, b), (c, d)| (a + c, b + d))
}

/// `sql`'s rows by DataFusion alone and with the rule, asserted equal, and the rows the rule's operator masked
/// and filtered.
async fn compared(sql: &str) -> (String, (usize, usize)) {
    let (plain_plan, expected) = physical_plan_and_rows(&context(false), sql).await;
    assert!(!plain_plan.contains("FilteredPartialAggregateExec"));
    let ours = context(true);
    let (text, rows) = physical_plan_and_rows(&ours, sql).await;
    assert!(
        text.contains("FilteredPartialAggregateExec"),
        "{sql} was not taken:\n{text}"
    );
    assert_eq!(rows, expected, "{sql}\n{text}");
    let plan = ours
        .sql(sql)
        .await
        .unwrap()
        .create_physical_plan()
        .await
        .unwrap();
    collect(Arc::clone(&plan), ours.task_ctx()).await.unwrap();
    (rows, masked_and_filtered_rows(&plan))
}

#[tokio::test]
async fn a_predicate_keeping_most_rows_is_aggregated_in_place() {
    // Days up to 900 of 0–999: about nine rows in ten kept in every batch, aggregated in place.
    let sql = "SELECT flag, status, sum(qty) AS qty, sum(price * (1 - discount)) AS net, avg(price) AS price, \
               count(*) AS n, count(qty) FILTER (WHERE qty > 25) AS big FROM lines WHERE day <= 900 \
               GROUP BY flag, status ORDER BY flag, status NULLS FIRST";
    let (rows, (masked, filtered)) = compared(sql).await;
    assert_eq!(filtered, 0);
    let kept = (0..24_000_i64).filter(|i| i * 7_919 % 1_000 <= 900).count();
    assert_eq!(masked, kept);
    // The flag only on dropped rows makes no group of its own.
    assert!(!rows.contains("| Z "), "{rows}");
    assert_eq!(rows.lines().count(), 4 + 3 * 3, "{rows}");
    // The decimal rule rewrote the product the operator took in.
    let ours = context(true);
    let plan = ours
        .sql(sql)
        .await
        .unwrap()
        .create_physical_plan()
        .await
        .unwrap();
    let expressions = expressions_of_filtered_aggregates(&plan);
    assert!(
        expressions
            .iter()
            .any(|e| e.starts_with("DecimalArithmetic(")),
        "{expressions:?}"
    );
}

/// Every expression of the filtered aggregates in `plan`, as text.
fn expressions_of_filtered_aggregates(plan: &Arc<dyn ExecutionPlan>) -> Vec<String> {
    let mut found = Vec::new();
    if plan
        .downcast_ref::<FilteredPartialAggregateExec>()
        .is_some()
    {
        plan.apply_expressions(&mut |expr| {
            found.push(expr.to_string());
            Ok(TreeNodeRecursion::Continue)
        })
        .unwrap();
    }
    for child in plan.children() {
        found.extend(expressions_of_filtered_aggregates(child));
    }
    found
}

#[tokio::test]
async fn a_predicate_keeping_few_rows_filters_first() {
    let sql = "SELECT flag, count(*) AS n, sum(price) AS total FROM lines WHERE day > 950 \
               GROUP BY flag ORDER BY flag";
    let (rows, (masked, filtered)) = compared(sql).await;
    assert_eq!(masked, 0);
    assert_eq!(
        filtered,
        (0..24_000_i64).filter(|i| i * 7_919 % 1_000 > 950).count()
    );
    assert!(rows.contains("| Z "), "{rows}");
}

#[tokio::test]
async fn expressions_failing_on_dropped_rows_fail_nothing() {
    // `qty / divisor` divides by zero on exactly the rows the predicate drops (about 4 %): over the whole batch
    // it fails, so each batch is filtered first and computed over its kept rows, as DataFusion does.
    let sql = "SELECT flag, sum(qty / divisor) AS ratio FROM lines WHERE divisor <> 0 \
               GROUP BY flag ORDER BY flag";
    let (rows, (masked, filtered)) = compared(sql).await;
    assert_eq!(masked, 0);
    assert_eq!(
        filtered,
        (0..24_000_i64).filter(|i| i * 7_919 % 1_000 >= 40).count()
    );
    assert_eq!(rows.lines().count(), 4 + 4, "{rows}");
}

#[tokio::test]
async fn aggregates_without_group_by_and_null_answers_of_the_predicate() {
    // `qty > 1` is null where `qty` is: those rows are dropped like the false ones.
    for sql in [
        "SELECT count(*) AS n, sum(qty) AS qty, min(price) AS low FROM lines WHERE qty > 1",
        "SELECT count(*) AS n FROM lines WHERE day > 2000",
        "SELECT status, count(*) AS n FROM lines WHERE qty > 1 GROUP BY status ORDER BY status NULLS LAST",
    ] {
        let (rows, (masked, _)) = compared(sql).await;
        assert!(rows.lines().count() > 4, "{sql}\n{rows}");
        assert_eq!(masked > 0, !sql.contains("2000"), "{sql}");
    }
}

#[tokio::test]
async fn aggregates_without_group_by_take_kept_rows_in_place_as_nulls() {
    // Days up to 900: nine rows in ten kept, fed whole to the plain accumulators with the dropped rows made null.
    // The flag `Z` is only on dropped rows, so `max(flag)` must not see it; `qty` and `status` have nulls of their
    // own, which stay uncounted; FILTER clauses narrow further.
    let day = |i: &i64| i * 7_919 % 1_000;
    let kept = (0..24_000_i64).filter(|i| day(i) <= 900).count();
    let sql = "SELECT count(*) AS n, count(qty) AS counted, sum(qty) AS qty, avg(qty) AS mean, \
               sum(price * (1 - discount)) AS net, avg(price) AS price, min(price) AS low, max(day) AS last, \
               min(status) AS first_status, max(flag) AS top_flag, count(qty) FILTER (WHERE qty > 25) AS big, \
               sum(price) FILTER (WHERE status = 'F') AS f_total FROM lines WHERE day <= 900";
    let (rows, (masked, filtered)) = compared(sql).await;
    assert_eq!((masked, filtered), (kept, 0), "{rows}");
    assert!(!rows.contains('Z'), "{rows}");
    assert!(rows.contains(&format!("| {kept} ")), "{rows}");

    // An aggregate that does not skip nulls keeps the groups accumulators, with the same answers.
    let (_, (masked, _)) =
        compared("SELECT stddev(qty) AS spread, sum(qty) AS qty FROM lines WHERE day <= 900").await;
    assert_eq!(masked, kept);

    // Arguments failing on dropped rows (a division by the zero divisors `divisor <> 0` drops), and a predicate
    // keeping few rows: both batches are filtered first.
    let (rows, (masked, filtered)) =
        compared("SELECT sum(qty / divisor) AS ratio, count(*) AS n FROM lines WHERE divisor <> 0")
            .await;
    assert_eq!(
        (masked, filtered),
        (0, (0..24_000_i64).filter(|i| day(i) >= 40).count()),
        "{rows}"
    );
    let (_, (masked, filtered)) =
        compared("SELECT count(*) AS n, sum(price) AS total FROM lines WHERE day > 950").await;
    assert_eq!(
        (masked, filtered),
        (0, (0..24_000_i64).filter(|i| day(i) > 950).count())
    );
}

#[tokio::test]
async fn other_shapes_are_left_as_planned() {
    let ours = context(true);
    let plain = context(false);
    for sql in [
        // A volatile argument: over more rows it would draw other numbers.
        "SELECT flag, count(*) FILTER (WHERE random() < 2) AS n FROM lines WHERE day < 900 GROUP BY flag ORDER BY 1",
        // No filter below the aggregate.
        "SELECT flag, count(*) AS n FROM lines GROUP BY flag ORDER BY 1",
    ] {
        let (text, rows) = physical_plan_and_rows(&ours, sql).await;
        assert!(
            !text.contains("FilteredPartialAggregateExec"),
            "{sql} was taken:\n{text}"
        );
        assert_eq!(rows, physical_plan_and_rows(&plain, sql).await.1, "{sql}");
    }
}
