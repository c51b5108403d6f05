//! Remote datasets: range reads of Parquet, downloads of text formats, the add pipeline's refusals, refresh and
//! change detection.

use super::*;
use tabletalk_domain::DomainEvent;

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

    // Another query over the same column runs (no result-cache hit) and reads its column chunks from the range
    // cache, in its worker process: nothing from the network. So does another conversation with the same URL.
    let other = json_with_status(
        query(
            &app,
            &conversation,
            json!({"sql": "SELECT max(amount) AS top FROM table1 WHERE amount > 100"}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(other["cached"], false);
    assert_eq!(files.bytes_served(), before, "re-read from the range cache");
    let second = app.create_conversation().await;
    json_with_status(add(&app, &second, json!({"url": url})).await, 201).await;
    let before = files.bytes_served();
    let shared = json_with_status(
        query(
            &app,
            &second,
            json!({"sql": "SELECT sum(amount) AS total FROM table1 WHERE amount > 100"}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(shared["rows"], result["rows"]);
    assert_eq!(files.bytes_served(), before, "shared across conversations");
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
    let count = json!({"sql": "SELECT count(*) AS n FROM table1 WHERE id > 5"});
    let before = json_with_status(query(&app, &conversation, count.clone()).await, 200).await;
    assert_eq!(before["rows"], json!([[994]]));
    // Answered from the file's statistics, which a worker keeps between queries: they must follow the file too.
    let total = json!({"sql": "SELECT count(*) AS n FROM table1"});
    let all_before = json_with_status(query(&app, &conversation, total.clone()).await, 200).await;
    assert_eq!(all_before["rows"], json!([[1000]]));

    // Between refreshes a query reads the version that was added: what it needs is kept, so the change goes
    // unnoticed until the refresh, which finds the new version; queries then read that.
    files.put("/t.parquet", ServedFile::new(parquet_bytes(2000, 500)));
    let kept = json_with_status(query(&app, &conversation, count.clone()).await, 200).await;
    assert_eq!(kept["rows"], json!([[994]]));
    let updated = json_with_status(app.post_empty(&refresh).await, 200).await;
    assert_eq!(updated["row_count"], 2000);
    let result = json_with_status(query(&app, &conversation, count).await, 200).await;
    assert_eq!(result["rows"], json!([[1994]]));
    let all_after = json_with_status(query(&app, &conversation, total).await, 200).await;
    assert_eq!(all_after["rows"], json!([[2000]]));
    app.stop().await;
    files.stop().await;
}

#[actix_web::test]
async fn a_query_needing_bytes_of_a_changed_remote_file_is_refused() {
    // With nothing kept (a cache too small to hold a range), every query reads from the server, which answers
    // 412 to the stored ETag once the file has changed.
    let files = FileServer::start().await;
    let url = files.put("/t.parquet", ServedFile::new(parquet_bytes(1000, 500)));
    let app = TestApp::builder()
        .env("TABLETALK__DATASETS__ALLOWED_CIDRS", "127.0.0.1/32")
        .env("TABLETALK__DATASETS__MAX_DOWNLOAD_BYTES", "4KiB")
        .env("TABLETALK__STORAGE__CACHE_MAX_BYTES", "4KiB")
        .spawn()
        .await;
    app.login().await;
    let conversation = app.create_conversation().await;
    json_with_status(add(&app, &conversation, json!({"url": url})).await, 201).await;
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
    app.stop().await;
    files.stop().await;
}

#[actix_web::test]
async fn gzip_csv_servers_without_ranges_or_head_and_slow_downloads_with_progress() {
    use std::io::Write;
    let files = FileServer::start().await;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
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
    let mut events = app.events.subscribe(app.user_id().await);

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

    let mut progress = Vec::new();
    let mut loaded = 0;
    while let Ok(published) = events.try_recv() {
        match &published.event {
            DomainEvent::DatasetProgress { bytes_loaded, .. } => progress.push(*bytes_loaded),
            DomainEvent::DatasetLoaded(_) => loaded += 1,
            _ => {}
        }
    }
    assert_eq!(loaded, 3);
    assert!(
        !progress.is_empty(),
        "a download over a second reports progress"
    );
    assert!(progress.windows(2).all(|w| w[0] <= w[1]));
    app.stop().await;
    files.stop().await;
}

#[actix_web::test]
async fn the_footer_read_when_adding_serves_every_worker_afterwards() {
    let files = FileServer::start().await;
    let bytes = parquet_bytes(400_000, 50_000);
    let last_byte = bytes.len() - 1;
    let url = files.put("/data/footer.parquet", ServedFile::new(bytes));
    let (app, conversation) = app().await;
    json_with_status(add(&app, &conversation, json!({"url": url})).await, 201).await;
    // Queries alternate between the two idle workers; each opens the file afresh.
    for threshold in [100, 200, 300, 400] {
        let sql = format!("SELECT count(*) AS n FROM table1 WHERE amount > {threshold}");
        json_with_status(query(&app, &conversation, json!({"sql": sql})).await, 200).await;
    }
    let footer_reads: Vec<String> = files
        .requests()
        .into_iter()
        .filter_map(|r| r.range)
        .filter(|range| range.ends_with(&format!("-{last_byte}")))
        .collect();
    // The add's 8-byte look at the magic number and footer length, and one read of the footer itself.
    assert_eq!(
        footer_reads.len(),
        2,
        "every later reader took the footer from the kept copy: {footer_reads:?}"
    );
    assert_eq!(
        footer_reads[0],
        format!("bytes={}-{last_byte}", last_byte - 7)
    );
    app.stop().await;
    files.stop().await;
}
