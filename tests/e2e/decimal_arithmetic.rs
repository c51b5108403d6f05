//! The engine's decimal-arithmetic rule: `+`, `-` and `*` of `DECIMAL` values in projections, filters and aggregate
//! arguments give exactly DataFusion's answers and result types — equal and different scales, constants on either
//! side, nulls —, and where values are large enough to overflow the answer (or the overflow error) is Arrow's.

use std::fmt::Write as _;
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, Decimal128Array, Int64Array};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::arrow::util::pretty::pretty_format_batches;
use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::physical_plan::aggregates::AggregateExec;
use datafusion::physical_plan::displayable;
use datafusion::prelude::SessionContext;
use tabletalk_query_engine::engine::DecimalArithmetics;
use tabletalk_tests::plans::context_with_rules;

fn decimals(values: impl Iterator<Item = Option<i128>>, precision: u8, scale: i8) -> ArrayRef {
    Arc::new(
        values
            .collect::<Decimal128Array>()
            .with_precision_and_scale(precision, scale)
            .unwrap(),
    )
}

/// 3 partitions of 50 rows: `price` and `discount` like money columns (nulls in both), `rate` with another scale,
/// `huge` near the top of `DECIMAL(38, 0)` (every sum of two fits, products do not).
fn context(with_rule: bool) -> SessionContext {
    let batches: Vec<RecordBatch> = (0..3_i64)
        .map(|part| {
            let rows = (0..50_i64).map(|i| part * 50 + i);
            let price = rows
                .clone()
                .map(|r| (r % 11 != 3).then_some(i128::from((r * 7_919) % 1_000_003 - 400_000)));
            let discount = rows
                .clone()
                .map(|r| (r % 13 != 5).then_some(i128::from(r % 11)));
            let rate = rows
                .clone()
                .map(|r| Some(i128::from(r * 37 % 20_000 - 9_000)));
            let huge = rows
                .clone()
                .map(|r| Some(80_000_000_000_000_000_000_000_000_000_000_000_000 - i128::from(r)));
            RecordBatch::try_from_iter(vec![
                (
                    "id",
                    Arc::new(Int64Array::from_iter_values(rows)) as ArrayRef,
                ),
                ("price", decimals(price, 15, 2)),
                ("discount", decimals(discount, 15, 2)),
                ("rate", decimals(rate, 10, 4)),
                ("huge", decimals(huge, 38, 0)),
            ])
            .unwrap()
        })
        .collect();
    let rules = if with_rule {
        vec![Arc::new(DecimalArithmetics) as _]
    } else {
        Vec::new()
    };
    context_with_rules(batches, rules)
}

/// The physical plan and the rows (with their types), or the error's message.
async fn run(context: &SessionContext, sql: &str) -> (String, Result<String, String>) {
    let frame = context.sql(sql).await.unwrap();
    let physical = frame.clone().create_physical_plan().await.unwrap();
    let mut plan = displayable(physical.as_ref()).indent(true).to_string();
    plan.push('\n');
    // An aggregate prints its functions' names, not their arguments: those are listed below the plan.
    physical
        .apply(|node| {
            if let Some(aggregate) = node.downcast_ref::<AggregateExec>() {
                for function in aggregate.aggr_expr() {
                    for arg in function.expressions() {
                        writeln!(plan, "argument: {arg}").unwrap();
                    }
                }
            }
            Ok(TreeNodeRecursion::Continue)
        })
        .unwrap();
    let rows = match frame.collect().await {
        Ok(batches) => {
            let types: Vec<String> = batches
                .first()
                .map(|b| {
                    b.schema()
                        .fields()
                        .iter()
                        .map(|f| f.data_type().to_string())
                        .collect()
                })
                .unwrap_or_default();
            Ok(format!(
                "{}\n{}",
                types.join(", "),
                pretty_format_batches(&batches).unwrap()
            ))
        }
        Err(e) => Err(e.to_string()),
    };
    (plan, rows)
}

#[tokio::test]
async fn decimal_arithmetic_gives_datafusions_answers() {
    let datafusion_only = context(false);
    let ours = context(true);
    for sql in [
        "SELECT id, price * discount, price + discount, price - discount, price * (1 - discount), \
         (1 + discount) * price, 1 - discount, price * 2.5, price + rate, rate - price, price * rate \
         FROM t ORDER BY id",
        "SELECT id, huge + huge, huge - huge FROM t ORDER BY id",
        "SELECT id, price FROM t WHERE price * (1 - discount) > 1000 AND discount - 0.05 < 0 ORDER BY id",
        "SELECT id % 7 AS k, sum(price * (1 - discount) * (1 + rate)), avg(price - discount), count(*) \
         FROM t GROUP BY id % 7 ORDER BY k",
    ] {
        let (plain_plan, expected) = run(&datafusion_only, sql).await;
        let (plan, rows) = run(&ours, sql).await;
        assert!(!plain_plan.contains("DecimalArithmetic"), "{plain_plan}");
        assert!(
            plan.contains("DecimalArithmetic("),
            "{sql} was not taken:\n{plan}"
        );
        let expected = expected.unwrap();
        assert_eq!(rows.unwrap(), expected, "{sql}\n{plan}");
        // Every query yields rows, and nulls are among them where the inputs have them.
        assert!(expected.lines().count() > 5, "{expected}");
    }
    let (_, rows) = run(&ours, "SELECT price * discount FROM t ORDER BY id").await;
    assert!(
        rows.unwrap().contains("|  "),
        "null products are printed empty"
    );
}

#[tokio::test]
async fn overflowing_decimal_arithmetic_fails_as_datafusion_does() {
    let datafusion_only = context(false);
    let ours = context(true);
    for sql in [
        "SELECT huge * huge FROM t",
        "SELECT huge * price FROM t",
        "SELECT sum(huge * 3) FROM t",
        "SELECT huge - price FROM t",
    ] {
        let (plan, rows) = run(&ours, sql).await;
        assert!(plan.contains("DecimalArithmetic("), "{sql}:\n{plan}");
        let ours_error = rows.unwrap_err();
        let expected = run(&datafusion_only, sql).await.1.unwrap_err();
        assert_eq!(ours_error, expected, "{sql}");
        assert!(ours_error.contains("Overflow"), "{ours_error}");
    }
}
