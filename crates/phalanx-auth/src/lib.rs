/*!
Authentication and identity records for Phalanx, shared by the command line
and the HTTP server so that both decide and audit the same way.

* [`token`]: API tokens. A secret (`phx_` + 64 hex digits, 256 random bits)
  is shown once; the registry keeps only its SHA-256 digest, an expiry and a
  revocation time. [`authenticate_token`] checks a presented secret
  (constant-time comparison of the digests, expiry, revocation, disabled
  user) and appends `login` or `login-failed` to the audit log;
  [`issue_token`] and [`revoke_token`] audit `token-created` and
  `token-revoked`.
* [`password`]: argon2id password hashes (PHC strings) and
  [`authenticate_password`], audited like tokens. An unknown user costs the
  same argon2 work as a wrong password, and every credential failure gives
  the caller the same [`AuthError::public_message`].
* [`identity`]: the checks on what an administrator types for an
  organisation or a user (country, memberships, kind, clearance, briefings,
  caveats, role, names, password), each error naming its field; the STIX
  `identity` object that stands for an organisation and the property
  extension that carries its country, memberships, parent and kind
  ([`ORGANISATION_EXTENSION_ID`]); and [`register_organisation`], which
  stores both the STIX object and the registry record under one id.
* [`authz`]: who may manage organisations, users and tokens. Roles grant
  management only; no role bypasses the read rule.
* [`audit`]: [`audit_reads`] records each read of an object ranked
  RESTRICTED or above; [`ChainVerifier`] and [`verify_log`] check the
  hash-chained audit log page by page.

# Architecture notes: what every access path must do

The read rule itself is applied by the store, inside its queries. Two
duties stay with each access path, and the HTTP layer (REST, TAXII, live
streams, the web UI) must do them exactly as the CLI does:

1. **Authenticate through this crate.** Bearer tokens go through
   [`authenticate_token`], web UI logins through [`authenticate_password`];
   both write the `login` / `login-failed` audit entries. A failure answers
   401 with [`AuthError::public_message`] only, never the specific reason
   (which is in the audit log). The [`Actor`](phalanx_store::Actor) returned
   is the only source of the request's
   [`Subject`](phalanx_labels::Subject); set its exercise context from the
   request, never from the token.
2. **Audit classified reads.** After the store returns what a request may
   read and before the response is sent, pass every returned object to
   [`audit_reads`] (one entry per object ranked RESTRICTED or above: actor,
   object id, label, the path it went through), and fail the request if the
   audit cannot be written. This covers single-object GETs, TAXII object
   and manifest pages, searches, exports and stream deliveries alike; an
   object that is merely counted is not read. The CLI does this in
   `phalanx get` and `phalanx export`.
*/

pub mod audit;
pub mod authz;
pub mod identity;
pub mod password;
pub mod token;

pub use audit::{ChainVerifier, READ_AUDIT_MIN_RANK, audit_reads, is_audited_read, verify_log};
pub use identity::{InputError, ORGANISATION_EXTENSION_ID, register_organisation};
pub use password::{authenticate_password, hash_password, verify_password};
pub use token::{
    TokenCache, audit_token_login, authenticate_token, authenticate_token_at, find_token_actor, hash_token, issue_token, new_token,
    revoke_token, verify_token_at,
};

use phalanx_store::StoreError;

/// Why authentication or a token operation failed.
///
/// The `Display` text is for logs and the operator's terminal. A network
/// client gets [`AuthError::public_message`] instead, so that it cannot
/// tell an unknown token from a revoked one, or an unknown user from a
/// wrong password.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// No token has this secret (or the text is not a token at all).
    #[error("unknown token")]
    UnknownToken,
    /// The token was revoked.
    #[error("token {id} is revoked")]
    Revoked {
        /// The token id.
        id: String,
    },
    /// The token's expiry has passed.
    #[error("token {id} expired at {at}")]
    Expired {
        /// The token id.
        id: String,
        /// When it expired.
        at: String,
    },
    /// The user's account is disabled.
    #[error("user '{name}' is disabled")]
    Disabled {
        /// The user's name.
        name: String,
    },
    /// Unknown user, no password set, or a wrong password.
    #[error("wrong user name or password")]
    BadPassword,
    /// Revoking: no token with this id, or it is already revoked.
    #[error("no live token '{0}' (see `phalanx user list`)")]
    NoSuchToken(String),
    /// The password could not be hashed.
    #[error("password hashing failed: {0}")]
    Hashing(String),
    /// The system gave no randomness for a secret.
    #[error("no randomness for a token secret: {0}")]
    Randomness(String),
    /// The registry failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl AuthError {
    /// Whether this is a refusal of presented credentials (answer 401)
    /// rather than a failure of the node (answer 500).
    pub fn is_credential_failure(&self) -> bool {
        matches!(
            self,
            AuthError::UnknownToken
                | AuthError::Revoked { .. }
                | AuthError::Expired { .. }
                | AuthError::Disabled { .. }
                | AuthError::BadPassword
        )
    }

    /// The text a network client may see: the same for every credential
    /// failure, so that it reveals nothing about which check failed.
    pub fn public_message(&self) -> &'static str {
        if self.is_credential_failure() {
            "authentication failed"
        } else {
            "internal error"
        }
    }
}

/// Audit actor name of an unauthenticated party.
pub const ANONYMOUS: &str = "anonymous";

/// Keeps audit text from untrusted input short and on one line: control
/// characters become `?`, and it is cut to `max` characters.
pub(crate) fn audit_text(s: &str, max: usize) -> String {
    s.chars()
        .take(max)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

#[cfg(test)]
pub(crate) mod test_support {
    use phalanx_labels::{Organisation, Rank};
    use phalanx_model::Timestamp;
    use phalanx_store::{Actor, OrganisationRecord, Registry, Role, SqliteStore, UserRecord};
    use std::collections::BTreeSet;

    /// A store with one organisation ("Test org") and one analyst ("alice").
    pub struct Fixture {
        pub _dir: tempfile::TempDir,
        pub store: SqliteStore,
        pub org_id: String,
        pub user: UserRecord,
        pub actor: Actor,
    }

    pub fn fixture() -> Fixture {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = SqliteStore::open(dir.path()).expect("open store");
        let org_id = "identity--6d1bb8a3-4ad4-4a8d-9a63-7a1a6bd0f2ad".to_owned();
        let mut org = Organisation::new(org_id.clone());
        org.country = Some("LTU".into());
        store
            .put_organisation(&OrganisationRecord {
                org,
                name: "Test org".into(),
                kind: "other".into(),
                created: Timestamp::now(3),
            })
            .expect("organisation");
        let user = UserRecord {
            id: "user--0b4c8e3e-4f5a-4d7e-9a8b-1c2d3e4f5a6b".into(),
            name: "alice".into(),
            org_id: org_id.clone(),
            role: Role::Analyst,
            clearance: Rank::Unclassified,
            briefed: BTreeSet::new(),
            caveats: BTreeSet::new(),
            password_hash: None,
            created: Timestamp::now(3),
            disabled: false,
        };
        store.put_user(&user).expect("user");
        let actor = store.actor(&user, None).expect("actor");
        Fixture {
            _dir: dir,
            store,
            org_id,
            user,
            actor,
        }
    }
}
