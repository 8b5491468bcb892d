//! Who is calling: credentials from the `Authorization` header, checked
//! by an [`Authenticator`], give a [`Caller`] whose [`Subject`] every
//! handler hands to the store.
//!
//! Schemes: HTTP Basic (user name, API token as the password; TAXII
//! §1.6.9), `Bearer <token>`, and `Token <token>` (taxii2-client's
//! `TokenAuth`). No `Authorization` header: the anonymous subject, who
//! reads only public data (spec §3). A header that is present but does not
//! authenticate is always refused (401): a bad token never silently
//! downgrades to anonymous.

use crate::error::{ApiError, ErrorCode};
use crate::{AppState, blocking};
use axum::http::HeaderValue;
use base64::Engine;
use phalanx_labels::Subject;
use phalanx_store::{Actor, Store};

/// Credentials read from an `Authorization` header.
#[derive(Clone, PartialEq, Eq)]
pub enum Credentials {
    /// HTTP Basic: a user name and a secret (an API token).
    Basic {
        /// The user name.
        user: String,
        /// The password: an API token.
        secret: String,
    },
    /// `Bearer <token>` or `Token <token>`.
    Token(String),
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credentials::Basic { user, .. } => write!(f, "Basic({user}, <secret>)"),
            Credentials::Token(_) => f.write_str("Token(<secret>)"),
        }
    }
}

fn unauthorized(message: &str) -> ApiError {
    ApiError::new(ErrorCode::Unauthorized, message)
}

/// Parses an `Authorization` header value.
pub fn parse_authorization(value: &str) -> Result<Credentials, ApiError> {
    let value = value.trim();
    let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
    let rest = rest.trim();
    if scheme.eq_ignore_ascii_case("basic") {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(rest)
            .map_err(|_| unauthorized("authorization: basic credentials are not valid base64"))?;
        let text = String::from_utf8(bytes).map_err(|_| unauthorized("authorization: basic credentials are not utf-8"))?;
        let (user, secret) =
            text.split_once(':').ok_or_else(|| unauthorized("authorization: basic credentials have no ':'"))?;
        if user.is_empty() || secret.is_empty() {
            return Err(unauthorized("authorization: basic credentials need a user name and a token"));
        }
        Ok(Credentials::Basic { user: user.to_owned(), secret: secret.to_owned() })
    } else if scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("token") {
        if rest.is_empty() {
            return Err(unauthorized("authorization: the token is empty"));
        }
        Ok(Credentials::Token(rest.to_owned()))
    } else {
        Err(unauthorized("authorization: unsupported scheme (use Basic, Bearer or Token)"))
    }
}

/// Why credentials were refused. The caller sees only a generic 401; the
/// reason goes to the log (and `phalanx-auth` audits it).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AuthFailure {
    /// The credentials do not authenticate (unknown, revoked or expired
    /// token, disabled user, Basic user name not the token's).
    #[error("credentials refused: {0}")]
    Refused(String),
    /// The node failed while checking them.
    #[error("store error: {0}")]
    Store(String),
}

/// Checks credentials against the node's registry.
///
/// The handlers see only this seam; [`TokenAuthenticator`] is the
/// implementation over `phalanx-auth`.
pub trait Authenticator: Send + Sync {
    /// The actor the credentials belong to. Called on a blocking thread.
    fn authenticate(&self, store: &dyn Store, credentials: &Credentials) -> Result<Actor, AuthFailure>;

    /// The actor, when the credentials are good and reads alone show it
    /// (nothing to audit); `None` sends the caller to
    /// [`Authenticator::authenticate`] on a blocking thread. Called on an
    /// async worker, so it must never write nor wait for the writer.
    fn authenticate_by_reads(&self, _store: &dyn Store, _credentials: &Credentials) -> Result<Option<Actor>, AuthFailure> {
        Ok(None)
    }
}

/// API tokens through `phalanx-auth` (constant-time digest check, expiry,
/// revocation, disabled users). With Basic, the user name must also be the
/// token's user's. Every refusal is audited (`login-failed`); a token's
/// successful use is audited (`login`) the first time this process sees it
/// and then at most once per [`LOGIN_AUDIT_INTERVAL`], so a client polling
/// every second does not add an audit entry (a synced write) per request.
#[derive(Debug, Default)]
pub struct TokenAuthenticator {
    /// When each token's `login` was last audited, by token id.
    last_login: std::sync::Mutex<std::collections::HashMap<String, std::time::Instant>>,
    /// The actors of tokens seen, while the registry is unchanged.
    tokens: phalanx_auth::TokenCache,
}

/// How often a token's continued use is written to the audit log.
pub const LOGIN_AUDIT_INTERVAL: std::time::Duration = std::time::Duration::from_secs(3600);

impl TokenAuthenticator {
    /// An authenticator that has audited no login yet.
    pub fn new() -> Self {
        TokenAuthenticator::default()
    }

    /// Whether the use of `token_id` is due for a `login` audit entry now,
    /// without marking it.
    fn login_is_due(&self, token_id: &str) -> bool {
        let seen = self.last_login.lock().unwrap_or_else(|p| p.into_inner());
        seen.get(token_id).is_none_or(|at| at.elapsed() >= LOGIN_AUDIT_INTERVAL)
    }

    /// Whether the use of `token_id` is due for a `login` audit entry now;
    /// marks it audited when it is.
    fn login_due(&self, token_id: &str) -> bool {
        let now = std::time::Instant::now();
        let mut seen = self.last_login.lock().unwrap_or_else(|p| p.into_inner());
        match seen.get(token_id) {
            Some(at) if now.duration_since(*at) < LOGIN_AUDIT_INTERVAL => false,
            _ => {
                if seen.len() >= 100_000 {
                    seen.retain(|_, at| now.duration_since(*at) < LOGIN_AUDIT_INTERVAL);
                }
                seen.insert(token_id.to_owned(), now);
                true
            }
        }
    }
}

impl Authenticator for TokenAuthenticator {
    fn authenticate(&self, store: &dyn Store, credentials: &Credentials) -> Result<Actor, AuthFailure> {
        let (user_name, secret) = match credentials {
            Credentials::Basic { user, secret } => (Some(user.as_str()), secret.as_str()),
            Credentials::Token(secret) => (None, secret.as_str()),
        };
        let store_failure = |e: phalanx_auth::AuthError| {
            if e.is_credential_failure() { AuthFailure::Refused(e.to_string()) } else { AuthFailure::Store(e.to_string()) }
        };
        let (actor, token_id) =
            phalanx_auth::verify_token_at(store, secret, phalanx_model::Timestamp::now(6)).map_err(store_failure)?;
        if let Some(name) = user_name.filter(|name| *name != actor.user.name) {
            let reason = "basic user name is not the token's user";
            let details = serde_json::json!({"method": "basic", "token": token_id, "reason": reason});
            store
                .audit(phalanx_auth::ANONYMOUS, "login-failed", &name.chars().take(64).collect::<String>(), &details)
                .map_err(|e| AuthFailure::Store(e.to_string()))?;
            return Err(AuthFailure::Refused(reason.into()));
        }
        if self.login_due(&token_id) {
            phalanx_auth::audit_token_login(store, &actor, &token_id).map_err(store_failure)?;
        }
        Ok(actor)
    }

    fn authenticate_by_reads(&self, store: &dyn Store, credentials: &Credentials) -> Result<Option<Actor>, AuthFailure> {
        let (user_name, secret) = match credentials {
            Credentials::Basic { user, secret } => (Some(user.as_str()), secret.as_str()),
            Credentials::Token(secret) => (None, secret.as_str()),
        };
        let found = self
            .tokens
            .find_token_actor(store, secret, phalanx_model::Timestamp::now(6))
            .map_err(|e| AuthFailure::Store(e.to_string()))?;
        // A refusal and a due login entry are written by `authenticate`.
        Ok(found
            .filter(|(actor, _)| user_name.is_none_or(|name| name == actor.user.name))
            .filter(|(_, token_id)| !self.login_is_due(token_id))
            .map(|(actor, _)| actor))
    }
}

/// The caller of a request: a signed-in actor, or anonymous.
#[derive(Clone, Debug)]
pub struct Caller {
    /// The signed-in user, when there is one.
    pub actor: Option<Actor>,
    /// The reader the read rule sees; every store read takes it.
    pub subject: Subject,
}

impl Caller {
    /// An anonymous caller (public data only).
    pub fn anonymous() -> Self {
        Caller { actor: None, subject: Subject::Anonymous }
    }

    /// A signed-in caller.
    pub fn user(actor: Actor) -> Self {
        let subject = actor.subject.clone();
        Caller { actor: Some(actor), subject }
    }

    /// Whether the caller's role may write objects.
    pub fn can_write(&self) -> bool {
        self.actor.as_ref().is_some_and(|a| a.user.role.can_write())
    }

    /// A stable key for the caller: the user id, or `anonymous`.
    pub fn key(&self) -> &str {
        self.actor.as_ref().map(|a| a.user.id.as_str()).unwrap_or("anonymous")
    }

    /// The user name for logs: the name, or `anonymous`.
    pub fn name(&self) -> &str {
        self.actor.as_ref().map(|a| a.user.name.as_str()).unwrap_or("anonymous")
    }
}

/// The caller of a request from its `Authorization` header: anonymous
/// without one, 401 ([`ErrorCode::Unauthorized`]) when it does not
/// authenticate, 500 when the node fails. Every route family (TAXII, REST,
/// streams) resolves its caller through this.
pub async fn resolve_caller(state: &AppState, header: Option<&HeaderValue>) -> Result<Caller, ApiError> {
    let Some(value) = header else { return Ok(Caller::anonymous()) };
    let text = value
        .to_str()
        .map_err(|_| ApiError::new(ErrorCode::Unauthorized, "authorization: the header is not visible ascii"))?;
    let credentials = parse_authorization(text)?;
    let store = state.store().clone();
    let auth = state.authenticator().clone();
    // A good token is a hash and a few keyed reads, cheaper than the
    // hand-off to the blocking pool and back; anything that writes (a
    // refusal, a due login entry) goes there.
    if let Some(actor) =
        auth.authenticate_by_reads(store.as_ref(), &credentials).map_err(|failure| auth_error(failure, &credentials))?
    {
        return Ok(Caller::user(actor));
    }
    let actor =
        blocking(state, move || auth.authenticate(store.as_ref(), &credentials).map_err(|failure| auth_error(failure, &credentials)))
            .await?;
    Ok(Caller::user(actor))
}

/// The answer to a failed authentication: the reason is logged, never sent.
fn auth_error(failure: AuthFailure, credentials: &Credentials) -> ApiError {
    match failure {
        AuthFailure::Store(e) => ApiError::internal(format!("authentication: {e}")),
        AuthFailure::Refused(reason) => {
            tracing::warn!(%reason, credentials = ?credentials, "authentication failed");
            ApiError::new(ErrorCode::Unauthorized, "authorization: authentication failed")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_three_schemes() {
        let basic = base64::engine::general_purpose::STANDARD.encode("alice:phx_secret");
        assert_eq!(
            parse_authorization(&format!("Basic {basic}")).unwrap(),
            Credentials::Basic { user: "alice".into(), secret: "phx_secret".into() }
        );
        assert_eq!(parse_authorization("Bearer abc").unwrap(), Credentials::Token("abc".into()));
        assert_eq!(parse_authorization("token abc").unwrap(), Credentials::Token("abc".into()));
        for bad in ["Basic !!!", "Digest x", "Bearer ", "Basic", &format!("Basic {}", base64::engine::general_purpose::STANDARD.encode("nocolon"))] {
            let e = parse_authorization(bad).unwrap_err();
            assert_eq!(e.code, ErrorCode::Unauthorized, "{bad}");
            assert!(e.message.starts_with("authorization:"));
        }
    }

    #[test]
    fn a_token_login_is_audited_once_per_interval() {
        let auth = TokenAuthenticator::new();
        assert!(auth.login_due("token-1"), "first use is audited");
        assert!(!auth.login_due("token-1"), "a second use within the interval is not");
        assert!(auth.login_due("token-2"), "each token has its own interval");
        let past = std::time::Instant::now().checked_sub(LOGIN_AUDIT_INTERVAL).expect("instant");
        auth.last_login.lock().unwrap().insert("token-1".into(), past);
        assert!(auth.login_due("token-1"), "after the interval the use is audited again");
    }

    #[test]
    fn debug_hides_secrets() {
        let c = Credentials::Basic { user: "u".into(), secret: "s3cr3t".into() };
        assert!(!format!("{c:?}").contains("s3cr3t"));
        assert!(!format!("{:?}", Credentials::Token("s3cr3t".into())).contains("s3cr3t"));
    }
}
