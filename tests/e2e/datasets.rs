//! Datasets end to end: the real app (SQLite, DataFusion, the guarded fetcher) against a fixture file server on
//! 127.0.0.1 that counts the bytes it serves.

use std::sync::Arc;
use std::time::Duration;

use datafusion::arrow::array::{ArrayRef, Float64Array, Int64Array, StringArray};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::file::properties::WriterProperties;
use reqwest::Method;
use serde_json::{Value, json};
use tabletalk_tests::file_server::{FileServer, ServedFile};
use tabletalk_tests::{TestApp, json_with_status};

/// A Parquet file of `rows` rows in row groups of `group` rows: `id`, `amount`, `category`, `note`.
pub fn parquet_bytes(rows: i64, group: usize) -> Vec<u8> {
    let ids: Vec<i64> = (0..rows).collect();
    #[allow(clippy::cast_precision_loss, reason = "small test values")]
    let amounts: Vec<f64> = ids.iter().map(|i| (i % 1000) as f64 * 1.5).collect();
    let categories: Vec<String> = ids.iter().map(|i| format!("cat{}", i % 7)).collect();
    let notes: Vec<String> = ids
        .iter()
        .map(|i| format!("note {i} {}", i.wrapping_mul(2_654_435_761) % 1_000_003))
        .collect();
    let columns: Vec<(&str, ArrayRef)> = vec![
        ("id", Arc::new(Int64Array::from(ids))),
        ("amount", Arc::new(Float64Array::from(amounts))),
        ("category", Arc::new(StringArray::from(categories))),
        ("note", Arc::new(StringArray::from(notes))),
    ];
    let batch = RecordBatch::try_from_iter(columns).unwrap();
    let props = WriterProperties::builder()
        .set_max_row_group_row_count(Some(group))
        .build();
    let mut out = Vec::new();
    let mut writer = ArrowWriter::try_new(&mut out, batch.schema(), Some(props)).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
    out
}

const CSV: &str = "city,Population,founded,area km2\nParis,2100000,-52,105.4\nLyon,513000,-43,47.87\nNice,342000,-350,71.92\n";

/// An app allowed to fetch from 127.0.0.1 (the fixture server), and a conversation.
async fn app() -> (TestApp, String) {
    let app = TestApp::builder()
        .env("TABLETALK__DATASETS__ALLOWED_CIDRS", "127.0.0.1/32")
        .spawn()
        .await;
    app.login().await;
    let conversation = app.create_conversation().await;
    (app, conversation)
}

async fn add(app: &TestApp, conversation: &str, body: Value) -> reqwest::Response {
    app.send_json(
        Method::POST,
        &format!("/conversations/{conversation}/datasets"),
        &body,
    )
    .await
}

async fn query(app: &TestApp, conversation: &str, body: Value) -> reqwest::Response {
    app.send_json(
        Method::POST,
        &format!("/conversations/{conversation}/query"),
        &body,
    )
    .await
}

async fn datasets_of(app: &TestApp, conversation: &str) -> Vec<Value> {
    let detail = json_with_status(
        app.get(&format!("/conversations/{conversation}")).await,
        200,
    )
    .await;
    detail["datasets"].as_array().unwrap().clone()
}

#[actix_web::test]
async fn adding_a_large_parquet_reads_its_footer_only_and_one_column_reads_a_fraction() {
    let files = FileServer::start().await;
    let bytes = parquet_bytes(400_000, 50_000);
    let size = bytes.len() as u64;
    assert!(
        size > 4_000_000,
        "the fixture is large enough to measure: {size}"
    );
    let url = files.put("/data/trips.parquet", ServedFile::new(bytes));
    let (app, conversation) = app().await;

    let body = json_with_status(add(&app, &conversation, json!({"url": url})).await, 201).await;
    let dataset = &body["dataset"];
    assert_eq!(body["status"], "ready");
    assert_eq!(dataset["name"], "table1");
    assert_eq!(dataset["format"], "parquet");
    assert_eq!(dataset["row_count"], 400_000);
    assert_eq!(dataset["file_size_bytes"], size);
    let schema: Vec<Value> =
        serde_json::from_str(dataset["schema_json"].as_str().unwrap()).unwrap();
    let names: Vec<&str> = schema.iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["id", "amount", "category", "note"]);
    assert_eq!(schema[0]["type"], "BIGINT");
    assert_eq!(schema[0]["column_stats"]["min"], 0);
    assert_eq!(schema[0]["column_stats"]["max"], 399_999);
    assert_eq!(schema[0]["column_stats"]["null_count"], 0);
    let added = files.bytes_served();
    assert!(
        added * 100 <= size,
        "adding read {added} of {size} bytes (over 1 %)"
    );
    assert!(
        files
            .requests()
            .iter()
            .all(|r| r.method == "HEAD" || r.range.is_some()),
        "only ranged reads"
    );

    let before = files.bytes_served();
    let result = json_with_status(
        query(
            &app,
            &conversation,
            json!({"sql": "SELECT sum(amount) AS total FROM table1 WHERE amount > 100"}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(result["columns"], json!(["total"]));
    assert!(result["rows"][0][0].as_f64().unwrap() > 0.0);
    let read = files.bytes_served() - before;
    assert!(read > 0, "the query read the column");
    assert!(
        read * 3 < size,
        "a one-column query read {read} of {size} bytes"
    );

    // The same query again comes from the result cache and reads nothing.
    let before = files.bytes_served();
    let again = json_with_status(
        query(
            &app,
            &conversation,
            json!({"sql": "select   sum(amount) AS total from table1 where amount > 100 -- again"}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(again["cached"], true);
    assert_eq!(again["rows"], result["rows"]);
    assert_eq!(files.bytes_served(), before);
    app.stop().await;
    files.stop().await;
}

#[actix_web::test]
async fn a_csv_by_url_is_downloaded_once_described_and_queried_with_pages_and_history() {
    let files = FileServer::start().await;
    let url = files.put("/cities.csv", ServedFile::new(CSV.as_bytes().to_vec()));
    let (app, conversation) = app().await;
    let body = json_with_status(
        add(&app, &conversation, json!({"url": url, "name": "Cities"})).await,
        201,
    )
    .await;
    let dataset = &body["dataset"];
    assert_eq!(dataset["name"], "Cities");
    assert_eq!(dataset["format"], "csv");
    assert_eq!(dataset["row_count"], 3);
    assert_eq!(dataset["column_count"], 4);
    let schema: Vec<Value> =
        serde_json::from_str(dataset["schema_json"].as_str().unwrap()).unwrap();
    assert_eq!(schema[1]["name"], "Population");
    assert_eq!(schema[1]["type"], "BIGINT");
    assert_eq!(schema[1]["nullable"], true);
    assert_eq!(schema[1]["column_stats"]["max"], 2_100_000);
    assert_eq!(schema[0]["sample_values"], json!(["Paris", "Lyon", "Nice"]));
    assert_eq!(schema[0]["column_stats"]["unique_count"], 3);
    assert_eq!(schema[3]["type"], "DOUBLE");
    let downloads = files.bytes_served();
    assert_eq!(downloads, CSV.len() as u64, "downloaded exactly once");

    let page = json_with_status(
        query(&app, &conversation, json!({"sql": "SELECT city, \"Population\" FROM cities ORDER BY city", "page": 2, "page_size": 2})).await,
        200,
    )
    .await;
    assert_eq!(page["rows"], json!([["Paris", 2_100_000]]));
    assert_eq!(page["total_rows"], 3);
    assert_eq!(page["returned_rows"], 3);
    assert_eq!(page["total_pages"], 2);
    assert_eq!(page["column_types"], json!(["VARCHAR", "BIGINT"]));
    assert_eq!(page["limit_applied"], false);
    assert_eq!(
        files.bytes_served(),
        downloads,
        "queries read the cached copy"
    );

    let failed = json_with_status(
        query(
            &app,
            &conversation,
            json!({"sql": "SELECT population FROM cities"}),
        )
        .await,
        400,
    )
    .await;
    assert_eq!(failed["code"], "sql_error");
    let message = failed["error"].as_str().unwrap();
    assert!(message.contains("\"Population\""), "{message}");
    assert!(message.contains("\n\nTechnical details: "), "{message}");
    assert!(
        failed["details"]["raw"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains("no field named")
    );

    let refused = json_with_status(
        query(&app, &conversation, json!({"sql": "DROP TABLE cities"})).await,
        400,
    )
    .await;
    assert_eq!(refused["code"], "read_only_violation");

    let history = json_with_status(app.get("/query-history").await, 200).await;
    assert_eq!(history["total"], 3);
    let statuses: Vec<&str> = history["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["error", "error", "success"]);
    assert_eq!(history["history"][2]["row_count"], 3);
    assert_eq!(history["history"][2]["source"], "sql_panel");
    app.stop().await;
    files.stop().await;
}

#[actix_web::test]
async fn the_add_pipeline_refuses_bad_input_in_order_and_stores_nothing() {
    let files = FileServer::start().await;
    let csv = files.put("/ok.csv", ServedFile::new(CSV.as_bytes().to_vec()));
    let html = files.put(
        "/page",
        ServedFile::new(b"<html><body>hi</body></html>".to_vec()).content_type("text/html"),
    );
    let fake_parquet = files.put(
        "/fake.parquet",
        ServedFile::new(b"this is not parquet at all".to_vec()),
    );
    let binary = files.put("/blob.csv", ServedFile::new(vec![0, 1, 2, 3, 0, 0, 7]));
    let (app, conversation) = app().await;
    let cases: Vec<(Value, u16, &str, &str)> = vec![
        (
            json!({"url": "not a url"}),
            400,
            "invalid_url",
            "Invalid URL format",
        ),
        (
            json!({"url": "ftp://example.com/x.csv"}),
            400,
            "unsupported_url_scheme",
            "Unsupported URL scheme 'ftp'. Only HTTP and HTTPS URLs are supported.",
        ),
        (
            json!({"url": "http://user:pw@127.0.0.1/x.csv"}),
            400,
            "invalid_url",
            "URLs with embedded credentials are not supported.",
        ),
        (
            json!({"url": ""}),
            422,
            "validation_failed",
            "url: must be 1 to 2048 characters",
        ),
        (
            json!({"url": csv, "name": "select"}),
            422,
            "validation_failed",
            "name: 'select' is a reserved SQL word; choose another table name",
        ),
        (
            json!({"url": format!("{}/missing.csv", files.base)}),
            400,
            "url_unreachable",
            "Could not access URL (HTTP 404)",
        ),
        (
            json!({"url": html}),
            400,
            "invalid_file",
            "The URL returned an HTML page, not a data file.",
        ),
        (
            json!({"url": fake_parquet}),
            400,
            "invalid_file",
            "Not a valid parquet file",
        ),
        (
            json!({"url": binary}),
            400,
            "invalid_file",
            "The file does not look like CSV text",
        ),
        (
            json!({"url": "http://127.0.0.2:9/x.csv"}),
            400,
            "url_blocked",
            "URLs pointing to internal/private networks are not allowed.",
        ),
        (
            json!({"url": "http://169.254.169.254/latest/meta-data"}),
            400,
            "url_blocked",
            "URLs pointing to internal/private networks are not allowed.",
        ),
        (
            json!({"url": "http://[::ffff:127.0.0.2]/x.csv"}),
            400,
            "url_blocked",
            "URLs pointing to internal/private networks are not allowed.",
        ),
    ];
    for (body, status, code, message) in cases {
        let answer = json_with_status(add(&app, &conversation, body.clone()).await, status).await;
        assert_eq!(answer["code"], code, "{body}");
        assert_eq!(answer["error"], message, "{body}");
    }
    assert!(
        datasets_of(&app, &conversation).await.is_empty(),
        "nothing stored"
    );

    json_with_status(
        add(&app, &conversation, json!({"url": csv.clone()})).await,
        201,
    )
    .await;
    let duplicate = json_with_status(
        add(
            &app,
            &conversation,
            json!({"url": format!("  {csv}#frag ")}),
        )
        .await,
        409,
    )
    .await;
    assert_eq!(duplicate["code"], "dataset_exists");
    let other = files.put("/other.csv", ServedFile::new(CSV.as_bytes().to_vec()));
    let taken = json_with_status(
        add(&app, &conversation, json!({"url": other, "name": "TABLE1"})).await,
        409,
    )
    .await;
    assert_eq!(taken["code"], "dataset_name_taken");
    assert_eq!(
        taken["error"],
        "A dataset named 'TABLE1' already exists in this conversation"
    );
    assert_eq!(datasets_of(&app, &conversation).await.len(), 1);
    app.stop().await;
    files.stop().await;
}

#[actix_web::test]
async fn table_numbers_never_repeat_and_renames_reach_the_next_query() {
    let files = FileServer::start().await;
    let (app, conversation) = app().await;
    let mut ids = Vec::new();
    for n in 0..3 {
        let url = files.put(
            &format!("/f{n}.csv"),
            ServedFile::new(CSV.as_bytes().to_vec()),
        );
        let body = json_with_status(add(&app, &conversation, json!({"url": url})).await, 201).await;
        assert_eq!(body["dataset"]["name"], format!("table{}", n + 1));
        ids.push(body["dataset_id"].as_str().unwrap().to_owned());
    }
    let path = |id: &str| format!("/conversations/{conversation}/datasets/{id}");
    json_with_status(app.delete(&path(&ids[2])).await, 200).await;
    let url = files.put("/f3.csv", ServedFile::new(CSV.as_bytes().to_vec()));
    let body = json_with_status(add(&app, &conversation, json!({"url": url})).await, 201).await;
    assert_eq!(
        body["dataset"]["name"], "table4",
        "numbers are never reused"
    );

    let renamed = json_with_status(
        app.send_json(
            Method::PATCH,
            &path(&ids[0]),
            &json!({"tableName": "Towns"}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(renamed["tableName"], "Towns");
    assert_eq!(renamed["schema"]["columns"].as_array().unwrap().len(), 4);
    let clash = json_with_status(
        app.send_json(
            Method::PATCH,
            &path(&ids[1]),
            &json!({"tableName": "towns"}),
        )
        .await,
        409,
    )
    .await;
    assert_eq!(clash["code"], "dataset_name_taken");
    let result = json_with_status(
        query(
            &app,
            &conversation,
            json!({"sql": "SELECT count(*) AS n FROM TOWNS"}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(result["rows"], json!([[3]]));
    let gone = json_with_status(
        query(&app, &conversation, json!({"sql": "SELECT * FROM table1"})).await,
        400,
    )
    .await;
    assert!(
        gone["error"]
            .as_str()
            .unwrap()
            .contains("Tables in this conversation: Towns, table2, table4"),
        "{gone}"
    );

    let missing = json_with_status(app.delete(&path("not-an-id")).await, 404).await;
    assert_eq!(missing["code"], "dataset_not_found");
    app.stop().await;
    files.stop().await;
}

#[actix_web::test]
async fn descriptions_profiles_and_previews() {
    let files = FileServer::start().await;
    let url = files.put("/cities.csv", ServedFile::new(CSV.as_bytes().to_vec()));
    let (app, conversation) = app().await;
    let body = json_with_status(add(&app, &conversation, json!({"url": url})).await, 201).await;
    let id = body["dataset_id"].as_str().unwrap();
    let base = format!("/conversations/{conversation}/datasets/{id}");

    let set = json_with_status(
        app.send_json(
            Method::PATCH,
            &format!("{base}/column-descriptions"),
            &json!({"descriptions": {"city": "Name", "founded": ""}}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(set["descriptions"], json!({"city": "Name"}));
    let unknown = json_with_status(
        app.send_json(
            Method::PATCH,
            &format!("{base}/column-descriptions"),
            &json!({"descriptions": {"nope": "x"}}),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(unknown["details"][0]["message"], "Unknown column 'nope'");
    let read = json_with_status(app.get(&format!("{base}/column-descriptions")).await, 200).await;
    assert_eq!(read["descriptions"], json!({"city": "Name"}));

    let profile = json_with_status(app.post_empty(&format!("{base}/profile")).await, 200).await;
    assert_eq!(profile["sampled_rows"], 3);
    let population = &profile["profiles"][1];
    assert_eq!(population["name"], "Population");
    assert_eq!(population["min"], 342_000);
    assert_eq!(population["unique_count"], 3);
    assert_eq!(profile["profiles"][0]["max_length"], 5);

    let column = json_with_status(
        app.send_json(
            Method::POST,
            &format!("{base}/profile-column"),
            &json!({"column_name": "founded"}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(column["stats"]["median"], -52.0);
    assert_eq!(column["stats"]["distinct_count"], 3);
    let no_column = json_with_status(
        app.send_json(
            Method::POST,
            &format!("{base}/profile-column"),
            &json!({"column_name": "nope"}),
        )
        .await,
        400,
    )
    .await;
    assert_eq!(no_column["code"], "column_not_found");

    let head = json_with_status(
        app.post_empty(&format!("{base}/preview?sample_size=2"))
            .await,
        200,
    )
    .await;
    assert_eq!(
        head["rows"],
        json!([
            ["Paris", 2_100_000, -52, 105.4],
            ["Lyon", 513_000, -43, 47.87]
        ])
    );
    assert_eq!(head["total_rows"], 3);
    let tail = json_with_status(
        app.post_empty(&format!("{base}/preview?sample_size=1&sample_method=tail"))
            .await,
        200,
    )
    .await;
    assert_eq!(tail["rows"][0][0], "Nice");
    let stratified = json_with_status(
        app.post_empty(&format!(
            "{base}/preview?sample_size=3&sample_method=stratified&sample_column=city"
        ))
        .await,
        200,
    )
    .await;
    assert_eq!(
        stratified["columns"].as_array().unwrap().len(),
        4,
        "no helper column"
    );
    let cities: Vec<&str> = stratified["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r[0].as_str().unwrap())
        .collect();
    assert_eq!(cities, ["Lyon", "Nice", "Paris"]);
    let needs_column = json_with_status(
        app.post_empty(&format!("{base}/preview?sample_method=stratified"))
            .await,
        400,
    )
    .await;
    assert_eq!(needs_column["code"], "sample_column_required");
    let bad = json_with_status(
        app.post_empty(&format!("{base}/preview?sample_size=0"))
            .await,
        422,
    )
    .await;
    assert_eq!(bad["details"][0]["field"], "sample_size");
    app.stop().await;
    files.stop().await;
}

#[actix_web::test]
async fn refresh_keeps_unchanged_content_and_a_changed_remote_file_is_detected() {
    let files = FileServer::start().await;
    let url = files.put("/t.parquet", ServedFile::new(parquet_bytes(1000, 500)));
    let (app, conversation) = app().await;
    let body = json_with_status(add(&app, &conversation, json!({"url": url})).await, 201).await;
    let id = body["dataset_id"].as_str().unwrap();
    let refresh = format!("/conversations/{conversation}/datasets/{id}/refresh");
    let same = json_with_status(app.post_empty(&refresh).await, 200).await;
    assert_eq!(
        same["dataset"]["loaded_at"], body["dataset"]["loaded_at"],
        "a 304 changes nothing"
    );

    files.put("/t.parquet", ServedFile::new(parquet_bytes(2000, 500)));
    let changed = json_with_status(
        query(
            &app,
            &conversation,
            json!({"sql": "SELECT count(*) FROM table1 WHERE id > 5"}),
        )
        .await,
        409,
    )
    .await;
    assert_eq!(changed["code"], "dataset_changed");
    assert!(
        changed["error"]
            .as_str()
            .unwrap()
            .starts_with(&format!("The file at {url} has changed"))
    );

    let updated = json_with_status(app.post_empty(&refresh).await, 200).await;
    assert_eq!(updated["row_count"], 2000);
    let result = json_with_status(
        query(
            &app,
            &conversation,
            json!({"sql": "SELECT count(*) AS n FROM table1 WHERE id > 5"}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(result["rows"], json!([[1994]]));
    app.stop().await;
    files.stop().await;
}

#[actix_web::test]
async fn gzip_csv_servers_without_ranges_or_head_and_slow_downloads_with_progress() {
    use std::io::Write;
    let files = FileServer::start().await;
    let mut gz = flate2_writer();
    gz.write_all(CSV.as_bytes()).unwrap();
    let gzipped = gz.finish().unwrap();
    let gz_url = files.put("/cities.csv.gz", ServedFile::new(gzipped).without_head());
    let parquet_url = files.put(
        "/norange.parquet",
        ServedFile::new(parquet_bytes(1000, 1000)).without_ranges(),
    );
    let big: String = std::iter::once("n,label\n".to_owned())
        .chain((0..60_000).map(|i| format!("{i},label number {i}\n")))
        .collect();
    let slow_url = files.put(
        "/slow.tsv",
        ServedFile::new(big.replace(',', "\t").into_bytes()).trickle(Duration::from_millis(60)),
    );
    let (app, conversation) = app().await;
    let mut events = app.events.subscribe();

    let gz = json_with_status(add(&app, &conversation, json!({"url": gz_url})).await, 201).await;
    assert_eq!(gz["dataset"]["compression"], "gzip");
    assert_eq!(gz["dataset"]["row_count"], 3);
    let parquet = json_with_status(
        add(&app, &conversation, json!({"url": parquet_url})).await,
        201,
    )
    .await;
    assert_eq!(parquet["dataset"]["row_count"], 1000);
    let slow = json_with_status(
        add(&app, &conversation, json!({"url": slow_url})).await,
        201,
    )
    .await;
    assert_eq!(slow["dataset"]["format"], "tsv");
    assert_eq!(slow["dataset"]["row_count"], 60_000);
    let result = json_with_status(
        query(&app, &conversation, json!({"sql": "SELECT count(*) FROM table1 JOIN table2 ON true JOIN table3 ON table3.n < 2"})).await,
        200,
    )
    .await;
    assert_eq!(result["rows"], json!([[6000]]));

    let mut kinds = Vec::new();
    let mut progress = Vec::new();
    while let Ok(event) = events.try_recv() {
        kinds.push(event.kind);
        if event.kind == "dataset_progress" {
            progress.push(event.payload["bytes_loaded"].as_u64().unwrap());
        }
    }
    assert_eq!(kinds.iter().filter(|k| **k == "dataset_loaded").count(), 3);
    assert!(
        !progress.is_empty(),
        "a download over a second reports progress"
    );
    assert!(progress.windows(2).all(|w| w[0] <= w[1]));
    app.stop().await;
    files.stop().await;
}

fn flate2_writer() -> GzWriter {
    GzWriter::new()
}

/// A tiny gzip writer over `flate2` (the engine's own dependency), so the test writes a real `.gz` file.
struct GzWriter(flate2::write::GzEncoder<Vec<u8>>);

impl GzWriter {
    fn new() -> Self {
        Self(flate2::write::GzEncoder::new(
            Vec::new(),
            flate2::Compression::default(),
        ))
    }

    fn finish(self) -> std::io::Result<Vec<u8>> {
        self.0.finish()
    }
}

impl std::io::Write for GzWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

#[actix_web::test]
async fn uploads_stream_to_disk_are_deduplicated_and_queried() {
    let (app, conversation) = app().await;
    let upload = |name: &str, content: Vec<u8>, table: Option<&str>| {
        let mut form = reqwest::multipart::Form::new();
        if let Some(table) = table {
            form = form.text("name", table.to_owned());
        }
        form = form.part(
            "file",
            reqwest::multipart::Part::bytes(content).file_name(name.to_owned()),
        );
        app.client
            .post(app.url(&format!("/conversations/{conversation}/datasets/upload")))
            .multipart(form)
            .send()
    };
    let first = json_with_status(
        upload(
            "../../etc/cities.csv",
            CSV.as_bytes().to_vec(),
            Some("cities"),
        )
        .await
        .unwrap(),
        201,
    )
    .await;
    assert_eq!(first["dataset"]["url"], "upload://cities.csv");
    assert_eq!(first["dataset"]["source"], "upload");
    let second = json_with_status(
        upload("cities.csv", CSV.as_bytes().to_vec(), None)
            .await
            .unwrap(),
        201,
    )
    .await;
    assert_eq!(second["dataset"]["name"], "table1");
    let upload_dir = app.config.storage.upload_dir.clone();
    let stored: Vec<_> = std::fs::read_dir(&upload_dir).unwrap().collect();
    assert_eq!(stored.len(), 1, "the same content is stored once");

    let parquet = json_with_status(
        upload("t.parquet", parquet_bytes(100, 100), Some("p"))
            .await
            .unwrap(),
        201,
    )
    .await;
    assert_eq!(parquet["dataset"]["row_count"], 100);
    let result = json_with_status(
        query(
            &app,
            &conversation,
            json!({"sql": "SELECT count(*) FROM cities, p WHERE p.id < 10"}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(result["rows"], json!([[30]]));

    let wrong = json_with_status(
        upload("notes.txt", b"hello".to_vec(), None).await.unwrap(),
        400,
    )
    .await;
    assert_eq!(wrong["code"], "unsupported_format");
    let broken = json_with_status(
        upload("x.parquet", b"PAR1 nope".to_vec(), None)
            .await
            .unwrap(),
        400,
    )
    .await;
    assert_eq!(broken["code"], "invalid_file");
    let not_multipart = json_with_status(
        app.raw(
            Method::POST,
            &format!("/conversations/{conversation}/datasets/upload"),
            &[("content-type", "text/csv")],
            CSV.as_bytes().to_vec(),
        )
        .await,
        415,
    )
    .await;
    assert_eq!(not_multipart["code"], "unsupported_media_type");
    let only_name = reqwest::multipart::Form::new().text("name", "x");
    let missing = app
        .client
        .post(app.url(&format!("/conversations/{conversation}/datasets/upload")))
        .multipart(only_name)
        .send()
        .await
        .unwrap();
    let missing = json_with_status(missing, 422).await;
    assert_eq!(missing["details"][0]["field"], "file");
    let remaining: Vec<_> = std::fs::read_dir(&upload_dir).unwrap().collect();
    assert_eq!(
        remaining.len(),
        2,
        "failed uploads leave no files: {remaining:?}"
    );

    // Deleting one of the two datasets sharing the file keeps it; deleting the last removes it.
    for body in [&first, &second] {
        let id = body["dataset_id"].as_str().unwrap();
        json_with_status(
            app.delete(&format!("/conversations/{conversation}/datasets/{id}"))
                .await,
            200,
        )
        .await;
    }
    assert_eq!(std::fs::read_dir(&upload_dir).unwrap().count(), 1);
    app.stop().await;
}

#[actix_web::test]
async fn upload_limits_answer_413_and_keep_nothing() {
    let app = TestApp::builder()
        .env("TABLETALK__DATASETS__MAX_UPLOAD_BYTES", "2KiB")
        .spawn()
        .await;
    app.login().await;
    let conversation = app.create_conversation().await;
    let big = "a,b\n".repeat(2000).into_bytes();
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::stream(big).file_name("big.csv"),
    );
    let response = app
        .client
        .post(app.url(&format!("/conversations/{conversation}/datasets/upload")))
        .multipart(form)
        .send()
        .await
        .unwrap();
    let answer = json_with_status(response, 413).await;
    assert_eq!(answer["code"], "upload_too_large");
    assert_eq!(
        std::fs::read_dir(&app.config.storage.upload_dir)
            .unwrap()
            .count(),
        0
    );
    app.stop().await;
}

#[actix_web::test]
async fn another_conversations_tables_files_and_urls_stay_out_of_reach() {
    let files = FileServer::start().await;
    let url = files.put("/cities.csv", ServedFile::new(CSV.as_bytes().to_vec()));
    let (app, first) = app().await;
    let body = json_with_status(
        add(&app, &first, json!({"url": url, "name": "secret"})).await,
        201,
    )
    .await;
    let id = body["dataset_id"].as_str().unwrap().to_owned();
    let second = app.create_conversation().await;
    let empty = json_with_status(
        query(&app, &second, json!({"sql": "SELECT * FROM secret"})).await,
        400,
    )
    .await;
    assert_eq!(empty["code"], "no_datasets");
    let other = files.put("/other.csv", ServedFile::new(CSV.as_bytes().to_vec()));
    json_with_status(add(&app, &second, json!({"url": other})).await, 201).await;
    for sql in [
        "SELECT * FROM secret",
        "SELECT * FROM 'cities.csv'",
        &format!("SELECT * FROM '{url}'"),
        "SELECT * FROM '/etc/passwd'",
    ] {
        let refused = json_with_status(query(&app, &second, json!({"sql": sql})).await, 400).await;
        assert_eq!(refused["code"], "sql_error", "{sql}");
        assert!(
            refused["error"]
                .as_str()
                .unwrap()
                .contains("does not exist"),
            "{sql}: {refused}"
        );
    }
    let moved = json_with_status(
        app.get(&format!(
            "/conversations/{second}/datasets/{id}/column-descriptions"
        ))
        .await,
        404,
    )
    .await;
    assert_eq!(
        moved["code"], "dataset_not_found",
        "a dataset is reached only through its own conversation"
    );

    app.stop().await;
    files.stop().await;
}
