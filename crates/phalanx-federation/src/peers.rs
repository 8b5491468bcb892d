//! Peer nodes: their configuration (URL, node key, the organisations they
//! serve, accreditation, ceiling, exercises) and their release scope.

use crate::error::FederationError;
use crate::keys::{key_id_of, parse_public_key};
use ed25519_dalek::VerifyingKey;
use phalanx_labels::{PeerScope, Policy, Rank};
use phalanx_store::{FederationStore, PeerRecord};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// A peer's configuration, as `phalanx peer add` gives it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct PeerConfig {
    /// Its base URL (`http://host:port` or `https://...`).
    pub url: String,
    /// Its node public key, base64.
    pub key: String,
    /// The organisations reachable through it (ids): what may go to it is
    /// decided for them, and it may bring objects only of them.
    pub serves: Vec<String>,
    /// The classified policies it is accredited for.
    pub accredited: BTreeSet<Policy>,
    /// The highest classification it may hold.
    pub ceiling: Rank,
    /// The exercises it takes part in.
    #[serde(default)]
    pub exercises: BTreeSet<String>,
}

/// A configured peer, ready for sync.
#[derive(Clone, Debug)]
pub struct Peer {
    /// Its name.
    pub name: String,
    /// Its configuration.
    pub config: PeerConfig,
    /// Its node key.
    pub node_key: VerifyingKey,
    /// The id of its node key.
    pub node_key_id: String,
    /// What may go to it (spec §5), its served organisations resolved.
    pub scope: PeerScope,
    /// Its sync progress when loaded.
    pub record: PeerRecord,
}

impl Peer {
    /// The origin recorded on versions received from it.
    pub fn origin(&self) -> String {
        format!("peer:{}", self.name)
    }

    /// Whether it serves organisation `org`.
    pub fn serves(&self, org: &str) -> bool {
        self.config.serves.iter().any(|s| s == org)
    }
}

/// Checks a peer name: 1 to 64 of `a-z A-Z 0-9 - _ .`.
pub fn check_name(name: &str) -> Result<(), FederationError> {
    if name.is_empty() || name.len() > 64 || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)) {
        return Err(FederationError::input("name", format!("'{name}': 1 to 64 letters, digits, '-', '_' or '.'")));
    }
    Ok(())
}

/// What an operator gives to add a peer.
#[derive(Clone, Debug)]
pub struct PeerInput<'a> {
    /// The name.
    pub name: &'a str,
    /// The base URL.
    pub url: &'a str,
    /// The node public key, base64.
    pub key: &'a str,
    /// Organisations it serves, by id or by name (registered here).
    pub serves: &'a [String],
    /// Accredited policies: `EU`, `NATO`, `NATIONAL:XXX`.
    pub accredited: &'a [String],
    /// Ceiling rank.
    pub ceiling: &'a str,
    /// Exercises.
    pub exercises: &'a [String],
}

/// Checks a peer's input against the registry and turns it into a config.
pub fn config_from_input(store: &dyn FederationStore, input: &PeerInput<'_>) -> Result<PeerConfig, FederationError> {
    check_name(input.name)?;
    let url = input.url.trim_end_matches('/');
    let rest = url.strip_prefix("http://").or_else(|| url.strip_prefix("https://"));
    if rest.is_none_or(|r| r.is_empty() || r.contains(char::is_whitespace)) {
        return Err(FederationError::input("url", format!("'{url}' is not an http:// or https:// URL")));
    }
    parse_public_key(input.key).map_err(|e| FederationError::input("key", e))?;
    if input.serves.is_empty() {
        return Err(FederationError::input("serves", "name at least one organisation the peer serves"));
    }
    let mut serves = Vec::new();
    for given in input.serves {
        let Some(record) = store.find_organisation(given.trim())? else {
            return Err(FederationError::input(
                "serves",
                format!("no organisation '{given}' is registered on this node (add it with `phalanx org add`)"),
            ));
        };
        if !serves.contains(&record.org.id) {
            serves.push(record.org.id);
        }
    }
    let mut accredited = BTreeSet::new();
    for given in input.accredited {
        let policy: Policy = given.trim().parse().map_err(|e: phalanx_labels::LabelError| FederationError::input("accredited", e.to_string()))?;
        accredited.insert(policy);
    }
    let ceiling: Rank =
        input.ceiling.trim().parse().map_err(|e: phalanx_labels::LabelError| FederationError::input("ceiling", e.to_string()))?;
    let mut exercises = BTreeSet::new();
    for given in input.exercises {
        let e = given.trim();
        if e.is_empty() || e.len() > 128 || e.contains(|c: char| c.is_whitespace() || c == ',' || c == '|') {
            return Err(FederationError::input("exercises", format!("'{e}' is not an exercise id")));
        }
        exercises.insert(e.to_owned());
    }
    Ok(PeerConfig { url: url.to_owned(), key: input.key.trim().to_owned(), serves, accredited, ceiling, exercises })
}

/// Adds (or reconfigures) a peer; its sync progress is kept.
pub fn add_peer(store: &dyn FederationStore, input: &PeerInput<'_>) -> Result<PeerConfig, FederationError> {
    let config = config_from_input(store, input)?;
    let text = serde_json::to_string(&config).map_err(|e| FederationError::input("config", e.to_string()))?;
    store.put_peer(input.name, &text)?;
    Ok(config)
}

/// Every configured peer, with its scope resolved from the registry. A
/// served organisation that is no longer registered is left out of the
/// scope (nothing is released for it) with a warning.
pub fn load_peers(store: &dyn FederationStore) -> Result<Vec<Peer>, FederationError> {
    let orgs = store.organisations()?;
    let mut out = Vec::new();
    for record in store.peers()? {
        let config: PeerConfig = serde_json::from_str(&record.config).map_err(|e| {
            FederationError::Store(phalanx_store::StoreError::Corrupt { what: format!("peer {}", record.name), message: e.to_string() })
        })?;
        let node_key = parse_public_key(&config.key).map_err(|e| FederationError::input("key", e))?;
        let mut serves = Vec::new();
        for id in &config.serves {
            match orgs.iter().find(|o| &o.org.id == id) {
                Some(o) => serves.push(o.org.clone()),
                None => tracing::warn!(peer = %record.name, org = %id, "served organisation is not registered: nothing is released for it"),
            }
        }
        let scope = PeerScope {
            serves,
            accredited: config.accredited.clone(),
            ceiling: config.ceiling,
            exercises: config.exercises.clone(),
        };
        out.push(Peer { name: record.name.clone(), node_key_id: key_id_of(&node_key), node_key, config, scope, record });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use phalanx_labels::Organisation;
    use phalanx_model::Timestamp;
    use phalanx_store::{OrganisationRecord, Registry, SqliteStore};

    const LTU: &str = "identity--0e6a3b1c-1111-4a8d-9a63-7a1a6bd0f201";
    const KEY: &str = "guZIsQ9mu/KIMKsPVM1ZrBT8O+H3gJm6JWJJF5dUFP0=";

    fn store() -> (tempfile::TempDir, SqliteStore) {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = SqliteStore::open(dir.path()).expect("open");
        let mut org = Organisation::new(LTU);
        org.country = Some("LTU".into());
        org.memberships.insert("EU".into());
        store
            .put_organisation(&OrganisationRecord { org, name: "NCSC-LT".into(), kind: "national-csirt".into(), created: Timestamp::now(3) })
            .expect("org");
        (dir, store)
    }

    fn input<'a>(serves: &'a [String], accredited: &'a [String], ceiling: &'a str, url: &'a str, key: &'a str) -> PeerInput<'a> {
        PeerInput { name: "ltu", url, key, serves, accredited, ceiling, exercises: &[] }
    }

    #[test]
    fn a_peer_is_added_with_its_scope_resolved_from_the_registry() {
        let (_dir, store) = store();
        let serves = vec!["ncsc-lt".to_owned()];
        let accredited = vec!["EU".to_owned(), "NATIONAL:LTU".to_owned()];
        let config = add_peer(&store, &input(&serves, &accredited, "SECRET", "http://127.0.0.1:8470/", KEY)).expect("add");
        assert_eq!(config.url, "http://127.0.0.1:8470");
        assert_eq!(config.serves, vec![LTU.to_owned()]);
        let peers = load_peers(&store).expect("load");
        assert_eq!(peers.len(), 1);
        assert_eq!(peers[0].scope.serves[0].country.as_deref(), Some("LTU"));
        assert_eq!(peers[0].scope.ceiling, Rank::Secret);
        assert!(peers[0].serves(LTU));
        assert_eq!(peers[0].origin(), "peer:ltu");
    }

    #[test]
    fn each_wrong_field_is_named() {
        let (_dir, store) = store();
        let serves = vec!["NCSC-LT".to_owned()];
        let unknown = vec!["nobody".to_owned()];
        let eu = vec!["EU".to_owned()];
        let bad_policy = vec!["MARS".to_owned()];
        let cases: Vec<(PeerInput<'_>, &str)> = vec![
            (input(&serves, &eu, "SECRET", "ftp://x", KEY), "url"),
            (input(&serves, &eu, "SECRET", "http://x", "AAAA"), "key"),
            (input(&unknown, &eu, "SECRET", "http://x", KEY), "serves"),
            (input(&[], &eu, "SECRET", "http://x", KEY), "serves"),
            (input(&serves, &bad_policy, "SECRET", "http://x", KEY), "accredited"),
            (input(&serves, &eu, "VERY_SECRET", "http://x", KEY), "ceiling"),
        ];
        for (given, field) in cases {
            match add_peer(&store, &given) {
                Err(FederationError::Input { field: f, .. }) => assert_eq!(f, field),
                other => panic!("{field}: expected an input error, got {other:?}"),
            }
        }
        assert!(check_name("bad name").is_err());
        assert!(store.peers().expect("peers").is_empty());
    }
}
