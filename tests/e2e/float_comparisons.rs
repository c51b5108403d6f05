//! The engine's float-comparison rule: filters comparing a `DOUBLE` with a non-zero constant give exactly the rows
//! of DataFusion's own kernels — total order, so NaN above +∞ and a negative NaN below −∞, ±0 alike, nulls never
//! matching — whichever side the constant is on; comparisons with zero or NaN stay DataFusion's.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, Float64Array, Int64Array};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::prelude::SessionContext;
use tabletalk_query_engine::engine::FloatComparisons;
use tabletalk_tests::plans::{context_with_rules, physical_plan_and_rows};

fn context(with_rule: bool) -> SessionContext {
    let negative_nan = f64::from_bits(0xfff8_0000_0000_0000);
    let special = [
        Some(f64::NAN),
        Some(negative_nan),
        Some(f64::INFINITY),
        Some(f64::NEG_INFINITY),
        Some(0.0),
        Some(-0.0),
        None,
        Some(20.0),
        Some(-1.5),
        Some(3.25),
        Some(f64::MAX),
        Some(f64::MIN_POSITIVE),
        Some(-20.000_000_000_000_004),
    ];
    let batches: Vec<RecordBatch> = (0..3_i64)
        .map(|part| {
            let x: Float64Array = special
                .iter()
                .cycle()
                .skip(usize::try_from(part).unwrap())
                .take(40)
                .copied()
                .collect();
            let y: Float64Array = (0..40_i32)
                .map(|i| (i % 9 != 0).then_some(f64::from(i % 7) - 2.5))
                .collect();
            let id = Int64Array::from_iter_values((0..40).map(|i| part * 100 + i));
            RecordBatch::try_from_iter(vec![
                ("id", Arc::new(id) as ArrayRef),
                ("x", Arc::new(x)),
                ("y", Arc::new(y)),
            ])
            .unwrap()
        })
        .collect();
    let rules = if with_rule {
        vec![Arc::new(FloatComparisons) as _]
    } else {
        Vec::new()
    };
    context_with_rules(batches, rules)
}

#[tokio::test]
async fn comparisons_with_non_zero_constants_keep_datafusions_answers() {
    let datafusion_only = context(false);
    let ours = context(true);
    let constants = [
        "20",
        "-1.5",
        "3.25",
        "1e-300",
        "-20.000000000000004",
        "CAST('inf' AS DOUBLE)",
        "CAST('-inf' AS DOUBLE)",
    ];
    let mut predicates = Vec::new();
    for constant in constants {
        for op in ["=", "!=", "<>", "<", "<=", ">", ">="] {
            predicates.push(format!("x {op} {constant}"));
            predicates.push(format!("{constant} {op} x"));
        }
    }
    predicates.push("x > 20 AND y < 1.5".to_owned());
    predicates.push("x < -1.5 OR y >= 2.5".to_owned());
    predicates.push("NOT (x >= 3.25)".to_owned());
    for predicate in &predicates {
        let sql = format!("SELECT id, x FROM t WHERE {predicate} ORDER BY id");
        let (plain_plan, expected) = physical_plan_and_rows(&datafusion_only, &sql).await;
        let (plan, rows) = physical_plan_and_rows(&ours, &sql).await;
        assert!(!plain_plan.contains("FloatComparison"), "{plain_plan}");
        assert!(
            plan.contains("FloatComparison("),
            "{sql} was not taken:\n{plan}"
        );
        assert_eq!(rows, expected, "{sql}\n{plan}");
    }
    // The filters do select something and leave something out.
    let (_, rows) = physical_plan_and_rows(&ours, "SELECT count(*) FROM t WHERE x > 20").await;
    let count: u64 = rows
        .lines()
        .nth(3)
        .and_then(|line| line.trim_matches(|c| c == '|' || c == ' ').parse().ok())
        .unwrap();
    assert!(count > 0 && count < 120, "{rows}");
}

#[tokio::test]
async fn comparisons_with_zero_nan_or_other_types_stay_datafusions() {
    let datafusion_only = context(false);
    let ours = context(true);
    for predicate in [
        "x > 0",
        "x = -0.0",
        "0 <= x",
        "x < CAST('NaN' AS DOUBLE)",
        "x = y",
        "id > 20",
        "x + 1 > y",
    ] {
        let sql = format!("SELECT id FROM t WHERE {predicate} ORDER BY id");
        let (plan, rows) = physical_plan_and_rows(&ours, &sql).await;
        assert!(
            !plan.contains("FloatComparison"),
            "{sql} was taken:\n{plan}"
        );
        assert_eq!(
            rows,
            physical_plan_and_rows(&datafusion_only, &sql).await.1,
            "{sql}"
        );
    }
}
