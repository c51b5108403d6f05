//! Why a guarded fetch failed; `Display` is the message users see (docs/api.md, "Datasets").

use std::time::Duration;

/// A refused or failed outbound request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    #[error("Unsupported URL scheme '{0}'. Only HTTP and HTTPS URLs are supported.")]
    UnsupportedScheme(String),
    #[error("URLs pointing to internal/private networks are not allowed.")]
    Blocked,
    #[error("Could not access URL: host not found")]
    HostNotFound,
    #[error("Could not access URL: too many redirects")]
    TooManyRedirects,
    #[error("Could not access URL: redirect from HTTPS to HTTP refused")]
    HttpsToHttp,
    #[error("Could not access URL: redirect to a non-HTTP(S) URL")]
    NonHttpRedirect,
    #[error("Could not access URL: timed out after {} s", .0.as_secs())]
    TimedOut(Duration),
    #[error("Could not access URL: connection refused")]
    ConnectionRefused,
    #[error("Could not access URL: connection reset")]
    ConnectionReset,
    #[error("Could not access URL: TLS error: {0}")]
    Tls(String),
    #[error("Could not access URL: {0}")]
    Other(String),
}

impl FetchError {
    /// The API error code.
    pub const fn code(&self) -> &'static str {
        match self {
            Self::UnsupportedScheme(_) => "unsupported_url_scheme",
            Self::Blocked => "url_blocked",
            _ => "url_unreachable",
        }
    }

    /// Classifies a transport failure by reqwest's error and its causes.
    pub(crate) fn from_transport(error: &reqwest::Error, timeout: Duration) -> Self {
        if error.is_timeout() {
            return Self::TimedOut(timeout);
        }
        let mut chain = String::new();
        let mut source: Option<&dyn std::error::Error> = Some(error);
        while let Some(cause) = source {
            chain.push_str(&cause.to_string().to_lowercase());
            chain.push(' ');
            source = cause.source();
        }
        if chain.contains("refused") {
            Self::ConnectionRefused
        } else if chain.contains("reset") {
            Self::ConnectionReset
        } else if chain.contains("certificate")
            || chain.contains("tls")
            || chain.contains("handshake")
        {
            let short: String = error.without_url_text().chars().take(120).collect();
            Self::Tls(short)
        } else {
            Self::Other(error.without_url_text().chars().take(200).collect())
        }
    }
}

trait WithoutUrlText {
    fn without_url_text(&self) -> String;
}

impl WithoutUrlText for reqwest::Error {
    fn without_url_text(&self) -> String {
        let mut text = self.to_string();
        if let Some(url) = self.url() {
            text = text.replace(url.as_str(), "").replace(" for url ()", "");
        }
        text
    }
}
