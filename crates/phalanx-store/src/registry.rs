//! Organisations, users, API tokens and the hash-chained audit log: the
//! records that say who is reading and who did what.

use crate::StoreError;
use phalanx_labels::{Organisation, Policy, Rank, Reader, Subject};
use phalanx_model::Timestamp;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

/// What a user may do, from least to most.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// Reads what the read rule allows.
    Viewer,
    /// Reads and writes intelligence.
    Analyst,
    /// Works incidents and deployments.
    Responder,
    /// Coordinates assistance and deployments.
    Coordinator,
    /// Manages the users of an organisation.
    OrgAdmin,
    /// Manages the node. Bypasses no label rule.
    NodeAdmin,
}

impl Role {
    /// The role's name as written on the command line and in the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Analyst => "analyst",
            Role::Responder => "responder",
            Role::Coordinator => "coordinator",
            Role::OrgAdmin => "org-admin",
            Role::NodeAdmin => "node-admin",
        }
    }

    /// Whether the role may write objects.
    pub fn can_write(self) -> bool {
        self != Role::Viewer
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "viewer" => Role::Viewer,
            "analyst" => Role::Analyst,
            "responder" => Role::Responder,
            "coordinator" => Role::Coordinator,
            "org-admin" => Role::OrgAdmin,
            "node-admin" => Role::NodeAdmin,
            other => {
                return Err(format!(
                    "unknown role '{other}': expected viewer, analyst, responder, coordinator, org-admin or node-admin"
                ));
            }
        })
    }
}

/// A registered organisation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrganisationRecord {
    /// Id, country, memberships and parent, as the read rule sees them.
    pub org: Organisation,
    /// Display name, unique on the node (case-insensitive).
    pub name: String,
    /// Kind: national-authority, eu-body, nato-body, partner, isac, ...
    pub kind: String,
    /// When it was registered.
    pub created: Timestamp,
}

/// A user account.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRecord {
    /// `user--<uuid>`-style internal id.
    pub id: String,
    /// Login name, unique on the node.
    pub name: String,
    /// The organisation's `identity--` id.
    pub org_id: String,
    /// What the user may do.
    pub role: Role,
    /// Highest classification the user is cleared for.
    pub clearance: Rank,
    /// Policies the user is briefed for.
    pub briefed: BTreeSet<Policy>,
    /// Caveats the user holds.
    pub caveats: BTreeSet<String>,
    /// Argon2id PHC string, when a password is set.
    pub password_hash: Option<String>,
    /// When the account was created.
    pub created: Timestamp,
    /// Disabled accounts cannot log in or use tokens.
    pub disabled: bool,
}

/// An API token: only the SHA-256 digest of the secret is kept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenRecord {
    /// Public token id (shown in lists, used to revoke).
    pub id: String,
    /// The user it belongs to.
    pub user_id: String,
    /// Hex SHA-256 of the secret.
    pub secret_hash: String,
    /// When it was made.
    pub created: Timestamp,
    /// When it stops working, if ever.
    pub expires: Option<Timestamp>,
    /// When it was revoked, if it was.
    pub revoked: Option<Timestamp>,
}

/// One entry of the audit log. `hash` = SHA-256 over the previous entry's
/// hash and this entry's fields; the first entry chains from 64 zeros.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Position in the log, from 1, without gaps.
    pub seq: i64,
    /// When it happened.
    pub at: String,
    /// Who did it: `user:<name>`, `peer:<name>`, `cli`, `anonymous`.
    pub actor: String,
    /// What: `login`, `login-failed`, `token-created`, `write`, `release`, ...
    pub action: String,
    /// What it was done to (an object id, a user name, ...).
    pub target: String,
    /// Details as JSON text.
    pub details: String,
    /// The previous entry's hash.
    pub prev_hash: String,
    /// This entry's hash.
    pub hash: String,
}

impl AuditEntry {
    /// The hash this entry must have, given its fields and `prev_hash`.
    pub fn compute_hash(&self) -> String {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        for part in [
            self.prev_hash.as_str(),
            &self.seq.to_string(),
            &self.at,
            &self.actor,
            &self.action,
            &self.target,
            &self.details,
        ] {
            h.update((part.len() as u64).to_be_bytes());
            h.update(part.as_bytes());
        }
        hex(&h.finalize())
    }
}

/// Lowercase hex of bytes (a token's digest on every request: no
/// `format!` per byte).
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    s
}

/// The hash the first audit entry chains from.
pub const AUDIT_GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Where the audit chain first breaks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditBreak {
    /// The seq of the first entry that does not verify.
    pub seq: i64,
    /// Why.
    pub reason: String,
}

/// Checks a whole audit log in order; `None` when every link holds.
pub fn verify_audit_chain(entries: &[AuditEntry]) -> Option<AuditBreak> {
    let mut prev = AUDIT_GENESIS.to_owned();
    let mut expected_seq = 1;
    for e in entries {
        if e.seq != expected_seq {
            return Some(AuditBreak {
                seq: e.seq,
                reason: format!("entry {expected_seq} is missing or out of order (found {})", e.seq),
            });
        }
        if e.prev_hash != prev {
            return Some(AuditBreak { seq: e.seq, reason: "prev_hash does not match the previous entry's hash".into() });
        }
        if e.compute_hash() != e.hash {
            return Some(AuditBreak { seq: e.seq, reason: "the entry's content does not match its hash".into() });
        }
        prev = e.hash.clone();
        expected_seq += 1;
    }
    None
}

/// A user with its organisation, ready to act.
#[derive(Clone, Debug)]
pub struct Actor {
    /// The account.
    pub user: UserRecord,
    /// The reader the read rule sees.
    pub subject: Subject,
}

impl Actor {
    /// The organisation id the user acts for.
    pub fn org_id(&self) -> &str {
        &self.user.org_id
    }
    /// The origin recorded on what the user writes.
    pub fn origin(&self) -> String {
        format!("local:{}", self.user.name)
    }
    /// The audit actor name.
    pub fn audit_name(&self) -> String {
        format!("user:{}", self.user.name)
    }
}

/// The organisations, users, tokens and audit log of a node.
pub trait Registry: Send + Sync {
    /// Adds or replaces an organisation.
    fn put_organisation(&self, org: &OrganisationRecord) -> Result<(), StoreError>;
    /// Every organisation, by name.
    fn organisations(&self) -> Result<Vec<OrganisationRecord>, StoreError>;
    /// Adds or replaces a user.
    fn put_user(&self, user: &UserRecord) -> Result<(), StoreError>;
    /// Every user, by name.
    fn users(&self) -> Result<Vec<UserRecord>, StoreError>;
    /// Adds a token.
    fn put_token(&self, token: &TokenRecord) -> Result<(), StoreError>;
    /// The token whose secret hashes to `secret_hash`.
    fn token_by_hash(&self, secret_hash: &str) -> Result<Option<TokenRecord>, StoreError>;
    /// A user's tokens.
    fn tokens_of(&self, user_id: &str) -> Result<Vec<TokenRecord>, StoreError>;
    /// Marks a token revoked; false when there is no such live token.
    fn revoke_token(&self, token_id: &str, at: Timestamp) -> Result<bool, StoreError>;
    /// Appends an entry to the audit log, chained to the last one.
    fn audit(&self, actor: &str, action: &str, target: &str, details: &serde_json::Value) -> Result<AuditEntry, StoreError>;
    /// Audit entries with `seq` greater than `after`, in order.
    fn audit_entries(&self, after: i64, limit: usize) -> Result<Vec<AuditEntry>, StoreError>;
    /// A number that changes whenever an organisation, user or token is
    /// added, changed or removed, by this process or another; `None` when
    /// the backend keeps none (then nothing derived from them may be
    /// cached).
    fn generation(&self) -> Result<Option<i64>, StoreError> {
        Ok(None)
    }

    /// An organisation by id or by name (case-insensitive).
    fn find_organisation(&self, id_or_name: &str) -> Result<Option<OrganisationRecord>, StoreError> {
        Ok(self
            .organisations()?
            .into_iter()
            .find(|o| o.org.id == id_or_name || o.name.eq_ignore_ascii_case(id_or_name)))
    }

    /// A user by name or id.
    fn find_user(&self, name_or_id: &str) -> Result<Option<UserRecord>, StoreError> {
        Ok(self.users()?.into_iter().find(|u| u.name == name_or_id || u.id == name_or_id))
    }

    /// The actor for a user: its reader built from its organisation and
    /// the organisation's parent. `context` is the exercise, if any.
    fn actor(&self, user: &UserRecord, context: Option<String>) -> Result<Actor, StoreError> {
        let orgs = self.organisations()?;
        let org = orgs.iter().find(|o| o.org.id == user.org_id).ok_or_else(|| StoreError::Corrupt {
            what: format!("user {}", user.name),
            message: format!("organisation {} is not registered", user.org_id),
        })?;
        let parent_org = org
            .org
            .parent
            .as_ref()
            .and_then(|p| orgs.iter().find(|o| &o.org.id == p))
            .map(|o| o.org.clone());
        Ok(actor_of(user, org.org.clone(), parent_org, context))
    }
}

/// The actor of `user`, a member of `org` (whose parent is `parent_org`).
pub(crate) fn actor_of(user: &UserRecord, org: Organisation, parent_org: Option<Organisation>, context: Option<String>) -> Actor {
    let reader = Reader {
        org,
        parent_org,
        clearance: user.clearance,
        briefed: user.briefed.clone(),
        caveats: user.caveats.clone(),
        context,
    };
    Actor { user: user.clone(), subject: Subject::User(reader) }
}

#[cfg(test)]
mod hex_tests {
    #[test]
    fn hex_is_lowercase_two_digits_a_byte() {
        assert_eq!(super::hex(&[0x00, 0x0f, 0xa0, 0xff, 0x3c]), "000fa0ff3c");
        assert_eq!(super::hex(&[]), "");
    }
}
