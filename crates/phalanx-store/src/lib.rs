//! The Phalanx object store.
//!
//! Every version of every STIX object is kept with its security label, its
//! origin and the `date_added` the node gave it. The [`Store`] trait is the
//! one interface the rest of Phalanx uses; [`SqliteStore`] is the embedded
//! backend (a database and an append-only body file in the data
//! directory, zero set-up) and PostgreSQL
//! will be another. [`store_test_suite!`] runs the same tests on each.
//!
//! Architecture invariants:
//! - only this crate speaks SQL;
//! - every read takes the reader ([`Subject`]) and applies the read rule
//!   *inside the query*: the store resolves which access classes (distinct
//!   label + originator pairs) the reader may read with
//!   [`phalanx_labels::can_read`] and selects only rows of those classes,
//!   so pages, counts and search results are already filtered;
//! - `date_added` strictly increases within a node.

#[cfg(test)]
#[macro_use]
mod test_suite;

mod error;
pub mod federation;
pub mod ingest;
pub mod pipeline;
mod bodies;
mod correlation;
mod early_sync;
mod query;
pub mod registry;
mod sqlite;
mod sqlite_delete;
mod sqlite_exclusive;
mod sqlite_registry;
mod sqlite_federation;


pub use correlation::{LinkReason, Related, RelatedLink, TooCommon};
pub use error::StoreError;
pub use federation::{FederationStore, KnownKey, PeerExchange, PeerRecord, SignatureRecord, Tombstone, VersionSignature};
pub use phalanx_labels::{Label, Subject};
pub use query::{Cursor, JsonPage, JsonPageObject, LabelFilter, Order, Page, Query, VersionFilter};
pub use registry::{Actor, AuditEntry, OrganisationRecord, Registry, Role, TokenRecord, UserRecord};
pub use sqlite::SqliteStore;

use phalanx_model::{StixObject, Timestamp};

/// One stored version of an object, as a reader sees it.
#[derive(Clone, Debug)]
pub struct StoredObject {
    /// Internal sequence number; increases with `date_added`.
    pub seq: i64,
    /// The object's STIX id.
    pub id: String,
    /// The object's type.
    pub object_type: String,
    /// `modified` (or `created`) as given; `None` for unversioned objects.
    pub version: Option<Timestamp>,
    /// When this node stored this version.
    pub date_added: Timestamp,
    /// The object's security label.
    pub label: Label,
    /// Where it came from: `local:<user>` or `peer:<name>`.
    pub origin: String,
    /// Whether this version is revoked.
    pub revoked: bool,
    /// The object's JSON text.
    pub json: String,
}

/// A version to store.
#[derive(Clone, Copy, Debug)]
pub struct NewVersion<'a> {
    /// The validated object.
    pub object: &'a StixObject,
    /// Its JSON text as it will be served.
    pub json: &'a str,
    /// Its label, originator set.
    pub label: &'a Label,
    /// Where it came from.
    pub origin: &'a str,
}

/// What storing one version did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PutOutcome {
    /// A new version was stored.
    Stored {
        /// The `date_added` it got.
        date_added: Timestamp,
    },
    /// The same (id, version) was already stored with the same content.
    Unchanged,
}

/// What the store holds about an object's versions, for the write rules.
#[derive(Clone, Debug)]
pub struct ExistingVersion {
    /// The version's sort key (`modified`/`created`, 9 digits), or `""`.
    pub version_key: String,
    /// Its label (originator set).
    pub label: Label,
    /// Whether it is revoked.
    pub revoked: bool,
    /// Its JSON text.
    pub json: String,
}

/// Counts for `phalanx stats`, under the read rule.
#[derive(Clone, Debug, Default)]
pub struct Stats {
    /// Object versions per type, sorted by type.
    pub versions_by_type: Vec<(String, u64)>,
    /// Distinct objects (latest readable versions).
    pub objects: u64,
    /// All readable versions.
    pub versions: u64,
    /// Distinct labels (access classes) stored in all.
    pub access_classes: u64,
    /// Newest `date_added`, if any.
    pub last_added: Option<Timestamp>,
}

/// A write transaction: all of its puts become visible together on
/// [`WriteTxn::commit`], or none of them if it is dropped.
pub trait WriteTxn {
    /// Every stored version of `id`, newest first (no read rule: the write
    /// rules need to see what they protect).
    fn versions_of(&mut self, id: &str) -> Result<Vec<ExistingVersion>, StoreError>;
    /// The label of the newest version of `id` (no read rule), as
    /// `versions_of` gives it first; a backend may answer without reading
    /// the versions' bodies.
    fn latest_label(&mut self, id: &str) -> Result<Option<Label>, StoreError> {
        Ok(self.versions_of(id)?.into_iter().next().map(|v| v.label))
    }
    /// Stores one version. An (id, version) already stored with other
    /// content is a [`StoreError::Conflict`].
    fn put(&mut self, version: NewVersion<'_>) -> Result<PutOutcome, StoreError>;
    /// Appends an audit entry that commits or rolls back with the rest.
    fn audit(&mut self, actor: &str, action: &str, target: &str, details: &serde_json::Value)
    -> Result<AuditEntry, StoreError>;
    /// Stores the signatures of versions this transaction stored as new
    /// (received from a peer), by their `seq`: they commit with the
    /// versions. A new version has no signature yet, so none is looked for.
    fn put_new_signatures(&mut self, signatures: Vec<VersionSignature>) -> Result<(), StoreError>;
    /// Adds an exchange to a peer's counters, and moves this node's
    /// position in its stream, with the rest of the transaction.
    fn record_exchange(&mut self, peer: &str, exchange: PeerExchange) -> Result<(), StoreError>;
    /// A hint that about `versions` versions follow: a backend may size
    /// its tables of this transaction's versions once, instead of growing
    /// them as it goes (each growth rehashes every entry while the writer
    /// waits).
    fn reserve(&mut self, versions: usize) {
        let _ = versions;
    }
    /// Makes every put durable and visible.
    fn commit(self: Box<Self>) -> Result<(), StoreError>;
}

/// The object store.
pub trait Store: Registry + Send + Sync {
    /// Starts the (single) write transaction; waits for any other writer.
    fn begin(&self) -> Result<Box<dyn WriteTxn + '_>, StoreError>;
    /// Starts the write transaction of a large load by a process that
    /// expects to have the store to itself (`phalanx import --exclusive`):
    /// a backend may then keep other readers out until it ends, to write
    /// faster, when nobody else is using the store; otherwise, and by
    /// default, it is [`Store::begin`].
    fn begin_exclusive(&self) -> Result<Box<dyn WriteTxn + '_>, StoreError> {
        self.begin()
    }
    /// Versions of one object that `reader` may read, filtered by
    /// `versions`, oldest first. Empty when the object does not exist or
    /// the reader may not read it.
    fn get(&self, reader: &Subject, id: &str, versions: &VersionFilter) -> Result<Vec<StoredObject>, StoreError>;
    /// A page of objects that `reader` may read.
    fn query(&self, reader: &Subject, query: &Query) -> Result<Page, StoreError>;
    /// [`Store::query`], given up when it runs longer than `budget`:
    /// `None` then (nothing of it is returned), or when the backend cannot
    /// bound its work. Lets a server answer a short read on the thread
    /// that took the request and hand only long ones to another thread.
    fn query_within(&self, reader: &Subject, query: &Query, budget: std::time::Duration) -> Result<Option<Page>, StoreError> {
        let _ = (reader, query, budget);
        Ok(None)
    }
    /// [`Store::query`] as JSON texts only ([`JsonPage`]); with a
    /// `budget`, given up as [`Store::query_within`] is (`None`).
    fn query_json(&self, reader: &Subject, query: &Query, budget: Option<std::time::Duration>) -> Result<Option<JsonPage>, StoreError> {
        match budget {
            Some(budget) => Ok(self.query_within(reader, query, budget)?.map(JsonPage::from_page)),
            None => Ok(Some(JsonPage::from_page(self.query(reader, query)?))),
        }
    }
    /// How many objects `reader` may read that match `query` (its limit
    /// and cursor ignored).
    fn count(&self, reader: &Subject, query: &Query) -> Result<u64, StoreError>;
    /// Counts of what `reader` may read.
    fn stats(&self, reader: &Subject) -> Result<Stats, StoreError>;
    /// Every marking-definition stored (markings are readable metadata:
    /// their content is needed to compute labels).
    fn marking_definitions(&self) -> Result<Vec<serde_json::Value>, StoreError>;
    /// A value from the node's key-value settings.
    fn setting(&self, key: &str) -> Result<Option<String>, StoreError>;
    /// Sets a value in the node's key-value settings.
    fn set_setting(&self, key: &str, value: &str) -> Result<(), StoreError>;
    /// Deletes the versions of `id` that `versions` selects among *all*
    /// its stored versions (no read rule: the caller decides what may be
    /// deleted first), with their search entries; the newest remaining
    /// version becomes the latest; a tombstone per version and an audit
    /// entry by `actor` commit with the deletion. Returns how many
    /// versions were deleted.
    fn delete_versions_by(&self, actor: &str, id: &str, versions: &VersionFilter) -> Result<u64, StoreError>;
    /// A number that changes whenever a version is deleted (0 while none
    /// ever was): a reader that keeps what it read, and reads only what
    /// was added since, reads everything again when it moved.
    fn deletion_mark(&self) -> Result<i64, StoreError>;
    /// The objects `reader` may read that correlate with object `id`
    /// (same value, CIDR containment, parent domain or subdomain), each
    /// value followed only while at most `too_common` readable objects
    /// share it; `None` when `reader` may not read `id` or it does not
    /// exist. Computed inside the query under the read rule.
    fn related(&self, reader: &Subject, id: &str, too_common: usize) -> Result<Option<Related>, StoreError>;
    /// [`Store::delete_versions_by`] with the node itself as the actor.
    fn delete_versions(&self, id: &str, versions: &VersionFilter) -> Result<u64, StoreError> {
        self.delete_versions_by("node", id, versions)
    }
}
