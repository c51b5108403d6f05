//! Uploads: streamed to disk, deduplicated, limited.

use super::*;

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

/// Delete/Delete all: an upload file goes with the last conversation whose datasets used it.
#[actix_web::test]
async fn deleting_conversations_removes_the_uploads_only_they_used() {
    let (app, first) = app().await;
    let second = app.create_conversation().await;
    let third = app.create_conversation().await;
    let upload = |conversation: &str, name: &str, content: Vec<u8>| {
        let form = reqwest::multipart::Form::new().part(
            "file",
            reqwest::multipart::Part::bytes(content).file_name(name.to_owned()),
        );
        app.client
            .post(app.url(&format!("/conversations/{conversation}/datasets/upload")))
            .multipart(form)
            .send()
    };
    for conversation in [&first, &second] {
        json_with_status(
            upload(conversation, "cities.csv", CSV.as_bytes().to_vec())
                .await
                .unwrap(),
            201,
        )
        .await;
    }
    json_with_status(
        upload(&third, "t.parquet", parquet_bytes(50, 50))
            .await
            .unwrap(),
        201,
    )
    .await;
    let upload_dir = app.config.storage.upload_dir.clone();
    let files = || std::fs::read_dir(&upload_dir).unwrap().count();
    assert_eq!(files(), 2, "the CSV is stored once for both conversations");

    json_with_status(app.delete(&format!("/conversations/{first}")).await, 200).await;
    assert_eq!(files(), 2, "the second conversation still uses the CSV");
    json_with_status(app.delete(&format!("/conversations/{second}")).await, 200).await;
    assert_eq!(files(), 1, "the CSV went with its last conversation");
    let result = json_with_status(
        query(&app, &third, json!({"sql": "SELECT count(*) FROM table1"})).await,
        200,
    )
    .await;
    assert_eq!(result["rows"], json!([[50]]));

    // A new upload of the removed content is stored again, then Delete all removes everything.
    let fourth = app.create_conversation().await;
    json_with_status(
        upload(&fourth, "cities.csv", CSV.as_bytes().to_vec())
            .await
            .unwrap(),
        201,
    )
    .await;
    assert_eq!(files(), 2);
    let all = json_with_status(app.delete("/conversations").await, 200).await;
    assert_eq!(all["deleted_count"], 2);
    assert_eq!(files(), 0, "no conversation is left to use an upload");
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
