//! The OpenAI-compatible adapter against a scripted server speaking the Chat Completions stream format
//! (../shared/wire/openai-compatible.md).

use std::time::Duration;

use futures_util::StreamExt;
use secrecy::SecretString;
use serde_json::{Value, json};
use tabletalk_adapters_openai::{OpenAiClient, OpenAiSettings};
use tabletalk_llm_http::CallTimeouts;
use tabletalk_ports::{
    FinishReason, LlmClient, LlmError, LlmEvent, LlmMessage, LlmRequest, TokenCounts, ToolCall,
    ToolDeclaration, ToolMode, ToolResult,
};
use tabletalk_tests::scripted_server::{Chunk, Reply, ScriptedServer};

pub(crate) fn client(server: &ScriptedServer, key: Option<&str>) -> OpenAiClient {
    OpenAiClient::new(OpenAiSettings {
        base_url: format!("{}/v1", server.base),
        api_key: key.map(SecretString::from),
        connect_timeout: Duration::from_secs(2),
        timeouts: CallTimeouts {
            idle: Duration::from_secs(5),
            call: Duration::from_secs(20),
        },
    })
    .unwrap()
}

fn request(messages: Vec<LlmMessage>) -> LlmRequest {
    LlmRequest {
        model: "qwen2.5:7b".to_owned(),
        system: "You are a data analyst.".to_owned(),
        messages,
        tools: vec![ToolDeclaration {
            name: "execute_sql".to_owned(),
            description: "Run read-only SQL".to_owned(),
            parameters: r#"{"type":"object","properties":{"query":{"type":"string"}}}"#.to_owned(),
        }],
        tool_mode: ToolMode::Auto,
        thinking: false,
        temperature: None,
        max_output_tokens: Some(2048),
    }
}

pub(crate) fn chunk(delta: &Value, finish: Option<&str>) -> String {
    let chunk = json!({"id": "chatcmpl-1", "object": "chat.completion.chunk", "model": "m",
                       "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]});
    format!("data: {chunk}\n\n")
}

pub(crate) fn stream_body(parts: &[String], usage: Option<(u64, u64)>) -> Vec<u8> {
    let mut body: String = parts.concat();
    if let Some((prompt, completion)) = usage {
        let usage = json!({"id": "chatcmpl-1", "choices": [], "usage": {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}});
        body.push_str("data: ");
        body.push_str(&usage.to_string());
        body.push_str("\n\n");
    }
    body.push_str(": keep-alive\n\ndata: [DONE]\n\n");
    body.into_bytes()
}

async fn run(client: &OpenAiClient, request: &LlmRequest) -> Vec<Result<LlmEvent, LlmError>> {
    client.stream(request).await.unwrap().collect().await
}

#[actix_web::test]
async fn text_reasoning_and_usage_from_a_stream() {
    let server = ScriptedServer::start();
    server.reply(Reply::sse(vec![Chunk::Bytes(stream_body(
        &[
            chunk(&json!({"role": "assistant", "content": null}), None),
            chunk(&json!({"reasoning_content": "Thinking…"}), None),
            chunk(&json!({"content": "Hello"}), None),
            chunk(&json!({"content": " there"}), None),
            chunk(&json!({}), Some("stop")),
        ],
        Some((120, 31)),
    ))]));
    let out = run(
        &client(&server, Some("sk-test")),
        &request(vec![LlmMessage::User { text: "hi".into() }]),
    )
    .await;
    assert_eq!(
        out.into_iter().collect::<Result<Vec<_>, _>>().unwrap(),
        vec![
            LlmEvent::ThoughtDelta("Thinking…".into()),
            LlmEvent::TextDelta("Hello".into()),
            LlmEvent::TextDelta(" there".into()),
            LlmEvent::Usage(TokenCounts {
                input: 120,
                output: 31,
                thoughts: 0
            }),
            LlmEvent::Finished {
                reason: FinishReason::Stop,
                provider_state: None
            },
        ]
    );
    let sent = &server.requests()[0];
    assert_eq!(sent.path, "/v1/chat/completions");
    assert_eq!(sent.headers["authorization"], "Bearer sk-test");
    assert_eq!(sent.body["stream"], true);
    assert_eq!(sent.body["stream_options"], json!({"include_usage": true}));
    assert_eq!(
        sent.body["messages"][0],
        json!({"role": "system", "content": "You are a data analyst."})
    );
    assert_eq!(sent.body["tools"][0]["type"], "function");
    assert_eq!(sent.body["tools"][0]["function"]["name"], "execute_sql");
    assert_eq!(sent.body["tool_choice"], "auto");
    assert_eq!(sent.body["max_tokens"], 2048);
}

#[actix_web::test]
async fn tool_call_fragments_are_accumulated_by_index_and_replayed() {
    let server = ScriptedServer::start();
    server.reply(Reply::sse(vec![Chunk::Bytes(stream_body(
        &[
            chunk(&json!({"tool_calls": [{"index": 0, "id": "call_a", "type": "function", "function": {"name": "execute_sql", "arguments": ""}}]}), None),
            chunk(&json!({"tool_calls": [{"index": 1, "id": "call_b", "type": "function", "function": {"name": "execute_sql", "arguments": "{\"query\":"}}]}), None),
            chunk(&json!({"tool_calls": [{"index": 0, "function": {"arguments": "{\"query\":\"SELECT 1\"}"}}]}), None),
            chunk(&json!({"tool_calls": [{"index": 1, "function": {"arguments": "\"SELECT 2\"}"}}]}), None),
            chunk(&json!({}), Some("tool_calls")),
        ],
        Some((10, 5)),
    ))]));
    server.reply(Reply::sse(vec![Chunk::Bytes(stream_body(
        &[chunk(&json!({"content": "Done"}), Some("stop"))],
        None,
    ))]));
    let openai = client(&server, None);

    let out = run(
        &openai,
        &request(vec![LlmMessage::User {
            text: "both".into(),
        }]),
    )
    .await;
    let calls: Vec<ToolCall> = out
        .iter()
        .filter_map(|e| match e {
            Ok(LlmEvent::ToolCall(c)) => Some(c.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(
        calls
            .iter()
            .map(|c| (c.id.as_deref(), c.arguments.as_str()))
            .collect::<Vec<_>>(),
        [
            (Some("call_a"), r#"{"query":"SELECT 1"}"#),
            (Some("call_b"), r#"{"query":"SELECT 2"}"#)
        ]
    );
    assert!(matches!(
        out.last(),
        Some(Ok(LlmEvent::Finished {
            reason: FinishReason::ToolCalls,
            ..
        }))
    ));
    assert!(
        !server.requests()[0].headers.contains_key("authorization"),
        "no key, no header"
    );

    let messages = vec![
        LlmMessage::User {
            text: "both".into(),
        },
        LlmMessage::Assistant {
            text: String::new(),
            tool_calls: calls.clone(),
            provider_state: None,
        },
        LlmMessage::ToolResults {
            results: vec![
                ToolResult {
                    call_id: Some("call_a".into()),
                    name: "execute_sql".into(),
                    content: r#"{"rows":[[1]]}"#.into(),
                    is_error: false,
                },
                ToolResult {
                    call_id: Some("call_b".into()),
                    name: "execute_sql".into(),
                    content: r#""no such table""#.into(),
                    is_error: true,
                },
            ],
        },
    ];
    let reply = openai.complete(&request(messages)).await.unwrap();
    assert_eq!(reply.text, "Done");
    let sent = &server.requests()[1].body["messages"];
    assert_eq!(sent[2]["role"], "assistant");
    assert_eq!(sent[2]["content"], Value::Null);
    assert_eq!(
        sent[2]["tool_calls"][1],
        json!({"id": "call_b", "type": "function", "function": {"name": "execute_sql", "arguments": "{\"query\":\"SELECT 2\"}"}})
    );
    assert_eq!(
        sent[3],
        json!({"role": "tool", "tool_call_id": "call_a", "name": "execute_sql", "content": "{\"rows\":[[1]]}"})
    );
    assert_eq!(sent[4]["content"], "{\"error\":\"no such table\"}");
}

#[actix_web::test]
async fn errors_map_to_the_port_errors() {
    let server = ScriptedServer::start();
    server.reply(
        Reply::json(
            429,
            &json!({"error": {"message": "Rate limit reached", "type": "requests"}}),
        )
        .header("retry-after", "7"),
    );
    server.reply(Reply::json(401, &json!({"error": {"message": "Incorrect API key provided", "type": "invalid_request_error"}})));
    server.reply(Reply::json(
        503,
        &json!({"error": {"message": "overloaded", "type": "api_error"}}),
    ));
    server.reply(Reply::sse(vec![Chunk::Bytes(
        b"data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"}}]}\n\n".to_vec(),
    )]));
    let openai = client(&server, Some("sk-secret-value"));
    let question = request(vec![LlmMessage::User { text: "x".into() }]);
    let call = || openai.stream(&question);
    assert!(
        matches!(call().await.err(), Some(LlmError::RateLimited { retry_after: Some(d), .. }) if d == Duration::from_secs(7))
    );
    let unauthorized = call().await.err().unwrap();
    assert!(
        matches!(&unauthorized, LlmError::InvalidRequest { status: 401, message } if message == "Incorrect API key provided")
    );
    assert!(!unauthorized.to_string().contains("sk-secret-value"));
    assert!(matches!(
        call().await.err(),
        Some(LlmError::Unavailable {
            status: Some(503),
            ..
        })
    ));
    let truncated: Vec<_> = call().await.unwrap().collect().await;
    assert!(
        matches!(truncated.last(), Some(Err(LlmError::BadResponse { .. }))),
        "EOF without finish_reason: {truncated:?}"
    );
}
