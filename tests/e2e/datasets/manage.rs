//! Naming, renaming, descriptions, profiles, previews and isolation between conversations.

use super::*;

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

/// `POST …/profile-column` for `column`, expecting `status`.
async fn profile_column(app: &TestApp, base: &str, column: &str, status: u16) -> Value {
    json_with_status(
        app.send_json(
            Method::POST,
            &format!("{base}/profile-column"),
            &json!({"column_name": column}),
        )
        .await,
        status,
    )
    .await
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

    let column = profile_column(&app, &base, "founded", 200).await;
    assert_eq!(column["stats"]["median"], -52.0);
    assert_eq!(column["stats"]["distinct_count"], 3);
    // -350, -52 and -43 in ten equal bins of 30.7 from -350 to -43 (the last one closed).
    let bins = column["stats"]["histogram"].as_array().unwrap();
    let counts: Vec<u64> = bins.iter().map(|b| b["count"].as_u64().unwrap()).collect();
    assert_eq!(counts, [1, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
    assert_eq!(bins[0]["lower"], -350.0);
    assert!(
        (bins[1]["lower"].as_f64().unwrap() - -319.3).abs() < 1e-9,
        "{bins:?}"
    );
    assert!(
        (bins[9]["upper"].as_f64().unwrap() - -43.0).abs() < 1e-9,
        "{bins:?}"
    );
    // A decimal column: one bin per tenth of the range, the values where they fall.
    let area = profile_column(&app, &base, "area km2", 200).await;
    let area_counts: Vec<u64> = area["stats"]["histogram"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["count"].as_u64().unwrap())
        .collect();
    // 47.87, 71.92 and 105.4 over [47.87, 105.4]: bins of 5.753, so 71.92 falls in bin 4.
    assert_eq!(area_counts, [1, 0, 0, 0, 1, 0, 0, 0, 0, 1]);
    // Text columns have their most frequent values instead.
    let city = profile_column(&app, &base, "city", 200).await;
    assert!(city["stats"].get("histogram").is_none(), "{city}");
    let no_column = profile_column(&app, &base, "nope", 400).await;
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
