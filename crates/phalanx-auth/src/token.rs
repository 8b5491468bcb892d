//! API tokens: made, checked, revoked, and audited.
//!
//! A token secret is `phx_` followed by 64 lowercase hex digits (32 random
//! bytes). It is shown once, when made; the registry keeps only its SHA-256
//! digest ([`hash_token`]). A token's public id (`tok_` + 16 hex digits,
//! random, unrelated to the secret) names it in lists, the audit log and
//! `phalanx token revoke`.

use crate::{ANONYMOUS, AuthError, audit_text};
use phalanx_model::Timestamp;
use phalanx_store::registry::hex;
use phalanx_store::{Actor, Registry, TokenRecord, UserRecord};
use serde_json::json;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The prefix of every token secret.
pub const TOKEN_PREFIX: &str = "phx_";

/// Whether `text` has the shape of a token secret.
pub fn looks_like_token(text: &str) -> bool {
    text.strip_prefix(TOKEN_PREFIX)
        .is_some_and(|h| h.len() == 64 && h.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
}

fn random_hex(n: usize) -> Result<String, AuthError> {
    let mut bytes = vec![0u8; n];
    getrandom::fill(&mut bytes).map_err(|e| AuthError::Randomness(e.to_string()))?;
    Ok(hex(&bytes))
}

/// A new token secret for `user_id` and the record to store. Nothing is
/// stored and nothing audited: see [`issue_token`] for that.
pub fn new_token(
    user_id: &str,
    expires: Option<Timestamp>,
) -> Result<(String, TokenRecord), AuthError> {
    let secret = format!("{TOKEN_PREFIX}{}", random_hex(32)?);
    let record = TokenRecord {
        id: format!("tok_{}", random_hex(8)?),
        user_id: user_id.to_owned(),
        secret_hash: hash_token(&secret),
        created: Timestamp::now(6),
        expires,
        revoked: None,
    };
    Ok((secret, record))
}

/// The stored form of a token secret: lowercase hex SHA-256.
pub fn hash_token(secret: &str) -> String {
    hex(&Sha256::digest(secret.as_bytes()))
}

/// Makes a token for `user`, stores it and audits `token-created` as
/// `by` (an audit actor name such as `user:admin`). Returns the secret,
/// to be shown once, and the stored record.
pub fn issue_token<R: Registry + ?Sized>(
    registry: &R,
    user: &UserRecord,
    expires: Option<Timestamp>,
    by: &str,
) -> Result<(String, TokenRecord), AuthError> {
    let (secret, record) = new_token(&user.id, expires)?;
    registry.put_token(&record)?;
    registry.audit(
        by,
        "token-created",
        &user.name,
        &json!({"token": record.id, "expires": record.expires.map(|t| t.to_string())}),
    )?;
    Ok((secret, record))
}

/// The token with id `token_id` and the user it belongs to.
pub fn find_token<R: Registry + ?Sized>(
    registry: &R,
    token_id: &str,
) -> Result<Option<(TokenRecord, UserRecord)>, AuthError> {
    for user in registry.users()? {
        if let Some(t) = registry
            .tokens_of(&user.id)?
            .into_iter()
            .find(|t| t.id == token_id)
        {
            return Ok(Some((t, user)));
        }
    }
    Ok(None)
}

/// Revokes the live token `token_id` and audits `token-revoked` as `by`.
/// Returns the token as it was and its user. An unknown or already revoked
/// token is [`AuthError::NoSuchToken`], and nothing is written.
pub fn revoke_token<R: Registry + ?Sized>(
    registry: &R,
    token_id: &str,
    by: &str,
) -> Result<(TokenRecord, UserRecord), AuthError> {
    let Some((token, user)) = find_token(registry, token_id)? else {
        return Err(AuthError::NoSuchToken(audit_text(token_id, 64)));
    };
    if token.revoked.is_some() || !registry.revoke_token(&token.id, Timestamp::now(6))? {
        return Err(AuthError::NoSuchToken(token.id));
    }
    registry.audit(by, "token-revoked", &user.name, &json!({"token": token.id}))?;
    Ok((token, user))
}

/// Authenticates a presented token secret now: see [`authenticate_token_at`].
pub fn authenticate_token<R: Registry + ?Sized>(
    registry: &R,
    secret: &str,
) -> Result<Actor, AuthError> {
    authenticate_token_at(registry, secret, Timestamp::now(6))
}

/// Authenticates a presented token secret at instant `now`.
///
/// The secret's digest is looked up, then compared with the stored digest
/// in constant time; the token must not be revoked or expired (a token
/// whose expiry equals `now` has expired) and its user must exist and not
/// be disabled. Success appends `login` (actor `user:<name>`), any refusal
/// `login-failed` (actor `anonymous`, with the reason), to the audit log.
/// The actor returned reads in the real world; the caller sets the
/// request's exercise context.
pub fn authenticate_token_at<R: Registry + ?Sized>(
    registry: &R,
    secret: &str,
    now: Timestamp,
) -> Result<Actor, AuthError> {
    let (actor, token_id) = verify_token_at(registry, secret, now)?;
    audit_token_login(registry, &actor, &token_id)?;
    Ok(actor)
}

/// Checks a presented token secret like [`authenticate_token_at`], but
/// audits only refusals (`login-failed`); success returns the actor and the
/// token id, and the caller decides when to record the `login` (an HTTP
/// node records a token's use once in a while, not on every request, so
/// polling clients do not grow the audit log by one entry per request).
pub fn verify_token_at<R: Registry + ?Sized>(
    registry: &R,
    secret: &str,
    now: Timestamp,
) -> Result<(Actor, String), AuthError> {
    match check_token(registry, secret, now)? {
        Ok((token, user)) => {
            let actor = registry.actor(&user, None)?;
            Ok((actor, token.id))
        }
        Err((error, token, user)) => {
            registry.audit(
                ANONYMOUS,
                "login-failed",
                user.as_deref().unwrap_or("-"),
                &json!({"method": "token", "token": token, "reason": error.to_string()}),
            )?;
            Err(error)
        }
    }
}

/// The actor and token id of `secret` when it is a token that authenticates
/// now, found by reads alone; `None` when it does not. Nothing is written:
/// the caller runs [`verify_token_at`] for a `None`, which records the
/// refusal.
pub fn find_token_actor<R: Registry + ?Sized>(
    registry: &R,
    secret: &str,
    now: Timestamp,
) -> Result<Option<(Actor, String)>, AuthError> {
    match check_token(registry, secret, now)? {
        Ok((token, user)) => Ok(Some((registry.actor(&user, None)?, token.id))),
        Err(_) => Ok(None),
    }
}

/// Most tokens a [`TokenCache`] holds; it starts again empty past that.
const TOKEN_CACHE_ENTRIES: usize = 10_000;

/// The actors of tokens that authenticated, so that a token used again
/// is not looked up again: an entry holds while the registry's
/// [`Registry::generation`] is the one it was found at (any change to an
/// organisation, user or token, by any process, drops them all) and the
/// token has not expired. Keyed by the secret's digest.
#[derive(Debug, Default)]
pub struct TokenCache {
    entries: std::sync::Mutex<std::collections::HashMap<String, CachedToken>>,
}

#[derive(Debug)]
struct CachedToken {
    generation: i64,
    expires: Option<Timestamp>,
    actor: Actor,
    token_id: String,
}

impl TokenCache {
    /// An empty cache.
    pub fn new() -> Self {
        TokenCache::default()
    }

    /// [`find_token_actor`], answered from the cache when it can be.
    pub fn find_token_actor<R: Registry + ?Sized>(
        &self,
        registry: &R,
        secret: &str,
        now: Timestamp,
    ) -> Result<Option<(Actor, String)>, AuthError> {
        if !looks_like_token(secret) {
            return Ok(None);
        }
        // Read before the lookup: a change that lands in between leaves
        // the entry with the older number, so the next use looks again.
        let Some(generation) = registry.generation()? else {
            return find_token_actor(registry, secret, now);
        };
        let digest = hash_token(secret);
        {
            let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(hit) = entries.get(&digest)
                && hit.generation == generation
                && hit.expires.is_none_or(|at| now < at)
            {
                return Ok(Some((hit.actor.clone(), hit.token_id.clone())));
            }
        }
        let Ok((token, user)) = check_token(registry, secret, now)? else {
            return Ok(None);
        };
        let actor = registry.actor(&user, None)?;
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= TOKEN_CACHE_ENTRIES {
            entries.clear();
        }
        entries.insert(
            digest,
            CachedToken { generation, expires: token.expires, actor: actor.clone(), token_id: token.id.clone() },
        );
        Ok(Some((actor, token.id)))
    }
}

/// Appends the `login` entry of a successful token authentication.
pub fn audit_token_login<R: Registry + ?Sized>(
    registry: &R,
    actor: &Actor,
    token_id: &str,
) -> Result<(), AuthError> {
    registry.audit(
        &actor.audit_name(),
        "login",
        &actor.user.name,
        &json!({"method": "token", "token": token_id}),
    )?;
    Ok(())
}

type Refusal = (AuthError, Option<String>, Option<String>);

/// The token and user, or why not (with the token id and user name when known).
fn check_token<R: Registry + ?Sized>(
    registry: &R,
    secret: &str,
    now: Timestamp,
) -> Result<Result<(TokenRecord, UserRecord), Refusal>, AuthError> {
    if !looks_like_token(secret) {
        return Ok(Err((AuthError::UnknownToken, None, None)));
    }
    let digest = hash_token(secret);
    let Some(token) = registry.token_by_hash(&digest)? else {
        return Ok(Err((AuthError::UnknownToken, None, None)));
    };
    if !bool::from(token.secret_hash.as_bytes().ct_eq(digest.as_bytes())) {
        return Ok(Err((AuthError::UnknownToken, None, None)));
    }
    let user = registry
        .find_user(&token.user_id)?
        .filter(|u| u.id == token.user_id);
    let name = user.as_ref().map(|u| u.name.clone());
    let refuse = |e: AuthError| Ok(Err((e, Some(token.id.clone()), name.clone())));
    if token.revoked.is_some() {
        return refuse(AuthError::Revoked {
            id: token.id.clone(),
        });
    }
    if let Some(at) = token.expires
        && at <= now
    {
        return refuse(AuthError::Expired {
            id: token.id.clone(),
            at: at.to_string(),
        });
    }
    let Some(user) = user else {
        return refuse(AuthError::UnknownToken);
    };
    if user.disabled {
        return refuse(AuthError::Disabled {
            name: user.name.clone(),
        });
    }
    Ok(Ok((token, user)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{Fixture, fixture};

    fn last_entry(f: &Fixture) -> phalanx_store::AuditEntry {
        f.store
            .audit_entries(0, usize::MAX)
            .unwrap()
            .pop()
            .expect("an audit entry")
    }

    #[test]
    fn a_cached_token_stops_authenticating_when_another_process_revokes_it_or_disables_its_user_or_it_expires() {
        let f = fixture();
        let cache = TokenCache::new();
        let now = Timestamp::now(6);
        let (secret, token) = issue_token(&f.store, &f.user, None, "test").unwrap();
        let found = cache.find_token_actor(&f.store, &secret, now).unwrap().expect("a live token");
        assert_eq!((found.0.user.name.as_str(), found.1.as_str()), ("alice", token.id.as_str()));
        assert!(cache.find_token_actor(&f.store, &secret, now).unwrap().is_some(), "again");
        assert!(cache.find_token_actor(&f.store, "phx_not-a-token", now).unwrap().is_none());
        // Another process (a second handle on the same data directory, as
        // the CLI beside `serve`) revokes it.
        let other = phalanx_store::SqliteStore::open(f._dir.path()).unwrap();
        assert!(other.revoke_token(&token.id, now).unwrap());
        assert!(cache.find_token_actor(&f.store, &secret, now).unwrap().is_none(), "revoked");
        // A new token, then the user disabled elsewhere.
        let (secret, _) = issue_token(&f.store, &f.user, None, "test").unwrap();
        assert!(cache.find_token_actor(&f.store, &secret, now).unwrap().is_some());
        let mut disabled = f.user.clone();
        disabled.disabled = true;
        other.put_user(&disabled).unwrap();
        assert!(cache.find_token_actor(&f.store, &secret, now).unwrap().is_none(), "user disabled");
        other.put_user(&f.user).unwrap();
        // A token that expires: cached, then refused once its time is past
        // although nothing in the registry changed.
        let soon = Timestamp::from_unix_micros(now.unix_micros() + 1_000_000);
        let (secret, _) = issue_token(&f.store, &f.user, Some(soon), "test").unwrap();
        assert!(cache.find_token_actor(&f.store, &secret, now).unwrap().is_some());
        let later = Timestamp::from_unix_micros(now.unix_micros() + 2_000_000);
        assert!(cache.find_token_actor(&f.store, &secret, later).unwrap().is_none(), "expired");
    }

    #[test]
    fn the_registry_generation_moves_with_organisations_users_and_tokens_only() {
        let f = fixture();
        let at = |what: &str, before: i64| {
            let now = f.store.generation().unwrap().expect("sqlite keeps one");
            assert_ne!(now, before, "{what}");
            now
        };
        let g = f.store.generation().unwrap().unwrap();
        let (_, token) = issue_token(&f.store, &f.user, None, "test").unwrap();
        let g = at("a token issued", g);
        f.store.revoke_token(&token.id, Timestamp::now(6)).unwrap();
        let g = at("a token revoked", g);
        f.store.put_user(&f.user).unwrap();
        let g = at("a user written", g);
        let org = f.store.organisations().unwrap().remove(0);
        f.store.put_organisation(&org).unwrap();
        let g = at("an organisation written", g);
        f.store.audit("test", "note", "x", &json!({})).unwrap();
        phalanx_store::Store::set_setting(&f.store, "k", "v").unwrap();
        assert_eq!(f.store.generation().unwrap(), Some(g), "audit entries and settings are not the registry");
    }

    #[test]
    fn secrets_have_the_documented_shape_and_only_the_digest_is_kept() {
        let (secret, record) = new_token("user--x", None).unwrap();
        assert!(looks_like_token(&secret), "{secret}");
        assert_eq!(record.secret_hash, hash_token(&secret));
        assert!(!record.secret_hash.contains(&secret[4..]));
        assert!(record.id.starts_with("tok_") && record.id.len() == 20);
        let (other, _) = new_token("user--x", None).unwrap();
        assert_ne!(secret, other);
    }

    #[test]
    fn a_live_token_logs_in_and_is_audited() {
        let f = fixture();
        let (secret, token) = issue_token(&f.store, &f.user, None, "cli").unwrap();
        let created = last_entry(&f);
        assert_eq!(
            (created.action.as_str(), created.target.as_str()),
            ("token-created", "alice")
        );
        assert!(created.details.contains(&token.id) && !created.details.contains(&secret));
        let actor = authenticate_token(&f.store, &secret).unwrap();
        assert_eq!(actor.user.name, "alice");
        let e = last_entry(&f);
        assert_eq!(
            (e.actor.as_str(), e.action.as_str()),
            ("user:alice", "login")
        );
        assert!(e.details.contains(&token.id));
    }

    #[test]
    fn a_revoked_token_is_refused_and_the_failure_audited() {
        let f = fixture();
        let (secret, token) = issue_token(&f.store, &f.user, None, "cli").unwrap();
        let (revoked, user) = revoke_token(&f.store, &token.id, "user:admin").unwrap();
        assert_eq!(
            (revoked.id.as_str(), user.name.as_str()),
            (token.id.as_str(), "alice")
        );
        let e = last_entry(&f);
        assert_eq!(
            (e.actor.as_str(), e.action.as_str()),
            ("user:admin", "token-revoked")
        );
        let err = authenticate_token(&f.store, &secret).unwrap_err();
        assert!(matches!(err, AuthError::Revoked { .. }), "{err}");
        assert_eq!(err.public_message(), "authentication failed");
        let e = last_entry(&f);
        assert_eq!(
            (e.actor.as_str(), e.action.as_str(), e.target.as_str()),
            ("anonymous", "login-failed", "alice")
        );
        assert!(e.details.contains("revoked") && !e.details.contains(&secret));
        // Revoking twice, or an unknown id, is refused and writes nothing.
        let before = f.store.audit_entries(0, usize::MAX).unwrap().len();
        assert!(matches!(
            revoke_token(&f.store, &token.id, "cli"),
            Err(AuthError::NoSuchToken(_))
        ));
        assert!(matches!(
            revoke_token(&f.store, "tok_nope", "cli"),
            Err(AuthError::NoSuchToken(_))
        ));
        assert_eq!(f.store.audit_entries(0, usize::MAX).unwrap().len(), before);
    }

    #[test]
    fn an_expired_token_is_refused_from_its_expiry_on() {
        let f = fixture();
        let expires = Timestamp::parse("2030-01-01T00:00:00Z").unwrap();
        let (secret, _) = issue_token(&f.store, &f.user, Some(expires), "cli").unwrap();
        let before = Timestamp::parse("2029-12-31T23:59:59.999Z").unwrap();
        assert!(authenticate_token_at(&f.store, &secret, before).is_ok());
        for at in ["2030-01-01T00:00:00Z", "2031-06-01T00:00:00Z"] {
            let err = authenticate_token_at(&f.store, &secret, Timestamp::parse(at).unwrap())
                .unwrap_err();
            assert!(matches!(err, AuthError::Expired { .. }), "{err}");
        }
        // A token that expired yesterday is refused now.
        let (old, _) = issue_token(
            &f.store,
            &f.user,
            Some(Timestamp::parse("2020-01-01T00:00:00Z").unwrap()),
            "cli",
        )
        .unwrap();
        assert!(matches!(
            authenticate_token(&f.store, &old),
            Err(AuthError::Expired { .. })
        ));
    }

    #[test]
    fn unknown_malformed_and_disabled_are_refused() {
        let f = fixture();
        for bad in [
            "",
            "phx_",
            "nonsense",
            &format!("phx_{}", "0".repeat(64)),
            &format!("phx_{}", "A".repeat(64)),
        ] {
            let err = authenticate_token(&f.store, bad).unwrap_err();
            assert!(matches!(err, AuthError::UnknownToken), "{bad}: {err}");
        }
        let e = last_entry(&f);
        assert_eq!(
            (e.action.as_str(), e.target.as_str()),
            ("login-failed", "-")
        );
        let (secret, _) = issue_token(&f.store, &f.user, None, "cli").unwrap();
        let mut disabled = f.user.clone();
        disabled.disabled = true;
        f.store.put_user(&disabled).unwrap();
        assert!(matches!(
            authenticate_token(&f.store, &secret),
            Err(AuthError::Disabled { .. })
        ));
    }

    #[test]
    fn the_audit_chain_holds_after_logins() {
        let f = fixture();
        let (secret, _) = issue_token(&f.store, &f.user, None, "cli").unwrap();
        authenticate_token(&f.store, &secret).unwrap();
        let _ = authenticate_token(&f.store, "phx_bad");
        let entries = f.store.audit_entries(0, usize::MAX).unwrap();
        assert_eq!(phalanx_store::registry::verify_audit_chain(&entries), None);
    }
}
