//! The engine's conjunction rule: a filter whose predicate `AND`s two or more terms keeps exactly the rows of
//! DataFusion's own evaluation — cheap terms moved ahead, costly terms on every row or on the selected rows only,
//! nulls in any term, no row left, an `OR` inside a term —, and single-term filters are left alone.

use std::sync::Arc;

use datafusion::arrow::array::{
    ArrayRef, Date32Array, Decimal128Array, Float64Array, Int64Array, StringArray,
};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::prelude::SessionContext;
use tabletalk_query_engine::engine::{Conjunctions, FloatComparisons};
use tabletalk_tests::plans::{context_with_rules, physical_plan_and_rows};

/// 3 partitions of 400 rows with a date, a nullable decimal, a nullable string and a float with NaNs.
fn context(with_rule: bool) -> SessionContext {
    let words = ["apple", "ab", "xylophone", "cab", "b", "a"];
    let batches: Vec<RecordBatch> = (0..3_i64)
        .map(|part| {
            let rows: Vec<i64> = (0..400).map(|i| part * 400 + i).collect();
            let day = Date32Array::from_iter_values(
                rows.iter()
                    .map(|r| 8_700 + i32::try_from(r * 37 % 2_600).unwrap()),
            );
            let quantity = rows
                .iter()
                .map(|r| (r % 17 != 4).then_some(i128::from(r * 13 % 5_000)))
                .collect::<Decimal128Array>()
                .with_precision_and_scale(15, 2)
                .unwrap();
            let word: StringArray = rows
                .iter()
                .map(|r| (r % 19 != 7).then(|| words[usize::try_from(r % 6).unwrap()]))
                .collect();
            let ratio: Float64Array = rows
                .iter()
                .map(|r| {
                    Some(if r % 29 == 0 {
                        f64::NAN
                    } else {
                        f64::from(i32::try_from(r % 50).unwrap()) / 7.0
                    })
                })
                .collect();
            RecordBatch::try_from_iter(vec![
                ("id", Arc::new(Int64Array::from(rows)) as ArrayRef),
                ("day", Arc::new(day)),
                ("quantity", Arc::new(quantity)),
                ("word", Arc::new(word)),
                ("ratio", Arc::new(ratio)),
            ])
            .unwrap()
        })
        .collect();
    let rules = if with_rule {
        vec![Arc::new(FloatComparisons) as _, Arc::new(Conjunctions) as _]
    } else {
        Vec::new()
    };
    context_with_rules(batches, rules)
}

#[tokio::test]
async fn conjunctions_keep_datafusions_rows() {
    let datafusion_only = context(false);
    let ours = context(true);
    for predicate in [
        // Only cheap terms, TPC-H Q6's shape.
        "day >= DATE '1994-01-01' AND day < DATE '1995-01-01' AND quantity BETWEEN 5.00 AND 30.00 \
         AND quantity < 40",
        // A costly term written first is evaluated after the cheap ones.
        "word LIKE '%b%' AND id % 3 = 0 AND quantity > 1",
        // Few rows selected: the costly term reads only those (and only its own column).
        "id < 30 AND word LIKE 'x%'",
        "id > 1190 AND upper(word) = 'AB' AND ratio > 1.5",
        // Most rows selected: the costly term is evaluated on every row.
        "id < 1100 AND upper(word) = 'AB'",
        // Nulls in the terms count as false.
        "quantity > 1 AND word IS NOT NULL AND NOT (word = 'b')",
        "quantity IS NULL AND word <> 'a'",
        // No row is left after the first term.
        "id < 0 AND word = 'a' AND length(word) > 1",
        // An OR inside a term; a comparison of two columns.
        "(id < 10 OR id > 1150) AND word <> 'a' AND ratio * 10 < id",
        "ratio > 2.5 AND ratio < 6 AND word LIKE '%a%'",
        // A costly term that reads no column, on the few selected rows.
        "id < 30 AND random() < 2.0",
        "id < 30 AND random() > 2.0",
    ] {
        let sql = format!("SELECT id, word FROM t WHERE {predicate} ORDER BY id");
        let (plain_plan, expected) = physical_plan_and_rows(&datafusion_only, &sql).await;
        let (plan, rows) = physical_plan_and_rows(&ours, &sql).await;
        assert!(!plain_plan.contains("Conjunction"), "{plain_plan}");
        assert!(
            plan.contains("Conjunction("),
            "{sql} was not taken:\n{plan}"
        );
        assert_eq!(rows, expected, "{sql}\n{plan}");
    }
    // The shapes do keep some rows and drop others.
    let (_, some) = physical_plan_and_rows(
        &ours,
        "SELECT count(*) AS n FROM t WHERE word LIKE '%b%' AND id % 3 = 0 AND quantity > 1",
    )
    .await;
    let kept: u64 = some
        .lines()
        .nth(3)
        .and_then(|line| line.trim_matches(|c| c == '|' || c == ' ').parse().ok())
        .unwrap();
    assert!(kept > 10 && kept < 1_200, "{some}");
}

#[tokio::test]
async fn cheap_terms_go_first_and_single_terms_stay() {
    let ours = context(true);
    let (plan, _) = physical_plan_and_rows(
        &ours,
        "SELECT id FROM t WHERE word LIKE '%b%' AND id % 3 = 0 AND quantity > 1",
    )
    .await;
    let line = plan.lines().find(|l| l.contains("Conjunction(")).unwrap();
    let first = line.find("quantity@").unwrap();
    assert!(first < line.find("word@").unwrap(), "{line}");
    assert!(first < line.find("id@").unwrap(), "{line}");
    let (plan, _) = physical_plan_and_rows(&ours, "SELECT id FROM t WHERE word LIKE '%b%'").await;
    assert!(!plan.contains("Conjunction"), "{plan}");
}

#[tokio::test]
async fn ranges_are_read_in_one_pass_and_keep_datafusions_rows() {
    let datafusion_only = context(false);
    let ours = context(true);
    // (predicate, the column and range the plan must show, if any)
    for (predicate, range) in [
        (
            "day >= DATE '1994-01-01' AND day < DATE '1995-01-01' AND id % 2 = 0",
            Some(("day", "IN RANGE [1994-01-01, 1995-01-01)")),
        ),
        // Nulls in the column are outside the range.
        (
            "quantity BETWEEN 5.00 AND 30.00 AND id < 900",
            Some(("quantity", "IN RANGE [5.00, 30.00]")),
        ),
        // Constants written first; every pair of exclusive and inclusive bounds, with rows on each bound.
        (
            "10 <= id AND 100 > id AND word IS NOT NULL",
            Some(("id", "IN RANGE [10, 100)")),
        ),
        (
            "id > 10 AND id <= 100 AND word IS NOT NULL",
            Some(("id", "IN RANGE (10, 100]")),
        ),
        (
            "id BETWEEN 12 AND 30 AND word IS NOT NULL",
            Some(("id", "IN RANGE [12, 30]")),
        ),
        (
            "id > 10 AND id < 16 AND word IS NOT NULL",
            Some(("id", "IN RANGE (10, 16)")),
        ),
        // An empty range.
        (
            "id > 5 AND id < 3 AND word = 'a'",
            Some(("id", "IN RANGE (5, 3)")),
        ),
        // Bounds of two columns interleaved: each column's pair becomes its range.
        (
            "id >= 10 AND day < DATE '1995-01-01' AND id < 100 AND day >= DATE '1994-01-01'",
            Some(("id", "IN RANGE [10, 100)")),
        ),
        (
            "id >= 10 AND day < DATE '1995-01-01' AND id < 100 AND day >= DATE '1994-01-01'",
            Some(("day", "IN RANGE [1994-01-01, 1995-01-01)")),
        ),
        // Floats keep their own comparisons.
        ("ratio > 1 AND ratio < 3 AND id > 5", None),
    ] {
        let sql = format!("SELECT id, word FROM t WHERE {predicate} ORDER BY id");
        let (_, expected) = physical_plan_and_rows(&datafusion_only, &sql).await;
        let (plan, rows) = physical_plan_and_rows(&ours, &sql).await;
        assert_eq!(rows, expected, "{sql}\n{plan}");
        match range {
            Some((column, range)) => {
                let line = plan.lines().find(|l| l.contains(range));
                assert!(
                    line.is_some_and(|l| l.contains(&format!("{column}@"))),
                    "{sql}: no {column} {range} in\n{plan}"
                );
            }
            None => assert!(!plan.contains("IN RANGE"), "{sql}\n{plan}"),
        }
    }
    // The ranges keep some rows and drop others.
    let (_, counted) = physical_plan_and_rows(
        &ours,
        "SELECT count(*) AS n FROM t WHERE quantity BETWEEN 5.00 AND 30.00 AND id < 900",
    )
    .await;
    let kept: u64 = counted
        .lines()
        .nth(3)
        .and_then(|line| line.trim_matches(|c| c == '|' || c == ' ').parse().ok())
        .unwrap();
    assert!(kept > 10 && kept < 900, "{counted}");
}
