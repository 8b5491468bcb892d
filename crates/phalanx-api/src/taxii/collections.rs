//! The collections of the default API root: `all` (every object the
//! caller may read), read-only views by object type, and a write-only
//! `inbox`. Each has a UUIDv4 id kept in the node's settings, so ids stay
//! the same across restarts.
//!
//! Whatever the collection, the store applies the read rule for the
//! caller: a collection narrows what is selected, never widens it.

use crate::auth::Caller;
use phalanx_model::kinds::SCO_TYPES;
use phalanx_store::{Store, StoreError};
use serde_json::{Value, json};

/// What a collection selects and who may use it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CollectionKind {
    /// Every object the caller may read; writers may post.
    All,
    /// Objects of these types the caller may read; read-only.
    Types(&'static [&'static str]),
    /// Writers post here; nothing is read from it (a drop box).
    Inbox,
}

/// A collection definition.
#[derive(Clone, Debug)]
pub struct Collection {
    /// UUIDv4, stable across restarts.
    pub id: String,
    /// Unique alias within the API root.
    pub alias: &'static str,
    /// Title.
    pub title: &'static str,
    /// Description.
    pub description: &'static str,
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

/// Loads the collections, creating (and storing) the ids of new ones.
pub fn load(store: &dyn Store) -> Result<Vec<Collection>, StoreError> {
    let mut out = Vec::new();
    for (alias, title, description, kind) in BUILTIN {
        let key = setting_key(alias);
        let id = match store.setting(&key)? {
            Some(id) => id,
            None => {
                let id = uuid::Uuid::new_v4().to_string();
                store.set_setting(&key, &id)?;
                id
            }
        };
        out.push(Collection { id, alias, title, description, kind: *kind });
    }
    Ok(out)
}

impl Collection {
    /// Whether `caller` may read objects from it.
    pub fn can_read(&self, _caller: &Caller) -> bool {
        // Everyone may read `all` and the views: what they see is what the
        // read rule gives them (public data for anonymous callers).
        !matches!(self.kind, CollectionKind::Inbox)
    }

    /// Whether `caller` may add objects to it.
    pub fn can_write(&self, caller: &Caller) -> bool {
        match self.kind {
            CollectionKind::All | CollectionKind::Inbox => caller.can_write(),
            CollectionKind::Types(_) => false,
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
