//! The Chat Completions stream: `data:` chunks with choice deltas, tool-call fragments by index, a usage chunk
//! with no choices, then `data: [DONE]`.

use serde_json::Value;
use tabletalk_llm_http::{EventParser, SseEvent};
use tabletalk_ports::{FinishReason, LlmError, LlmEvent, TokenCounts, ToolCall};

#[derive(Debug, Default)]
struct PartialCall {
    index: u64,
    id: Option<String>,
    name: String,
    arguments: String,
}

#[derive(Debug, Default)]
pub(crate) struct OpenAiParser {
    calls: Vec<PartialCall>,
    usage: Option<TokenCounts>,
    finish_reason: Option<String>,
    done: bool,
}

impl OpenAiParser {
    fn tool_call_fragment(&mut self, fragment: &Value) {
        let index = fragment.get("index").and_then(Value::as_u64).unwrap_or(0);
        let id = fragment
            .get("id")
            .and_then(Value::as_str)
            .filter(|id| !id.is_empty());
        let function = fragment.get("function");
        let name = function.and_then(|f| f.get("name")).and_then(Value::as_str);
        let arguments = function
            .and_then(|f| f.get("arguments"))
            .and_then(Value::as_str)
            .unwrap_or_default();
        // Some proxies put parallel calls all at index 0: a new id at a known index starts a new call.
        let existing = self.calls.iter_mut().rev().find(|c| c.index == index);
        match existing {
            Some(call) if id.is_none() || call.id.as_deref() == id => {
                if let Some(name) = name {
                    call.name.push_str(name);
                }
                call.arguments.push_str(arguments);
            }
            _ => self.calls.push(PartialCall {
                index,
                id: id.map(str::to_owned),
                name: name.unwrap_or_default().to_owned(),
                arguments: arguments.to_owned(),
            }),
        }
    }
}

impl EventParser for OpenAiParser {
    type Item = LlmEvent;
    type Error = LlmError;

    fn event(&mut self, event: SseEvent) -> Result<Vec<LlmEvent>, LlmError> {
        let data = event.data.trim();
        if data.is_empty() || self.done {
            return Ok(Vec::new());
        }
        if data == "[DONE]" {
            self.done = true;
            return Ok(Vec::new());
        }
        let chunk: Value = serde_json::from_str(data).map_err(|e| LlmError::BadResponse {
            message: format!("an event is not JSON: {e}"),
        })?;
        if let Some(error) = chunk.get("error") {
            let message = error
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or("error in stream");
            return Err(LlmError::BadResponse {
                message: message.chars().take(300).collect(),
            });
        }
        let mut events = Vec::new();
        // vLLM may send `choices: null` or omit it on the usage chunk.
        if let Some(choice) = chunk
            .get("choices")
            .and_then(Value::as_array)
            .and_then(|c| c.first())
        {
            let delta = choice.get("delta").unwrap_or(&Value::Null);
            for key in ["reasoning_content", "reasoning"] {
                if let Some(text) = delta
                    .get(key)
                    .and_then(Value::as_str)
                    .filter(|t| !t.is_empty())
                {
                    events.push(LlmEvent::ThoughtDelta(text.to_owned()));
                }
            }
            if let Some(text) = delta
                .get("content")
                .and_then(Value::as_str)
                .filter(|t| !t.is_empty())
            {
                events.push(LlmEvent::TextDelta(text.to_owned()));
            }
            for fragment in delta
                .get("tool_calls")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                self.tool_call_fragment(fragment);
            }
            if let Some(reason) = choice.get("finish_reason").and_then(Value::as_str) {
                self.finish_reason = Some(reason.to_owned());
            }
        }
        if let Some(usage) = chunk.get("usage").filter(|u| u.is_object()) {
            let field = |name: &str| usage.get(name).and_then(Value::as_u64).unwrap_or(0);
            let thoughts = usage
                .pointer("/completion_tokens_details/reasoning_tokens")
                .and_then(Value::as_u64)
                .unwrap_or(0);
            self.usage = Some(TokenCounts {
                input: field("prompt_tokens"),
                output: field("completion_tokens"),
                thoughts,
            });
        }
        Ok(events)
    }

    fn finish(&mut self) -> Result<Vec<LlmEvent>, LlmError> {
        let Some(reason) = self.finish_reason.take() else {
            return Err(LlmError::BadResponse {
                message: "the stream ended before the model finished".to_owned(),
            });
        };
        let mut events: Vec<LlmEvent> = Vec::new();
        // Arguments arrive in fragments; a call is complete only when the stream is.
        for (i, call) in std::mem::take(&mut self.calls).into_iter().enumerate() {
            let arguments = if call.arguments.trim().is_empty() {
                "{}".to_owned()
            } else {
                call.arguments
            };
            if serde_json::from_str::<Value>(&arguments).is_err() {
                return Err(LlmError::BadResponse {
                    message: format!("the arguments of tool call {i} are not JSON"),
                });
            }
            events.push(LlmEvent::ToolCall(ToolCall {
                id: call.id,
                name: call.name,
                arguments,
            }));
        }
        let has_calls = !events.is_empty();
        events.extend(self.usage.take().map(LlmEvent::Usage));
        let reason = match reason.as_str() {
            "stop" if has_calls => FinishReason::ToolCalls,
            "stop" => FinishReason::Stop,
            "tool_calls" | "function_call" => FinishReason::ToolCalls,
            "length" => FinishReason::MaxTokens,
            "content_filter" => FinishReason::Safety,
            other => FinishReason::Other(other.to_owned()),
        };
        events.push(LlmEvent::Finished {
            reason,
            provider_state: None,
        });
        Ok(events)
    }
}
