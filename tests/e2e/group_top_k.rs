//! The engine's top-rows-per-group rule: every shape it takes over gives the rows of DataFusion's own plan (string,
//! view and composite group keys, null keys and null order values, both directions, every way of writing the
//! bound, other conditions beside it, rows pushed out many times over, an order relied on above), the shapes it
//! must not take are left to DataFusion, its rows count against the memory limit, and a query through the engine
//! uses it on a Parquet file.

use std::collections::BTreeMap;
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, Float64Array, Int64Array, StringArray, StringViewArray};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::datasource::MemTable;
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::execution::session_state::SessionStateBuilder;
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::file::properties::WriterProperties;
use datafusion::prelude::{SessionConfig, SessionContext};
use serde_json::json;
use tabletalk_ports::QueryEngine;
use tabletalk_query_engine::engine::GroupTopK;
use tabletalk_tests::plans::physical_plan_and_rows;

use crate::query_engine::{LIMITS, engine_with, parquet_table, settings, someone};

/// Rows `offset..offset + n`: `zone` has 13 values and a null, `kind` 3, `fare` is unique within a zone (a null
/// every 17th row) and rises along the rows, so a descending top-k takes in nearly every row it meets.
fn batch(offset: i64, n: i64) -> RecordBatch {
    let rows = offset..offset + n;
    let zone: StringArray = rows
        .clone()
        .map(|r| (r % 29 != 5).then(|| format!("z{}", r % 13)))
        .collect();
    let place: StringViewArray = rows
        .clone()
        .map(|r| Some(format!("a zone name longer than twelve bytes {}", r % 7)))
        .collect();
    let kind = Int64Array::from_iter_values(rows.clone().map(|r| r % 3));
    let fare: Float64Array = rows
        .clone()
        .map(|r| (r % 17 != 0).then_some(f64::from(i32::try_from(r).unwrap()) * 0.5))
        .collect();
    let seq = Int64Array::from_iter_values(rows);
    RecordBatch::try_from_iter(vec![
        ("zone", Arc::new(zone) as ArrayRef),
        ("place", Arc::new(place)),
        ("kind", Arc::new(kind)),
        ("fare", Arc::new(fare)),
        ("seq", Arc::new(seq)),
    ])
    .unwrap()
}

/// Three partitions of 2,000-row batches, 60,000 rows in all.
fn trips() -> Arc<MemTable> {
    let partitions: Vec<Vec<RecordBatch>> = (0..3)
        .map(|p| {
            (0..10)
                .map(|b| batch(p * 20_000 + b * 2_000, 2_000))
                .collect()
        })
        .collect();
    Arc::new(MemTable::try_new(partitions[0][0].schema(), partitions).unwrap())
}

fn context(with_rule: bool, memory_limit: Option<usize>) -> SessionContext {
    let mut runtime = RuntimeEnvBuilder::new();
    if let Some(limit) = memory_limit {
        runtime = runtime.with_memory_limit(limit, 1.0);
    }
    let mut state = SessionStateBuilder::new()
        .with_config(
            SessionConfig::new()
                .with_target_partitions(4)
                .with_batch_size(1_000),
        )
        .with_runtime_env(runtime.build_arc().unwrap())
        .with_default_features();
    if with_rule {
        state = state.with_physical_optimizer_rule(Arc::new(GroupTopK));
    }
    let context = SessionContext::new_with_state(state.build());
    context.register_table("trips", trips()).unwrap();
    context
}

/// Numbered trips: `{window}` is the window's `PARTITION BY … ORDER BY …`.
fn numbered(window: &str, condition: &str, order: &str) -> String {
    format!(
        "SELECT * FROM (SELECT zone, place, kind, fare, seq, row_number() OVER ({window}) AS rn FROM trips) AS t \
         WHERE {condition} ORDER BY {order}"
    )
}

#[tokio::test]
async fn top_rows_per_group_are_the_rows_of_the_plain_plan() {
    let datafusion_only = context(false, None);
    let ours = context(true, None);
    let taken = [
        // The H2O-style q8 shape: a projection of the kept rows, nulls filtered out first.
        "SELECT zone, fare FROM (SELECT zone, fare, row_number() OVER (PARTITION BY zone ORDER BY fare DESC) AS o \
         FROM trips WHERE fare IS NOT NULL) AS t WHERE o <= 2 ORDER BY zone, fare"
            .to_owned(),
        numbered("PARTITION BY zone ORDER BY fare DESC NULLS FIRST, seq", "rn <= 3", "zone NULLS FIRST, rn"),
        numbered("PARTITION BY zone ORDER BY fare ASC NULLS LAST, seq", "rn < 3", "zone, rn"),
        numbered("PARTITION BY zone, kind ORDER BY fare DESC NULLS LAST, seq", "rn <= 4 AND fare > 100", "zone, kind, rn"),
        numbered("PARTITION BY place ORDER BY seq DESC", "rn = 1", "place"),
        numbered("PARTITION BY kind ORDER BY fare, seq", "rn BETWEEN 2 AND 5", "kind, rn"),
        numbered("PARTITION BY kind, place ORDER BY seq", "3 >= rn", "kind, place, rn"),
    ];
    for sql in &taken {
        let (plain_plan, expected) = physical_plan_and_rows(&datafusion_only, sql).await;
        let (plan, rows) = physical_plan_and_rows(&ours, sql).await;
        assert!(!plain_plan.contains("GroupTopKExec"), "{plain_plan}");
        assert!(
            plan.contains("GroupTopKExec"),
            "{sql} was not taken:\n{plan}"
        );
        assert!(!plan.contains("BoundedWindowAggExec"), "{plan}");
        assert_eq!(rows, expected, "{sql}\n{plan}");
        assert!(rows.lines().count() > 4, "{sql} kept no rows:\n{rows}");
    }
}

#[tokio::test]
async fn an_order_relied_on_above_is_kept() {
    // The final ORDER BY is the window's own order, so DataFusion only merges the partitions' sorted outputs.
    let sql = "SELECT zone, seq, rn FROM (SELECT zone, seq, row_number() OVER (PARTITION BY zone ORDER BY seq DESC) AS rn \
               FROM trips) AS t WHERE rn <= 2 ORDER BY zone NULLS LAST, seq DESC";
    let (_, expected) = physical_plan_and_rows(&context(false, None), sql).await;
    let (plan, rows) = physical_plan_and_rows(&context(true, None), sql).await;
    assert!(plan.contains("GroupTopKExec"), "{plan}");
    assert!(plan.contains("SortPreservingMergeExec"), "{plan}");
    assert!(!plan.contains("SortExec:"), "{plan}");
    assert_eq!(rows, expected, "{plan}");
    assert_eq!(rows.lines().count(), 4 + 28, "{rows}");
}

#[tokio::test]
async fn other_windows_are_left_to_datafusion() {
    let datafusion_only = context(false, None);
    let ours = context(true, None);
    let cases = [
        "SELECT * FROM (SELECT zone, seq, rank() OVER (PARTITION BY zone ORDER BY kind) AS r FROM trips) AS t WHERE r <= 2 ORDER BY zone, seq",
        "SELECT * FROM (SELECT zone, seq, row_number() OVER (ORDER BY seq) AS r FROM trips) AS t WHERE r <= 2 ORDER BY seq",
        "SELECT * FROM (SELECT zone, seq, row_number() OVER (PARTITION BY zone ORDER BY seq) AS r FROM trips) AS t WHERE r > 4990 ORDER BY zone, seq",
        "SELECT * FROM (SELECT zone, seq, row_number() OVER (PARTITION BY zone ORDER BY seq) AS r FROM trips) AS t WHERE r <= 2000 ORDER BY zone, seq LIMIT 20",
        "SELECT * FROM (SELECT zone, seq, row_number() OVER (PARTITION BY zone ORDER BY seq) AS r, \
         sum(fare) OVER (PARTITION BY zone ORDER BY seq) AS s FROM trips) AS t WHERE r <= 2 ORDER BY zone, seq",
        "SELECT * FROM (SELECT zone, seq, row_number() OVER (PARTITION BY zone ORDER BY seq) AS r FROM trips) AS t WHERE seq <= 2 ORDER BY seq",
    ];
    for sql in cases {
        let (plan, rows) = physical_plan_and_rows(&ours, sql).await;
        assert!(!plan.contains("GroupTopKExec"), "{sql} was taken:\n{plan}");
        assert_eq!(
            rows,
            physical_plan_and_rows(&datafusion_only, sql).await.1,
            "{sql}"
        );
    }
}

#[tokio::test]
async fn kept_rows_count_against_the_memory_limit() {
    // 200,000 groups of one row: the kept rows and their keys are far beyond a 2 MiB limit.
    let ids = Int64Array::from_iter_values(0..200_000);
    let names: StringArray = (0..200_000).map(|i| Some(format!("{i:0>40}"))).collect();
    let wide = RecordBatch::try_from_iter(vec![
        ("id", Arc::new(ids) as ArrayRef),
        ("name", Arc::new(names)),
    ])
    .unwrap();
    let ours = context(true, Some(2 << 20));
    let table = MemTable::try_new(wide.schema(), vec![vec![wide]]).unwrap();
    ours.register_table("wide", Arc::new(table)).unwrap();
    let sql = "SELECT count(*) FROM (SELECT id, row_number() OVER (PARTITION BY name ORDER BY id) AS rn FROM wide) AS t WHERE rn <= 1";
    let frame = ours.sql(sql).await.unwrap();
    let plan = frame.clone().create_physical_plan().await.unwrap();
    let plan = datafusion::physical_plan::displayable(plan.as_ref())
        .indent(true)
        .to_string();
    assert!(plan.contains("GroupTopKExec"), "{plan}");
    let error = frame.collect().await.unwrap_err().to_string();
    assert!(error.contains("Resources exhausted"), "{error}");
    assert!(error.contains("GroupTopK"), "{error}");

    // A thousand slots for each of 200,000 groups (gigabytes) are refused before they are allocated.
    let sql = "SELECT count(*) FROM (SELECT id, row_number() OVER (PARTITION BY name ORDER BY id) AS rn FROM wide) AS t WHERE rn <= 1000";
    let error = ours
        .sql(sql)
        .await
        .unwrap()
        .collect()
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("Resources exhausted"), "{error}");
    assert!(error.contains("GroupTopK"), "{error}");
}

#[tokio::test]
async fn the_engine_keeps_the_top_rows_of_each_group_of_a_parquet_file() {
    // 40,000 rows in four row groups; group keys are strings (read back as view strings).
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rides-upload");
    let props = WriterProperties::builder()
        .set_max_row_group_row_count(Some(10_000))
        .build();
    let mut expected: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    let zone: StringArray = (0..40_000)
        .map(|i| Some(format!("zone {}", i % 101)))
        .collect();
    let fare = Int64Array::from_iter_values((0..40_000).map(|i| (i * 7_919) % 40_009));
    for i in 0..40_000 {
        expected
            .entry(format!("zone {}", i % 101))
            .or_default()
            .push((i * 7_919) % 40_009);
    }
    let batch = RecordBatch::try_from_iter(vec![
        ("zone", Arc::new(zone) as ArrayRef),
        ("fare", Arc::new(fare)),
    ])
    .unwrap();
    let mut writer = ArrowWriter::try_new(
        std::fs::File::create(&path).unwrap(),
        batch.schema(),
        Some(props),
    )
    .unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
    let table = parquet_table("rides", path);
    let (engine, _scratch) = engine_with(settings());
    let out = engine
        .run(
            someone(),
            &[table],
            "SELECT zone, fare, rn FROM (SELECT zone, fare, row_number() OVER (PARTITION BY zone ORDER BY fare DESC) AS rn \
             FROM rides) AS t WHERE rn <= 3 ORDER BY zone, rn",
            LIMITS,
        )
        .await
        .unwrap();
    let want: Vec<Vec<serde_json::Value>> = expected
        .into_iter()
        .flat_map(|(zone, mut fares)| {
            fares.sort_unstable_by(|a, b| b.cmp(a));
            fares
                .into_iter()
                .take(3)
                .zip(1..)
                .map(move |(fare, rn)| vec![json!(zone), json!(fare), json!(rn)])
        })
        .collect();
    assert_eq!(want.len(), 303);
    assert_eq!(out.rows, want);
}
