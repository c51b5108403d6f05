//! The engine's single-copy filter: every `FilterExec` without a row limit is replaced, keeps exactly DataFusion's
//! rows (in order, with nulls, projections, no column at all, none or every row kept), passes a batch keeping
//! more than half a batch on alone instead of merging it into what is buffered, and leaves a limited filter alone.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, Int64Array, StringArray};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::datasource::MemTable;
use datafusion::execution::session_state::SessionStateBuilder;
use datafusion::physical_plan::collect;
use datafusion::prelude::{SessionConfig, SessionContext};
use tabletalk_query_engine::engine::SingleCopyFilters;
use tabletalk_tests::plans::physical_plan_and_rows;

const BATCH_SIZE: usize = 1_000;

/// One batch of `ids`, with a nullable number and a nullable word.
fn batch(ids: std::ops::Range<i64>) -> RecordBatch {
    let ids: Vec<i64> = ids.collect();
    let amount: Int64Array = ids
        .iter()
        .map(|i| (i % 11 != 3).then_some(i % 100))
        .collect();
    let word: StringArray = ids
        .iter()
        .map(|i| (i % 13 != 5).then(|| ["red", "green", "blue"][usize::try_from(i % 3).unwrap()]))
        .collect();
    RecordBatch::try_from_iter(vec![
        ("id", Arc::new(Int64Array::from(ids)) as ArrayRef),
        ("amount", Arc::new(amount)),
        ("word", Arc::new(word)),
    ])
    .unwrap()
}

/// `partitions` partitions, each of full batches with a short one in between (as a row group's last rows are).
fn context(with_rule: bool, partitions: i64) -> SessionContext {
    let batches: Vec<Vec<RecordBatch>> = (0..partitions)
        .map(|part| {
            let start = part * 10_000;
            vec![
                batch(start..start + 1_000),
                batch(start + 1_000..start + 1_300),
                batch(start + 1_300..start + 2_300),
                batch(start + 2_300..start + 3_300),
                batch(start + 3_300..start + 3_310),
                batch(start + 3_310..start + 4_310),
            ]
        })
        .collect();
    let table = MemTable::try_new(batches[0][0].schema(), batches).unwrap();
    let config = SessionConfig::new()
        .with_target_partitions(usize::try_from(partitions).unwrap())
        .with_batch_size(BATCH_SIZE);
    let mut state = SessionStateBuilder::new()
        .with_config(config)
        .with_default_features();
    if with_rule {
        state = state.with_physical_optimizer_rule(Arc::new(SingleCopyFilters));
    }
    let context = SessionContext::new_with_state(state.build());
    context.register_table("t", Arc::new(table)).unwrap();
    context
}

#[tokio::test]
async fn single_copy_filters_keep_datafusions_rows() {
    let datafusion_only = context(false, 3);
    let ours = context(true, 3);
    for sql in [
        // Most rows kept, fewer, very few, none, every one.
        "SELECT id, word FROM t WHERE id % 50 <> 7 ORDER BY id",
        "SELECT id, amount FROM t WHERE id % 3 = 0 ORDER BY id",
        "SELECT * FROM t WHERE id % 997 = 1 ORDER BY id",
        "SELECT * FROM t WHERE id < 0",
        "SELECT * FROM t WHERE id >= 0 ORDER BY id",
        // A null answer drops its row.
        "SELECT id FROM t WHERE amount > 20 ORDER BY id",
        "SELECT id, amount FROM t WHERE word <> 'red' OR amount < 5 ORDER BY id",
        // The filter's own projection: no column of the predicate in the output, or no column at all.
        "SELECT word FROM t WHERE amount BETWEEN 10 AND 90 ORDER BY word",
        "SELECT count(*) AS n FROM t WHERE amount IS NULL",
        "SELECT word, count(*) AS n, sum(amount) AS total FROM t WHERE id % 7 <> 0 GROUP BY word ORDER BY word",
    ] {
        let (plain_plan, expected) = physical_plan_and_rows(&datafusion_only, sql).await;
        let (plan, rows) = physical_plan_and_rows(&ours, sql).await;
        assert!(!plain_plan.contains("SingleCopyFilterExec"), "{plain_plan}");
        assert!(
            plan.contains("SingleCopyFilterExec"),
            "{sql} was not taken:\n{plan}"
        );
        assert_eq!(rows, expected, "{sql}\n{plan}");
    }
}

#[tokio::test]
async fn rows_keep_their_order_and_big_batches_go_on_alone() {
    let sql = "SELECT id FROM t WHERE id % 50 <> 7";
    let mut sizes = Vec::new();
    let mut ids = Vec::new();
    for with_rule in [false, true] {
        let context = context(with_rule, 1);
        let plan = context
            .sql(sql)
            .await
            .unwrap()
            .create_physical_plan()
            .await
            .unwrap();
        let batches = collect(plan, context.task_ctx()).await.unwrap();
        sizes.push(
            batches
                .iter()
                .map(RecordBatch::num_rows)
                .collect::<Vec<_>>(),
        );
        ids.push(
            batches
                .iter()
                .flat_map(|b| {
                    let column = b.column(0).as_any().downcast_ref::<Int64Array>().unwrap();
                    column.values().to_vec()
                })
                .collect::<Vec<i64>>(),
        );
    }
    // Same rows in the same order (one partition, no sort).
    assert_eq!(ids[0], ids[1]);
    assert_eq!(ids[1].len(), 4_310 - 87);
    // DataFusion merges every batch after the first short one into its buffer (copying it again): full batches of
    // 1,000 and the rest. Ours passes each big batch on alone, what is buffered (a short batch's rows) before it.
    assert_eq!(sizes[0], vec![980, 1_000, 1_000, 1_000, 243]);
    assert_eq!(sizes[1], vec![980, 294, 980, 980, 9, 980]);
}

#[tokio::test]
async fn a_filter_that_stops_after_some_rows_stays_datafusions() {
    let ours = context(true, 1);
    let (plan, rows) =
        physical_plan_and_rows(&ours, "SELECT id FROM t WHERE id % 2 = 0 LIMIT 3").await;
    assert!(!plan.contains("SingleCopyFilterExec"), "{plan}");
    assert!(plan.contains("FilterExec"), "{plan}");
    assert_eq!(rows.lines().count(), 3 + 4, "{rows}");
}
