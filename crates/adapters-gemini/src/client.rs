//! The Gemini client: one `reqwest::Client`, connect/idle/total timeouts, the key in a header only.

use std::time::Duration;

use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};
use tabletalk_llm_http::{CallTimeouts, http_client, start_stream};
use tabletalk_ports::{LlmClient, LlmError, LlmProvider, LlmRequest, LlmStream};

use crate::parser::GeminiParser;
use crate::{errors, request};

/// What the client needs from the configuration.
#[derive(Clone)]
pub struct GeminiSettings {
    /// `https://generativelanguage.googleapis.com` (no version path).
    pub base_url: String,
    pub api_key: SecretString,
    pub connect_timeout: Duration,
    pub timeouts: CallTimeouts,
}

impl std::fmt::Debug for GeminiSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GeminiSettings")
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

/// Gemini over its REST API.
#[derive(Debug, Clone)]
pub struct GeminiClient {
    http: reqwest::Client,
    settings: GeminiSettings,
}

impl GeminiClient {
    /// Builds the client (one `reqwest::Client`, built once; see `tabletalk_llm_http::http_client`).
    pub fn new(settings: GeminiSettings) -> Result<Self, reqwest::Error> {
        Ok(Self {
            http: http_client(settings.connect_timeout)?,
            settings,
        })
    }
}

#[async_trait]
impl LlmClient for GeminiClient {
    fn provider(&self) -> LlmProvider {
        LlmProvider::Gemini
    }

    async fn stream(&self, request: &LlmRequest) -> Result<LlmStream, LlmError> {
        let base = self.settings.base_url.trim_end_matches('/');
        let url = format!(
            "{base}/v1beta/models/{}:streamGenerateContent?alt=sse",
            request.model
        );
        let post = self
            .http
            .post(url)
            .header("x-goog-api-key", self.settings.api_key.expose_secret())
            .json(&request::body(request));
        start_stream(
            post,
            self.settings.timeouts,
            GeminiParser::default(),
            errors::from_response,
        )
        .await
    }
}
