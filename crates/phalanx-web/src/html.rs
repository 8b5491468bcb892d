//! HTML building blocks: escaping, the page layout (title bar, banner,
//! navigation), and the security headers every UI answer carries.

use crate::marking::Highest;
use crate::session::Current;
use axum::http::{HeaderValue, header};
use axum::response::{Html, IntoResponse, Response};

/// Escapes text for HTML content and attribute values (the API page's
/// escaping, one copy for both).
pub use phalanx_api::rest::docs::esc;

/// Percent-encodes a path segment or query value.
pub fn url_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The link to an object's page in the workspace (incidents and assistance
/// requests have their own pages).
pub fn object_href(id: &str) -> String {
    let kind = id.split("--").next().unwrap_or_default();
    match kind {
        "incident" => format!("/ui/incident/{}", url_encode(id)),
        "x-phalanx-assistance-request" => format!("/ui/request/{}", url_encode(id)),
        _ => format!("/ui/object/{}", url_encode(id)),
    }
}

/// A whole page: title bar with the user and logout, the marking banner
/// (`highest` of what the page shows), navigation, then `body`.
pub fn page(current: &Current, node: &str, title: &str, highest: &Highest, body: &str) -> Response {
    let user = &current.actor.user;
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\">\
         <meta name=\"csrf-token\" content=\"{csrf}\">\
         <title>{title} · {node}</title><link rel=\"stylesheet\" href=\"/ui/assets/app.css\"><link rel=\"stylesheet\" href=\"/ui/assets/uPlot.min.css\">\
         <script src=\"/ui/assets/htmx.min.js\" defer></script><script src=\"/ui/assets/uPlot.iife.min.js\" defer></script>\
         <script src=\"/ui/assets/app.js\" defer></script></head><body>\
         {banner}\
         <header class=\"topbar\"><a class=\"brand\" href=\"/\">{node}</a><nav><a href=\"/\">Operating picture</a>\
         <a href=\"/ui/search\">Search</a><a href=\"/ui/upload\">Upload</a></nav>\
         <span class=\"who\" id=\"who\" data-user=\"{uname}\">{uname} · {org} · {role} · cleared {clearance}</span>\
         <span class=\"live\" id=\"live\" title=\"live updates\">●</span>\
         <form method=\"post\" action=\"/ui/logout\" class=\"logout\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\"><button type=\"submit\" id=\"logout\">Log out</button></form></header>\
         <main><h1>{title}</h1>{body}</main>\
         <footer>{banner_bottom}</footer></body></html>",
        csrf = esc(&current.csrf),
        title = esc(title),
        node = esc(node),
        banner = highest.banner(current.exercise.as_deref()),
        banner_bottom = highest.banner_as("banner-bottom", current.exercise.as_deref()),
        uname = esc(&user.name),
        org = esc(&current.org_name),
        role = esc(user.role.as_str()),
        clearance = esc(user.clearance.as_str()),
    );
    Html(html).into_response()
}

/// Adds the security headers to every UI answer: a content security policy
/// that allows scripts, styles, images and connections only from this
/// node, no framing, no referrer to other sites (a same-origin referrer
/// keeps the `Origin` header of form posts), and no caching of pages.
pub async fn security_headers(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let is_asset = request.uri().path().starts_with("/ui/assets/");
    let mut response = next.run(request).await;
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
        ),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    if !is_asset {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// A table of rows, each already HTML; `empty` when there are none.
pub fn table(id: &str, headings: &[&str], rows: &[String], empty: &str) -> String {
    if rows.is_empty() {
        return format!("<p class=\"muted\" id=\"{}\">{}</p>", esc(id), esc(empty));
    }
    let mut out = format!("<table id=\"{}\"><thead><tr>", esc(id));
    for h in headings {
        out.push_str(&format!("<th>{}</th>", esc(h)));
    }
    out.push_str("</tr></thead><tbody>");
    for r in rows {
        out.push_str(r);
    }
    out.push_str("</tbody></table>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_and_links() {
        assert_eq!(esc("<a href=\"x\">&'"), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
        assert_eq!(url_encode("a b/c"), "a%20b%2Fc");
        assert_eq!(object_href("incident--1"), "/ui/incident/incident--1");
        assert_eq!(object_href("x-phalanx-assistance-request--1"), "/ui/request/x-phalanx-assistance-request--1");
        assert_eq!(object_href("indicator--1"), "/ui/object/indicator--1");
    }
}
