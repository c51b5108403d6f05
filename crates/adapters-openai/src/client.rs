//! The OpenAI-compatible client: one `reqwest::Client`, connect/idle/total timeouts, the key as a bearer token.

use std::time::Duration;

use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};
use tabletalk_llm_http::{CallTimeouts, http_client, start_stream};
use tabletalk_ports::{LlmClient, LlmError, LlmProvider, LlmRequest, LlmStream};

use crate::parser::OpenAiParser;
use crate::{errors, request};

/// What the client needs from the configuration.
#[derive(Clone)]
pub struct OpenAiSettings {
    /// Up to and including the version path, e.g. `https://api.openai.com/v1` or `http://localhost:11434/v1`.
    pub base_url: String,
    /// Optional: local servers often need none.
    pub api_key: Option<SecretString>,
    pub connect_timeout: Duration,
    pub timeouts: CallTimeouts,
}

impl std::fmt::Debug for OpenAiSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenAiSettings")
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

/// An OpenAI-compatible server.
#[derive(Debug, Clone)]
pub struct OpenAiClient {
    http: reqwest::Client,
    settings: OpenAiSettings,
}

impl OpenAiClient {
    /// Builds the client (one `reqwest::Client`, built once; see `tabletalk_llm_http::http_client`).
    pub fn new(settings: OpenAiSettings) -> Result<Self, reqwest::Error> {
        Ok(Self {
            http: http_client(settings.connect_timeout)?,
            settings,
        })
    }
}

#[async_trait]
impl LlmClient for OpenAiClient {
    fn provider(&self) -> LlmProvider {
        LlmProvider::OpenAi
    }

    async fn stream(&self, request: &LlmRequest) -> Result<LlmStream, LlmError> {
        let base = self.settings.base_url.trim_end_matches('/');
        let mut post = self
            .http
            .post(format!("{base}/chat/completions"))
            .json(&request::body(request));
        if let Some(key) = &self.settings.api_key {
            post = post.bearer_auth(key.expose_secret());
        }
        start_stream(
            post,
            self.settings.timeouts,
            OpenAiParser::default(),
            errors::from_response,
        )
        .await
    }
}
