//! The engine's dictionary group-by rule: every shape it takes over gives the rows of DataFusion's own plan
//! (dictionaries that change between batches, batches sharing one, null keys, null values, filters), the shapes it
//! must not take are left to DataFusion, and its groups count against the query's memory limit.

use std::sync::Arc;

use datafusion::arrow::array::{
    ArrayRef, DictionaryArray, Float64Array, Int8Array, Int32Array, Int64Array, StringArray,
    StringViewArray,
};
use datafusion::arrow::datatypes::{Int8Type, Int32Type, Int64Type};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::datasource::MemTable;
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::execution::session_state::SessionStateBuilder;
use datafusion::physical_plan::displayable;
use datafusion::prelude::{SessionConfig, SessionContext};
use tabletalk_query_engine::engine::DictionaryGroups;
use tabletalk_tests::plans::physical_plan_and_rows;

/// One batch of `rows` trips whose `kind` keys index `values` (`None` keys are null).
fn batch(values: &ArrayRef, keys: &[Option<i32>], offset: i64) -> RecordBatch {
    let n = keys.len();
    let kind =
        DictionaryArray::<Int32Type>::try_new(Int32Array::from(keys.to_vec()), values.clone())
            .unwrap();
    let view_values: ArrayRef = Arc::new(StringViewArray::from(vec!["north", "south", "east"]));
    let kind_view = DictionaryArray::<Int64Type>::try_new(
        Int64Array::from_iter_values((0..n).map(|i| i64::try_from(i % 3).unwrap())),
        view_values,
    )
    .unwrap();
    let small_values: ArrayRef = Arc::new(StringArray::from(vec!["x", "y"]));
    let small = DictionaryArray::<Int8Type>::try_new(
        Int8Array::from_iter_values((0..n).map(|i| i8::try_from(i % 2).unwrap())),
        small_values,
    )
    .unwrap();
    let rows = (0..n).map(|i| offset + i64::try_from(i).unwrap());
    let fare: Float64Array = rows
        .clone()
        .map(|r| (r % 7 != 0).then_some(f64::from(i32::try_from(r % 40).unwrap()) * 0.75))
        .collect();
    let riders = Int64Array::from_iter_values(rows.clone().map(|r| r % 5));
    let name: StringArray = rows.map(|r| Some(format!("n{}", r % 4))).collect();
    RecordBatch::try_from_iter(vec![
        ("kind", Arc::new(kind) as ArrayRef),
        ("kind_view", Arc::new(kind_view)),
        ("small", Arc::new(small)),
        ("fare", Arc::new(fare)),
        ("riders", Arc::new(riders)),
        ("name", Arc::new(name)),
    ])
    .unwrap()
}

/// Four partitions of two batches each: two dictionaries with the same words in other orders (one holding a
/// null value), a third with a word of its own, and batches that share one dictionary.
fn trips() -> Arc<MemTable> {
    let first: ArrayRef = Arc::new(StringArray::from(vec![
        Some("cash"),
        Some("card"),
        None,
        Some("app"),
    ]));
    let second: ArrayRef = Arc::new(StringArray::from(vec!["app", "voucher", "cash", "card"]));
    let third: ArrayRef = Arc::new(StringArray::from(vec!["card", "cash", "dispute", "unused"]));
    let keys = |n: usize, modulo: i32, null_every: usize| -> Vec<Option<i32>> {
        (0..n)
            .map(|i| (i % null_every != 0).then(|| i32::try_from(i).unwrap() % modulo))
            .collect()
    };
    let partitions = vec![
        vec![
            batch(&first, &keys(300, 4, 11), 0),
            batch(&first, &keys(200, 4, 1_000), 300),
        ],
        vec![
            batch(&second, &keys(250, 4, 13), 500),
            batch(&first, &keys(150, 3, 7), 750),
        ],
        vec![
            batch(&third, &keys(120, 2, 1_000), 900),
            batch(&third, &keys(80, 3, 9), 1_020),
        ],
        vec![
            batch(&second, &keys(400, 2, 17), 1_100),
            batch(&second, &keys(100, 4, 1_000), 1_500),
        ],
    ];
    Arc::new(MemTable::try_new(partitions[0][0].schema(), partitions).unwrap())
}

fn context(with_rule: bool, memory_limit: Option<usize>) -> SessionContext {
    let mut runtime = RuntimeEnvBuilder::new();
    if let Some(limit) = memory_limit {
        runtime = runtime.with_memory_limit(limit, 1.0);
    }
    let mut state = SessionStateBuilder::new()
        .with_config(SessionConfig::new().with_target_partitions(4))
        .with_runtime_env(runtime.build_arc().unwrap())
        .with_default_features();
    if with_rule {
        state = state.with_physical_optimizer_rule(Arc::new(DictionaryGroups));
    }
    let context = SessionContext::new_with_state(state.build());
    context.register_table("trips", trips()).unwrap();
    context
}

const TAKEN: [&str; 7] = [
    // DataFusion plans a DISTINCT as a group-by on (kind, riders) under one on kind: the rule takes the outer one.
    "SELECT kind, count(DISTINCT riders) FROM trips GROUP BY kind ORDER BY 1",
    "SELECT kind, count(*), count(fare), sum(fare), avg(fare), min(fare), max(riders) FROM trips GROUP BY kind ORDER BY kind NULLS FIRST",
    "SELECT kind, count(*) FILTER (WHERE fare > 10) AS dear, sum(riders) FROM trips WHERE riders > 0 GROUP BY kind HAVING count(*) > 1 ORDER BY 1",
    "SELECT upper(kind) AS k, avg(riders) AS r FROM trips GROUP BY kind ORDER BY 1 NULLS LAST",
    "SELECT kind, count(*) AS n FROM trips GROUP BY kind ORDER BY n DESC, kind LIMIT 3",
    "SELECT kind_view, count(*), sum(fare) FROM trips GROUP BY kind_view ORDER BY 1",
    "SELECT kind, count(*) FROM trips WHERE fare > 1000 GROUP BY kind ORDER BY 1",
];

#[tokio::test]
async fn dictionary_group_bys_give_the_rows_of_the_plain_plan() {
    let datafusion_only = context(false, None);
    let ours = context(true, None);
    for sql in TAKEN {
        let (plain_plan, expected) = physical_plan_and_rows(&datafusion_only, sql).await;
        let (plan, rows) = physical_plan_and_rows(&ours, sql).await;
        assert!(
            !plain_plan.contains("DictionaryPartialAggregateExec"),
            "{plain_plan}"
        );
        assert!(
            plan.contains("DictionaryPartialAggregateExec"),
            "{sql} was not taken:\n{plan}"
        );
        assert_eq!(rows, expected, "{sql}\n{plan}");
    }
    // The groups really are the dictionaries' words, the null value and the null keys together.
    let (_, rows) = physical_plan_and_rows(
        &ours,
        "SELECT kind, count(*) AS n FROM trips GROUP BY kind ORDER BY kind NULLS FIRST",
    )
    .await;
    for word in ["app", "card", "cash", "voucher", "dispute"] {
        assert!(rows.contains(word), "{rows}");
    }
    assert!(!rows.contains("unused"), "{rows}");
    assert_eq!(rows.lines().count(), 4 + 6, "{rows}");
}

#[tokio::test]
async fn other_group_bys_are_left_to_datafusion() {
    let datafusion_only = context(false, None);
    let ours = context(true, None);
    let cases = [
        "SELECT kind, riders, count(*) FROM trips GROUP BY kind, riders ORDER BY 1, 2",
        "SELECT small, count(*) FROM trips GROUP BY small ORDER BY 1",
        "SELECT name, count(*) FROM trips GROUP BY name ORDER BY 1",
        "SELECT kind, array_agg(riders ORDER BY riders) FROM trips GROUP BY kind ORDER BY 1",
        "SELECT kind, count(*) FROM trips GROUP BY ROLLUP (kind) ORDER BY 1",
        "SELECT count(*), sum(fare) FROM trips",
    ];
    for sql in cases {
        let (plan, rows) = physical_plan_and_rows(&ours, sql).await;
        assert!(
            !plan.contains("DictionaryPartialAggregateExec"),
            "{sql} was taken:\n{plan}"
        );
        assert_eq!(
            rows,
            physical_plan_and_rows(&datafusion_only, sql).await.1,
            "{sql}"
        );
    }
}

#[tokio::test]
async fn groups_count_against_the_memory_limit() {
    // 60,000 distinct 200-byte words in one dictionary: about 24 MB of group values against a 4 MiB limit.
    let words: StringArray = (0..60_000).map(|i| Some(format!("{i:0>200}"))).collect();
    let values: ArrayRef = Arc::new(words);
    let keys: Vec<Option<i32>> = (0..60_000).map(Some).collect();
    let table = MemTable::try_new(
        batch(&values, &keys, 0).schema(),
        vec![
            vec![batch(&values, &keys, 0)],
            vec![batch(&values, &keys, 0)],
        ],
    )
    .unwrap();
    let ours = context(true, Some(4 << 20));
    ours.register_table("words", Arc::new(table)).unwrap();
    let sql = "SELECT kind, count(*) FROM words GROUP BY kind";
    let frame = ours.sql(sql).await.unwrap();
    let plan = frame.clone().create_physical_plan().await.unwrap();
    assert!(
        displayable(plan.as_ref())
            .indent(true)
            .to_string()
            .contains("DictionaryPartialAggregateExec")
    );
    let error = frame.collect().await.unwrap_err().to_string();
    assert!(error.contains("Resources exhausted"), "{error}");
    assert!(error.contains("DictionaryPartialAggregate"), "{error}");
}
