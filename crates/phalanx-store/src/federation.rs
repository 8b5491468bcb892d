//! What federation keeps in the store: peer nodes with their sync
//! progress, the originators' signatures of received versions, the public
//! keys learned from peers, and the release page (spec §5 applied inside
//! the query). The protocol itself lives in `phalanx-federation`.

use crate::query::{Cursor, Page};
use crate::{Store, StoreError};
use phalanx_labels::PeerScope;
use phalanx_model::Timestamp;

/// A peer node and its sync progress.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerRecord {
    /// Its name, unique on the node.
    pub name: String,
    /// Its configuration as JSON text (the federation crate owns the format).
    pub config: String,
    /// When it was added.
    pub added: Timestamp,
    /// The last local version (`seq`) pushed to it.
    pub push_cursor: i64,
    /// This node's position in its stream: the last of its versions (its
    /// `seq` there) received, by push or pull.
    pub pull_cursor: i64,
    /// The last deletion (its tombstone row) sent to it.
    pub delete_cursor: i64,
    /// Versions sent to it.
    pub sent: u64,
    /// Versions received from it and stored (or already held).
    pub received: u64,
    /// Versions received from it and refused.
    pub refused: u64,
    /// The last error talking to it, if the last exchange failed.
    pub last_error: Option<String>,
    /// When that error happened.
    pub last_error_at: Option<Timestamp>,
    /// When an exchange with it last succeeded.
    pub last_ok_at: Option<Timestamp>,
}

/// The originator's signature that came with a version received from a
/// peer, kept by the version's `seq`: what the node forwards with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VersionSignature {
    /// The version (its `seq` on this node).
    pub seq: i64,
    /// The signing organisation (`identity--...`).
    pub signer: String,
    /// The id of the key that signed.
    pub key_id: String,
    /// The Ed25519 signature, base64: over the version's RFC 8785 form,
    /// or, with `proof`, over the root of a tree of versions.
    pub sig: String,
    /// The version's inclusion proof when `sig` covers a tree root, as
    /// `phalanx_federation::tree::TreeProof` encodes it (opaque here).
    pub proof: Option<Vec<u8>>,
}

/// An originator's signature of a deletion (`version` is the deletion's
/// key), or of a version received before signatures were kept by `seq`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignatureRecord {
    /// The object id.
    pub id: String,
    /// The version's sort key (`modified`/`created`, 9 digits), `""` when unversioned.
    pub version: String,
    /// The signing organisation (`identity--...`).
    pub signer: String,
    /// The id of the key that signed.
    pub key_id: String,
    /// The Ed25519 signature, base64.
    pub sig: String,
    /// When the signature covers the root of a tree of versions rather
    /// than this version alone: the version's inclusion proof, as the
    /// JSON text of `phalanx_federation::tree::TreeProof`.
    pub tree: Option<String>,
}

/// A public key of an organisation or node, learned from a peer or local.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KnownKey {
    /// The organisation id (`identity--...`) or `node:<peer>`.
    pub owner: String,
    /// The key id.
    pub key_id: String,
    /// The Ed25519 public key, base64.
    pub public_key: String,
    /// Where it was learned: a peer name, or `local`.
    pub learned_from: String,
    /// When it was learned.
    pub added: Timestamp,
}

/// A deleted version, as federation sends its deletion.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tombstone {
    /// Its row: the position in the deletion stream.
    pub row: i64,
    /// The object id.
    pub id: String,
    /// The version's sort key, `""` when unversioned.
    pub version: String,
    /// The version's label (originator set).
    pub label: phalanx_labels::Label,
    /// Where the deleted version had come from.
    pub origin: String,
}

/// Counts and outcome of one exchange with a peer.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PeerExchange {
    /// Versions sent.
    pub sent: u64,
    /// Versions received and stored (or already held).
    pub received: u64,
    /// Versions refused.
    pub refused: u64,
    /// The error, when the exchange failed.
    pub error: Option<String>,
    /// This node's new position in the peer's stream, when it advanced.
    pub position: Option<i64>,
}

/// The store's federation tables.
pub trait FederationStore: Store {
    /// Adds a peer, or replaces its configuration (its progress is kept).
    fn put_peer(&self, name: &str, config: &str) -> Result<(), StoreError>;
    /// Every peer, by name.
    fn peers(&self) -> Result<Vec<PeerRecord>, StoreError>;
    /// Removes a peer; false when there is none of that name.
    fn remove_peer(&self, name: &str) -> Result<bool, StoreError>;
    /// Records the last local version pushed to `name`.
    fn set_push_cursor(&self, name: &str, seq: i64) -> Result<(), StoreError>;
    /// Records the last version pulled from `name` (its own `seq`).
    fn set_pull_cursor(&self, name: &str, seq: i64) -> Result<(), StoreError>;
    /// Adds an exchange's counts to `name`'s, records its outcome and
    /// moves this node's position in its stream forward (one transaction).
    fn record_exchange(&self, name: &str, exchange: &PeerExchange) -> Result<(), StoreError>;
    /// Versions after `after`, in `seq` order, whose label may go to
    /// `peer` (spec §5, decided per access class inside the query), every
    /// version including revoked ones.
    fn release_page(&self, peer: &PeerScope, after: Cursor, limit: usize) -> Result<Page, StoreError>;
    /// How many versions after `after` may go to `peer`, and the
    /// `date_added` of the first of them.
    fn release_backlog(&self, peer: &PeerScope, after: Cursor) -> Result<(u64, Option<Timestamp>), StoreError>;
    /// Stores signatures of deletions; the first signature of an (id,
    /// version) stays.
    fn put_signatures(&self, signatures: &[SignatureRecord]) -> Result<(), StoreError>;
    /// The stored signatures of these (id, version key) pairs: deletions,
    /// and versions received before signatures were kept by `seq`.
    fn signatures_of(&self, versions: &[(String, String)]) -> Result<Vec<SignatureRecord>, StoreError>;
    /// The signatures that came with these received versions (by `seq`;
    /// [`crate::WriteTxn::put_new_signatures`]); a version received
    /// before they were kept by `seq` answers from [`Self::signatures_of`]'s
    /// records, its proof as the text it was kept as. Versions without a
    /// signature are left out.
    fn signatures_by_seq(&self, seqs: &[i64]) -> Result<Vec<VersionSignature>, StoreError>;
    /// Records the last deletion sent to `name`.
    fn set_delete_cursor(&self, name: &str, row: i64) -> Result<(), StoreError>;
    /// Deletions after tombstone row `after` of versions whose label may
    /// go to `peer` (decided per access class inside the query).
    fn deletions_for(&self, peer: &PeerScope, after: i64, limit: usize) -> Result<Vec<Tombstone>, StoreError>;
    /// The originator of a stored version (no read rule: for the write
    /// rule of a deletion); `None` when it is not stored.
    fn version_originator(&self, id: &str, version: &str) -> Result<Option<String>, StoreError>;
    /// Every known public key.
    fn known_keys(&self) -> Result<Vec<KnownKey>, StoreError>;
    /// Records a public key; an (owner, key id) already known keeps its key.
    fn put_known_key(&self, key: &KnownKey) -> Result<(), StoreError>;
}
