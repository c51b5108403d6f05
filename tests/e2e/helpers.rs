//! The LLM helpers of the SQL workspace: explain-sql and generate-sql call the user's model once each (after the
//! budget check), record their tokens under their own kinds, and map provider failures like a turn does.

use std::sync::Arc;

use reqwest::Method;
use serde_json::{Value, json};
use tabletalk_ports::fakes::{ScriptedCall, ScriptedLlm};
use tabletalk_ports::{FinishReason, LlmError, LlmEvent, LlmMessage, TokenCounts};
use tabletalk_tests::{TestApp, json_with_status};

pub(crate) fn answer(text: &str, input: u64, output: u64) -> ScriptedCall {
    ScriptedCall::Stream(vec![
        Ok(LlmEvent::TextDelta(text.to_owned())),
        Ok(LlmEvent::Usage(TokenCounts {
            input,
            output,
            thoughts: 0,
        })),
        Ok(LlmEvent::Finished {
            reason: FinishReason::Stop,
            provider_state: None,
        }),
    ])
}

async fn upload(app: &TestApp, conversation: &str, file_name: &str, csv: &str) {
    let table = file_name.trim_end_matches(".csv").to_owned();
    let form = reqwest::multipart::Form::new().text("name", table).part(
        "file",
        reqwest::multipart::Part::bytes(csv.as_bytes().to_vec()).file_name(file_name.to_owned()),
    );
    let uploaded = app
        .client
        .post(app.url(&format!("/conversations/{conversation}/datasets/upload")))
        .multipart(form)
        .send()
        .await
        .unwrap();
    json_with_status(uploaded, 201).await;
}

async fn post(app: &TestApp, path: String, body: &Value) -> reqwest::Response {
    app.send_json(Method::POST, &path, body).await
}

#[actix_web::test]
async fn helpers_call_the_users_model_once_and_count_their_tokens() {
    let llm = Arc::new(ScriptedLlm::default());
    llm.then(answer("  It counts the rows of each city.  ", 500, 70));
    // The first query names a column the table does not have; the error goes back once and the correction plans.
    llm.then(answer(
        "SQL:\nSELECT town, count(*) AS n FROM sales GROUP BY town\nEXPLANATION:\nRows per town.",
        100,
        50,
    ));
    llm.then(answer(
        "SQL:\n```sql\nSELECT city, count(*) AS n FROM sales GROUP BY city\n```\nEXPLANATION:\nRows per city.",
        100,
        50,
    ));
    llm.then(ScriptedCall::Refuse(LlmError::InvalidRequest {
        status: 400,
        message: "API key not valid".to_owned(),
    }));
    let app = TestApp::builder()
        .llm(llm.clone())
        .env("TABLETALK__BUDGET__TOKEN_LIMIT", "1000")
        .spawn()
        .await;
    app.login().await;
    let id = app.create_conversation().await;

    let explained = json_with_status(
        post(
            &app,
            format!("/conversations/{id}/explain-sql"),
            &json!({"query": "SELECT city, count(*) FROM t GROUP BY city", "schema_json": "{\"t\": [\"city\"]}"}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(
        explained,
        json!({"explanation": "It counts the rows of each city."})
    );
    let first = &llm.requests()[0];
    assert!(first.tools.is_empty(), "no tools for a helper");
    assert!(
        first.system.contains("{\"t\": [\"city\"]}"),
        "no ready dataset: the client's schema is the context"
    );

    let no_data = json_with_status(
        post(
            &app,
            format!("/conversations/{id}/generate-sql"),
            &json!({"question": "rows per city?"}),
        )
        .await,
        400,
    )
    .await;
    assert_eq!(no_data["code"], "no_datasets");
    assert_eq!(llm.requests().len(), 1, "refused before any model call");

    upload(
        &app,
        &id,
        "sales.csv",
        "city,amount\nParis,3\nLyon,4\nParis,5\n",
    )
    .await;
    let generated = json_with_status(
        post(
            &app,
            format!("/conversations/{id}/generate-sql"),
            &json!({"question": "rows per city?"}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(
        generated,
        json!({"sql": "SELECT city, count(*) AS n FROM sales GROUP BY city", "explanation": "Rows per city.", "validation_error": null})
    );
    let requests = llm.requests();
    assert!(
        requests[1].system.contains("sales") && requests[1].system.contains("city"),
        "the tables are the context"
    );
    assert_eq!(requests[2].messages.len(), 3, "question, answer, error");
    let LlmMessage::User { text: feedback } = &requests[2].messages[2] else {
        panic!("the error goes back as the user's turn");
    };
    assert!(feedback.contains("town"), "{feedback}");
    assert_eq!(requests[2].model, requests[1].model);

    let usage = json_with_status(app.get("/usage").await, 200).await;
    assert_eq!(
        usage["tokens_used"], 870,
        "both helpers count against the budget"
    );

    let failed = json_with_status(
        post(
            &app,
            format!("/conversations/{id}/explain-sql"),
            &json!({"query": "SELECT 1"}),
        )
        .await,
        502,
    )
    .await;
    assert_eq!(failed["code"], "llm_error");
    assert!(
        failed["error"].as_str().unwrap().starts_with("LLM error: "),
        "{failed}"
    );

    // 870 of 1,000 used: one more helper that reports 150 tokens passes the check, then the budget is spent.
    llm.then(answer("Fine.", 100, 50));
    json_with_status(
        post(
            &app,
            format!("/conversations/{id}/explain-sql"),
            &json!({"query": "SELECT 2"}),
        )
        .await,
        200,
    )
    .await;
    let spent = json_with_status(
        post(
            &app,
            format!("/conversations/{id}/explain-sql"),
            &json!({"query": "SELECT 3"}),
        )
        .await,
        429,
    )
    .await;
    assert_eq!(spent["code"], "token_budget_exceeded");

    for (path, body, field) in [
        ("explain-sql", json!({"query": ""}), "query"),
        (
            "explain-sql",
            json!({"query": "SELECT 1", "schema_json": "x".repeat(200_001)}),
            "schema_json",
        ),
        ("generate-sql", json!({"question": "  "}), "question"),
    ] {
        let refused = json_with_status(
            post(&app, format!("/conversations/{id}/{path}"), &body).await,
            422,
        )
        .await;
        assert_eq!(refused["details"][0]["field"], field, "{path}");
    }
    let (_, bob) = app.other_user_token("bob").await;
    let foreign = app
        .new_client()
        .post(app.url(&format!("/conversations/{id}/explain-sql")))
        .header("Cookie", format!("session_token={bob}"))
        .json(&json!({"query": "SELECT 1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(foreign.status(), 403);
    app.stop().await;
}

#[actix_web::test]
async fn without_a_model_the_helpers_say_so() {
    let app = TestApp::spawn().await;
    app.login().await;
    let id = app.create_conversation().await;
    let refused = json_with_status(
        post(
            &app,
            format!("/conversations/{id}/explain-sql"),
            &json!({"query": "SELECT 1"}),
        )
        .await,
        503,
    )
    .await;
    assert_eq!(refused["code"], "llm_not_configured");
    app.stop().await;
}

#[actix_web::test]
async fn a_query_that_still_does_not_plan_comes_back_with_its_error() {
    let llm = Arc::new(ScriptedLlm::default());
    llm.then(answer(
        "SQL:\nSELECT nope FROM sales\nEXPLANATION:\nx",
        10,
        10,
    ));
    llm.then(answer("SQL:\nDROP TABLE sales\nEXPLANATION:\ny", 10, 10));
    let app = TestApp::builder().llm(llm.clone()).spawn().await;
    app.login().await;
    let id = app.create_conversation().await;
    upload(&app, &id, "sales.csv", "city,amount\nParis,3\n").await;
    let generated = json_with_status(
        post(
            &app,
            format!("/conversations/{id}/generate-sql"),
            &json!({"question": "drop it"}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(generated["sql"], "DROP TABLE sales");
    let error = generated["validation_error"].as_str().unwrap();
    assert!(error.to_lowercase().contains("read-only"), "{error}");
    assert_eq!(llm.requests().len(), 2, "the error is fed back once only");
    let history = json_with_status(app.get("/query-history").await, 200).await;
    assert_eq!(history["total"], 0, "planning is not a run");
    app.stop().await;
}
