//! Dataset URLs, normalised before the duplicate check, storage and every fetch; only http(s) without credentials
//! (docs/api.md, "Datasets").

use std::fmt;

/// Longest accepted URL after normalisation, in characters.
const MAX_CHARS: usize = 2048;

/// Why a URL was refused; the messages are the ones users see.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DatasetUrlError {
    #[error("Invalid URL format")]
    InvalidFormat,
    #[error("Invalid URL: no hostname specified.")]
    NoHost,
    #[error("URLs with embedded credentials are not supported.")]
    Credentials,
    #[error("URL is too long (max 2048 characters)")]
    TooLong,
    #[error("Unsupported URL scheme '{0}'. Only HTTP and HTTPS URLs are supported.")]
    UnsupportedScheme(String),
}

/// A normalised http(s) dataset URL: WHATWG-parsed (integer, octal and hex IPv4 hosts become dotted, IDNA hosts
/// punycode), scheme and host lower-cased, default port and fragment dropped, empty path `/`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DatasetUrl(url::Url);

impl DatasetUrl {
    /// Normalises `raw` (docs/api.md, "Datasets"), then checks the scheme (docs/api.md, "Datasets"), in the pipeline's
    /// order.
    pub fn parse(raw: &str) -> Result<Self, DatasetUrlError> {
        let mut url = url::Url::parse(raw.trim()).map_err(|e| match e {
            url::ParseError::EmptyHost => DatasetUrlError::NoHost,
            _ => DatasetUrlError::InvalidFormat,
        })?;
        if url.host_str().is_none_or(str::is_empty) {
            return Err(DatasetUrlError::NoHost);
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(DatasetUrlError::Credentials);
        }
        url.set_fragment(None);
        // The parser already lower-cases scheme and host, drops default ports and turns an empty path into `/`
        // for http(s); other schemes are refused below.
        if url.as_str().chars().count() > MAX_CHARS {
            return Err(DatasetUrlError::TooLong);
        }
        if !matches!(url.scheme(), "http" | "https") {
            return Err(DatasetUrlError::UnsupportedScheme(url.scheme().to_owned()));
        }
        Ok(Self(url))
    }

    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// The parsed form, for fetchers.
    pub fn url(&self) -> &url::Url {
        &self.0
    }
}

impl fmt::Display for DatasetUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn normalised(raw: &str) -> String {
        DatasetUrl::parse(raw).unwrap().to_string()
    }

    #[test]
    fn urls_are_normalised() {
        assert_eq!(
            normalised("  HTTPS://Data.Example.COM:443/a/B.parquet?x=1#frag "),
            "https://data.example.com/a/B.parquet?x=1"
        );
        assert_eq!(normalised("http://example.com"), "http://example.com/");
        assert_eq!(
            normalised("http://example.com:8080/x"),
            "http://example.com:8080/x"
        );
        assert_eq!(
            normalised("http://2130706433/x.csv"),
            "http://127.0.0.1/x.csv"
        );
        assert_eq!(normalised("http://0x7f.1/x"), "http://127.0.0.1/x");
        assert_eq!(normalised("http://0177.0.0.1/x"), "http://127.0.0.1/x");
        assert_eq!(
            normalised("https://bücher.example/d.csv"),
            "https://xn--bcher-kva.example/d.csv"
        );
        assert_eq!(
            normalised("http://[::FFFF:127.0.0.1]/"),
            "http://[::ffff:7f00:1]/"
        );
    }

    #[test]
    fn bad_urls_get_the_documented_errors_in_pipeline_order() {
        assert_eq!(
            DatasetUrl::parse("not a url"),
            Err(DatasetUrlError::InvalidFormat)
        );
        assert_eq!(DatasetUrl::parse("http://"), Err(DatasetUrlError::NoHost));
        assert_eq!(
            DatasetUrl::parse("file:///etc/passwd"),
            Err(DatasetUrlError::NoHost)
        );
        assert_eq!(
            DatasetUrl::parse("https://user:pw@example.com/x"),
            Err(DatasetUrlError::Credentials)
        );
        let long = format!("https://example.com/{}", "a".repeat(2040));
        assert_eq!(DatasetUrl::parse(&long), Err(DatasetUrlError::TooLong));
        let ftp = DatasetUrl::parse("ftp://example.com/x.csv").unwrap_err();
        assert_eq!(
            (&ftp, ftp.to_string().as_str()),
            (
                &DatasetUrlError::UnsupportedScheme("ftp".to_owned()),
                "Unsupported URL scheme 'ftp'. Only HTTP and HTTPS URLs are supported."
            )
        );
    }
}
