//! Holds responses to the OpenAPI document the server publishes: every status must be documented for its
//! operation, and every JSON body must match the documented schema (JSON Schema 2020-12, as OpenAPI 3.1 uses it).
//! [`TestApp`](crate::TestApp) passes every response through [`record`], so the whole suite is the conformance test.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use actix_web::body::{BoxBody, MessageBody, to_bytes};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::web::Bytes;
use serde_json::{Value, json};

/// The document, its compiled response schemas, and what did not conform.
pub struct Conformance {
    doc: Value,
    validators: Mutex<HashMap<String, Arc<jsonschema::Validator>>>,
    violations: Mutex<Vec<String>>,
}

impl std::fmt::Debug for Conformance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Conformance").finish_non_exhaustive()
    }
}

impl Conformance {
    pub fn new(doc: Value) -> Self {
        Self {
            doc,
            validators: Mutex::new(HashMap::new()),
            violations: Mutex::new(Vec::new()),
        }
    }

    /// What did not conform so far.
    pub fn violations(&self) -> Vec<String> {
        self.violations
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn violation(&self, text: String) {
        eprintln!("OpenAPI conformance: {text}");
        self.violations
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(text);
    }

    /// The documented response for `status` (exact, then `4XX`/`5XX`, then `default`), resolving a `$ref`.
    fn response(&self, operation: &Value, status: u16) -> Option<Value> {
        let responses = operation.get("responses")?;
        let range = format!("{}XX", status / 100);
        let found = responses
            .get(status.to_string())
            .or_else(|| responses.get(&range))
            .or_else(|| responses.get("default"))?;
        match found.get("$ref").and_then(Value::as_str) {
            Some(reference) => self.doc.pointer(reference.trim_start_matches('#')).cloned(),
            None => Some(found.clone()),
        }
    }

    fn validator(&self, key: &str, schema: &Value) -> Result<Arc<jsonschema::Validator>, String> {
        let mut cache = self
            .validators
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(found) = cache.get(key) {
            return Ok(found.clone());
        }
        // References point into the document's components: the root carries them.
        let root = json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "allOf": [schema],
            "components": self.doc.get("components").cloned().unwrap_or(Value::Null),
        });
        let compiled = Arc::new(
            jsonschema::draft202012::new(&root).map_err(|e| format!("schema for {key}: {e}"))?,
        );
        cache.insert(key.to_owned(), compiled.clone());
        Ok(compiled)
    }

    /// Checks one exchange. `route` is the matched pattern (`None` when no route matched).
    pub fn check(
        &self,
        method: &str,
        route: Option<&str>,
        status: u16,
        content_type: &str,
        body: &[u8],
    ) {
        let method = method.to_lowercase();
        // The web client's pages and assets are not API operations (docs/web-client.md).
        let client_page = route.is_some_and(|r| tabletalk_http_api::CLIENT_PAGES.contains(&r))
            && content_type.starts_with("text/html");
        let client_file = route.is_some_and(|r| {
            r == tabletalk_http_api::CLIENT_ASSETS || r == tabletalk_http_api::CLIENT_ROOT_FILE
        });
        if client_page || client_file {
            return;
        }
        let operation =
            route.and_then(|r| self.doc.pointer(&format!("/paths/{}/{method}", escape(r))));
        let response = match operation {
            Some(operation) => {
                let Some(response) = self.response(operation, status) else {
                    self.violation(format!(
                        "{method} {route:?}: status {status} is not documented"
                    ));
                    return;
                };
                response
            }
            // No route: only the error body is documented for that.
            None if status >= 400 => self
                .doc
                .pointer("/components/responses/Error")
                .cloned()
                .unwrap_or(Value::Null),
            None => {
                self.violation(format!(
                    "{method} {route:?}: {status} from an undocumented operation"
                ));
                return;
            }
        };
        let media = content_type.split(';').next().unwrap_or_default().trim();
        let Some(content) = response.get("content").and_then(Value::as_object) else {
            if !body.is_empty() && status != 101 {
                self.violation(format!(
                    "{method} {route:?} {status}: a body where none is documented"
                ));
            }
            return;
        };
        let documented = content
            .iter()
            .find(|(declared, _)| declared.split(';').next().unwrap_or_default().trim() == media);
        let Some((_, content)) = documented else {
            self.violation(format!(
                "{method} {route:?} {status}: content type {content_type:?} is not documented"
            ));
            return;
        };
        if media != "application/json" {
            return;
        }
        let Some(schema) = content.get("schema") else {
            return;
        };
        let value: Value = match serde_json::from_slice(body) {
            Ok(value) => value,
            Err(e) => {
                self.violation(format!(
                    "{method} {route:?} {status}: body is not JSON ({e})"
                ));
                return;
            }
        };
        let key = format!("{method} {route:?} {status}");
        match self.validator(&key, schema) {
            Ok(validator) => {
                let problems: Vec<String> = validator
                    .iter_errors(&value)
                    .map(|e| format!("{} at {}", e, e.instance_path()))
                    .take(5)
                    .collect();
                if !problems.is_empty() {
                    self.violation(format!("{key}: {}; body {value}", problems.join("; ")));
                }
            }
            Err(e) => self.violation(e),
        }
    }
}

/// A path as a JSON pointer token.
fn escape(path: &str) -> String {
    path.replace('~', "~0").replace('/', "~1")
}

/// Middleware for the test server: checks every response against the document, then passes it on unchanged.
pub async fn record(
    conformance: Arc<Conformance>,
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let response = next.call(req).await?.map_into_boxed_body();
    let status = response.status().as_u16();
    if status == 101 {
        return Ok(response);
    }
    let method = response.request().method().as_str().to_owned();
    let route = response.request().match_pattern();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let (request, response) = response.into_parts();
    let (head, body) = response.into_parts();
    let bytes: Bytes = to_bytes(body).await.unwrap_or_default();
    conformance.check(&method, route.as_deref(), status, &content_type, &bytes);
    let response = head.set_body(BoxBody::new(bytes));
    Ok(ServiceResponse::new(request, response))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_body_or_status_outside_the_document_is_a_violation() {
        let conformance = Conformance::new(tabletalk_http_api::openapi_document());
        let usage = br#"{"tokens_used": 1, "token_limit": 10, "remaining": 9, "resets_in_seconds": 5,
            "usage_percent": 10.0, "window_reset_at": "2026-01-01T00:00:00Z", "warning_threshold_pct": 80}"#;
        conformance.check("GET", Some("/usage"), 200, "application/json", usage);
        let error =
            br#"{"error": "Not authenticated", "code": "not_authenticated", "details": null,
            "request_id": "r"}"#;
        conformance.check("GET", Some("/usage"), 401, "application/json", error);
        conformance.check("GET", None, 404, "application/json", error);
        assert_eq!(conformance.violations(), Vec::<String>::new());

        conformance.check(
            "GET",
            Some("/usage"),
            200,
            "application/json",
            br#"{"tokens_used": "1"}"#,
        );
        conformance.check("GET", Some("/usage"), 302, "application/json", b"");
        conformance.check("GET", Some("/usage"), 200, "text/html", b"<p>");
        conformance.check(
            "PATCH",
            Some("/conversations/{conversation_id}/pin"),
            200,
            "application/json",
            br#"{"id": "x", "is_pinned": "yes", "updated_at": "t"}"#,
        );
        let found = conformance.violations();
        assert_eq!(found.len(), 4, "{found:#?}");
        assert!(
            found[0].contains("tokens_used") || found[0].contains("required"),
            "{}",
            found[0]
        );
        assert!(found[1].contains("status 302 is not documented"));
        assert!(found[2].contains("content type"));
        assert!(found[3].contains("is_pinned"), "{}", found[3]);
    }
}
