//! Query-string parameters validated one by one, every problem a 422 naming its parameter.

use std::str::FromStr;

use actix_web::HttpRequest;

use crate::ApiError;

/// The request's query parameters (the last occurrence of a name wins).
pub(crate) struct QueryParams(Vec<(String, String)>);

impl QueryParams {
    pub(crate) fn of(req: &HttpRequest) -> Self {
        Self(
            url::form_urlencoded::parse(req.query_string().as_bytes())
                .into_owned()
                .collect(),
        )
    }

    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// `key` parsed and accepted by `valid`, or `default` when absent; otherwise 422 with `message`.
    pub(crate) fn number<T: FromStr>(
        &self,
        key: &str,
        default: T,
        valid: impl Fn(&T) -> bool,
        message: &str,
    ) -> Result<T, ApiError> {
        match self.get(key) {
            None => Ok(default),
            Some(text) => text
                .parse::<T>()
                .ok()
                .filter(|v| valid(v))
                .ok_or_else(|| ApiError::validation(&[(key, message)])),
        }
    }

    /// `true`/`1`, `false`/`0`, or absent.
    pub(crate) fn flag(&self, key: &str) -> Result<Option<bool>, ApiError> {
        match self.get(key) {
            None => Ok(None),
            Some("true" | "1") => Ok(Some(true)),
            Some("false" | "0") => Ok(Some(false)),
            Some(_) => Err(ApiError::validation(&[(key, "must be true or false")])),
        }
    }
}
