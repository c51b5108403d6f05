//! DataFusion options overridden by `DATAFUSION_*` variables (docs/configuration.md, "Engine options"), through the
//! real binary: its query workers inherit the variables, and a value DataFusion refuses stops the start.

use serde_json::{Value, json};
use tabletalk_tests::file_server::{FileServer, ServedFile};

use crate::binary::{refused_at_start, sign_in};
use crate::process::Binary;

/// Runs `sql` over a three-row CSV table `cities` in a server started with `env`; the status and the body.
async fn query_with(env: &[(&str, &str)], sql: &str) -> (u16, Value) {
    let files = FileServer::start().await;
    let url = files.put(
        "/cities.csv",
        ServedFile::new(b"city,population\nParis,2100000\nLyon,513000\nNice,342000\n".to_vec()),
    );
    let mut env = env.to_vec();
    env.push(("TABLETALK__DATASETS__ALLOWED_CIDRS", "127.0.0.1/32"));
    let binary = Binary::new();
    let server = binary.start(&env).await;
    let client = sign_in(&server.base, &server.access_key()).await;
    let created: Value = client
        .post(format!("{}/conversations", server.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["id"].as_str().unwrap();
    let added = client
        .post(format!("{}/conversations/{id}/datasets", server.base))
        .json(&json!({"url": url, "name": "cities"}))
        .send()
        .await
        .unwrap();
    assert_eq!(added.status(), 201);
    let answer = client
        .post(format!("{}/conversations/{id}/query", server.base))
        .json(&json!({"sql": sql}))
        .send()
        .await
        .unwrap();
    let status = answer.status().as_u16();
    let body = answer.json().await.unwrap();
    assert!(server.terminate().success());
    files.stop().await;
    (status, body)
}

#[actix_web::test]
async fn a_datafusion_variable_reaches_the_query_workers() {
    let sql = "SELECT count(*) AS Towns FROM cities";
    // By default identifiers are folded to lower case, so the column is `towns`.
    let (status, folded) = query_with(&[], sql).await;
    assert_eq!((status, &folded["columns"]), (200, &json!(["towns"])));
    let (status, kept) = query_with(
        &[("DATAFUSION_SQL_PARSER_ENABLE_IDENT_NORMALIZATION", "false")],
        sql,
    )
    .await;
    assert_eq!(status, 200, "{kept}");
    assert_eq!(kept["columns"], json!(["Towns"]));
    assert_eq!(kept["rows"], json!([[3]]));
}

#[test]
fn a_value_datafusion_refuses_stops_the_start_naming_the_variable() {
    refused_at_start(
        &[("DATAFUSION_EXECUTION_BATCH_SIZE", "lots")],
        "configuration error: DATAFUSION_EXECUTION_BATCH_SIZE: \"lots\" refused",
    );
}
