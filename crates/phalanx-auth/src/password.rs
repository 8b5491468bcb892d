//! Passwords for the web UI: argon2id hashes stored as PHC strings, and
//! audited logins.

use crate::{ANONYMOUS, AuthError, audit_text};
use argon2::{Argon2, PasswordHasher, PasswordVerifier};
use phalanx_store::{Actor, Registry};
use serde_json::json;
use std::sync::OnceLock;

/// Hashes `password` with argon2id (version 19, the crate's default
/// parameters: 19 MiB, 2 passes, 1 lane, a random 16-byte salt) into a
/// PHC string (`$argon2id$v=19$m=19456,t=2,p=1$...`).
pub fn hash_password(password: &str) -> Result<String, AuthError> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| AuthError::Hashing(e.to_string()))
}

/// Whether `password` matches the PHC string `phc` (its own parameters are
/// used). A malformed PHC string matches nothing.
pub fn verify_password(phc: &str, password: &str) -> bool {
    Argon2::default()
        .verify_password(password.as_bytes(), phc)
        .is_ok()
}

/// A hash checked when the user is unknown or has no password, so that
/// such a failure costs the same argon2 work as a wrong password.
fn decoy_hash() -> &'static str {
    static DECOY: OnceLock<String> = OnceLock::new();
    DECOY.get_or_init(|| hash_password("phalanx decoy password").unwrap_or_default())
}

/// Authenticates `name` with `password` (web UI login).
///
/// The user must exist, have a password, the password must match, and the
/// account must not be disabled (checked after the password, so that the
/// state of an account is not told to someone without its password). Every
/// refusal is [`AuthError::BadPassword`] except a disabled account, which
/// is [`AuthError::Disabled`]. Success appends `login`, a refusal
/// `login-failed` (actor `anonymous`, target the name as given, with the
/// reason), to the audit log.
pub fn authenticate_password<R: Registry + ?Sized>(
    registry: &R,
    name: &str,
    password: &str,
) -> Result<Actor, AuthError> {
    let user = registry.users()?.into_iter().find(|u| u.name == name);
    let (ok, reason) = match &user {
        None => {
            verify_password(decoy_hash(), password);
            (false, "unknown user")
        }
        Some(u) => match &u.password_hash {
            None => {
                verify_password(decoy_hash(), password);
                (false, "no password set")
            }
            Some(phc) if !verify_password(phc, password) => (false, "wrong password"),
            Some(_) if u.disabled => (false, "user disabled"),
            Some(_) => (true, ""),
        },
    };
    match user {
        Some(user) if ok => {
            let actor = registry.actor(&user, None)?;
            registry.audit(
                &actor.audit_name(),
                "login",
                &user.name,
                &json!({"method": "password"}),
            )?;
            Ok(actor)
        }
        user => {
            registry.audit(
                ANONYMOUS,
                "login-failed",
                &audit_text(name, 64),
                &json!({"method": "password", "reason": reason}),
            )?;
            match user {
                Some(u) if reason == "user disabled" => Err(AuthError::Disabled { name: u.name }),
                _ => Err(AuthError::BadPassword),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::fixture;

    #[test]
    fn hashes_are_argon2id_phc_strings_and_verify() {
        let phc = hash_password("correct horse battery").unwrap();
        assert!(phc.starts_with("$argon2id$v=19$"), "{phc}");
        assert!(verify_password(&phc, "correct horse battery"));
        assert!(!verify_password(&phc, "correct horse batterY"));
        assert!(!verify_password("not a phc string", "x"));
        assert_ne!(
            phc,
            hash_password("correct horse battery").unwrap(),
            "salted"
        );
    }

    #[test]
    fn password_logins_are_audited_and_refusals_look_alike() {
        let f = fixture();
        let mut user = f.user.clone();
        user.password_hash = Some(hash_password("correct horse battery").unwrap());
        f.store.put_user(&user).unwrap();

        let actor = authenticate_password(&f.store, "alice", "correct horse battery").unwrap();
        assert_eq!(actor.user.name, "alice");
        let e = f.store.audit_entries(0, usize::MAX).unwrap().pop().unwrap();
        assert_eq!(
            (e.actor.as_str(), e.action.as_str(), e.target.as_str()),
            ("user:alice", "login", "alice")
        );

        let wrong = authenticate_password(&f.store, "alice", "wrong").unwrap_err();
        let unknown = authenticate_password(&f.store, "mallory\nx", "wrong").unwrap_err();
        assert!(matches!(wrong, AuthError::BadPassword));
        assert_eq!(wrong.to_string(), unknown.to_string());
        let entries = f.store.audit_entries(0, usize::MAX).unwrap();
        let failed: Vec<_> = entries
            .iter()
            .filter(|e| e.action == "login-failed")
            .collect();
        assert_eq!(failed.len(), 2);
        assert!(failed[0].details.contains("wrong password"));
        assert_eq!(failed[1].target, "mallory?x");
        assert!(failed[1].details.contains("unknown user"));

        user.disabled = true;
        f.store.put_user(&user).unwrap();
        assert!(matches!(
            authenticate_password(&f.store, "alice", "wrong"),
            Err(AuthError::BadPassword)
        ));
        assert!(matches!(
            authenticate_password(&f.store, "alice", "correct horse battery"),
            Err(AuthError::Disabled { .. })
        ));
    }

    #[test]
    fn a_user_without_password_cannot_log_in() {
        let f = fixture();
        assert!(matches!(
            authenticate_password(&f.store, "alice", ""),
            Err(AuthError::BadPassword)
        ));
    }
}
