//! The DataFusion engine for real, over Parquet and CSV files the tests write: results and their JSON encoding,
//! the read-only sandbox, row caps, memory and time limits, the queue, and dictionary columns grouped by value.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use datafusion::arrow::array::{
    ArrayRef, BinaryArray, Date32Array, Float64Array, Int64Array, StringArray,
    TimestampMillisecondArray,
};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::parquet::arrow::ArrowWriter;
use serde_json::json;
use tabletalk_ports::{
    Compression, DatasetFormat, QueryEngine, QueryError, QueryTable, RowLimits, SqlProblem,
    TableLocation, UserId,
};
use tabletalk_query_engine::engine::{DataFusionEngine, EngineSettings};
use tabletalk_query_engine::fetch::{AddressPolicy, FetchSettings};
use tabletalk_query_engine::files::{DatasetFiles, FileSettings};

pub(crate) const LIMITS: RowLimits = RowLimits {
    auto_limit: 10_000,
    kept_rows: 1_000,
    file_order: false,
};

/// The engine's file layer in a temporary directory (nothing remote is reachable: private networks refused).
fn files(dir: &Path) -> Arc<DatasetFiles> {
    DatasetFiles::open(
        FileSettings {
            fetch: FetchSettings {
                policy: AddressPolicy::default(),
                user_agent: "Tabletalk/test".to_owned(),
            },
            upload_dir: dir.join("uploads"),
            cache_dir: dir.join("cache"),
            cache_max_bytes: 1 << 30,
            max_upload_bytes: 1 << 30,
            max_download_bytes: 1 << 30,
            probe_timeout: Duration::from_secs(5),
            download_timeout: Duration::from_secs(30),
        },
        Arc::new(tabletalk_ports::NoTelemetry),
    )
    .unwrap()
}

/// A fresh engine with its own scratch directory (kept alive by the returned guard).
pub(crate) fn engine_with(settings: EngineSettings) -> (DataFusionEngine, tempfile::TempDir) {
    let scratch = tempfile::tempdir().unwrap();
    let engine = DataFusionEngine::new(settings, files(scratch.path())).unwrap();
    (engine, scratch)
}

pub(crate) fn settings() -> EngineSettings {
    EngineSettings {
        timeout: Duration::from_secs(30),
        memory_limit: 256 << 20,
        max_concurrency: 2,
        max_concurrency_per_user: 2,
        total_memory: 1 << 30,
        max_join_rows: 1_000_000_000,
        queue_capacity: 4,
        queue_timeout: Duration::from_secs(5),
        worker: tabletalk_tests::worker_command(),
    }
}

/// A new user for each query: these tests are about the engine, not about fairness between users.
pub(crate) fn someone() -> UserId {
    UserId::new()
}

fn write_sales(dir: &Path) -> QueryTable {
    let columns: Vec<(&str, ArrayRef)> = vec![
        ("id", Arc::new(Int64Array::from(vec![1, 2, 3]))),
        (
            "Region",
            Arc::new(StringArray::from(vec![Some("north"), None, Some("south")])),
        ),
        (
            "amount",
            Arc::new(Float64Array::from(vec![10.5, f64::NAN, f64::INFINITY])),
        ),
        (
            "big",
            Arc::new(Int64Array::from(vec![1 << 60, 42, -(1 << 53)])),
        ),
        (
            "day",
            Arc::new(Date32Array::from(vec![19_723, 19_724, 19_725])),
        ),
        (
            "ts",
            Arc::new(TimestampMillisecondArray::from(vec![
                1_704_067_200_123,
                0,
                86_400_000,
            ])),
        ),
        (
            "blob",
            Arc::new(BinaryArray::from(vec![&b"\x00\xff"[..], b"ab", b""])),
        ),
    ];
    let batch = RecordBatch::try_from_iter(columns).unwrap();
    let path = dir.join("0193-sales-upload");
    let mut writer =
        ArrowWriter::try_new(std::fs::File::create(&path).unwrap(), batch.schema(), None).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
    parquet_table("sales", path)
}

/// A local Parquet file as the engine's table `name`.
pub(crate) fn parquet_table(name: &str, path: std::path::PathBuf) -> QueryTable {
    QueryTable {
        name: name.into(),
        location: TableLocation::File(path),
        format: DatasetFormat::Parquet,
        compression: Compression::None,
        columns: Vec::new(),
        integer_ranges: Vec::new(),
        row_count: None,
    }
}

fn write_csv(dir: &Path) -> QueryTable {
    let path = dir.join("regions-cached");
    std::fs::write(&path, "region,manager\nnorth,Ada\nsouth,Grace\n").unwrap();
    QueryTable {
        name: "regions".into(),
        location: TableLocation::File(path),
        format: DatasetFormat::Csv,
        compression: Compression::None,
        columns: Vec::new(),
        integer_ranges: Vec::new(),
        row_count: None,
    }
}

#[tokio::test]
async fn queries_over_parquet_and_csv_return_typed_json_rows() {
    let dir = tempfile::tempdir().unwrap();
    let tables = [write_sales(dir.path()), write_csv(dir.path())];
    let (engine, _scratch) = engine_with(settings());

    let out = engine
        .run(
            someone(),
            &tables,
            r#"SELECT id, "Region", amount, big, day, ts, blob FROM sales ORDER BY id"#,
            LIMITS,
        )
        .await
        .unwrap();
    let types: Vec<&str> = out.columns.iter().map(|c| c.sql_type.as_str()).collect();
    assert_eq!(
        types,
        [
            "BIGINT",
            "VARCHAR",
            "DOUBLE",
            "BIGINT",
            "DATE",
            "TIMESTAMP",
            "BYTEA"
        ]
    );
    assert_eq!(
        out.rows[0],
        vec![
            json!(1),
            json!("north"),
            json!(10.5),
            json!("1152921504606846976"),
            json!("2024-01-01"),
            json!("2024-01-01T00:00:00.123"),
            json!("\\x00ff")
        ]
    );
    assert_eq!(out.rows[1][1], json!(null));
    assert_eq!(out.rows[1][2], json!("NaN"));
    assert_eq!(out.rows[2][2], json!("Infinity"));
    assert_eq!(
        out.rows[2][3],
        json!("-9007199254740992"),
        "beyond ±(2^53−1) integers are strings"
    );
    assert_eq!(out.rows[1][3], json!(42));
    assert_eq!((out.total_rows, out.limit_applied), (3, false));

    let joined = engine
        .run(someone(), &tables, r#"SELECT r.manager, count(*) AS n FROM sales s JOIN regions r ON s."Region" = r.region GROUP BY r.manager ORDER BY n DESC, r.manager"#, LIMITS)
        .await
        .unwrap();
    assert_eq!(
        joined.rows,
        vec![vec![json!("Ada"), json!(1)], vec![json!("Grace"), json!(1)]]
    );
}

#[tokio::test]
async fn the_sandbox_refuses_everything_but_one_query_over_the_given_tables() {
    let dir = tempfile::tempdir().unwrap();
    let tables = [write_sales(dir.path())];
    let (engine, _scratch) = engine_with(settings());
    for refused in [
        "CREATE TABLE t AS SELECT 1",
        "CREATE EXTERNAL TABLE t STORED AS CSV LOCATION '/etc/passwd'",
        "INSERT INTO sales VALUES (1)",
        "COPY (SELECT * FROM sales) TO '/tmp/leak.csv'",
        "SET datafusion.execution.batch_size = 1",
        "EXPLAIN SELECT * FROM sales",
        "DROP TABLE sales",
        "DELETE FROM sales",
        "UPDATE sales SET id = 1",
        "DESCRIBE sales",
        "SHOW TABLES",
        "CREATE VIEW v AS SELECT 1",
        "PREPARE p AS SELECT 1",
    ] {
        assert_eq!(
            engine.run(someone(), &tables, refused, LIMITS).await,
            Err(QueryError::ReadOnlyViolation),
            "{refused}"
        );
    }
    assert!(!Path::new("/tmp/leak.csv").exists());
    assert_eq!(
        engine
            .run(someone(), &tables, "SELECT 1; SELECT 2", LIMITS)
            .await,
        Err(QueryError::MultipleStatements)
    );
    assert_eq!(
        engine
            .run(someone(), &tables, "SELECT 1; DROP TABLE sales", LIMITS)
            .await,
        Err(QueryError::MultipleStatements)
    );
    assert!(matches!(
        engine.run(someone(), &tables, "SELEC 1", LIMITS).await,
        Err(QueryError::Sql { .. })
    ));
    for accepted in [
        "select id from sales;",
        "WITH t AS (SELECT id FROM sales) SELECT id FROM t",
        "VALUES (1), (2)",
        "SELECT 1 UNION SELECT 2",
    ] {
        assert!(
            engine
                .run(someone(), &tables, accepted, LIMITS)
                .await
                .is_ok(),
            "{accepted}"
        );
    }
    for unreachable in [
        "SELECT * FROM '/etc/passwd'",
        "SELECT * FROM \"/etc/passwd\"",
        "SELECT * FROM 'https://example.com/data.parquet'",
        "SELECT * FROM other_conversations_table",
        "SELECT * FROM information_schema.tables",
    ] {
        let outcome = engine.run(someone(), &tables, unreachable, LIMITS).await;
        assert!(
            matches!(&outcome, Err(QueryError::Sql { problem, .. })
                if matches!(**problem, SqlProblem::UnknownTable { .. })),
            "{unreachable}: {outcome:?}"
        );
    }
}

fn any_suggestion(problem: SqlProblem) -> SqlProblem {
    match problem {
        SqlProblem::UnknownFunction {
            name,
            suggestion: Some(_),
        } => SqlProblem::UnknownFunction {
            name,
            suggestion: Some("*".to_owned()),
        },
        other => other,
    }
}

/// The adapter names what DataFusion refused from DataFusion's own errors; a DataFusion upgrade that changes an
/// error's shape or wording fails here, not in a sentence users read.
#[tokio::test]
async fn refused_statements_are_classified_from_datafusions_own_errors() {
    let dir = tempfile::tempdir().unwrap();
    let tables = [write_sales(dir.path())];
    let (engine, _scratch) = engine_with(settings());
    let text = |s: &str| Some(s.to_owned());
    let cases: Vec<(&str, SqlProblem)> = vec![
        (
            "SELECT amount FROM sales WHERE",
            SqlProblem::Syntax {
                found: text("EOF"),
                line: None,
                column: None,
            },
        ),
        (
            "SELECT id FROM sales LIMIT 10 10",
            SqlProblem::Syntax {
                found: text("10"),
                line: Some(1),
                column: Some(31),
            },
        ),
        (
            "SELECT sales.price FROM sales",
            SqlProblem::UnknownColumn {
                qualifier: text("sales"),
                column: "price".to_owned(),
                suggestion: text("sales.id"),
                candidates: ["id", "Region", "amount", "big", "day", "ts", "blob"]
                    .iter()
                    .map(|c| format!("sales.{c}"))
                    .collect(),
            },
        ),
        (
            "SELECT * FROM salez",
            SqlProblem::UnknownTable {
                table: "salez".to_owned(),
            },
        ),
        (
            "SELECT id FROM sales a JOIN sales b ON a.id = b.id",
            SqlProblem::AmbiguousColumn {
                column: "id".to_owned(),
            },
        ),
        (
            "SELECT datediff(day, day) FROM sales",
            // DataFusion picks among equally close names in hash order: any suggestion will do.
            SqlProblem::UnknownFunction {
                name: "datediff".to_owned(),
                suggestion: text("*"),
            },
        ),
        (
            "SELECT day * 2 FROM sales",
            SqlProblem::Arithmetic { temporal: true },
        ),
        (
            "SELECT \"Region\" * 2 FROM sales",
            SqlProblem::Arithmetic { temporal: false },
        ),
        (
            "SELECT CAST('abc' AS BIGINT)",
            SqlProblem::InvalidCast {
                value: text("abc"),
                target: text("Int64"),
            },
        ),
        ("SELECT id / 0 FROM sales", SqlProblem::DivideByZero),
        (
            "SELECT id, amount FROM sales GROUP BY id",
            SqlProblem::NotGrouped {
                expression: text("sales.amount"),
            },
        ),
        (
            "SELECT id FROM sales WHERE sum(amount) > 1",
            SqlProblem::AggregateInFilter,
        ),
        ("SELECT id, id FROM sales", SqlProblem::DuplicateNames),
        (
            "SELECT id FROM sales UNION SELECT id, amount FROM sales",
            SqlProblem::SetOperationArity,
        ),
        (
            "SELECT regexp_like(\"Region\", '(?<=a)b') FROM sales",
            SqlProblem::InvalidRegex,
        ),
    ];
    let mut wrong = Vec::new();
    for (sql, expected) in cases {
        match engine.run(someone(), &tables, sql, LIMITS).await {
            Err(QueryError::Sql { problem, .. })
                if any_suggestion(*problem.clone()) == expected => {}
            other => wrong.push(format!("{sql}\n  expected {expected:?}\n  got {other:?}")),
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[tokio::test]
async fn the_auto_limit_and_the_kept_rows_cap_results() {
    let (engine, _scratch) = engine_with(settings());
    let out = engine
        .run(
            someone(),
            &[],
            "SELECT value FROM generate_series(1, 20000)",
            LIMITS,
        )
        .await
        .unwrap();
    assert_eq!(
        (out.total_rows, out.limit_applied, out.rows.len()),
        (10_000, true, 1_000)
    );
    let exact = engine
        .run(
            someone(),
            &[],
            "SELECT value FROM generate_series(1, 10000)",
            LIMITS,
        )
        .await
        .unwrap();
    assert_eq!(
        (exact.total_rows, exact.limit_applied),
        (10_000, false),
        "exactly the limit is not a cut"
    );
    let ordered = engine
        .run(
            someone(),
            &[],
            "SELECT value FROM generate_series(1, 20000) ORDER BY value DESC LIMIT 3",
            LIMITS,
        )
        .await
        .unwrap();
    assert_eq!(
        ordered.rows,
        vec![
            vec![json!(20_000)],
            vec![json!(19_999)],
            vec![json!(19_998)]
        ],
        "the user's ORDER BY and LIMIT keep their meaning"
    );
}

/// Slow but cooperative: the series yields between batches, so an aborted query stops within a batch.
const SLOW: &str = "SELECT count(*) FROM generate_series(1, 100000000000) WHERE value % 7 = 3";

#[tokio::test]
async fn memory_and_time_limits_stop_queries_and_the_engine_recovers() {
    let (engine, _scratch_engine) = engine_with(EngineSettings {
        memory_limit: 8 << 20,
        ..settings()
    });
    // A scrambled key defeats streaming aggregation: the hash table must hold every group.
    let hungry = "SELECT (value * 7919) % 3000017 AS k, count(*) FROM generate_series(1, 3000000) GROUP BY k";
    assert_eq!(
        engine
            .run(someone(), &[], hungry, LIMITS)
            .await
            .map(|o| o.total_rows),
        Err(QueryError::MemoryExceeded)
    );
    assert_eq!(
        engine
            .run(someone(), &[], "SELECT 1 AS one", LIMITS)
            .await
            .unwrap()
            .rows,
        vec![vec![json!(1)]]
    );

    let (impatient, _scratch_impatient) = engine_with(EngineSettings {
        timeout: Duration::from_millis(500),
        ..settings()
    });
    assert_eq!(
        impatient
            .run(someone(), &[], SLOW, LIMITS)
            .await
            .map(|o| o.total_rows),
        Err(QueryError::Timeout { seconds: 0 })
    );
    assert_eq!(
        impatient
            .run(someone(), &[], "SELECT 1 AS one", LIMITS)
            .await
            .unwrap()
            .rows,
        vec![vec![json!(1)]]
    );
    assert_eq!(impatient.load(), (0, 0), "slots were given back");
}

#[tokio::test]
async fn a_full_queue_answers_busy() {
    let engine = Arc::new(
        engine_with(EngineSettings {
            timeout: Duration::from_secs(2),
            max_concurrency: 1,
            queue_capacity: 1,
            queue_timeout: Duration::from_millis(300),
            ..settings()
        })
        .0,
    );
    let running = tokio::spawn({
        let engine = engine.clone();
        async move { engine.run(someone(), &[], SLOW, LIMITS).await }
    });
    while engine.load().0 == 0 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let waiter = tokio::spawn({
        let engine = engine.clone();
        async move { engine.run(someone(), &[], "SELECT 1", LIMITS).await }
    });
    while engine.load().1 == 0 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        engine
            .run(someone(), &[], "SELECT 2", LIMITS)
            .await
            .map(|o| o.total_rows),
        Err(QueryError::Busy),
        "the queue is full"
    );
    assert_eq!(
        waiter.await.unwrap().map(|o| o.total_rows),
        Err(QueryError::Busy),
        "the wait ran out"
    );
    assert!(matches!(
        running.await.unwrap(),
        Err(QueryError::Timeout { .. })
    ));
}

#[tokio::test]
async fn dictionary_columns_group_by_their_values_across_row_groups() {
    use datafusion::arrow::array::{DictionaryArray, Int32Array};
    use datafusion::arrow::datatypes::Int32Type;
    use datafusion::parquet::file::properties::WriterProperties;

    // 30,000 rows in three row groups; the Arrow schema stored in the file makes the reader return dictionaries
    // (what pyarrow writes for a categorical column), one per row group, each listing the words in another order.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("payments-upload");
    let words = [
        ["cash", "card", "app"],
        ["app", "cash", "card"],
        ["card", "app", "cash"],
    ];
    let props = WriterProperties::builder()
        .set_max_row_group_row_count(Some(10_000))
        .build();
    let mut writer = None;
    let mut expected = std::collections::BTreeMap::<Option<&str>, (i64, i64)>::new();
    for (group, dictionary) in words.iter().enumerate() {
        let offset = i64::try_from(group).unwrap() * 10_000;
        let keys: Vec<Option<i32>> = (0..10_000)
            .map(|i| (i % 10 != 0).then_some(i % 3))
            .collect();
        for (i, key) in keys.iter().enumerate() {
            let entry = expected
                .entry(key.map(|k| dictionary[usize::try_from(k).unwrap()]))
                .or_default();
            entry.0 += 1;
            entry.1 += offset + i64::try_from(i).unwrap();
        }
        let values: ArrayRef = Arc::new(StringArray::from(dictionary.to_vec()));
        let kind = DictionaryArray::<Int32Type>::try_new(Int32Array::from(keys), values).unwrap();
        let amount = Int64Array::from_iter_values(offset..offset + 10_000);
        let batch = RecordBatch::try_from_iter(vec![
            ("kind", Arc::new(kind) as ArrayRef),
            ("amount", Arc::new(amount)),
        ])
        .unwrap();
        writer
            .get_or_insert_with(|| {
                let file = std::fs::File::create(&path).unwrap();
                ArrowWriter::try_new(file, batch.schema(), Some(props.clone())).unwrap()
            })
            .write(&batch)
            .unwrap();
    }
    writer.unwrap().close().unwrap();
    let table = parquet_table("payments", path);
    let (engine, _scratch) = engine_with(settings());
    let out = engine
        .run(someone(), &[table],
            "SELECT kind, count(*) AS n, sum(amount) AS total FROM payments GROUP BY kind ORDER BY kind NULLS FIRST",
            LIMITS,
        )
        .await
        .unwrap();
    let want: Vec<Vec<serde_json::Value>> = expected
        .iter()
        .map(|(kind, (n, total))| vec![json!(kind), json!(n), json!(total)])
        .collect();
    assert_eq!(out.rows, want);
    assert_eq!(out.rows.len(), 4, "three words and the null key");
}

#[tokio::test]
async fn only_the_tables_a_statement_names_are_opened() {
    let dir = tempfile::tempdir().unwrap();
    let broken_path = dir.path().join("0193-broken-upload");
    std::fs::write(&broken_path, b"not a parquet file at all").unwrap();
    // A remote CSV file is downloaded before its query runs; nothing answers at this address.
    let unreachable = QueryTable {
        name: "faraway".into(),
        location: TableLocation::Remote {
            url: "http://127.0.0.1:9/faraway.csv".to_owned(),
            etag: None,
            size: None,
            version: "v1".to_owned(),
        },
        format: DatasetFormat::Csv,
        compression: Compression::None,
        columns: Vec::new(),
        integer_ranges: Vec::new(),
        row_count: None,
    };
    let tables = [
        write_sales(dir.path()),
        write_csv(dir.path()),
        parquet_table("broken", broken_path),
        unreachable,
    ];
    let (engine, _scratch) = engine_with(settings());
    // A table whose file cannot be read or fetched fails only the statements that name it.
    for sql in [
        "SELECT count(*) AS n FROM sales",
        "SELECT count(*) AS n FROM SALES",
        "SELECT count(*) AS n FROM sales WHERE id NOT IN (SELECT length(region) FROM regions)",
        "WITH broken AS (SELECT 3 AS n) SELECT n FROM broken",
    ] {
        let out = engine.run(someone(), &tables, sql, LIMITS).await;
        assert_eq!(out.unwrap().rows, vec![vec![json!(3)]], "{sql}");
    }
    for sql in [
        "SELECT count(*) FROM broken",
        "SELECT count(*) FROM sales, BROKEN",
        "SELECT count(*) FROM faraway",
    ] {
        let refused = engine.run(someone(), &tables, sql, LIMITS).await;
        assert!(refused.is_err(), "{sql}: {refused:?}");
    }
}
