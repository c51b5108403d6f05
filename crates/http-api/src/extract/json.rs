//! JSON bodies with docs/api.md's checks: 415 for a wrong content type, 413 over the limit (a declared
//! `Content-Length` is refused before reading), 400 `invalid_json` with line and column, 422 with the dotted
//! path of a missing or mistyped field. Failures are kept, not returned, so authentication is reported first.

use actix_web::dev::Payload;
use actix_web::http::header::CONTENT_LENGTH;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use futures_util::StreamExt;
use futures_util::future::LocalBoxFuture;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::api_state;
use crate::{ApiError, HttpSettings};

/// A JSON body, or why it was refused; `into_inner` hands the outcome to the handler.
#[derive(Debug)]
pub(crate) struct ApiJson<T>(Result<T, ApiError>);

impl<T> ApiJson<T> {
    pub(crate) fn into_inner(self) -> Result<T, ApiError> {
        self.0
    }
}

fn is_json(req: &HttpRequest) -> bool {
    matches!(req.mime_type(), Ok(Some(mime)) if mime.type_() == "application" && mime.subtype() == "json")
}

fn declared_length(req: &HttpRequest) -> Option<usize> {
    req.headers()
        .get(CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

/// Reads a JSON body of at most `limit` bytes.
fn read_body(
    req: &HttpRequest,
    payload: &mut Payload,
    limit: impl FnOnce(&HttpSettings) -> usize,
) -> LocalBoxFuture<'static, Result<web::BytesMut, ApiError>> {
    let limit = match api_state(req) {
        Ok(state) => limit(&state.settings),
        Err(e) => return Box::pin(async move { Err(e) }),
    };
    let early = if !is_json(req) {
        Some(ApiError::unsupported_media_type())
    } else if declared_length(req).is_some_and(|n| n > limit) {
        Some(ApiError::payload_too_large(limit))
    } else {
        None
    };
    let mut payload = payload.take();
    Box::pin(async move {
        if let Some(error) = early {
            return Err(error);
        }
        let mut body = web::BytesMut::new();
        while let Some(chunk) = payload.next().await {
            let Ok(chunk) = chunk else {
                return Err(ApiError::bad_request("The request body could not be read"));
            };
            if body.len() + chunk.len() > limit {
                return Err(ApiError::payload_too_large(limit));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    })
}

/// Reads and parses a JSON body of at most `limit` bytes.
fn read_json<T: DeserializeOwned + 'static>(
    req: &HttpRequest,
    payload: &mut Payload,
    limit: impl FnOnce(&HttpSettings) -> usize,
) -> LocalBoxFuture<'static, Result<T, ApiError>> {
    let body = read_body(req, payload, limit);
    Box::pin(async move { parse(&body.await?) })
}

impl<T: DeserializeOwned + 'static> FromRequest for ApiJson<T> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let body = read_json(req, payload, |s| s.max_json_body);
        Box::pin(async move { Ok(Self(body.await)) })
    }
}

/// A JSON body allowed up to `server.max_large_json_body` (imports), with the checks of [`ApiJson`].
#[derive(Debug)]
pub(crate) struct LargeJson<T>(Result<T, ApiError>);

impl<T> LargeJson<T> {
    pub(crate) fn into_inner(self) -> Result<T, ApiError> {
        self.0
    }
}

impl<T: DeserializeOwned + 'static> FromRequest for LargeJson<T> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let body = read_json(req, payload, |s| s.max_large_json_body);
        Box::pin(async move { Ok(Self(body.await)) })
    }
}

/// A JSON body that may be absent: no body and no `Content-Type`, or an empty body whatever its `Content-Type`
/// (clients that always send one), means `None` (an absent body and `{}` are equivalent, as for
/// `POST /auth/google`); anything else goes through [`ApiJson`]'s checks.
#[derive(Debug)]
pub(crate) struct OptionalJson<T>(Result<Option<T>, ApiError>);

impl<T> OptionalJson<T> {
    pub(crate) fn into_inner(self) -> Result<Option<T>, ApiError> {
        self.0
    }
}

impl<T: DeserializeOwned + 'static> FromRequest for OptionalJson<T> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let no_body = !req
            .headers()
            .contains_key(actix_web::http::header::CONTENT_TYPE)
            && declared_length(req).is_none_or(|n| n == 0);
        if no_body {
            return Box::pin(async { Ok(Self(Ok(None))) });
        }
        let body = read_body(req, payload, |s| s.max_json_body);
        Box::pin(async move {
            Ok(Self(match body.await {
                Ok(body) if body.is_empty() => Ok(None),
                Ok(body) => parse(&body).map(Some),
                Err(error) => Err(error),
            }))
        })
    }
}

/// Syntax first (400), then shape (422), so each failure gets its own code.
pub(crate) fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| ApiError::invalid_json(e.line(), e.column()))?;
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let message = e.inner().to_string();
        let (field, message) = describe(&path, &message);
        ApiError::validation(&[(field.as_str(), message.as_str())])
    })
}

/// Turns serde's wording into a dotted field path and a short message.
fn describe(path: &str, message: &str) -> (String, String) {
    let parent = if path == "." { "" } else { path };
    if let Some(name) = message
        .strip_prefix("missing field `")
        .and_then(|rest| rest.split('`').next())
    {
        let field = if parent.is_empty() {
            name.to_owned()
        } else {
            format!("{parent}.{name}")
        };
        return (field, "is required".to_owned());
    }
    let field = if parent.is_empty() {
        "body".to_owned()
    } else {
        parent.to_owned()
    };
    (field, message.to_owned())
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize)]
    #[expect(dead_code, reason = "only the parse outcome matters here")]
    struct Body {
        title: String,
        items: Vec<Item>,
    }

    #[derive(Debug, Deserialize)]
    #[expect(dead_code, reason = "only the parse outcome matters here")]
    struct Item {
        role: String,
    }

    fn outcome(result: Result<Body, ApiError>) -> (&'static str, String) {
        let error = result.unwrap_err();
        (
            error.code(),
            error
                .body()
                .details
                .map(|d| d.to_string())
                .unwrap_or_default(),
        )
    }

    #[test]
    fn syntax_errors_carry_line_and_column_and_shape_errors_name_the_field() {
        let (code, details) = outcome(parse(b"{\n  \"title\": }"));
        assert_eq!(code, "invalid_json");
        assert_eq!(details, r#"{"column":12,"line":2}"#);

        let (code, details) = outcome(parse(br#"{"items": []}"#));
        assert_eq!(code, "validation_failed");
        assert!(details.contains(r#""field":"title""#), "{details}");

        let (_, details) = outcome(parse(
            br#"{"title": "t", "items": [{"role": "user"}, {"role": 5}]}"#,
        ));
        assert!(details.contains(r#""field":"items[1].role""#), "{details}");

        let (_, details) = outcome(parse(b"[]"));
        assert!(details.contains(r#""field":"body""#), "{details}");
    }
}
