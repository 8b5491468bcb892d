//! Login, sessions, CSRF and the failed-login throttle.
//!
//! - A session id is 256 random bits sent once in the `phalanx_session`
//!   cookie (`HttpOnly`, `SameSite=Strict`, `Path=/`, `Secure` over HTTPS);
//!   the node keeps only its SHA-256. A session ends after
//!   [`crate::WebConfig::session_idle`] without a request, after
//!   [`crate::WebConfig::session_absolute`] in all, or at logout.
//! - Each session has its own CSRF token (synchronizer token), put into
//!   every form and checked in constant time on every POST; a POST whose
//!   `Origin` is another host is refused too. The login form, which comes
//!   before any session, carries a double-submit token: a random value in
//!   a `SameSite=Strict` cookie that the form must repeat.
//! - Credentials are checked by [`phalanx_auth::authenticate_password`]
//!   (argon2id, audited). After [`crate::WebConfig::login_failures_allowed`]
//!   failures for a user name or from an address, each further attempt for
//!   it must wait twice as long as the one before (1 s, 2 s, 4 s ... up to
//!   15 min); a throttled attempt is refused without checking the password
//!   and audited as `login-throttled`.

use crate::error::WebError;
use crate::html::esc;
use crate::{WebState, blocking};
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use phalanx_store::Actor;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use subtle::ConstantTimeEq;

/// The session cookie.
pub const SESSION_COOKIE: &str = "phalanx_session";
/// The login form's double-submit cookie.
pub const LOGIN_COOKIE: &str = "phalanx_login";
/// Longest wait imposed on a throttled login.
const MAX_THROTTLE: Duration = Duration::from_secs(15 * 60);
/// Failures older than this are forgotten.
const THROTTLE_MEMORY: Duration = Duration::from_secs(3600);

/// 256 random bits as lowercase hex.
pub fn random_token() -> Result<String, WebError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| WebError::Internal(format!("no randomness: {e}")))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

fn digest(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

/// Whether two tokens are equal, in constant time.
pub fn same_token(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

struct Entry {
    user_id: String,
    csrf: String,
    exercise: Option<String>,
    created: Instant,
    last_seen: Instant,
}

/// What a live session holds.
#[derive(Clone, Debug)]
pub struct SessionInfo {
    /// The user's registry id.
    pub user_id: String,
    /// The session's CSRF token.
    pub csrf: String,
    /// The exercise the session works in, if any.
    pub exercise: Option<String>,
}

/// The live sessions, keyed by the SHA-256 of their ids.
pub struct SessionStore {
    idle: Duration,
    absolute: Duration,
    entries: Mutex<HashMap<[u8; 32], Entry>>,
}

impl SessionStore {
    /// An empty store with these lifetimes.
    pub fn new(idle: Duration, absolute: Duration) -> Self {
        SessionStore { idle, absolute, entries: Mutex::new(HashMap::new()) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], Entry>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Starts a session; returns its id (for the cookie) and CSRF token.
    pub fn create(&self, user_id: &str, exercise: Option<String>) -> Result<(String, String), WebError> {
        let secret = random_token()?;
        let csrf = random_token()?;
        let now = Instant::now();
        let mut entries = self.lock();
        entries.retain(|_, e| !self.expired(e, now));
        entries.insert(
            digest(&secret),
            Entry { user_id: user_id.to_owned(), csrf: csrf.clone(), exercise, created: now, last_seen: now },
        );
        Ok((secret, csrf))
    }

    fn expired(&self, e: &Entry, now: Instant) -> bool {
        now.duration_since(e.last_seen) > self.idle || now.duration_since(e.created) > self.absolute
    }

    /// The live session with this id, marked as used now; an expired one
    /// is removed and answers `None`.
    pub fn touch(&self, secret: &str) -> Option<SessionInfo> {
        let key = digest(secret);
        let now = Instant::now();
        let mut entries = self.lock();
        let entry = entries.get_mut(&key)?;
        if self.expired(entry, now) {
            entries.remove(&key);
            return None;
        }
        entry.last_seen = now;
        Some(SessionInfo { user_id: entry.user_id.clone(), csrf: entry.csrf.clone(), exercise: entry.exercise.clone() })
    }

    /// Whether the session with this id is live, without marking it used
    /// (the live-update stream must not keep an idle session alive).
    pub fn is_live(&self, secret: &str) -> bool {
        let now = Instant::now();
        self.lock().get(&digest(secret)).is_some_and(|e| !self.expired(e, now))
    }

    /// Ends the session with this id.
    pub fn end(&self, secret: &str) {
        self.lock().remove(&digest(secret));
    }
}

/// Failed logins per key (`user:<name>`, `addr:<ip>`).
pub struct Throttle {
    allowed: u32,
    failures: Mutex<HashMap<String, (u32, Instant)>>,
}

impl Throttle {
    /// A throttle that lets `allowed` failures per key pass unhindered.
    pub fn new(allowed: u32) -> Self {
        Throttle { allowed, failures: Mutex::new(HashMap::new()) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (u32, Instant)>> {
        self.failures.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// How long the next attempt for any of `keys` must still wait.
    pub fn wait(&self, keys: &[String]) -> Option<Duration> {
        let now = Instant::now();
        let failures = self.lock();
        let mut longest: Option<Duration> = None;
        for key in keys {
            let Some((count, last)) = failures.get(key) else { continue };
            if *count < self.allowed {
                continue;
            }
            let exponent = (count - self.allowed).min(20);
            let delay = Duration::from_secs(1u64 << exponent).min(MAX_THROTTLE);
            let elapsed = now.duration_since(*last);
            if elapsed < delay {
                let left = delay - elapsed;
                longest = Some(longest.map_or(left, |l| l.max(left)));
            }
        }
        longest
    }

    /// Records a failed attempt for each key.
    pub fn failure(&self, keys: &[String]) {
        let now = Instant::now();
        let mut failures = self.lock();
        if failures.len() > 100_000 {
            failures.retain(|_, (_, last)| now.duration_since(*last) < THROTTLE_MEMORY);
        }
        for key in keys {
            let entry = failures.entry(key.clone()).or_insert((0, now));
            if now.duration_since(entry.1) > THROTTLE_MEMORY {
                entry.0 = 0;
            }
            entry.0 = entry.0.saturating_add(1);
            entry.1 = now;
        }
    }

    /// Forgets the failures of `keys` (after a successful login).
    pub fn success(&self, keys: &[String]) {
        let mut failures = self.lock();
        for key in keys {
            failures.remove(key);
        }
    }
}

/// The value of cookie `name` in the request's `Cookie` headers.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    for value in headers.get_all(header::COOKIE) {
        let Ok(text) = value.to_str() else { continue };
        for pair in text.split(';') {
            if let Some((k, v)) = pair.trim().split_once('=')
                && k == name
            {
                return Some(v.to_owned());
            }
        }
    }
    None
}

fn set_cookie(state: &WebState, name: &str, value: &str, path: &str, max_age: Option<u64>) -> Result<HeaderValue, WebError> {
    let mut text = format!("{name}={value}; Path={path}; HttpOnly; SameSite=Strict");
    if let Some(age) = max_age {
        text.push_str(&format!("; Max-Age={age}"));
    }
    if state.config().secure_cookies {
        text.push_str("; Secure");
    }
    HeaderValue::from_str(&text).map_err(|e| WebError::Internal(format!("cookie: {e}")))
}

/// The logged-in user of a request: the session, its user re-read from the
/// registry (a disabled user is logged out at once), and the organisation.
#[derive(Clone, Debug)]
pub struct Current {
    /// The acting user and the read rule's subject.
    pub actor: Actor,
    /// The organisation's display name.
    pub org_name: String,
    /// The session's CSRF token.
    pub csrf: String,
    /// The exercise the session works in, if any.
    pub exercise: Option<String>,
}

impl Current {
    /// Refuses a POST whose CSRF token is not the session's.
    pub fn check_csrf(&self, given: Option<&str>) -> Result<(), WebError> {
        match given {
            Some(token) if same_token(token, &self.csrf) => Ok(()),
            _ => {
                tracing::warn!(user = %self.actor.user.name, "web ui: post refused, bad csrf token");
                Err(WebError::Forbidden("the form's CSRF token is missing or wrong: reload the page and try again".into()))
            }
        }
    }
}

/// Refuses a request whose `Origin` names another host than its `Host`.
pub fn check_origin(headers: &HeaderMap) -> Result<(), WebError> {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else { return Ok(()) };
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let origin_host = origin.split_once("://").map(|(_, rest)| rest).unwrap_or(origin);
    if origin_host.eq_ignore_ascii_case(host) {
        Ok(())
    } else {
        Err(WebError::Forbidden(format!("origin {origin} is not this node")))
    }
}

impl FromRequestParts<WebState> for Current {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, state: &WebState) -> Result<Self, Self::Rejection> {
        let secret = cookie(&parts.headers, SESSION_COOKIE).ok_or(WebError::NotLoggedIn)?;
        let info = state.sessions().touch(&secret).ok_or(WebError::NotLoggedIn)?;
        let store = state.api().store().clone();
        let user_id = info.user_id.clone();
        let exercise = info.exercise.clone();
        let found = blocking(state, move || {
            let Some(user) = store.find_user(&user_id)? else { return Ok(None) };
            if user.disabled {
                return Ok(None);
            }
            let org_name = store.find_organisation(&user.org_id)?.map(|o| o.name).unwrap_or_else(|| user.org_id.clone());
            let actor = store.actor(&user, exercise)?;
            Ok(Some((actor, org_name)))
        })
        .await?;
        let Some((actor, org_name)) = found else {
            state.sessions().end(&secret);
            return Err(WebError::NotLoggedIn);
        };
        Ok(Current { actor, org_name, csrf: info.csrf, exercise: info.exercise })
    }
}

/// The client's address, when the server recorded it.
fn client_address(parts_extensions: &axum::http::Extensions) -> String {
    parts_extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_string())
        .unwrap_or_else(|| "unknown".into())
}

fn login_form(token: &str, message: Option<&str>, name: &str, node: &str) -> String {
    let message = message.map(|m| format!("<p class=\"login-error\" id=\"login-error\">{}</p>", esc(m))).unwrap_or_default();
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\">\
         <title>Log in · {node}</title><link rel=\"stylesheet\" href=\"/ui/assets/app.css\"></head>\
         <body class=\"login-page\"><main class=\"login\"><h1>{node}</h1><p class=\"muted\">Collective cyber defence: log in with your node account.</p>{message}\
         <form method=\"post\" action=\"/ui/login\" id=\"login-form\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{token}\">\
         <label>User name <input name=\"name\" id=\"name\" autocomplete=\"username\" required value=\"{name}\"></label>\
         <label>Password <input name=\"password\" id=\"password\" type=\"password\" autocomplete=\"current-password\" required></label>\
         <label>Exercise <input name=\"exercise\" id=\"exercise\" placeholder=\"empty for real-world data\"></label>\
         <button type=\"submit\">Log in</button></form></main></body></html>",
        node = esc(node),
        token = esc(token),
        name = esc(name),
    )
}

fn login_response(state: &WebState, status: StatusCode, message: Option<&str>, name: &str) -> Result<Response, WebError> {
    let token = random_token()?;
    let cookie = set_cookie(state, LOGIN_COOKIE, &token, "/ui/login", Some(1800))?;
    let body = login_form(&token, message, name, &state.config().node_name);
    Ok((status, [(header::SET_COOKIE, cookie), (header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"))], body)
        .into_response())
}

/// `GET /ui/login`.
pub async fn login_page(State(state): State<WebState>) -> Result<Response, WebError> {
    login_response(&state, StatusCode::OK, None, "")
}

/// The login form.
#[derive(Debug, Deserialize)]
pub struct LoginForm {
    /// The double-submit token.
    #[serde(default)]
    csrf: Option<String>,
    /// User name.
    #[serde(default)]
    name: String,
    /// Password.
    #[serde(default)]
    password: String,
    /// Exercise to work in (empty: the real world).
    #[serde(default)]
    exercise: String,
}

/// An exercise id as typed: 1 to 64 letters, digits, `.`, `_` or `-`.
fn parse_exercise(text: &str) -> Result<Option<String>, WebError> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    if text.len() > 64 || !text.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')) {
        return Err(WebError::BadRequest(
            "exercise: 1 to 64 letters, digits, '.', '_' or '-' (empty for real-world data)".into(),
        ));
    }
    Ok(Some(text.to_owned()))
}

/// `POST /ui/login`.
pub async fn login(
    State(state): State<WebState>,
    request: axum::extract::Request,
) -> Result<Response, WebError> {
    let headers = request.headers().clone();
    check_origin(&headers)?;
    let address = client_address(request.extensions());
    let axum::Form(form) = axum::Form::<LoginForm>::from_request(request, &state)
        .await
        .map_err(|e| WebError::BadRequest(format!("login form: {e}")))?;
    let expected = cookie(&headers, LOGIN_COOKIE);
    match (&form.csrf, &expected) {
        (Some(given), Some(expected)) if same_token(given, expected) => {}
        _ => {
            tracing::warn!(%address, "web ui: login refused, bad csrf token");
            return Err(WebError::Forbidden("the login form's CSRF token is missing or wrong: reload the page".into()));
        }
    }
    let exercise = parse_exercise(&form.exercise)?;
    let keys = vec![format!("user:{}", form.name.to_lowercase()), format!("addr:{address}")];
    if let Some(wait) = state.throttle().wait(&keys) {
        let store = state.api().store().clone();
        let name = form.name.chars().take(64).collect::<String>();
        let addr = address.clone();
        blocking(&state, move || {
            store.audit("anonymous", "login-throttled", &name, &serde_json::json!({"method": "password", "address": addr}))?;
            Ok(())
        })
        .await?;
        return Err(WebError::Throttled(wait.as_secs().max(1)));
    }
    let store = state.api().store().clone();
    let (name, password) = (form.name.clone(), form.password.clone());
    let outcome = blocking(&state, move || Ok(phalanx_auth::authenticate_password(store.as_ref(), &name, &password))).await?;
    match outcome {
        Ok(actor) => {
            state.throttle().success(&keys);
            let (secret, _csrf) = state.sessions().create(&actor.user.id, exercise.clone())?;
            tracing::info!(user = %actor.user.name, %address, exercise = exercise.as_deref().unwrap_or(""), "web ui: login");
            let session = set_cookie(&state, SESSION_COOKIE, &secret, "/", None)?;
            let clear = set_cookie(&state, LOGIN_COOKIE, "", "/ui/login", Some(0))?;
            let mut response = (StatusCode::SEE_OTHER, [(header::LOCATION, HeaderValue::from_static("/"))]).into_response();
            response.headers_mut().append(header::SET_COOKIE, session);
            response.headers_mut().append(header::SET_COOKIE, clear);
            Ok(response)
        }
        Err(e) if e.is_credential_failure() => {
            state.throttle().failure(&keys);
            tracing::info!(%address, "web ui: login failed");
            login_response(&state, StatusCode::UNAUTHORIZED, Some(e.public_message()), &form.name)
        }
        Err(e) => Err(WebError::Internal(e.to_string())),
    }
}

/// A form that carries only the CSRF token.
#[derive(Debug, Deserialize)]
pub struct CsrfForm {
    /// The session's CSRF token.
    #[serde(default)]
    pub csrf: Option<String>,
}

/// `POST /ui/logout`.
pub async fn logout(
    State(state): State<WebState>,
    current: Current,
    headers: HeaderMap,
    axum::Form(form): axum::Form<CsrfForm>,
) -> Result<Response, WebError> {
    check_origin(&headers)?;
    current.check_csrf(form.csrf.as_deref())?;
    if let Some(secret) = cookie(&headers, SESSION_COOKIE) {
        state.sessions().end(&secret);
    }
    tracing::info!(user = %current.actor.user.name, "web ui: logout");
    let clear = set_cookie(&state, SESSION_COOKIE, "", "/", Some(0))?;
    Ok((StatusCode::SEE_OTHER, [(header::LOCATION, HeaderValue::from_static("/ui/login")), (header::SET_COOKIE, clear)])
        .into_response())
}


#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_expire_when_idle_and_end_at_logout() {
        let store = SessionStore::new(Duration::from_millis(50), Duration::from_secs(60));
        let (secret, csrf) = store.create("user--1", None).expect("session");
        let info = store.touch(&secret).expect("live");
        assert_eq!(info.csrf, csrf);
        assert!(store.touch("not-a-session").is_none());
        std::thread::sleep(Duration::from_millis(80));
        assert!(store.touch(&secret).is_none(), "idle session must expire");
        let (secret, _) = store.create("user--1", None).expect("session");
        store.end(&secret);
        assert!(store.touch(&secret).is_none());
    }

    #[test]
    fn absolute_expiry_holds_even_when_used() {
        let store = SessionStore::new(Duration::from_secs(60), Duration::from_millis(60));
        let (secret, _) = store.create("user--1", None).expect("session");
        for _ in 0..3 {
            std::thread::sleep(Duration::from_millis(15));
            assert!(store.touch(&secret).is_some());
        }
        std::thread::sleep(Duration::from_millis(40));
        assert!(store.touch(&secret).is_none());
    }

    #[test]
    fn throttle_waits_after_the_allowed_failures_and_forgets_on_success() {
        let t = Throttle::new(2);
        let keys = vec!["user:alice".to_owned()];
        t.failure(&keys);
        assert!(t.wait(&keys).is_none());
        t.failure(&keys);
        let wait = t.wait(&keys).expect("throttled after two failures");
        assert!(wait <= Duration::from_secs(1));
        t.failure(&keys);
        assert!(t.wait(&keys).expect("still throttled") > Duration::from_secs(1));
        assert!(t.wait(&["user:bob".to_owned()]).is_none());
        t.success(&keys);
        assert!(t.wait(&keys).is_none());
    }

    #[test]
    fn cookies_and_tokens() {
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, HeaderValue::from_static("a=1; phalanx_session=abc; b=2"));
        assert_eq!(cookie(&h, SESSION_COOKIE).as_deref(), Some("abc"));
        assert_eq!(cookie(&h, "c"), None);
        assert!(same_token("abc", "abc"));
        assert!(!same_token("abc", "abd"));
        assert!(!same_token("abc", "ab"));
        let t = random_token().expect("random");
        assert_eq!(t.len(), 64);
        assert_ne!(t, random_token().expect("random"));
    }

    #[test]
    fn origin_must_be_this_host() {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, HeaderValue::from_static("127.0.0.1:8470"));
        assert!(check_origin(&h).is_ok());
        h.insert(header::ORIGIN, HeaderValue::from_static("http://127.0.0.1:8470"));
        assert!(check_origin(&h).is_ok());
        h.insert(header::ORIGIN, HeaderValue::from_static("http://evil.example"));
        assert!(check_origin(&h).is_err());
    }

    #[test]
    fn exercise_ids_are_checked() {
        assert_eq!(parse_exercise("  ").expect("empty"), None);
        assert_eq!(parse_exercise("cyber-europe-2026").expect("ok").as_deref(), Some("cyber-europe-2026"));
        assert!(parse_exercise("a b").is_err());
    }
}
