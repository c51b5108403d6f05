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

mod manage;
mod remote;
mod uploads;
