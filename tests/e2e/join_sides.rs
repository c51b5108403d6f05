//! The engine's join-side rule: a partitioned hash join whose build side is estimated at eight times the probe
//! side's rows or more is swapped, whatever the byte sizes say; an inner join with a small build side over a scan
//! of a much bigger table builds one hash table; and every join shape keeps DataFusion's rows.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, Int64Array, StringArray};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::datasource::MemTable;
use datafusion::execution::session_state::SessionStateBuilder;
use datafusion::prelude::{SessionConfig, SessionContext};
use tabletalk_query_engine::engine::BuildOnFewerRows;
use tabletalk_tests::plans::physical_plan_and_rows;

/// `few`: 60 rows with a 2 KB note each (more bytes than `many`); `many`: 4,000 narrow rows, keys repeating.
fn context(with_rule: bool) -> SessionContext {
    let few_keys: Vec<i64> = (0..60).map(|i| i * 7).collect();
    let few = RecordBatch::try_from_iter(vec![
        (
            "k",
            Arc::new(Int64Array::from(few_keys.clone())) as ArrayRef,
        ),
        (
            "v",
            Arc::new(Int64Array::from_iter_values(few_keys.iter().map(|k| k % 5))),
        ),
        (
            "note",
            Arc::new(StringArray::from_iter_values(
                few_keys.iter().map(|k| format!("{k:0>2048}")),
            )),
        ),
    ])
    .unwrap();
    let many_keys: Vec<i64> = (0..4_000).map(|i| i % 300).collect();
    let many = RecordBatch::try_from_iter(vec![
        (
            "k",
            Arc::new(Int64Array::from(many_keys.clone())) as ArrayRef,
        ),
        (
            "v",
            Arc::new(Int64Array::from_iter_values(
                many_keys.iter().map(|k| k % 3),
            )),
        ),
    ])
    .unwrap();
    // Every join partitioned (no single hash table for small sides), so the rule may act.
    let mut config = SessionConfig::new().with_target_partitions(3);
    config
        .options_mut()
        .optimizer
        .hash_join_single_partition_threshold = 0;
    config
        .options_mut()
        .optimizer
        .hash_join_single_partition_threshold_rows = 0;
    let mut state = SessionStateBuilder::new()
        .with_config(config)
        .with_default_features();
    if with_rule {
        state = state.with_physical_optimizer_rule(Arc::new(BuildOnFewerRows));
    }
    let context = SessionContext::new_with_state(state.build());
    for (name, batch) in [("few", few), ("many", many)] {
        let table = MemTable::try_new(batch.schema(), vec![vec![batch]]).unwrap();
        context.register_table(name, Arc::new(table)).unwrap();
    }
    context
}

/// The hash-join lines of a plan. (A hash join builds on its first input: a `LeftAnti` join on the rows it
/// returns, a `RightAnti` join on the other side.)
fn joins(plan: &str) -> Vec<&str> {
    plan.lines()
        .filter(|line| line.contains("HashJoinExec"))
        .collect()
}

#[tokio::test]
async fn joins_keep_datafusions_rows() {
    let datafusion_only = context(false);
    let ours = context(true);
    for sql in [
        "SELECT f.k, f.v, f.note FROM few f WHERE NOT EXISTS \
         (SELECT 1 FROM many m WHERE m.k = f.k AND m.v <> f.v) ORDER BY f.k",
        "SELECT f.k FROM few f WHERE EXISTS (SELECT 1 FROM many m WHERE m.k = f.k AND m.v = f.v) ORDER BY f.k",
        "SELECT m.k, count(*) AS n FROM many m WHERE m.k NOT IN (SELECT k FROM few) GROUP BY m.k ORDER BY m.k",
        "SELECT f.k, m.v, count(*) AS n FROM few f JOIN many m ON m.k = f.k GROUP BY f.k, m.v ORDER BY f.k, m.v",
        "SELECT f.k, count(m.v) AS n FROM few f LEFT JOIN many m ON m.k = f.k GROUP BY f.k ORDER BY f.k",
        "SELECT m.k, count(f.v) AS n FROM few f RIGHT JOIN many m ON m.k = f.k GROUP BY m.k ORDER BY m.k",
    ] {
        let (_, expected) = physical_plan_and_rows(&datafusion_only, sql).await;
        let (plan, rows) = physical_plan_and_rows(&ours, sql).await;
        assert_eq!(rows, expected, "{sql}\n{plan}");
    }
}

#[tokio::test]
async fn the_build_side_is_the_one_with_far_fewer_rows() {
    // The notes are in the output, so they count in `few`'s estimated bytes.
    let sql = "SELECT f.k, f.v, f.note FROM few f WHERE NOT EXISTS \
               (SELECT 1 FROM many m WHERE m.k = f.k AND m.v <> f.v)";
    let (plain, _) = physical_plan_and_rows(&context(false), sql).await;
    let (ours, _) = physical_plan_and_rows(&context(true), sql).await;
    // DataFusion goes by bytes: `few`'s notes make it the bigger input, so it builds on the 4,000 rows of `many`.
    let plain_joins = joins(&plain);
    assert_eq!(plain_joins.len(), 1, "{plain}");
    assert!(plain_joins[0].contains("RightAnti"), "{plain}");
    // The rule swaps: the anti join builds on the 60 rows of `few` and probes with `many`.
    let our_joins = joins(&ours);
    assert_eq!(our_joins.len(), 1, "{ours}");
    assert!(our_joins[0].contains("LeftAnti"), "{ours}");
    assert!(our_joins[0].contains("mode=Partitioned"), "{ours}");
}

#[tokio::test]
async fn a_small_build_side_over_a_scanned_table_gets_one_hash_table() {
    // 60 build rows against a scan of 4,000: the scan is not repartitioned, one table serves every partition.
    let inner = "SELECT f.k, m.v FROM few f JOIN many m ON m.k = f.k";
    let (plain, _) = physical_plan_and_rows(&context(false), inner).await;
    let (ours, _) = physical_plan_and_rows(&context(true), inner).await;
    let (plain_joins, our_joins) = (joins(&plain), joins(&ours));
    assert_eq!(plain_joins.len(), 1, "{plain}");
    assert!(plain_joins[0].contains("mode=Partitioned"), "{plain}");
    assert_eq!(our_joins.len(), 1, "{ours}");
    assert!(our_joins[0].contains("mode=CollectLeft"), "{ours}");
    assert!(
        !ours.contains("Hash([k@"),
        "the scan of `many` is not repartitioned: {ours}"
    );
    // Only inner joins: an outer join's unmatched rows are per partition of its build side.
    let outer = "SELECT f.k, m.v FROM few f LEFT JOIN many m ON m.k = f.k";
    let (ours, _) = physical_plan_and_rows(&context(true), outer).await;
    let our_joins = joins(&ours);
    assert_eq!(our_joins.len(), 1, "{ours}");
    assert!(our_joins[0].contains("mode=Partitioned"), "{ours}");
}
