//! The web UI of a Phalanx node, served by `phalanx serve` beside the API.
//!
//! Server-rendered HTML (htmx for fragments and forms, uPlot for the time
//! series, an SVG map of Europe made at build time from Natural Earth
//! shapes): the common operating picture at `/` and the analyst workspace
//! under `/ui/...`. Every asset is embedded in the binary; nothing is
//! loaded from another host, so the UI works on an air-gapped network.
//!
//! Architecture invariants:
//! - a page is built only for a logged-in session; the session's user is
//!   re-read from the registry on every request (a disabled user or a
//!   lowered clearance takes effect at once), and its
//!   [`phalanx_labels::Subject`] is passed to every store call, so the read
//!   rule applies inside the query: map counts, matrices and plots are
//!   computed from what the user may read and nothing else;
//! - every object ranked RESTRICTED or above whose content a page shows is
//!   passed to [`phalanx_auth::audit_reads`] before the page leaves the
//!   node (objects merely counted are not reads);
//! - credentials are checked only by [`phalanx_auth::authenticate_password`];
//!   the session id lives only in an `HttpOnly`, `SameSite=Strict` cookie
//!   and only its SHA-256 is kept; every POST carries the session's CSRF
//!   token (the login form a double-submit token) and is refused without it;
//! - every write goes through `phalanx_store::ingest::Ingest`, and state
//!   changes of incidents and assistance requests through the state
//!   machines of `phalanx-response`;
//! - store calls run through [`phalanx_api::blocking`], never on the async
//!   threads.

pub mod assets;
pub mod dashboard;
pub mod error;
pub mod events;
pub mod html;
pub mod map;
pub mod marking;
pub mod response;
pub mod session;
pub mod workspace;
mod write;

use crate::error::WebError;
use crate::session::{SessionStore, Throttle};
use axum::Router;
use axum::routing::{get, post};
use phalanx_api::AppState;
use std::sync::Arc;
use std::time::Duration;

/// Settings of the web UI.
#[derive(Clone, Debug)]
pub struct WebConfig {
    /// A session ends after this long without a request.
    pub session_idle: Duration,
    /// A session ends this long after login, whatever its use.
    pub session_absolute: Duration,
    /// Mark cookies `Secure` (the node serves HTTPS).
    pub secure_cookies: bool,
    /// Failed logins allowed per user name and per address before each
    /// further attempt must wait.
    pub login_failures_allowed: u32,
    /// The node's name, shown in the title bar.
    pub node_name: String,
}

impl Default for WebConfig {
    /// Idle 30 min, absolute 12 h, five failures before throttling.
    fn default() -> Self {
        WebConfig {
            session_idle: Duration::from_secs(30 * 60),
            session_absolute: Duration::from_secs(12 * 3600),
            secure_cookies: false,
            login_failures_allowed: 5,
            node_name: "Phalanx".into(),
        }
    }
}

struct Inner {
    api: AppState,
    config: WebConfig,
    sessions: SessionStore,
    throttle: Throttle,
    caches: Caches,
}

/// What the UI keeps between requests to answer faster.
pub struct Caches {
    /// The dashboard's daily counts per reader.
    pub series: dashboard::SeriesCache,
}

/// What the UI's handlers share; cheap to clone.
#[derive(Clone)]
pub struct WebState(Arc<Inner>);

impl WebState {
    /// The UI over the node's API state (store, configuration, change
    /// notifications).
    pub fn new(api: AppState, config: WebConfig) -> Self {
        let sessions = SessionStore::new(config.session_idle, config.session_absolute);
        let throttle = Throttle::new(config.login_failures_allowed);
        let caches = Caches { series: dashboard::SeriesCache::new() };
        WebState(Arc::new(Inner { api, config, sessions, throttle, caches }))
    }

    /// The API state (store, notifications, blocking slots).
    pub fn api(&self) -> &AppState {
        &self.0.api
    }

    /// The configuration.
    pub fn config(&self) -> &WebConfig {
        &self.0.config
    }

    /// The live sessions.
    pub fn sessions(&self) -> &SessionStore {
        &self.0.sessions
    }

    /// The failed-login throttle.
    pub fn throttle(&self) -> &Throttle {
        &self.0.throttle
    }

    /// The caches.
    pub fn caches(&self) -> &Caches {
        &self.0.caches
    }
}

/// Runs store work on the blocking pool (see [`phalanx_api::blocking`]).
pub(crate) async fn blocking<T, F>(state: &WebState, work: F) -> Result<T, WebError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, WebError> + Send + 'static,
{
    match phalanx_api::blocking(state.api(), move || Ok(work())).await {
        Ok(result) => result,
        Err(e) => Err(WebError::Internal(e.message)),
    }
}

/// The UI's routes: the dashboard at `/`, everything else under `/ui/`.
pub fn router(state: WebState) -> Router {
    Router::new()
        .route("/", get(dashboard::page))
        .route("/ui/login", get(session::login_page).post(session::login))
        .route("/ui/logout", post(session::logout))
        .route("/ui/fragment/picture", get(dashboard::fragment))
        .route("/ui/events", get(events::events))
        .route("/ui/search", get(workspace::search))
        .route("/ui/object/{id}", get(workspace::object_page))
        .route("/ui/upload", get(workspace::upload_page).post(workspace::upload))
        .route("/ui/incident/{id}", get(response::incident_page))
        .route("/ui/incident/{id}/status", post(response::incident_status))
        .route("/ui/incident/{id}/timeline", post(response::incident_timeline))
        .route("/ui/task/{id}/status", post(response::task_status))
        .route("/ui/request/{id}", get(response::request_page))
        .route("/ui/request/{id}/transition", post(response::request_transition))
        .route("/ui/assets/{file}", get(assets::asset))
        .layer(axum::middleware::from_fn(html::security_headers))
        .with_state(state)
}
