//! The Gemini adapter against a scripted server speaking Gemini's exact wire format (../shared/wire/gemini.md).

use std::time::Duration;

use futures_util::StreamExt;
use secrecy::SecretString;
use serde_json::{Value, json};
use tabletalk_adapters_gemini::{GeminiClient, GeminiSettings};
use tabletalk_domain::llm_retry::{CallError, RetryPolicy, start_with_retries};
use tabletalk_llm_http::CallTimeouts;
use tabletalk_ports::{
    FinishReason, LlmClient, LlmError, LlmEvent, LlmMessage, LlmProvider, LlmRequest, TokenCounts,
    ToolDeclaration, ToolMode, ToolResult,
};
use tabletalk_tests::scripted_server::{Chunk, Reply, ScriptedServer, sse_events};

const KEY: &str = "gm-test-key-123";

fn client(server: &ScriptedServer, idle: Duration) -> GeminiClient {
    GeminiClient::new(GeminiSettings {
        base_url: server.base.clone(),
        api_key: SecretString::from(KEY),
        connect_timeout: Duration::from_secs(2),
        timeouts: CallTimeouts {
            idle,
            call: Duration::from_secs(20),
        },
    })
    .unwrap()
}

fn request(messages: Vec<LlmMessage>) -> LlmRequest {
    LlmRequest {
        model: "gemini-2.5-flash".to_owned(),
        system: "You are a data analyst.".to_owned(),
        messages,
        tools: vec![ToolDeclaration {
            name: "execute_sql".to_owned(),
            description: "Run read-only SQL".to_owned(),
            parameters:
                r#"{"type":"object","properties":{"query":{"type":"string"}},"required":["query"]}"#
                    .to_owned(),
        }],
        tool_mode: ToolMode::Auto,
        thinking: true,
        temperature: Some(0.2),
        max_output_tokens: None,
    }
}

fn ask(text: &str) -> Vec<LlmMessage> {
    vec![LlmMessage::User {
        text: text.to_owned(),
    }]
}

fn parts_chunk(parts: &Value) -> Value {
    json!({"candidates": [{"content": {"role": "model", "parts": parts}, "index": 0}]})
}

fn final_chunk(parts: &Value, prompt: u64, candidates: u64, thoughts: u64) -> Value {
    json!({
        "candidates": [{"content": {"role": "model", "parts": parts}, "finishReason": "STOP", "index": 0}],
        "usageMetadata": {"promptTokenCount": prompt, "candidatesTokenCount": candidates, "thoughtsTokenCount": thoughts,
                          "totalTokenCount": prompt + candidates + thoughts},
        "modelVersion": "gemini-2.5-flash"
    })
}

async fn run(client: &GeminiClient, request: &LlmRequest) -> Vec<Result<LlmEvent, LlmError>> {
    client.stream(request).await.unwrap().collect().await
}

fn texts(events: &[Result<LlmEvent, LlmError>]) -> String {
    events
        .iter()
        .filter_map(|e| match e {
            Ok(LlmEvent::TextDelta(t)) => Some(t.as_str()),
            _ => None,
        })
        .collect()
}

#[actix_web::test]
async fn a_text_stream_and_the_request_it_came_from() {
    let server = ScriptedServer::start();
    let body = sse_events(
        &[
            parts_chunk(&json!([{"text": "The top "}])),
            final_chunk(&json!([{"text": "customer is Ada."}]), 844, 278, 0),
        ],
        "\r\n",
    );
    server.reply(Reply::sse(vec![Chunk::Bytes(body)]));
    let events = run(
        &client(&server, Duration::from_secs(5)),
        &request(ask("Top customer?")),
    )
    .await;

    assert_eq!(texts(&events), "The top customer is Ada.");
    assert!(events.contains(&Ok(LlmEvent::Usage(TokenCounts {
        input: 844,
        output: 278,
        thoughts: 0
    }))));
    assert!(
        matches!(events.last(), Some(Ok(LlmEvent::Finished { reason: FinishReason::Stop, provider_state: Some(s) })) if s.provider == LlmProvider::Gemini)
    );

    let sent = &server.requests()[0];
    assert_eq!(
        sent.path,
        "/v1beta/models/gemini-2.5-flash:streamGenerateContent"
    );
    assert_eq!(sent.query, "alt=sse", "the key never travels in the URL");
    assert_eq!(sent.headers["x-goog-api-key"], KEY);
    assert_eq!(
        sent.body["systemInstruction"],
        json!({"parts": [{"text": "You are a data analyst."}]})
    );
    assert_eq!(
        sent.body["contents"],
        json!([{"role": "user", "parts": [{"text": "Top customer?"}]}])
    );
    assert_eq!(
        sent.body["tools"][0]["functionDeclarations"][0]["name"],
        "execute_sql"
    );
    assert_eq!(
        sent.body["tools"][0]["functionDeclarations"][0]["parameters"]["required"],
        json!(["query"])
    );
    assert_eq!(
        sent.body["toolConfig"],
        json!({"functionCallingConfig": {"mode": "AUTO"}})
    );
    assert_eq!(
        sent.body["generationConfig"]["thinkingConfig"],
        json!({"includeThoughts": true})
    );
    assert!(
        (sent.body["generationConfig"]["temperature"]
            .as_f64()
            .unwrap()
            - 0.2)
            .abs()
            < 1e-6
    );
}

#[actix_web::test]
async fn a_function_call_round_trip_echoes_the_signature() {
    let server = ScriptedServer::start();
    let call = json!([{"functionCall": {"name": "execute_sql", "args": {"query": "SELECT 1"}}, "thoughtSignature": "c2lnLTE="}]);
    server.reply(Reply::sse(vec![Chunk::Bytes(sse_events(
        &[final_chunk(&call, 100, 10, 5)],
        "\n",
    ))]));
    server.reply(Reply::sse(vec![Chunk::Bytes(sse_events(
        &[final_chunk(&json!([{"text": "One."}]), 150, 3, 0)],
        "\n",
    ))]));
    let gemini = client(&server, Duration::from_secs(5));

    let first = run(&gemini, &request(ask("Count"))).await;
    let Some(Ok(LlmEvent::ToolCall(tool_call))) = first
        .iter()
        .find(|e| matches!(e, Ok(LlmEvent::ToolCall(_))))
    else {
        panic!("no tool call in {first:?}");
    };
    assert_eq!(
        (tool_call.name.as_str(), tool_call.arguments.as_str()),
        ("execute_sql", r#"{"query":"SELECT 1"}"#)
    );
    let Some(Ok(LlmEvent::Finished {
        reason,
        provider_state,
    })) = first.last()
    else {
        panic!("{first:?}")
    };
    assert_eq!(*reason, FinishReason::ToolCalls);

    let mut messages = ask("Count");
    messages.push(LlmMessage::Assistant {
        text: String::new(),
        tool_calls: vec![tool_call.clone()],
        provider_state: provider_state.clone(),
    });
    messages.push(LlmMessage::ToolResults {
        results: vec![ToolResult {
            call_id: None,
            name: "execute_sql".into(),
            content: r#"{"rows":[[1]]}"#.into(),
            is_error: false,
        }],
    });
    let second = run(&gemini, &request(messages)).await;
    assert_eq!(texts(&second), "One.");

    let contents = &server.requests()[1].body["contents"];
    assert_eq!(
        contents[1],
        json!({"role": "model", "parts": call}),
        "the model content is replayed verbatim"
    );
    assert_eq!(
        contents[2],
        json!({"role": "user", "parts": [{"functionResponse": {"name": "execute_sql", "response": {"output": {"rows": [[1]]}}}}]})
    );
}

#[actix_web::test]
async fn parallel_calls_thoughts_and_cumulative_usage() {
    let server = ScriptedServer::start();
    let events = [
        json!({"candidates": [{"content": {"role": "model", "parts": [{"text": "Planning the queries", "thought": true}]}}],
               "usageMetadata": {"promptTokenCount": 50, "candidatesTokenCount": 1, "thoughtsTokenCount": 9}}),
        parts_chunk(&json!([
            {"functionCall": {"name": "execute_sql", "args": {"query": "SELECT a"}}, "thoughtSignature": "c2ln"},
            {"functionCall": {"name": "execute_sql", "args": {"query": "SELECT b"}}}
        ])),
        final_chunk(
            &json!([{"functionCall": {"id": "c3", "name": "get_schema", "args": {}}}, {"text": "", "thoughtSignature": "dGFpbA=="}]),
            50,
            30,
            20,
        ),
    ];
    server.reply(Reply::sse(vec![Chunk::Bytes(sse_events(&events, "\n"))]));
    let out = run(
        &client(&server, Duration::from_secs(5)),
        &request(ask("Compare")),
    )
    .await;

    let calls: Vec<_> = out
        .iter()
        .filter_map(|e| match e {
            Ok(LlmEvent::ToolCall(c)) => Some(c),
            _ => None,
        })
        .collect();
    assert_eq!(calls.len(), 3);
    assert_eq!(calls[2].id.as_deref(), Some("c3"));
    assert_eq!(calls[2].arguments, "{}");
    assert!(out.contains(&Ok(LlmEvent::ThoughtDelta("Planning the queries".into()))));
    assert!(
        out.contains(&Ok(LlmEvent::Usage(TokenCounts {
            input: 50,
            output: 50,
            thoughts: 20
        }))),
        "the last report wins: {out:?}"
    );
    let Some(Ok(LlmEvent::Finished {
        provider_state: Some(state),
        ..
    })) = out.last()
    else {
        panic!()
    };
    let kept: Value = serde_json::from_str(&state.data).unwrap();
    assert_eq!(
        kept["parts"].as_array().unwrap().len(),
        5,
        "thought, three calls and the signature-only part: {kept}"
    );
    assert_eq!(
        kept["parts"][4],
        json!({"text": "", "thoughtSignature": "dGFpbA=="})
    );
}

#[actix_web::test]
async fn events_split_anywhere_across_reads_decode_the_same() {
    let body = sse_events(
        &[
            parts_chunk(&json!([{"text": "héllo "}])),
            final_chunk(&json!([{"text": "wörld"}]), 3, 2, 0),
        ],
        "\r\n",
    );
    for split in [1, 7, 20, body.len() / 2, body.len() - 3] {
        let server = ScriptedServer::start();
        let (head, tail) = body.split_at(split);
        server.reply(Reply::sse(vec![
            Chunk::Bytes(head.to_vec()),
            Chunk::Pause(Duration::from_millis(30)),
            Chunk::Bytes(tail.to_vec()),
        ]));
        let out = run(
            &client(&server, Duration::from_secs(5)),
            &request(ask("hi")),
        )
        .await;
        assert_eq!(texts(&out), "héllo wörld", "split at {split}");
        assert!(matches!(out.last(), Some(Ok(LlmEvent::Finished { .. }))));
    }
}

async fn refused(reply: Reply) -> LlmError {
    let server = ScriptedServer::start();
    server.reply(reply);
    match client(&server, Duration::from_secs(5))
        .stream(&request(ask("x")))
        .await
    {
        Err(error) => error,
        Ok(_) => panic!("expected a refusal"),
    }
}

#[actix_web::test]
async fn error_statuses_map_to_the_port_errors() {
    let invalid = json!({"error": {"code": 400, "message": "Invalid JSON payload received.", "status": "INVALID_ARGUMENT"}});
    assert!(
        matches!(refused(Reply::json(400, &invalid)).await, LlmError::InvalidRequest { status: 400, message } if message == "Invalid JSON payload received.")
    );
    let bad_key = json!({"error": {"code": 400, "message": "API key not valid. Please pass a valid API key.", "status": "INVALID_ARGUMENT",
        "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID", "domain": "googleapis.com"}]}});
    let error = refused(Reply::json(400, &bad_key)).await;
    assert!(
        matches!(&error, LlmError::InvalidRequest { message, .. } if message.starts_with("API key not valid"))
    );
    assert!(!error.to_string().contains(KEY));
    let overloaded = json!({"error": {"code": 503, "message": "The model is overloaded. Please try again later.", "status": "UNAVAILABLE"}});
    assert!(matches!(
        refused(Reply::json(503, &overloaded)).await,
        LlmError::Unavailable {
            status: Some(503),
            ..
        }
    ));
    assert!(matches!(
        refused(Reply::json(
            500,
            &json!({"error": {"code": 500, "status": "INTERNAL"}})
        ))
        .await,
        LlmError::Unavailable {
            status: Some(500),
            ..
        }
    ));
}

#[actix_web::test]
async fn a_rate_limit_with_retry_info_is_waited_out_then_succeeds() {
    let server = ScriptedServer::start();
    let limited = json!({"error": {"code": 429, "message": "You exceeded your current quota.", "status": "RESOURCE_EXHAUSTED",
        "details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "0.3s"}]}});
    server.reply(Reply::json(429, &limited));
    server.reply(Reply::sse(vec![Chunk::Bytes(sse_events(
        &[final_chunk(&json!([{"text": "ok"}]), 1, 1, 0)],
        "\n",
    ))]));
    let gemini = client(&server, Duration::from_secs(5));
    let policy = RetryPolicy {
        max_retries: 3,
        base_delay: Duration::from_millis(10),
    };
    let started = std::time::Instant::now();
    let stream = start_with_retries(&gemini, &request(ask("x")), &policy, &|_| {})
        .await
        .unwrap();
    let out: Vec<_> = stream.collect().await;
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "RetryInfo honoured"
    );
    assert_eq!(texts(&out), "ok");
    assert_eq!(server.requests().len(), 2);

    let server = ScriptedServer::start();
    server.reply(Reply::json(
        400,
        &json!({"error": {"code": 400, "message": "bad", "status": "INVALID_ARGUMENT"}}),
    ));
    let outcome = start_with_retries(
        &client(&server, Duration::from_secs(5)),
        &request(ask("x")),
        &policy,
        &|_| {},
    )
    .await;
    assert!(matches!(
        outcome,
        Err(CallError::Failed(LlmError::InvalidRequest { .. }))
    ));
    assert_eq!(server.requests().len(), 1, "a 400 is not retried");
}

/// Whether an error is the one a case expects.
type ErrorCheck = fn(&LlmError) -> bool;

#[actix_web::test]
async fn broken_streams_fail_cleanly() {
    let cases: Vec<(Vec<Chunk>, ErrorCheck)> = vec![
        // Malformed JSON in an event, after some text.
        (
            vec![
                Chunk::Bytes(sse_events(&[parts_chunk(&json!([{"text": "a"}]))], "\n")),
                Chunk::Bytes(b"data: {not json\n\n".to_vec()),
            ],
            |e| matches!(e, LlmError::BadResponse { message } if message.contains("not JSON")),
        ),
        // The connection drops mid-stream.
        (
            vec![
                Chunk::Bytes(sse_events(&[parts_chunk(&json!([{"text": "a"}]))], "\n")),
                Chunk::Pause(Duration::from_millis(100)),
                Chunk::Drop,
            ],
            |e| matches!(e, LlmError::BadResponse { message } if message.contains("broke off")),
        ),
        // The body ends without a final chunk.
        (
            vec![Chunk::Bytes(sse_events(
                &[parts_chunk(&json!([{"text": "a"}]))],
                "\n",
            ))],
            |e| matches!(e, LlmError::BadResponse { message } if message.contains("before the model finished")),
        ),
        // The stream goes quiet for longer than the idle timeout.
        (
            vec![
                Chunk::Bytes(sse_events(&[parts_chunk(&json!([{"text": "a"}]))], "\n")),
                Chunk::Pause(Duration::from_secs(3)),
            ],
            |e| {
                matches!(
                    e,
                    LlmError::Timeout {
                        before_first_byte: false,
                        ..
                    }
                )
            },
        ),
        // The prompt is blocked.
        (
            vec![Chunk::Bytes(sse_events(
                &[json!({"promptFeedback": {"blockReason": "SAFETY"}})],
                "\n",
            ))],
            |e| matches!(e, LlmError::Blocked { reason } if reason == "SAFETY"),
        ),
        // An error object inside the stream.
        (
            vec![Chunk::Bytes(sse_events(
                &[
                    json!({"error": {"code": 503, "message": "overloaded", "status": "UNAVAILABLE"}}),
                ],
                "\n",
            ))],
            |e| {
                matches!(
                    e,
                    LlmError::Unavailable {
                        status: Some(503),
                        ..
                    }
                )
            },
        ),
    ];
    for (i, (chunks, expected)) in cases.into_iter().enumerate() {
        let server = ScriptedServer::start();
        server.reply(Reply::sse(chunks));
        let out = run(
            &client(&server, Duration::from_millis(500)),
            &request(ask("x")),
        )
        .await;
        let last = out.last().unwrap_or_else(|| panic!("case {i}: no events"));
        assert!(matches!(last, Err(e) if expected(e)), "case {i}: {out:?}");
        assert_eq!(
            out.iter().filter(|e| e.is_err()).count(),
            1,
            "case {i}: the stream ends after its first error"
        );
    }
}

#[actix_web::test]
async fn no_response_within_the_idle_timeout_is_a_retryable_timeout() {
    let server = ScriptedServer::start();
    server.reply(Reply::sse(vec![]).delayed(Duration::from_secs(3)));
    let Err(error) = client(&server, Duration::from_millis(300))
        .stream(&request(ask("x")))
        .await
    else {
        panic!("expected a timeout");
    };
    assert!(matches!(
        error,
        LlmError::Timeout {
            before_first_byte: true,
            ..
        }
    ));
    assert!(error.is_retryable());
}
