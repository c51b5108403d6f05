//! The engine's eager-aggregation rule: every query shape it rewrites gives the same rows as DataFusion's own plan,
//! and the shapes it must leave alone are left alone.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, Float64Array, Int32Array, Int64Array, StringArray};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::datasource::MemTable;
use datafusion::prelude::SessionContext;
use tabletalk_query_engine::engine::{EagerAggregation, KeyRanges};
use tabletalk_tests::plans::logical_plan_and_rows;

fn table(columns: Vec<(&str, ArrayRef)>) -> Arc<MemTable> {
    let batch = RecordBatch::try_from_iter(columns).unwrap();
    Arc::new(MemTable::try_new(batch.schema(), vec![vec![batch]]).unwrap())
}

/// 2,000 trips over zones 1..=20 (some without a zone or a fare), and 24 zone rows: zone 7 listed twice, zone
/// 21 with no trips, zones 19 and 20 missing, one row without an id.
fn context(ranges: Option<KeyRanges>) -> SessionContext {
    let context = SessionContext::new();
    let n = 2_000;
    let zone: Vec<Option<i32>> = (0..n)
        .map(|i| (i % 13 != 0).then_some(i % 20 + 1))
        .collect();
    let fare: Vec<Option<f64>> = (0..n)
        .map(|i| (i % 17 != 0).then(|| f64::from(i % 50) * 1.25))
        .collect();
    let trips = table(vec![
        ("zone", Arc::new(Int32Array::from(zone)) as ArrayRef),
        ("fare", Arc::new(Float64Array::from(fare))),
        (
            "riders",
            Arc::new(Int64Array::from_iter_values(
                (0..n).map(|i| i64::from(i % 4)),
            )),
        ),
    ]);
    let mut ids: Vec<Option<i32>> = (1..=18).map(Some).collect();
    ids.extend([Some(7), Some(21), None, Some(3), Some(5), Some(9)]);
    let boroughs: Vec<&str> = (0..ids.len())
        .map(|i| ["Bronx", "Queens", "Staten Island"][i % 3])
        .collect();
    let kinds: Vec<&str> = (0..ids.len()).map(|i| ["a", "b"][i % 2]).collect();
    let zones = table(vec![
        ("id", Arc::new(Int32Array::from(ids)) as ArrayRef),
        ("borough", Arc::new(StringArray::from(boroughs))),
        ("kind", Arc::new(StringArray::from(kinds))),
    ]);
    context.register_table("trips", trips).unwrap();
    context.register_table("zones", zones).unwrap();
    if let Some(ranges) = ranges {
        context.add_optimizer_rule(Arc::new(EagerAggregation::new(ranges)));
    }
    context
}

fn ranges(min: i64, max: i64) -> KeyRanges {
    KeyRanges::from([(("trips".to_owned(), "zone".to_owned()), (min, max))])
}

const REWRITTEN: [&str; 6] = [
    "SELECT z.borough, count(*) AS n FROM trips AS t JOIN zones AS z ON t.zone = z.id GROUP BY z.borough ORDER BY 1",
    "SELECT borough, kind, count(fare), sum(fare), min(fare), max(fare), sum(riders) FROM zones JOIN trips ON id = zone GROUP BY borough, kind ORDER BY 1, 2",
    "SELECT z.borough, count(*) FROM trips AS t JOIN zones AS z ON t.zone = z.id WHERE t.fare > 10 GROUP BY z.borough ORDER BY 1",
    "SELECT z.kind, max(t.fare) AS top FROM (SELECT zone AS zz, fare FROM trips) AS t JOIN zones AS z ON t.zz = z.id GROUP BY z.kind ORDER BY 1",
    "SELECT z.borough, count(*) FROM trips AS t JOIN zones AS z ON t.zone = z.id GROUP BY z.borough HAVING count(*) > 600 ORDER BY 1",
    "SELECT z.id, count(*) FROM trips AS t JOIN zones AS z ON t.zone = z.id GROUP BY z.id ORDER BY 2 DESC, 1 LIMIT 5",
];

#[tokio::test]
async fn rewritten_joins_give_the_rows_of_the_plain_plan() {
    let unchanged = context(None);
    let eager = context(Some(ranges(1, 20)));
    for sql in REWRITTEN {
        let (plain_plan, expected) = logical_plan_and_rows(&unchanged, sql).await;
        let (plan, rows) = logical_plan_and_rows(&eager, sql).await;
        assert!(!plain_plan.contains("__tabletalk_eager"), "{plain_plan}");
        assert!(
            plan.contains("__tabletalk_eager_0"),
            "{sql} was not rewritten:\n{plan}"
        );
        assert_eq!(rows, expected, "{sql}\n{plan}");
    }
}

#[tokio::test]
async fn shapes_the_rule_cannot_split_or_should_not_are_left_alone() {
    let eager = context(Some(ranges(1, 20)));
    let wide = context(Some(ranges(1, 1_000_000)));
    let cases = [
        (
            &eager,
            "SELECT z.borough, avg(t.fare) FROM trips AS t JOIN zones AS z ON t.zone = z.id GROUP BY z.borough ORDER BY 1",
        ),
        (
            &eager,
            "SELECT z.borough, count(DISTINCT t.fare) FROM trips AS t JOIN zones AS z ON t.zone = z.id GROUP BY z.borough ORDER BY 1",
        ),
        (
            &eager,
            "SELECT t.riders, count(*) FROM trips AS t JOIN zones AS z ON t.zone = z.id GROUP BY t.riders ORDER BY 1",
        ),
        (
            &eager,
            "SELECT z.borough, sum(t.fare + 1) FROM trips AS t JOIN zones AS z ON t.zone = z.id GROUP BY z.borough ORDER BY 1",
        ),
        (
            &eager,
            "SELECT z.borough, count(*) FROM trips AS t LEFT JOIN zones AS z ON t.zone = z.id GROUP BY z.borough ORDER BY 1",
        ),
        (
            &eager,
            "SELECT count(*) FROM trips AS t JOIN zones AS z ON t.zone = z.id",
        ),
        (
            &eager,
            "SELECT z.borough, count(*) FROM trips AS t JOIN zones AS z ON t.riders = z.id GROUP BY z.borough ORDER BY 1",
        ),
        (
            &eager,
            "SELECT z.borough, count(*) FROM trips AS t JOIN zones AS z ON t.zone = z.id AND t.zone = CAST(length(z.kind) AS INT) GROUP BY z.borough ORDER BY 1",
        ),
        (
            &wide,
            "SELECT z.borough, count(*) FROM trips AS t JOIN zones AS z ON t.zone = z.id GROUP BY z.borough ORDER BY 1",
        ),
    ];
    let unchanged = context(None);
    for (context, sql) in cases {
        let (plan, rows) = logical_plan_and_rows(context, sql).await;
        assert!(
            !plan.contains("__tabletalk_eager"),
            "{sql} was rewritten:\n{plan}"
        );
        assert_eq!(
            rows,
            logical_plan_and_rows(&unchanged, sql).await.1,
            "{sql}"
        );
    }
}
