//! Saved queries end to end: create with every field checked, list order, folders, pin, share with the public
//! result page (no session, rate-limited), delete, and other users' ids answering like unknown ones.

use reqwest::Method;
use serde_json::{Value, json};
use tabletalk_tests::{TestApp, json_with_status};

async fn create(app: &TestApp, body: &Value) -> reqwest::Response {
    app.send_json(Method::POST, "/saved-queries", body).await
}

#[actix_web::test]
async fn saved_queries_are_filed_pinned_shared_and_private() {
    let app = TestApp::builder()
        .env("TABLETALK__SERVER__PUBLIC_URL", "https://talk.example")
        .spawn()
        .await;
    app.login().await;
    let snapshot =
        json!({"columns": ["city", "n"], "rows": [["Zürich", 3]], "total_rows": 1}).to_string();
    let first = json_with_status(
        create(
            &app,
            &json!({"name": " Cities ", "query": "SELECT city, count(*) AS n FROM t GROUP BY city",
                    "result_json": snapshot, "execution_time_ms": 12.5, "folder": "reports"}),
        )
        .await,
        201,
    )
    .await;
    assert_eq!(first["name"], "Cities");
    assert_eq!(first["folder"], "reports");
    assert_eq!(
        (first["is_pinned"].as_bool(), &first["share_token"]),
        (Some(false), &Value::Null)
    );
    assert_eq!(first["result_json"], snapshot.as_str(), "stored as given");
    let second = json_with_status(
        create(
            &app,
            &json!({"name": "Formula =1+1 ✓", "query": "SELECT '=1+1' AS f"}),
        )
        .await,
        201,
    )
    .await;
    assert_eq!(
        (second["folder"].as_str(), &second["result_json"]),
        (Some(""), &Value::Null)
    );

    for (body, field) in [
        (json!({"name": "", "query": "SELECT 1"}), "name"),
        (
            json!({"name": "n".repeat(101), "query": "SELECT 1"}),
            "name",
        ),
        (json!({"name": "n", "query": "   "}), "query"),
        (
            json!({"name": "n", "query": "SELECT 1", "execution_time_ms": -1}),
            "execution_time_ms",
        ),
        (
            json!({"name": "n", "query": "SELECT 1", "folder": "f".repeat(51)}),
            "folder",
        ),
        (json!({"query": "SELECT 1"}), "name"),
    ] {
        let refused = json_with_status(create(&app, &body).await, 422).await;
        assert_eq!(refused["details"][0]["field"], field, "{body}");
    }

    let list = json_with_status(app.get("/saved-queries").await, 200).await;
    let ids: Vec<&str> = list["queries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            second["id"].as_str().unwrap(),
            first["id"].as_str().unwrap()
        ],
        "newest first"
    );
    let first_id = first["id"].as_str().unwrap();
    let pinned = json_with_status(
        app.send_json(
            Method::PATCH,
            &format!("/saved-queries/{first_id}/pin"),
            &json!(null),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(pinned["is_pinned"], true);
    let list = json_with_status(app.get("/saved-queries").await, 200).await;
    assert_eq!(list["queries"][0]["id"], first_id, "pinned first");

    let second_id = second["id"].as_str().unwrap();
    json_with_status(
        app.send_json(
            Method::PATCH,
            &format!("/saved-queries/{second_id}/folder"),
            &json!({"folder": "adhoc"}),
        )
        .await,
        200,
    )
    .await;
    let folders = json_with_status(app.get("/saved-queries/folders").await, 200).await;
    assert_eq!(folders, json!({"folders": ["adhoc", "reports"]}));

    let shared = json_with_status(
        app.post_empty(&format!("/saved-queries/{first_id}/share"))
            .await,
        200,
    )
    .await;
    let token = shared["share_token"].as_str().unwrap().to_owned();
    assert_eq!(token.len(), 22);
    assert_eq!(
        shared["share_url"],
        format!("https://talk.example/shared/result/{token}")
    );
    let again = json_with_status(
        app.post_empty(&format!("/saved-queries/{first_id}/share"))
            .await,
        200,
    )
    .await;
    assert_eq!(again["share_token"], token.as_str());
    for path in [
        format!("/shared/result/{token}"),
        format!("/api/shared/result/{token}"),
    ] {
        let public = app.new_client().get(app.url(&path)).send().await.unwrap();
        let public = json_with_status(public, 200).await;
        assert_eq!(public["name"], "Cities");
        assert_eq!(public["result_data"]["rows"][0][0], "Zürich");
        assert_eq!(public["execution_time_ms"], 12.5);
        let keys: Vec<&str> = public
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys,
            [
                "created_at",
                "execution_time_ms",
                "name",
                "query",
                "result_data"
            ]
        );
    }
    // A snapshot that is not a JSON object is shown as no result rather than passed through.
    let odd = json_with_status(
        create(
            &app,
            &json!({"name": "odd", "query": "SELECT 1", "result_json": "not json"}),
        )
        .await,
        201,
    )
    .await;
    let odd_share = json_with_status(
        app.post_empty(&format!(
            "/saved-queries/{}/share",
            odd["id"].as_str().unwrap()
        ))
        .await,
        200,
    )
    .await;
    let odd_public = app
        .new_client()
        .get(app.url(&format!(
            "/shared/result/{}",
            odd_share["share_token"].as_str().unwrap()
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(
        json_with_status(odd_public, 200).await["result_data"],
        Value::Null
    );

    // Bob reaches nothing of Alice's: every id answers like an unknown one and nothing changes.
    let (_, bob) = app.other_user_token("bob").await;
    let as_bob = |method: Method, path: String| {
        let client = app.new_client();
        let url = app.url(&path);
        let bob = bob.clone();
        async move {
            client
                .request(method, url)
                .header("Cookie", format!("session_token={bob}"))
                .json(&json!({"folder": "stolen"}))
                .send()
                .await
                .unwrap()
        }
    };
    for (method, path) in [
        (Method::PATCH, format!("/saved-queries/{first_id}/pin")),
        (Method::PATCH, format!("/saved-queries/{first_id}/folder")),
        (Method::POST, format!("/saved-queries/{first_id}/share")),
        (Method::DELETE, format!("/saved-queries/{first_id}/share")),
        (Method::DELETE, format!("/saved-queries/{first_id}")),
    ] {
        let body = json_with_status(as_bob(method.clone(), path.clone()).await, 404).await;
        assert_eq!(
            (body["code"].as_str(), body["error"].as_str()),
            (Some("saved_query_not_found"), Some("Saved query not found")),
            "{method} {path}"
        );
    }
    let bobs = json_with_status(as_bob(Method::GET, "/saved-queries".to_owned()).await, 200).await;
    assert_eq!(bobs["queries"], json!([]));
    let mine = json_with_status(app.get("/saved-queries").await, 200).await;
    assert_eq!(mine["queries"][0]["folder"], "reports");
    assert_eq!(mine["queries"][0]["is_pinned"], true);
    assert_eq!(
        json_with_status(
            app.delete(&format!("/saved-queries/{}", uuid::Uuid::nil()))
                .await,
            404
        )
        .await["code"],
        "saved_query_not_found"
    );

    json_with_status(
        app.delete(&format!("/saved-queries/{first_id}/share"))
            .await,
        200,
    )
    .await;
    let revoked = app
        .new_client()
        .get(app.url(&format!("/shared/result/{token}")))
        .send()
        .await
        .unwrap();
    let revoked = json_with_status(revoked, 404).await;
    assert_eq!(
        (revoked["code"].as_str(), revoked["error"].as_str()),
        (
            Some("shared_result_not_found"),
            Some("Shared result not found")
        )
    );
    json_with_status(app.delete(&format!("/saved-queries/{first_id}")).await, 200).await;
    let left = json_with_status(app.get("/saved-queries").await, 200).await;
    assert_eq!(left["queries"].as_array().unwrap().len(), 2);
    assert_eq!(
        app.new_client()
            .get(app.url("/saved-queries"))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    app.stop().await;
}
