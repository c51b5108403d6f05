use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::Mutex;
use std::task::{Context, Poll};

use async_trait::async_trait;
use futures_core::Stream;

use crate::{LlmClient, LlmError, LlmEvent, LlmProvider, LlmRequest, LlmStream};

/// What one scripted call does.
#[derive(Debug, Clone)]
pub enum ScriptedCall {
    /// `stream()` fails with this error.
    Refuse(LlmError),
    /// `stream()` succeeds and yields these items.
    Stream(Vec<Result<LlmEvent, LlmError>>),
}

/// An LLM that plays a script, one entry per call, and records every request.
#[derive(Debug, Default)]
pub struct ScriptedLlm {
    script: Mutex<VecDeque<ScriptedCall>>,
    requests: Mutex<Vec<LlmRequest>>,
}

struct Replay(VecDeque<Result<LlmEvent, LlmError>>);

impl Stream for Replay {
    type Item = Result<LlmEvent, LlmError>;

    fn poll_next(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        Poll::Ready(self.0.pop_front())
    }
}

impl ScriptedLlm {
    /// Appends a call to the script.
    pub fn then(&self, call: ScriptedCall) -> &Self {
        self.script
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push_back(call);
        self
    }

    /// Every request received, in order.
    pub fn requests(&self) -> Vec<LlmRequest> {
        self.requests
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

#[async_trait]
impl LlmClient for ScriptedLlm {
    fn provider(&self) -> LlmProvider {
        LlmProvider::Gemini
    }

    async fn stream(&self, request: &LlmRequest) -> Result<LlmStream, LlmError> {
        self.requests
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(request.clone());
        let next = self
            .script
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .pop_front();
        match next {
            Some(ScriptedCall::Refuse(error)) => Err(error),
            Some(ScriptedCall::Stream(items)) => Ok(Box::pin(Replay(items.into()))),
            None => Err(LlmError::BadResponse {
                message: "the script has no more calls".to_owned(),
            }),
        }
    }
}
