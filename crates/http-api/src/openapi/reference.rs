//! The API reference page: the OpenAPI document rendered as one HTML page on the server, so it works offline and
//! under the strictest Content-Security-Policy (no script, no external style or font, everything escaped).

use std::fmt::Write as _;

use serde_json::Value;

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

const STYLE: &str = "body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;\
color:#1d232a}code,.path{font-family:ui-monospace,monospace}h2{margin-top:2.5rem;border-bottom:1px solid #ccd}\
.op{border:1px solid #ccd;border-radius:6px;padding:.5rem 1rem;margin:1rem 0}.method{display:inline-block;\
min-width:4.5rem;font-weight:700;text-transform:uppercase}.get{color:#0a6}.post{color:#26c}.put,.patch{color:#c70}\
.delete{color:#c22}table{border-collapse:collapse;margin:.5rem 0}td,th{border:1px solid #dde;padding:.2rem .5rem;\
text-align:left;vertical-align:top}nav a{margin-right:1rem}";

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// `#/components/schemas/Name` → `Name`.
fn ref_name(reference: &str) -> &str {
    reference.rsplit('/').next().unwrap_or(reference)
}

/// A schema in a few words: a link for a named one, `array of …`, `string | null`.
fn type_text(schema: &Value) -> String {
    if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
        let name = escape(ref_name(reference));
        return format!("<a href=\"#schema-{name}\">{name}</a>");
    }
    for combinator in ["oneOf", "anyOf", "allOf"] {
        if let Some(options) = schema.get(combinator).and_then(Value::as_array) {
            let joined: Vec<String> = options.iter().map(type_text).collect();
            return joined.join(if combinator == "allOf" {
                " &amp; "
            } else {
                " | "
            });
        }
    }
    let types: Vec<String> = match schema.get("type") {
        Some(Value::String(t)) => vec![t.clone()],
        Some(Value::Array(ts)) => ts
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        _ => vec!["any".to_owned()],
    };
    let described: Vec<String> = types
        .iter()
        .map(|t| match t.as_str() {
            "array" => format!(
                "array of {}",
                schema
                    .get("items")
                    .map_or_else(|| "any".to_owned(), type_text)
            ),
            other => escape(other),
        })
        .collect();
    let mut text = described.join(" | ");
    if let Some(values) = schema.get("enum").and_then(Value::as_array) {
        let listed: Vec<String> = values.iter().map(|v| escape(&v.to_string())).collect();
        let _ = write!(text, " ({})", listed.join(", "));
    }
    text
}

/// The schema of the first content type of a request body or response.
fn content_schema(holder: &Value) -> Option<(String, &Value)> {
    let (media, content) = holder.get("content")?.as_object()?.iter().next()?;
    Some((media.clone(), content.get("schema")?))
}

fn operation_html(out: &mut String, method: &str, path: &str, op: &Value, doc: &Value) {
    let _ = write!(
        out,
        "<div class=\"op\"><p><span class=\"method {method}\">{method}</span> <span class=\"path\">{}</span></p>",
        escape(path)
    );
    if let Some(summary) = op.get("summary").and_then(Value::as_str) {
        let _ = write!(out, "<p><strong>{}</strong></p>", escape(summary));
    }
    if let Some(description) = op.get("description").and_then(Value::as_str) {
        let _ = write!(out, "<p>{}</p>", escape(description));
    }
    let secured = op
        .get("security")
        .or_else(|| doc.get("security"))
        .and_then(Value::as_array)
        .is_some_and(|s| !s.is_empty());
    if secured {
        out.push_str("<p>Needs the session cookie.</p>");
    }
    if let Some(parameters) = op.get("parameters").and_then(Value::as_array) {
        out.push_str(
            "<table><tr><th>Parameter</th><th>In</th><th>Type</th><th>Description</th></tr>",
        );
        for p in parameters {
            let field = |k: &str| escape(p.get(k).and_then(Value::as_str).unwrap_or_default());
            let _ = write!(
                out,
                "<tr><td><code>{}</code>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                field("name"),
                if p.get("required").and_then(Value::as_bool) == Some(true) {
                    " (required)"
                } else {
                    ""
                },
                field("in"),
                p.get("schema").map_or_else(String::new, type_text),
                field("description"),
            );
        }
        out.push_str("</table>");
    }
    if let Some((media, schema)) = op.get("requestBody").and_then(content_schema) {
        let _ = write!(
            out,
            "<p>Request body (<code>{}</code>): {}</p>",
            escape(&media),
            type_text(schema)
        );
    }
    if let Some(responses) = op.get("responses").and_then(Value::as_object) {
        out.push_str("<table><tr><th>Status</th><th>Body</th><th>Description</th></tr>");
        for (status, response) in responses {
            let response = response
                .get("$ref")
                .and_then(Value::as_str)
                .and_then(|r| doc.pointer(&format!("/components/responses/{}", ref_name(r))))
                .unwrap_or(response);
            let body = content_schema(response).map_or_else(String::new, |(media, schema)| {
                format!("{} <code>{}</code>", type_text(schema), escape(&media))
            });
            let _ = write!(
                out,
                "<tr><td>{}</td><td>{body}</td><td>{}</td></tr>",
                escape(status),
                escape(
                    response
                        .get("description")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                )
            );
        }
        out.push_str("</table>");
    }
    out.push_str("</div>");
}

fn schema_html(out: &mut String, name: &str, schema: &Value) {
    let name = escape(name);
    let _ = write!(out, "<h3 id=\"schema-{name}\">{name}</h3>");
    if let Some(description) = schema.get("description").and_then(Value::as_str) {
        let _ = write!(out, "<p>{}</p>", escape(description));
    }
    let Some(properties) = schema.get("properties").and_then(Value::as_object) else {
        let _ = write!(out, "<p>{}</p>", type_text(schema));
        return;
    };
    let required: Vec<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    out.push_str("<table><tr><th>Field</th><th>Type</th><th>Description</th></tr>");
    for (field, property) in properties {
        let _ = write!(
            out,
            "<tr><td><code>{}</code>{}</td><td>{}</td><td>{}</td></tr>",
            escape(field),
            if required.contains(&field.as_str()) {
                ""
            } else {
                " (optional)"
            },
            type_text(property),
            escape(
                property
                    .get("description")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
            )
        );
    }
    out.push_str("</table>");
}

/// The whole page for `doc` (the OpenAPI document as JSON).
pub(crate) fn reference_page(doc: &Value) -> String {
    let title = escape(
        doc.pointer("/info/title")
            .and_then(Value::as_str)
            .unwrap_or("API"),
    );
    let version = escape(
        doc.pointer("/info/version")
            .and_then(Value::as_str)
            .unwrap_or_default(),
    );
    let mut out = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" \
         content=\"width=device-width,initial-scale=1\"><title>{title} API reference</title><style>{STYLE}</style>\
         </head><body><h1>{title} API reference <small>{version}</small></h1><p>{}</p><nav><a href=\"/openapi.json\">\
         OpenAPI 3.1 document</a><a href=\"#schemas\">Schemas</a></nav>",
        escape(
            doc.pointer("/info/description")
                .and_then(Value::as_str)
                .unwrap_or_default()
        )
    );
    let mut by_tag: std::collections::BTreeMap<String, Vec<(String, &str, &Value)>> =
        std::collections::BTreeMap::new();
    if let Some(paths) = doc.get("paths").and_then(Value::as_object) {
        for (path, item) in paths {
            for method in METHODS {
                if let Some(op) = item.get(method) {
                    let tag = op
                        .pointer("/tags/0")
                        .and_then(Value::as_str)
                        .unwrap_or("other")
                        .to_owned();
                    by_tag
                        .entry(tag)
                        .or_default()
                        .push((path.clone(), method, op));
                }
            }
        }
    }
    for (tag, operations) in &by_tag {
        let _ = write!(out, "<h2>{}</h2>", escape(tag));
        for (path, method, op) in operations {
            operation_html(&mut out, method, path, op, doc);
        }
    }
    out.push_str("<h2 id=\"schemas\">Schemas</h2>");
    if let Some(schemas) = doc
        .pointer("/components/schemas")
        .and_then(Value::as_object)
    {
        for (name, schema) in schemas {
            schema_html(&mut out, name, schema);
        }
    }
    out.push_str("</body></html>");
    out
}
