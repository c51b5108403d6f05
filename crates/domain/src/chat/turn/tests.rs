//! The turn loop over the port fakes: model rounds, tool calls through the real SQL runner and dataset service,
//! the caps, failures, what is stored and what is announced.
#![allow(
    clippy::unnecessary_wraps,
    reason = "script items are stream items: Ok(event) or Err(error)"
)]

use serde_json::json;
use tabletalk_ports::fakes::{ScriptedCall, integer_output, parquet_content};
use tabletalk_ports::{
    ExecutionOutcome, FinishReason, LlmError, LlmEvent, LlmMessage, MessageRepository, MessageRole,
    MessageStatus, TokenCounts, ToolCall, TraceStep,
};

use crate::events::{DomainEvent, TurnFailureKind};
use crate::input::MessageText;
use crate::testkit::{Kit, MAX_SQL_ERRORS, MAX_TOOL_CALLS, kit, until_turn_ends};

const URL: &str = "https://d.example/sales.parquet";

fn call(name: &str, args: &serde_json::Value) -> Result<LlmEvent, LlmError> {
    Ok(LlmEvent::ToolCall(ToolCall {
        id: Some(format!("call-{name}")),
        name: name.to_owned(),
        arguments: args.to_string(),
    }))
}

fn text(chunk: &str) -> Result<LlmEvent, LlmError> {
    Ok(LlmEvent::TextDelta(chunk.to_owned()))
}

fn usage(input: u64, output: u64) -> Result<LlmEvent, LlmError> {
    Ok(LlmEvent::Usage(TokenCounts {
        input,
        output,
        thoughts: 0,
    }))
}

fn finished() -> Result<LlmEvent, LlmError> {
    Ok(LlmEvent::Finished {
        reason: FinishReason::Stop,
        provider_state: None,
    })
}

async fn with_sales(kit: &Kit) {
    kit.content.serve(URL, Ok(parquet_content(3, &["amount"])));
    let dataset = kit
        .datasets
        .add_url(kit.user, kit.conversation, URL, None)
        .await
        .unwrap();
    assert_eq!(dataset.name, "table1");
}

async fn ask(kit: &Kit, question: &str) -> Vec<DomainEvent> {
    let mut events = kit.bus.subscribe(kit.user);
    kit.chat
        .send(
            kit.user,
            kit.conversation,
            &MessageText::parse(question).unwrap(),
        )
        .await
        .unwrap();
    until_turn_ends(&mut events).await
}

/// The last tool results the model was sent before request `index`.
fn tool_results(kit: &Kit, index: usize) -> Vec<tabletalk_ports::ToolResult> {
    match kit.llm.requests()[index].messages.last() {
        Some(LlmMessage::ToolResults { results }) => results.clone(),
        other => panic!("request {index} does not end with tool results: {other:?}"),
    }
}

#[tokio::test]
async fn a_turn_runs_the_models_sql_then_stores_and_announces_the_answer() {
    let kit = kit().await;
    with_sales(&kit).await;
    let sql = "SELECT amount FROM table1";
    kit.engine
        .answer(sql, Ok(integer_output("amount", &[6, 7, 8])));
    kit.llm
        .then(ScriptedCall::Stream(vec![
            call("execute_sql", &json!({"query": sql})),
            usage(100, 10),
            finished(),
        ]))
        .then(ScriptedCall::Stream(vec![
            text("Three rows"),
            text(": 6, 7, 8."),
            usage(200, 20),
            finished(),
        ]));

    let events = ask(&kit, "What amounts are there?").await;

    let kinds: Vec<&str> = events
        .iter()
        .map(|e| match e {
            DomainEvent::TitleUpdated { .. } => "title",
            DomainEvent::ToolCallStarted { .. } => "tool_call_start",
            DomainEvent::QueryProgress { .. } => "query_progress",
            DomainEvent::ChatToken { .. } => "chat_token",
            DomainEvent::ChatComplete(_) => "chat_complete",
            _ => "other",
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "title",
            "tool_call_start",
            "query_progress",
            "chat_token",
            "chat_token",
            "chat_complete"
        ]
    );
    let Some(DomainEvent::ChatComplete(done)) = events.last() else {
        unreachable!("the turn ended with chat_complete");
    };
    assert_eq!(done.content, "Three rows: 6, 7, 8.");
    assert_eq!(done.status, MessageStatus::Complete);
    assert_eq!((done.input_tokens, done.output_tokens), (300, 30));
    assert_eq!(done.rows_shown, 2);
    let result = done.sql_executions[0]
        .result()
        .expect("the query succeeded");
    assert_eq!(result.rows.len(), 3);
    assert!(matches!(
        &done.trace[..],
        [TraceStep::ToolCall { tool, .. }, TraceStep::Text(t)] if tool == "execute_sql" && t == "Three rows: 6, 7, 8."
    ));

    // The model saw the rows as a successful tool result; the engine ran the query over the conversation's table.
    let results = tool_results(&kit, 1);
    assert!(!results[0].is_error);
    assert!(
        results[0].content.contains("\"rows\":[[6],[7],[8]]"),
        "{}",
        results[0].content
    );
    let calls = kit.engine.calls();
    let run = calls.iter().find(|c| c.sql == sql).expect("the query ran");
    assert_eq!(run.tables, ["table1"]);

    // Stored: the question and the answer with its SQL and trace.
    let stored = kit
        .store
        .list_for_conversation(kit.conversation)
        .await
        .unwrap();
    assert_eq!(stored.len(), 2);
    assert_eq!(stored[1].role, MessageRole::Assistant);
    assert_eq!(stored[1].sql_executions, done.sql_executions);
    assert_eq!(stored[1].trace, done.trace);
}

#[tokio::test]
async fn failing_queries_are_capped_and_the_model_is_told_to_stop_running_sql() {
    let kit = kit().await;
    with_sales(&kit).await;
    let round = || {
        ScriptedCall::Stream(vec![
            call("execute_sql", &json!({"query": "SELECT nope"})),
            finished(),
        ])
    };
    kit.llm
        .then(round())
        .then(round())
        .then(round())
        .then(ScriptedCall::Stream(vec![text("Sorry."), finished()]));

    let events = ask(&kit, "Break it").await;

    assert!(matches!(events.last(), Some(DomainEvent::ChatComplete(_))));
    let first = &tool_results(&kit, 1)[0];
    assert!(
        first.is_error && !first.content.contains("instruction"),
        "{}",
        first.content
    );
    let second = &tool_results(&kit, 2)[0];
    assert!(
        second.content.contains("Do not run more SQL"),
        "{}",
        second.content
    );
    let third = &tool_results(&kit, 3)[0];
    assert!(
        third
            .content
            .contains(&format!("{MAX_SQL_ERRORS} queries already failed")),
        "{}",
        third.content
    );
    let runs = kit
        .engine
        .calls()
        .iter()
        .filter(|c| c.sql == "SELECT nope")
        .count();
    assert_eq!(runs, 2, "the query beyond the cap never reaches the engine");
    let stored = kit
        .store
        .list_for_conversation(kit.conversation)
        .await
        .unwrap();
    assert_eq!(stored[1].sql_executions.len(), 2);
    assert!(
        stored[1]
            .sql_executions
            .iter()
            .all(|e| matches!(e.outcome, ExecutionOutcome::Failed { .. }))
    );
}

#[tokio::test]
async fn tool_calls_beyond_the_cap_are_refused_and_the_next_round_offers_no_tools() {
    let kit = kit().await;
    let calls = (0..=MAX_TOOL_CALLS)
        .map(|_| call("no_such_tool", &json!({})))
        .chain([finished()])
        .collect();
    kit.llm
        .then(ScriptedCall::Stream(calls))
        .then(ScriptedCall::Stream(vec![text("Done."), finished()]));

    let events = ask(&kit, "Go").await;

    assert!(matches!(events.last(), Some(DomainEvent::ChatComplete(_))));
    let results = tool_results(&kit, 1);
    assert_eq!(results.len(), MAX_TOOL_CALLS as usize + 1);
    assert!(results[0].content.contains("Unknown tool 'no_such_tool'"));
    assert!(
        results[MAX_TOOL_CALLS as usize]
            .content
            .contains("Tool call limit reached")
    );
    let requests = kit.llm.requests();
    assert!(!requests[0].tools.is_empty());
    assert!(
        requests[1].tools.is_empty(),
        "no tools once the cap is spent"
    );
}

#[tokio::test]
async fn a_provider_error_mid_answer_ends_the_turn_and_keeps_what_was_written() {
    let kit = kit().await;
    kit.llm.then(ScriptedCall::Stream(vec![
        text("Partial"),
        Err(LlmError::BadResponse {
            message: "stream broke".to_owned(),
        }),
    ]));

    let events = ask(&kit, "Hello").await;

    let Some(DomainEvent::ChatError { failure, .. }) = events.last() else {
        panic!("the turn ends with chat_error: {events:?}");
    };
    assert_eq!(failure.kind, TurnFailureKind::ProviderError);
    assert!(failure.message.contains("stream broke"));
    let stored = kit
        .store
        .list_for_conversation(kit.conversation)
        .await
        .unwrap();
    assert_eq!(stored.len(), 2);
    assert_eq!(
        (stored[1].content.as_str(), stored[1].status),
        ("Partial", MessageStatus::Error)
    );
    assert_eq!(
        stored[1].error_message.as_deref(),
        Some(failure.message.as_str())
    );
}
