//! Gemini's stream: every event is a `GenerateContentResponse`; text and function calls arrive as parts,
//! usage is cumulative, and the end of the body is the end of the stream (there is no `[DONE]`).

use serde_json::{Value, json};
use tabletalk_llm_http::{EventParser, SseEvent};
use tabletalk_ports::{
    FinishReason, LlmError, LlmEvent, LlmProvider, ProviderState, TokenCounts, ToolCall,
};

use crate::errors;

#[derive(Debug, Default)]
pub(crate) struct GeminiParser {
    /// The model's content as received, adjacent plain text parts merged.
    parts: Vec<Value>,
    usage: Option<TokenCounts>,
    finish_reason: Option<String>,
    calls: usize,
}

fn count(usage: &Value, field: &str) -> u64 {
    usage.get(field).and_then(Value::as_u64).unwrap_or(0)
}

/// A part that holds nothing but text (and perhaps the thought flag) can absorb the next such part.
fn plain_text(part: &Value) -> Option<(bool, &str)> {
    let object = part.as_object()?;
    let text = object.get("text")?.as_str()?;
    let thought = object
        .get("thought")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let expected_keys = 1 + usize::from(object.contains_key("thought"));
    (object.len() == expected_keys).then_some((thought, text))
}

impl GeminiParser {
    fn keep(&mut self, part: &Value) {
        if let (Some((thought, text)), Some(last)) = (plain_text(part), self.parts.last_mut())
            && let Some((last_thought, last_text)) = plain_text(last)
            && last_thought == thought
        {
            let merged = format!("{last_text}{text}");
            last["text"] = json!(merged);
            return;
        }
        self.parts.push(part.clone());
    }

    fn part(&mut self, part: &Value, events: &mut Vec<LlmEvent>) {
        if let Some(call) = part.get("functionCall") {
            self.calls += 1;
            events.push(LlmEvent::ToolCall(ToolCall {
                id: call.get("id").and_then(Value::as_str).map(str::to_owned),
                name: call
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned(),
                arguments: call
                    .get("args")
                    .cloned()
                    .unwrap_or_else(|| json!({}))
                    .to_string(),
            }));
        } else if let Some(text) = part
            .get("text")
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
        {
            let thought = part
                .get("thought")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            events.push(if thought {
                LlmEvent::ThoughtDelta(text.to_owned())
            } else {
                LlmEvent::TextDelta(text.to_owned())
            });
        }
        // Every part is kept, signature-only ones included: they are replayed on the next call.
        self.keep(part);
    }
}

impl EventParser for GeminiParser {
    type Item = LlmEvent;
    type Error = LlmError;

    fn event(&mut self, event: SseEvent) -> Result<Vec<LlmEvent>, LlmError> {
        if event.data.trim().is_empty() {
            return Ok(Vec::new());
        }
        let chunk: Value =
            serde_json::from_str(&event.data).map_err(|e| LlmError::BadResponse {
                message: format!("an event is not JSON: {e}"),
            })?;
        if let Some(error) = errors::error_object(&chunk) {
            return Err(errors::from_stream_error(error));
        }
        if let Some(reason) = chunk
            .pointer("/promptFeedback/blockReason")
            .and_then(Value::as_str)
        {
            return Err(LlmError::Blocked {
                reason: reason.to_owned(),
            });
        }
        let mut events = Vec::new();
        if let Some(candidate) = chunk.pointer("/candidates/0") {
            let parts = candidate
                .pointer("/content/parts")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            for part in &parts {
                self.part(part, &mut events);
            }
            if let Some(reason) = candidate.get("finishReason").and_then(Value::as_str) {
                self.finish_reason = Some(reason.to_owned());
            }
        }
        if let Some(usage) = chunk.get("usageMetadata") {
            // Counts are cumulative over the stream: the latest report replaces the earlier ones.
            let thoughts = count(usage, "thoughtsTokenCount");
            self.usage = Some(TokenCounts {
                input: count(usage, "promptTokenCount"),
                output: count(usage, "candidatesTokenCount") + thoughts,
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
        let reason = match reason.as_str() {
            "STOP" if self.calls > 0 => FinishReason::ToolCalls,
            "STOP" => FinishReason::Stop,
            "MAX_TOKENS" => FinishReason::MaxTokens,
            "SAFETY" | "BLOCKLIST" | "PROHIBITED_CONTENT" | "SPII" | "RECITATION"
            | "IMAGE_SAFETY" => FinishReason::Safety,
            other => FinishReason::Other(other.to_owned()),
        };
        let mut events: Vec<LlmEvent> =
            self.usage.take().map(LlmEvent::Usage).into_iter().collect();
        let content = json!({"role": "model", "parts": std::mem::take(&mut self.parts)});
        events.push(LlmEvent::Finished {
            reason,
            provider_state: Some(ProviderState {
                provider: LlmProvider::Gemini,
                data: content.to_string(),
            }),
        });
        Ok(events)
    }
}
