//! Tool access end to end: `llm.default_tools`, per-user allow and deny (deny wins) as the model request carries
//! them at the port, a forced call to a tool not offered refused as a tool error, `GET /capabilities`, and the
//! `tabletalk users` commands of the real binary.

use std::sync::Arc;

use reqwest::Method;
use serde_json::{Value, json};
use tabletalk_ports::fakes::{ScriptedCall, ScriptedLlm};
use tabletalk_ports::{FinishReason, LlmEvent, LlmMessage, Timestamp, ToolCall, UserSettings};
use tabletalk_tests::ws_client::connect;
use tabletalk_tests::{TestApp, json_with_status};

use crate::chat::{WAIT, send};
use crate::process::Binary;

const fn finished() -> LlmEvent {
    LlmEvent::Finished {
        reason: FinishReason::Stop,
        provider_state: None,
    }
}

pub(crate) async fn deny_for(app: &TestApp, allow: &[&str], deny: &[&str]) {
    let user = app.user_id().await;
    let now = Timestamp::from_unix_millis(1_767_225_600_000).unwrap();
    app.repositories()
        .settings
        .save(&UserSettings {
            tools_allow: allow.iter().map(|t| (*t).to_owned()).collect(),
            tools_deny: deny.iter().map(|t| (*t).to_owned()).collect(),
            ..UserSettings::initial(user, now)
        })
        .await
        .unwrap();
}

fn names(tools: &[tabletalk_ports::ToolDeclaration]) -> Vec<&str> {
    tools.iter().map(|t| t.name.as_str()).collect()
}

#[actix_web::test]
async fn a_denied_tool_is_never_offered_and_a_forced_call_is_refused() {
    let llm = Arc::new(ScriptedLlm::default());
    llm.then(ScriptedCall::Stream(vec![
        Ok(LlmEvent::ToolCall(ToolCall {
            id: Some("c1".to_owned()),
            name: "load_dataset".to_owned(),
            arguments: json!({"url": "https://data.example/x.csv"}).to_string(),
        })),
        Ok(finished()),
    ]));
    llm.then(ScriptedCall::Stream(vec![
        Ok(LlmEvent::TextDelta("I cannot load data here.".to_owned())),
        Ok(finished()),
    ]));
    let app = TestApp::builder().llm(llm.clone()).spawn().await;
    app.login().await;
    deny_for(&app, &[], &["load_dataset"]).await;
    let id = app.create_conversation().await;
    let mut socket = connect(&app.base, &app.session_token().await)
        .await
        .unwrap();
    json_with_status(
        send(&app, &id, "load https://data.example/x.csv").await,
        200,
    )
    .await;
    let events = socket.until("chat_complete", WAIT).await;
    assert_eq!(
        events.last().unwrap()["content"],
        "I cannot load data here."
    );

    let requests = llm.requests();
    assert_eq!(
        names(&requests[0].tools),
        ["execute_sql", "create_chart", "suggest_followups"]
    );
    let LlmMessage::ToolResults { results } = requests[1].messages.last().unwrap() else {
        panic!("the refusal goes back as the tool's result");
    };
    let refusal = &results[0].content;
    assert!(refusal.contains("not available"), "{refusal}");
    let datasets = json_with_status(app.get(&format!("/conversations/{id}")).await, 200).await;
    assert_eq!(datasets["datasets"], json!([]), "nothing was loaded");

    let capabilities = json_with_status(app.get("/capabilities").await, 200).await;
    assert_eq!(
        capabilities["tools"],
        json!(["execute_sql", "create_chart", "suggest_followups"])
    );
    let preview = json_with_status(
        app.send_json(
            Method::POST,
            &format!("/conversations/{id}/prompt-preview"),
            &json!({"content": "next"}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(
        preview["tools"], capabilities["tools"],
        "the preview sends what a turn would"
    );
    app.stop().await;
}

#[actix_web::test]
async fn defaults_come_from_the_configuration_and_allow_adds_to_them() {
    let app = TestApp::builder()
        .llm(Arc::new(ScriptedLlm::default()))
        .env("TABLETALK__LLM__DEFAULT_TOOLS", "execute_sql")
        .env("TABLETALK__DATASETS__MAX_PER_CONVERSATION", "7")
        .env("TABLETALK__BUDGET__TOKEN_LIMIT", "12345")
        .spawn()
        .await;
    app.login().await;
    let before = json_with_status(app.get("/capabilities").await, 200).await;
    assert_eq!(before["tools"], json!(["execute_sql"]));
    assert_eq!(before["limits"]["max_datasets_per_conversation"], 7);
    assert_eq!(before["limits"]["token_limit"], 12345);
    assert!(before["limits"]["query_timeout_s"].as_u64().unwrap() > 0);
    assert!(
        before["models"]
            .as_array()
            .unwrap()
            .contains(&before["default_model"])
    );
    // Deny wins over allow.
    deny_for(&app, &["create_chart", "load_dataset"], &["load_dataset"]).await;
    let after = json_with_status(app.get("/capabilities").await, 200).await;
    assert_eq!(after["tools"], json!(["execute_sql", "create_chart"]));
    let anonymous = app
        .new_client()
        .get(app.url("/capabilities"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    app.stop().await;
}

#[test]
fn an_unknown_default_tool_is_a_configuration_error() {
    let binary = Binary::new();
    let output = binary.run(
        &["config", "check"],
        &[("TABLETALK__LLM__DEFAULT_TOOLS", "execute_sql,rm_rf")],
    );
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("llm.default_tools") && stderr.contains("rm_rf"),
        "{stderr}"
    );
}

#[actix_web::test]
async fn the_users_command_lists_accounts_and_changes_their_tools() {
    let binary = Binary::new();
    let server = binary.start(&[]).await;
    let client = crate::binary::sign_in(&server.base, &server.access_key()).await;
    let run = |args: &[&str]| {
        let output = binary.run(args, &[]);
        (
            output.status.success(),
            String::from_utf8_lossy(&output.stdout).trim().to_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    let (ok, listed, _) = run(&["users", "list"]);
    assert!(ok);
    assert!(listed.starts_with("local@localhost\t"), "{listed}");
    assert!(
        listed.ends_with("execute_sql,load_dataset,create_chart,suggest_followups"),
        "{listed}"
    );

    let (ok, changed, _) = run(&[
        "users",
        "tools",
        "LOCAL@localhost",
        "--deny",
        "load_dataset",
        "--deny",
        "create_chart",
    ]);
    assert!(ok);
    assert_eq!(changed, "local@localhost\texecute_sql,suggest_followups");
    let capabilities: Value = client
        .get(format!("{}/capabilities", server.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        capabilities["tools"],
        json!(["execute_sql", "suggest_followups"]),
        "the running server sees it"
    );
    let (ok, changed, _) = run(&[
        "users",
        "tools",
        "local@localhost",
        "--allow",
        "create_chart",
    ]);
    assert!(ok);
    assert_eq!(
        changed,
        "local@localhost\texecute_sql,create_chart,suggest_followups"
    );
    let (ok, changed, _) = run(&["users", "tools", "local@localhost", "--reset"]);
    assert!(ok);
    assert_eq!(
        changed,
        "local@localhost\texecute_sql,load_dataset,create_chart,suggest_followups"
    );

    let (ok, _, stderr) = run(&["users", "tools", "local@localhost", "--allow", "rm_rf"]);
    assert!(!ok);
    assert!(stderr.contains("Unknown tool 'rm_rf'"), "{stderr}");
    let (ok, _, stderr) = run(&[
        "users",
        "tools",
        "nobody@example.com",
        "--deny",
        "execute_sql",
    ]);
    assert!(!ok);
    assert!(
        stderr.contains("no account with email nobody@example.com"),
        "{stderr}"
    );
    assert!(server.terminate().success());
}
