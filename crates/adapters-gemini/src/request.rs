//! `LlmRequest` → the JSON body of `generateContent` / `streamGenerateContent`.

use serde_json::{Map, Value, json};
use tabletalk_ports::{LlmMessage, LlmProvider, LlmRequest, ToolCall, ToolMode, ToolResult};

/// JSON text from the domain; text that is not JSON travels as a string rather than failing the call.
fn json_or_string(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_owned()))
}

fn call_part(call: &ToolCall) -> Value {
    let mut function_call = json!({"name": call.name, "args": json_or_string(&call.arguments)});
    if let Some(id) = &call.id {
        function_call["id"] = json!(id);
    }
    json!({"functionCall": function_call})
}

fn response_part(result: &ToolResult) -> Value {
    // `response` must be an object: the documented keys are `output` for a result and `error` for a failure.
    let key = if result.is_error { "error" } else { "output" };
    let mut function_response =
        json!({"name": result.name, "response": {key: json_or_string(&result.content)}});
    if let Some(id) = &result.call_id {
        function_response["id"] = json!(id);
    }
    json!({"functionResponse": function_response})
}

fn model_content(
    text: &str,
    tool_calls: &[ToolCall],
    state: Option<&tabletalk_ports::ProviderState>,
) -> Value {
    if let Some(state) = state.filter(|s| s.provider == LlmProvider::Gemini)
        && let Ok(content) = serde_json::from_str::<Value>(&state.data)
        && content.get("parts").is_some_and(Value::is_array)
    {
        // Replayed exactly as received: thought signatures must come back on the parts that carried them.
        return content;
    }
    let mut parts: Vec<Value> = Vec::new();
    if !text.is_empty() {
        parts.push(json!({"text": text}));
    }
    parts.extend(tool_calls.iter().map(call_part));
    json!({"role": "model", "parts": parts})
}

/// The request body.
pub(crate) fn body(request: &LlmRequest) -> Value {
    let contents: Vec<Value> = request
        .messages
        .iter()
        .map(|message| match message {
            LlmMessage::User { text } => json!({"role": "user", "parts": [{"text": text}]}),
            LlmMessage::Assistant { text, tool_calls, provider_state } => {
                model_content(text, tool_calls, provider_state.as_ref())
            }
            LlmMessage::ToolResults { results } => {
                json!({"role": "user", "parts": results.iter().map(response_part).collect::<Vec<_>>()})
            }
        })
        .collect();
    let mut body = Map::new();
    if !request.system.is_empty() {
        body.insert(
            "systemInstruction".into(),
            json!({"parts": [{"text": request.system}]}),
        );
    }
    body.insert("contents".into(), Value::Array(contents));
    if !request.tools.is_empty() {
        let declarations: Vec<Value> = request
            .tools
            .iter()
            .map(|t| json!({"name": t.name, "description": t.description, "parameters": json_or_string(&t.parameters)}))
            .collect();
        body.insert(
            "tools".into(),
            json!([{"functionDeclarations": declarations}]),
        );
        let mode = match request.tool_mode {
            ToolMode::Auto => "AUTO",
            ToolMode::Required => "ANY",
            ToolMode::None => "NONE",
        };
        body.insert(
            "toolConfig".into(),
            json!({"functionCallingConfig": {"mode": mode}}),
        );
    }
    let mut generation = Map::new();
    if let Some(temperature) = request.temperature {
        generation.insert("temperature".into(), json!(temperature));
    }
    if let Some(max) = request.max_output_tokens {
        generation.insert("maxOutputTokens".into(), json!(max));
    }
    if request.thinking {
        generation.insert("thinkingConfig".into(), json!({"includeThoughts": true}));
    }
    if !generation.is_empty() {
        body.insert("generationConfig".into(), Value::Object(generation));
    }
    Value::Object(body)
}
