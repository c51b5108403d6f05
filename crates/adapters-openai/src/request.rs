//! `LlmRequest` → a Chat Completions request body.

use serde_json::{Map, Value, json};
use tabletalk_ports::{LlmMessage, LlmRequest, ToolMode};

fn json_or_string(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_owned()))
}

/// The request body; `arguments` and tool results travel as JSON *strings*, as the API wants.
pub(crate) fn body(request: &LlmRequest) -> Value {
    let mut messages = Vec::new();
    if !request.system.is_empty() {
        messages.push(json!({"role": "system", "content": request.system}));
    }
    for (turn, message) in request.messages.iter().enumerate() {
        match message {
            LlmMessage::User { text } => messages.push(json!({"role": "user", "content": text})),
            LlmMessage::Assistant {
                text, tool_calls, ..
            } => {
                let mut assistant = json!({"role": "assistant", "content": if text.is_empty() { Value::Null } else { json!(text) }});
                if !tool_calls.is_empty() {
                    let calls: Vec<Value> = tool_calls
                        .iter()
                        .enumerate()
                        .map(|(i, call)| {
                            let id = call.id.clone().unwrap_or_else(|| format!("call_{turn}_{i}"));
                            json!({"id": id, "type": "function", "function": {"name": call.name, "arguments": call.arguments}})
                        })
                        .collect();
                    assistant["tool_calls"] = Value::Array(calls);
                }
                messages.push(assistant);
            }
            LlmMessage::ToolResults { results } => {
                for (i, result) in results.iter().enumerate() {
                    // Calls without ids got `call_<turn-1>_<i>` above; answer them under the same name.
                    let id = result
                        .call_id
                        .clone()
                        .unwrap_or_else(|| format!("call_{}_{i}", turn.saturating_sub(1)));
                    let content = if result.is_error {
                        json!({"error": json_or_string(&result.content)}).to_string()
                    } else {
                        result.content.clone()
                    };
                    messages.push(json!({"role": "tool", "tool_call_id": id, "name": result.name, "content": content}));
                }
            }
        }
    }
    let mut body = Map::new();
    body.insert("model".into(), json!(request.model));
    body.insert("messages".into(), Value::Array(messages));
    if !request.tools.is_empty() {
        let tools: Vec<Value> = request
            .tools
            .iter()
            .map(|t| json!({"type": "function", "function": {"name": t.name, "description": t.description, "parameters": json_or_string(&t.parameters)}}))
            .collect();
        body.insert("tools".into(), Value::Array(tools));
        let choice = match request.tool_mode {
            ToolMode::Auto => "auto",
            ToolMode::Required => "required",
            ToolMode::None => "none",
        };
        body.insert("tool_choice".into(), json!(choice));
    }
    body.insert("stream".into(), json!(true));
    body.insert("stream_options".into(), json!({"include_usage": true}));
    if let Some(temperature) = request.temperature {
        body.insert("temperature".into(), json!(temperature));
    }
    if let Some(max) = request.max_output_tokens {
        body.insert("max_tokens".into(), json!(max));
    }
    Value::Object(body)
}
