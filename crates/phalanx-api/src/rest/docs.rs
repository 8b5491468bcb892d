//! `GET /api/v1/docs`: the API page, a self-contained HTML page generated
//! from the OpenAPI document (no script, no external URL, no CDN).

use super::openapi::document_value;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use std::fmt::Write;
use std::sync::OnceLock;

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#1d2433}\
h1{border-bottom:2px solid #1d2433}h2{margin-top:2.5rem;border-bottom:1px solid #ccd}\
.op{border:1px solid #ccd;border-radius:6px;padding:.2rem 1rem 1rem;margin:1rem 0}\
.method{display:inline-block;min-width:4rem;font-weight:bold;text-transform:uppercase}\
.get{color:#1565c0}.post{color:#2e7d32}.delete{color:#c62828}\
code,.path{font-family:ui-monospace,monospace}table{border-collapse:collapse;margin:.5rem 0}\
td,th{border:1px solid #ccd;padding:.2rem .5rem;text-align:left;vertical-align:top}\
nav ul{columns:2}";

/// Escapes text for HTML content and attribute values (also used by the
/// web UI).
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Inline `code` spans of a description line as `<code>`.
fn inline(text: &str) -> String {
    let mut out = String::new();
    for (i, part) in text.split('`').enumerate() {
        if i % 2 == 1 {
            let _ = write!(out, "<code>{}</code>", esc(part));
        } else {
            out.push_str(&esc(part));
        }
    }
    out
}

/// A description: paragraphs, and `|` tables, as HTML.
fn prose(text: &str) -> String {
    let mut out = String::new();
    let mut table: Vec<Vec<&str>> = Vec::new();
    let flush = |table: &mut Vec<Vec<&str>>, out: &mut String| {
        if table.is_empty() {
            return;
        }
        out.push_str("<table>");
        for (i, row) in table.iter().enumerate() {
            let cell = if i == 0 { "th" } else { "td" };
            out.push_str("<tr>");
            for c in row {
                let _ = write!(out, "<{cell}>{}</{cell}>", inline(c.trim()));
            }
            out.push_str("</tr>");
        }
        out.push_str("</table>");
        table.clear();
    };
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('|') {
            let cells: Vec<&str> = trimmed.trim_matches('|').split('|').collect();
            if !cells.iter().all(|c| c.trim().chars().all(|ch| ch == '-')) {
                table.push(cells);
            }
            continue;
        }
        flush(&mut table, &mut out);
        if !trimmed.is_empty() {
            let _ = write!(out, "<p>{}</p>", inline(trimmed));
        }
    }
    flush(&mut table, &mut out);
    out
}

/// A schema's type, for people: a link to a named schema, or its type.
fn type_of(schema: &Value) -> String {
    if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
        let name = r.rsplit('/').next().unwrap_or(r);
        return format!("<a href=\"#schema-{0}\">{0}</a>", esc(name));
    }
    for key in ["oneOf", "anyOf", "allOf"] {
        if let Some(list) = schema.get(key).and_then(Value::as_array) {
            return list.iter().map(type_of).collect::<Vec<_>>().join(" or ");
        }
    }
    let types: Vec<String> = match schema.get("type") {
        Some(Value::String(t)) => vec![t.clone()],
        Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).map(str::to_owned).collect(),
        _ => vec!["any".to_owned()],
    };
    types
        .iter()
        .map(|t| match t.as_str() {
            "array" => format!("array of {}", schema.get("items").map(type_of).unwrap_or_else(|| "any".into())),
            "object" if schema.get("additionalProperties").is_some_and(Value::is_object) => {
                format!("map to {}", type_of(&schema["additionalProperties"]))
            }
            other => esc(other),
        })
        .collect::<Vec<_>>()
        .join(" or ")
}

fn operation(out: &mut String, path: &str, method: &str, op: &Value) {
    let anchor = format!("{method}-{}", path.replace(['/', '{', '}', '.'], "-"));
    let _ = write!(
        out,
        "<div class=\"op\" id=\"{}\"><h3><span class=\"method {method}\">{method}</span> <span class=\"path\">{}</span></h3>",
        esc(&anchor),
        esc(path)
    );
    if let Some(summary) = op.get("summary").and_then(Value::as_str) {
        let _ = write!(out, "<p><strong>{}</strong></p>", inline(summary));
    }
    if let Some(description) = op.get("description").and_then(Value::as_str) {
        out.push_str(&prose(description));
    }
    let security = op.get("security").and_then(Value::as_array);
    let auth = match security {
        Some(list) if list.iter().any(|s| s.as_object().is_some_and(|m| m.is_empty())) => "optional (anonymous reads public data)",
        Some(list) if !list.is_empty() => "required (Basic or Bearer)",
        _ => "none",
    };
    let _ = write!(out, "<p>Authentication: {auth}</p>");
    if let Some(params) = op.get("parameters").and_then(Value::as_array).filter(|p| !p.is_empty()) {
        out.push_str("<table><tr><th>parameter</th><th>in</th><th>type</th><th>description</th></tr>");
        for p in params {
            let name = p.get("name").and_then(Value::as_str).unwrap_or("?");
            let place = p.get("in").and_then(Value::as_str).unwrap_or("?");
            let required = p.get("required").and_then(Value::as_bool).unwrap_or(false);
            let _ = write!(
                out,
                "<tr><td><code>{}</code>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(name),
                if required { " (required)" } else { "" },
                esc(place),
                p.get("schema").map(type_of).unwrap_or_default(),
                inline(p.get("description").and_then(Value::as_str).unwrap_or(""))
            );
        }
        out.push_str("</table>");
    }
    if let Some(content) = op.pointer("/requestBody/content").and_then(Value::as_object) {
        for (media, body) in content {
            let _ = write!(
                out,
                "<p>Request body (<code>{}</code>): {}</p>",
                esc(media),
                body.get("schema").map(type_of).unwrap_or_default()
            );
        }
    }
    if let Some(responses) = op.get("responses").and_then(Value::as_object) {
        out.push_str("<table><tr><th>status</th><th>description</th><th>body</th></tr>");
        for (status, r) in responses {
            let body = r
                .get("content")
                .and_then(Value::as_object)
                .map(|c| {
                    c.iter()
                        .map(|(media, m)| format!("<code>{}</code> {}", esc(media), m.get("schema").map(type_of).unwrap_or_default()))
                        .collect::<Vec<_>>()
                        .join("<br>")
                })
                .unwrap_or_default();
            let _ = write!(
                out,
                "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(status),
                inline(r.get("description").and_then(Value::as_str).unwrap_or("")),
                body
            );
        }
        out.push_str("</table>");
    }
    out.push_str("</div>");
}

fn schema(out: &mut String, name: &str, s: &Value) {
    let _ = write!(out, "<h3 id=\"schema-{0}\">{0}</h3>", esc(name));
    if let Some(description) = s.get("description").and_then(Value::as_str) {
        out.push_str(&prose(description));
    }
    let Some(props) = s.get("properties").and_then(Value::as_object) else {
        let _ = write!(out, "<p>{}</p>", type_of(s));
        return;
    };
    let required: Vec<&str> =
        s.get("required").and_then(Value::as_array).map(|r| r.iter().filter_map(Value::as_str).collect()).unwrap_or_default();
    out.push_str("<table><tr><th>field</th><th>type</th><th>description</th></tr>");
    for (field, p) in props {
        let _ = write!(
            out,
            "<tr><td><code>{}</code>{}</td><td>{}</td><td>{}</td></tr>",
            esc(field),
            if required.contains(&field.as_str()) { " (required)" } else { "" },
            type_of(p),
            inline(p.get("description").and_then(Value::as_str).unwrap_or(""))
        );
    }
    out.push_str("</table>");
}

/// The page's HTML, from the OpenAPI document.
pub fn render(doc: &Value) -> String {
    let title = doc.pointer("/info/title").and_then(Value::as_str).unwrap_or("API");
    let version = doc.pointer("/info/version").and_then(Value::as_str).unwrap_or("");
    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{0}</title>\
         <meta name=\"viewport\" content=\"width=device-width\"><style>{STYLE}</style></head><body>\
         <h1>{0} <small>{1}</small></h1>",
        esc(title),
        esc(version)
    );
    if let Some(description) = doc.pointer("/info/description").and_then(Value::as_str) {
        out.push_str(&prose(description));
    }
    out.push_str("<p>The machine-readable document is at <a href=\"openapi.json\"><code>/api/v1/openapi.json</code></a>.</p>");
    let empty = serde_json::Map::new();
    let paths = doc.get("paths").and_then(Value::as_object).unwrap_or(&empty);
    out.push_str("<nav><h2>Endpoints</h2><ul>");
    for (path, item) in paths {
        for method in METHODS.iter().filter(|m| item.get(**m).is_some()) {
            let anchor = format!("{method}-{}", path.replace(['/', '{', '}', '.'], "-"));
            let _ = write!(out, "<li><a href=\"#{}\">{} {}</a></li>", esc(&anchor), method.to_uppercase(), esc(path));
        }
    }
    out.push_str("</ul></nav><h2>Endpoints</h2>");
    for (path, item) in paths {
        for method in METHODS {
            if let Some(op) = item.get(method) {
                operation(&mut out, path, method, op);
            }
        }
    }
    if let Some(schemes) = doc.pointer("/components/securitySchemes").and_then(Value::as_object) {
        out.push_str("<h2>Authentication</h2><table><tr><th>scheme</th><th>description</th></tr>");
        for (name, s) in schemes {
            let _ = write!(
                out,
                "<tr><td><code>{}</code></td><td>{}</td></tr>",
                esc(name),
                inline(s.get("description").and_then(Value::as_str).unwrap_or(""))
            );
        }
        out.push_str("</table>");
    }
    if let Some(schemas) = doc.pointer("/components/schemas").and_then(Value::as_object) {
        out.push_str("<h2>Schemas</h2>");
        for (name, s) in schemas {
            schema(&mut out, name, s);
        }
    }
    out.push_str("</body></html>");
    out
}

/// `GET /api/v1/docs`.
pub async fn page() -> Response {
    static PAGE: OnceLock<String> = OnceLock::new();
    let html = PAGE.get_or_init(|| render(document_value()));
    let mut r = html.clone().into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_lists_every_operation_and_loads_nothing_from_outside() {
        let html = render(document_value());
        assert!(html.starts_with("<!DOCTYPE html>"));
        for needle in ["/api/v1/objects/{id}/relations", "/api/v1/labels/preview", "/api/v1/stream", "schema-ErrorBody", "invalid_parameter"] {
            assert!(html.contains(&esc(needle)) || html.contains(needle), "{needle} missing");
        }
        for external in ["http://", "https://", "<script", "//cdn"] {
            assert!(!html.contains(external), "the page must not contain {external}");
        }
    }

    #[test]
    fn text_from_the_document_is_escaped() {
        assert_eq!(esc("<a href=\"x\">&'"), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
        assert_eq!(inline("use `a<b`"), "use <code>a&lt;b</code>");
        assert!(prose("| a | b |\n|---|---|\n| `x` | 1 |").contains("<td><code>x</code></td>"));
    }
}
