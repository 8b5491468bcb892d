//! The collections of the default API root: `all` (every object the
//! caller may read), read-only views by object type, a write-only
//! `inbox`, and one collection per community (`community-eu`,
//! `community-nato`, ...: every membership of the registered
//! organisations when the node starts). Each has a UUIDv4 id kept in the
//! node's settings, so ids stay the same across restarts.
//!
//! Whatever the collection, the store applies the read rule for the
//! caller: a collection narrows what is selected, never widens it.
//!
//! A community collection selects the objects whose label is releasable to
//! the community (named in `releasable_to`, or an empty `releasable_to`
//! under a policy whose default community it is: `LabelFilter::audience`).
//! Members of the community may read it; members with write rights may
//! post to it, and objects posted there without a Phalanx label marking
//! are labelled UNCLASSIFIED releasable to the community, explicitly (a
//! label marking the object carries wins, and `?default_tlp=` still gives
//! the TLP of objects without one). Callers of other organisations neither
//! see it listed nor reach it (404).

use crate::auth::Caller;
use phalanx_model::kinds::SCO_TYPES;
use phalanx_store::{Store, StoreError};
use serde_json::{Value, json};
use std::collections::BTreeSet;

/// What a collection selects and who may use it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CollectionKind {
    /// Every object the caller may read; writers may post.
    All,
    /// Objects of these types the caller may read; read-only.
    Types(&'static [&'static str]),
    /// Writers post here; nothing is read from it (a drop box).
    Inbox,
    /// Objects releasable to this community (a membership token such as
    /// `EU`); members only.
    Community(String),
}

/// A collection definition.
#[derive(Clone, Debug)]
pub struct Collection {
    /// UUIDv4, stable across restarts.
    pub id: String,
    /// Unique alias within the API root.
    pub alias: String,
    /// Title.
    pub title: String,
    /// Description.
    pub description: String,
    /// What it selects.
    pub kind: CollectionKind,
}

/// The built-in collections: (alias, title, description, kind).
const BUILTIN: &[(&str, &str, &str, CollectionKind)] = &[
    ("all", "All objects", "Every object you may read; writers may add objects.", CollectionKind::All),
    ("indicators", "Indicators", "Indicators you may read (read-only view).", CollectionKind::Types(&["indicator"])),
    ("observables", "Observables", "Cyber-observable objects you may read (read-only view).", CollectionKind::Types(SCO_TYPES)),
    ("reports", "Reports", "Reports you may read (read-only view).", CollectionKind::Types(&["report"])),
    (
        "inbox",
        "Inbox",
        "Write-only drop box: objects posted here are stored like those posted to 'all'; read them there.",
        CollectionKind::Inbox,
    ),
];

/// Settings key of a collection's id.
fn setting_key(alias: &str) -> String {
    format!("taxii.collection.{alias}.id")
}

/// The id of the collection `alias`, created (and stored) the first time.
fn collection_id(store: &dyn Store, alias: &str) -> Result<String, StoreError> {
    let key = setting_key(alias);
    Ok(match store.setting(&key)? {
        Some(id) => id,
        None => {
            let id = uuid::Uuid::new_v4().to_string();
            store.set_setting(&key, &id)?;
            id
        }
    })
}

/// The alias of a community's collection: `community-` and the token in
/// lower case (`community-eu`, `community-baltic-certs`).
pub fn community_alias(community: &str) -> String {
    format!("community-{}", community.to_lowercase())
}

/// Loads the collections: the built-in ones, then one per community that a
/// registered organisation is a member of (sorted; a community whose alias
/// is taken is left out), creating (and storing) the ids of new ones.
pub fn load(store: &dyn Store) -> Result<Vec<Collection>, StoreError> {
    let mut out = Vec::new();
    for (alias, title, description, kind) in BUILTIN {
        let id = collection_id(store, alias)?;
        out.push(Collection {
            id,
            alias: (*alias).to_owned(),
            title: (*title).to_owned(),
            description: (*description).to_owned(),
            kind: kind.clone(),
        });
    }
    let communities: BTreeSet<String> =
        store.organisations()?.into_iter().flat_map(|o| o.org.memberships.into_iter()).collect();
    for community in communities {
        let alias = community_alias(&community);
        if out.iter().any(|c| c.alias == alias) {
            tracing::warn!(%community, %alias, "community collection left out: its alias is taken");
            continue;
        }
        let id = collection_id(store, &alias)?;
        out.push(Collection {
            id,
            alias,
            title: format!("Community {community}"),
            description: format!(
                "Objects releasable to the {community} community that you may read; members may add objects, \
                 which are labelled releasable to {community} unless they carry a label marking."
            ),
            kind: CollectionKind::Community(community),
        });
    }
    Ok(out)
}

impl Collection {
    /// Whether `caller`'s organisation is a member of the collection's
    /// community (`false` for other collections and anonymous callers).
    fn is_member(&self, caller: &Caller) -> bool {
        match &self.kind {
            CollectionKind::Community(community) => {
                caller.subject.organisation().is_some_and(|o| o.memberships.contains(community))
            }
            _ => false,
        }
    }

    /// Whether `caller` may read objects from it.
    pub fn can_read(&self, caller: &Caller) -> bool {
        // Everyone may read `all` and the views: what they see is what the
        // read rule gives them (public data for anonymous callers).
        match self.kind {
            CollectionKind::Inbox => false,
            CollectionKind::Community(_) => self.is_member(caller),
            CollectionKind::All | CollectionKind::Types(_) => true,
        }
    }

    /// Whether `caller` may add objects to it.
    pub fn can_write(&self, caller: &Caller) -> bool {
        match self.kind {
            CollectionKind::All | CollectionKind::Inbox => caller.can_write(),
            CollectionKind::Community(_) => self.is_member(caller) && caller.can_write(),
            CollectionKind::Types(_) => false,
        }
    }

    /// Whether the collection is hidden from `caller`: not listed, and
    /// answered 404 like a missing one (community collections of
    /// communities the caller's organisation is not a member of).
    pub fn hidden_from(&self, caller: &Caller) -> bool {
        matches!(self.kind, CollectionKind::Community(_)) && !self.is_member(caller)
    }

    /// The community it serves, for community collections.
    pub fn community(&self) -> Option<&str> {
        match &self.kind {
            CollectionKind::Community(c) => Some(c),
            _ => None,
        }
    }

    /// The types the collection is limited to (`None`: all).
    pub fn types(&self) -> Option<&'static [&'static str]> {
        match self.kind {
            CollectionKind::Types(t) => Some(t),
            _ => None,
        }
    }

    /// The TAXII collection resource for `caller`.
    pub fn resource(&self, caller: &Caller) -> Value {
        json!({
            "id": self.id,
            "title": self.title,
            "description": self.description,
            "alias": self.alias,
            "can_read": self.can_read(caller),
            "can_write": self.can_write(caller),
            "media_types": ["application/stix+json;version=2.1"],
        })
    }
}
