//! The UI's static files, embedded at build time: htmx and uPlot from npm
//! (see `build.rs`), the UI's own script and style sheet, and the licences
//! of the third-party files.

use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// One embedded file: name, media type, bytes.
struct Asset {
    name: &'static str,
    media_type: &'static str,
    bytes: &'static [u8],
}

static ASSETS: &[Asset] = &[
    Asset { name: "htmx.min.js", media_type: "text/javascript", bytes: include_bytes!(concat!(env!("OUT_DIR"), "/htmx.min.js")) },
    Asset {
        name: "uPlot.iife.min.js",
        media_type: "text/javascript",
        bytes: include_bytes!(concat!(env!("OUT_DIR"), "/uPlot.iife.min.js")),
    },
    Asset { name: "uPlot.min.css", media_type: "text/css", bytes: include_bytes!(concat!(env!("OUT_DIR"), "/uPlot.min.css")) },
    Asset { name: "LICENSES.txt", media_type: "text/plain; charset=utf-8", bytes: include_bytes!(concat!(env!("OUT_DIR"), "/LICENSES.txt")) },
    Asset { name: "app.js", media_type: "text/javascript", bytes: include_bytes!("../assets/app.js") },
    Asset { name: "app.css", media_type: "text/css", bytes: include_bytes!("../assets/app.css") },
];

/// `GET /ui/assets/{file}`: served without a session (no data in them),
/// cached for an hour.
pub async fn asset(Path(file): Path<String>) -> Response {
    match ASSETS.iter().find(|a| a.name == file) {
        Some(a) => (
            [
                (header::CONTENT_TYPE, HeaderValue::from_static(a.media_type)),
                (header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=3600")),
            ],
            a.bytes,
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "no such asset").into_response(),
    }
}
