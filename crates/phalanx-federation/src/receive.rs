//! Receiving a batch from a peer: the stream position, the signers' keys,
//! each object's signature and originator, then the ingest write rules in
//! one transaction. Refusals are counted per peer and audited.

use crate::keys::{decode_signature, is_usable_key, key_id_of, parse_public_key, verify, verify_many};
use crate::peers::Peer;
use crate::protocol::{Batch, MAX_REASONS, PushReply, Refused, SignedDeletion, deletion_bytes, deletion_key};
use crate::tree::{stored_root, tree_message};
use phalanx_labels::{LabelDefaults, Rank, Subject};
use phalanx_model::{StixObject, Timestamp};
use phalanx_store::ingest::{Ingest, IngestOptions};
use phalanx_store::{
    Actor, FederationStore, KnownKey, PeerExchange, Role, SignatureRecord, StoreError, UserRecord, VersionFilter, VersionSignature,
    WriteTxn,
};
use std::collections::{BTreeSet, HashMap, HashSet};

/// Most objects in one batch (each batch is one write transaction on the
/// receiver). A commit rewrites most leaves of the random-key indexes of a
/// large store, so fewer, larger batches catch up faster: 1M objects,
/// 12.1k objects/s with 5,000 per batch, 16.2k with 20,000. Senders also
/// cut a batch by bytes (`engine::MAX_BATCH_BYTES`).
pub const MAX_BATCH_OBJECTS: usize = 20_000;
/// Largest object accepted, in bytes of its canonical form.
pub const MAX_OBJECT_BYTES: usize = 1 << 20;

/// Why a batch was not taken.
#[derive(Debug, thiserror::Error)]
pub enum ReceiveError {
    /// The batch starts after what this node has: the sender resends from `have`.
    #[error("the batch starts at {from}, after this node's position {have} in the peer's stream")]
    Gap {
        /// Where the batch starts.
        from: i64,
        /// Where this node is.
        have: i64,
    },
    /// The batch is malformed as a whole.
    #[error("batch: {0}")]
    Malformed(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// This node's position in `peer`'s stream.
pub fn position(store: &dyn FederationStore, peer: &str) -> Result<i64, StoreError> {
    Ok(store.peers()?.into_iter().find(|p| p.name == peer).map(|p| p.pull_cursor).unwrap_or(0))
}

/// The actor a peer's batches are written as: `peer--NAME`, an analyst
/// of this node's organisation with no clearance of its own (the link's
/// scope, not the actor, bounds what a peer may write).
pub fn peer_actor(peer: &Peer, node_org: &str) -> Actor {
    Actor {
        user: UserRecord {
            id: format!("peer--{}", peer.name),
            name: peer.origin(),
            org_id: node_org.to_owned(),
            role: Role::Analyst,
            clearance: Rank::Unclassified,
            briefed: BTreeSet::new(),
            caveats: BTreeSet::new(),
            password_hash: None,
            created: Timestamp::now(3),
            disabled: false,
        },
        subject: Subject::Anonymous,
    }
}

/// A batch whose objects were checked ([`check`]) and wait to be stored
/// ([`store_checked`]); or, from [`begin_check`], a batch whose objects
/// are still to come (in [`CheckedPart`]s).
pub struct CheckedBatch {
    from: i64,
    to: i64,
    /// Its objects checked so far.
    objects: CheckedPart,
    deletions: Vec<SignedDeletion>,
    /// The keys this node knows (learned ones included).
    known: HashMap<(String, String), ed25519_dalek::VerifyingKey>,
}

/// Takes a batch from `peer` (the caller holds the peer's receive lock and
/// authenticated the peer's node). Objects at or before this node's
/// position are skipped; each other object must be signed by an
/// organisation the peer serves, with a key this node knows (learned from
/// a peer that serves its owner), over exactly the object received.
pub fn receive(store: &dyn FederationStore, peer: &Peer, node_org: &str, batch: Batch) -> Result<PushReply, ReceiveError> {
    let have = position(store, &peer.name)?;
    if batch.from > have {
        return Err(ReceiveError::Gap { from: batch.from, have });
    }
    let checked = check(store, peer, batch, have)?;
    store_checked(store, peer, node_org, checked)
}

/// The first half of taking a batch, which needs no lock and may run
/// while the previous batch is stored: the batch's shape, the keys it
/// brings (learned when a served organisation's), and every object with
/// `seq > after`: signature and STIX rules. Verifying is most of the work:
/// it runs on every core, each thread on a run of the batch.
pub fn check(store: &dyn FederationStore, peer: &Peer, batch: Batch, after: i64) -> Result<CheckedBatch, ReceiveError> {
    let (mut checked, objects) = begin_check(store, peer, batch, after)?;
    checked.extend(objects.check_all(peer));
    Ok(checked)
}

/// [`check`] without the objects: the batch's shape and keys. Returns the
/// batch with no objects yet and the objects that wait to be checked
/// ([`ObjectsToCheck`]), whose checked parts go into the batch with
/// [`CheckedBatch::extend`] or into a [`BatchWriter`] as they come.
pub fn begin_check(store: &dyn FederationStore, peer: &Peer, batch: Batch, after: i64) -> Result<(CheckedBatch, ObjectsToCheck), ReceiveError> {
    if batch.objects.len() > MAX_BATCH_OBJECTS {
        return Err(ReceiveError::Malformed(format!("{} objects, at most {MAX_BATCH_OBJECTS} per batch", batch.objects.len())));
    }
    if batch.to < batch.from {
        return Err(ReceiveError::Malformed(format!("to ({}) is before from ({})", batch.to, batch.from)));
    }
    // Keys: only for organisations the peer serves; an id names one key
    // (it is the hash of the key), so a known id is never replaced.
    let mut known = HashMap::new();
    for k in store.known_keys()? {
        if let Ok(public) = parse_public_key(&k.public_key) {
            known.insert((k.owner, k.key_id), public);
        }
    }
    for key in &batch.keys {
        if known.contains_key(&(key.owner.clone(), key.key_id.clone())) {
            continue;
        }
        if !peer.serves(&key.owner) {
            tracing::warn!(peer = %peer.name, owner = %key.owner, "key of an organisation the peer does not serve ignored");
            continue;
        }
        match parse_public_key(&key.public_key) {
            Ok(public) if key_id_of(&public) == key.key_id => {
                store.put_known_key(&KnownKey {
                    owner: key.owner.clone(),
                    key_id: key.key_id.clone(),
                    public_key: key.public_key.clone(),
                    learned_from: peer.name.clone(),
                    added: Timestamp::now(3),
                })?;
                tracing::info!(peer = %peer.name, owner = %key.owner, key_id = %key.key_id, "key learned");
                known.insert((key.owner.clone(), key.key_id.clone()), public);
            }
            _ => tracing::warn!(peer = %peer.name, owner = %key.owner, key_id = %key.key_id, "malformed key ignored"),
        }
    }

    let mut items = Vec::with_capacity(batch.objects.len());
    for (i, item) in batch.objects.into_iter().enumerate() {
        if item.seq <= after {
            continue;
        }
        if item.seq > batch.to || item.seq <= batch.from {
            return Err(ReceiveError::Malformed(format!("object {i} has seq {} outside the batch", item.seq)));
        }
        items.push((i, item));
    }
    let objects = ObjectsToCheck { items: items.into_iter(), known: known.clone() };
    let checked = CheckedBatch {
        from: batch.from,
        to: batch.to,
        objects: CheckedPart::default(),
        deletions: batch.deletions,
        known,
    };
    Ok((checked, objects))
}

/// Objects of a batch whose shape and keys were checked ([`begin_check`]),
/// waiting for their own checks.
pub struct ObjectsToCheck {
    /// (index in the batch, object), in the batch's order.
    items: std::vec::IntoIter<(usize, crate::protocol::SignedObject)>,
    known: HashMap<(String, String), ed25519_dalek::VerifyingKey>,
}

/// Objects of a batch, checked ([`ObjectsToCheck`]).
#[derive(Default)]
pub struct CheckedPart {
    /// Objects that passed every check, in the batch's order, with their seq.
    verified: Vec<(i64, Verified)>,
    /// Objects refused, with their seq.
    refused: Vec<(i64, Refused)>,
}

impl CheckedPart {
    /// How many objects it holds (verified and refused).
    pub fn len(&self) -> usize {
        self.verified.len() + self.refused.len()
    }

    /// Whether it holds no objects.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn from_outcomes(outcomes: impl IntoIterator<Item = (i64, Result<Verified, Refused>)>) -> Self {
        let mut part = CheckedPart::default();
        for (seq, outcome) in outcomes {
            match outcome {
                Ok(v) => part.verified.push((seq, v)),
                Err(r) => part.refused.push((seq, r)),
            }
        }
        part
    }
}

impl ObjectsToCheck {
    /// Checks the next `count` objects on this thread; `None` when every
    /// object was checked. A pull hands each part on as soon as it is
    /// checked, so that few parsed objects wait in memory at once.
    pub fn next_part(&mut self, peer: &Peer, count: usize) -> Option<CheckedPart> {
        let run: Vec<_> = self.items.by_ref().take(count.max(1)).collect();
        if run.is_empty() {
            return None;
        }
        Some(CheckedPart::from_outcomes(check_run(peer, &self.known, run)))
    }

    /// Checks every object, each available core on a run of them.
    pub fn check_all(self, peer: &Peer) -> CheckedPart {
        let items: Vec<_> = self.items.collect();
        let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1).clamp(1, 8);
        let chunk = items.len().div_ceil(threads).max(64);
        let known = &self.known;
        let outcomes: Vec<Vec<(i64, Result<Verified, Refused>)>> = std::thread::scope(|scope| {
            let mut handles = Vec::new();
            let mut rest = items;
            while !rest.is_empty() {
                let tail = rest.split_off(chunk.min(rest.len()));
                let run = std::mem::replace(&mut rest, tail);
                handles.push(scope.spawn(move || check_run(peer, known, run)));
            }
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|_| vec![(i64::MAX, Err(Refused { id: None, reason: "verification failed".into() }))]))
                .collect()
        });
        CheckedPart::from_outcomes(outcomes.into_iter().flatten())
    }
}

impl CheckedBatch {
    /// Adds checked objects of this batch.
    pub fn extend(&mut self, part: CheckedPart) {
        self.objects.verified.extend(part.verified);
        self.objects.refused.extend(part.refused);
    }
}

/// The second half of taking a batch (the caller holds the peer's receive
/// lock): deletions, then the verified objects after this node's position
/// in one transaction with the ingest write rules, and the new position.
pub fn store_checked(store: &dyn FederationStore, peer: &Peer, node_org: &str, mut checked: CheckedBatch) -> Result<PushReply, ReceiveError> {
    let have = position(store, &peer.name)?;
    if checked.from > have {
        return Err(ReceiveError::Gap { from: checked.from, have });
    }
    let mut refused: Vec<Refused> = Vec::new();
    let deleted = delete(store, peer, &checked.known, std::mem::take(&mut checked.deletions), &mut refused)?;
    if checked.to <= have {
        finish_refusals(store, peer, &refused, checked.from, checked.to)?;
        let mut reply = PushReply { have, deleted, refused_count: refused.len() as u64, ..PushReply::default() };
        refused.truncate(MAX_REASONS);
        reply.refused = refused;
        return Ok(reply);
    }
    let mut txn = store.begin()?;
    let mut reply = store_in(txn.as_mut(), store, peer, node_org, checked, have, refused)?;
    txn.commit()?;
    reply.deleted = deleted;
    Ok(reply)
}

/// Whether a checked batch carries deletions (which [`store_in`] does not
/// apply: they need their own writes).
pub fn has_deletions(checked: &CheckedBatch) -> bool {
    !checked.deletions.is_empty()
}

/// Stores the verified objects of `checked` after position `have` in
/// `txn`, with their signatures, the refusals' audit entry and the peer's
/// new position: all commit together with `txn`, which the caller commits
/// (a pull worker stores several batches in one transaction). `refused`
/// holds refusals found before (of deletions). Deletions are not applied
/// here ([`store_checked`] applies them).
pub fn store_in(
    txn: &mut dyn WriteTxn,
    store: &dyn FederationStore,
    peer: &Peer,
    node_org: &str,
    mut checked: CheckedBatch,
    have: i64,
    refused: Vec<Refused>,
) -> Result<PushReply, ReceiveError> {
    let actor = peer_actor(peer, node_org);
    let part = std::mem::take(&mut checked.objects);
    let mut writer = BatchWriter::begin(store, peer, &actor, &checked, have, refused)?;
    writer.add(txn, part)?;
    writer.finish(txn)
}

/// [`store_in`] part by part: begun with a batch's positions (its objects
/// not yet checked, see [`begin_check`]), given its checked parts in order,
/// and finished when the last part is in. One ingest takes the whole
/// batch, so the batch is written exactly as by [`store_in`].
pub struct BatchWriter<'a> {
    peer: &'a Peer,
    /// `None` when the batch ends at or before `have`: nothing of it is
    /// written.
    ingest: Option<Ingest<'a>>,
    from: i64,
    to: i64,
    have: i64,
    refused: Vec<Refused>,
    signatures: HashMap<(String, String), ReceivedSignature>,
    started: std::time::Instant,
}

impl<'a> BatchWriter<'a> {
    /// Begins writing `batch` (its positions; its objects come with
    /// [`BatchWriter::add`]) after position `have`, as `actor`
    /// ([`peer_actor`]). `refused` holds refusals found before (of
    /// deletions).
    pub fn begin(
        store: &dyn FederationStore,
        peer: &'a Peer,
        actor: &'a Actor,
        batch: &CheckedBatch,
        have: i64,
        refused: Vec<Refused>,
    ) -> Result<Self, ReceiveError> {
        if batch.from > have {
            return Err(ReceiveError::Gap { from: batch.from, have });
        }
        let ingest = if batch.to <= have {
            None
        } else {
            let options = IngestOptions {
                defaults: LabelDefaults::default(),
                explicit_defaults: false,
                origin: peer.origin(),
                signed_by_originator: true,
            };
            let mut link = peer.scope.clone();
            link.serves.clear();
            Some(Ingest::new(store, actor, options)?.from_peer(link))
        };
        Ok(BatchWriter {
            peer,
            ingest,
            from: batch.from,
            to: batch.to,
            have,
            refused,
            signatures: HashMap::new(),
            started: std::time::Instant::now(),
        })
    }

    /// Writes the verified objects of `part` after the position, and keeps
    /// its refusals for the batch's audit entry.
    pub fn add(&mut self, txn: &mut dyn WriteTxn, part: CheckedPart) -> Result<(), ReceiveError> {
        let Some(ingest) = self.ingest.as_mut() else {
            return Ok(());
        };
        // Objects at or before the position came by another way meanwhile.
        let have = self.have;
        self.refused.extend(part.refused.into_iter().filter(|(seq, _)| *seq > have).map(|(_, r)| r));
        // The signatures of the versions stored commit with them, so no
        // push worker ever sees a received version without its signature.
        // A version already held keeps the signature it came with first,
        // so a peer cannot swap it; a refused one names nothing.
        self.signatures.reserve(part.verified.len());
        for (seq, (path, parsed, mut signature)) in part.verified {
            if seq <= have {
                continue;
            }
            ingest.signed_object(txn, &path, parsed, &signature.signer)?;
            let key = (std::mem::take(&mut signature.id), std::mem::take(&mut signature.version));
            self.signatures.entry(key).or_insert(signature);
        }
        Ok(())
    }

    /// Finishes the batch: the signatures of the versions stored, the
    /// refusals' audit entry and the peer's new position, in `txn`.
    pub fn finish(self, txn: &mut dyn WriteTxn) -> Result<PushReply, ReceiveError> {
        let BatchWriter { peer, ingest, from, to, have, mut refused, mut signatures, started } = self;
        let mut reply = PushReply { have: have.max(to), ..PushReply::default() };
        let Some(ingest) = ingest else {
            return Ok(reply);
        };
        let report = ingest.finish(txn)?;
        let mut new_signatures = Vec::with_capacity(report.stored_versions.len());
        for stored in report.stored_versions {
            if let Some(s) = signatures.remove(&(stored.id, stored.version)) {
                new_signatures.push(VersionSignature { seq: stored.seq, signer: s.signer, key_id: s.key_id, sig: s.sig, proof: s.proof });
            }
        }
        txn.put_new_signatures(new_signatures)?;
        for r in &report.refused {
            refused.push(Refused { id: r.id.clone(), reason: r.reason.clone() });
        }
        if !refused.is_empty() {
            txn.audit(&peer.origin(), "federation-refused", &format!("{} objects", refused.len()), &refusal_details(peer, &refused, from, to))?;
        }
        let refused_count = refused.len() as u64;
        txn.record_exchange(
            &peer.name,
            PeerExchange { sent: 0, received: report.stored + report.unchanged, refused: refused_count, error: None, position: Some(to) },
        )?;
        if refused_count > 0 {
            tracing::warn!(peer = %peer.name, refused = refused_count, first = %refused[0].reason, "objects from a peer refused");
        }
        tracing::debug!(
            peer = %peer.name,
            stored = report.stored,
            unchanged = report.unchanged,
            ingest_ms = started.elapsed().as_millis() as u64,
            "batch taken"
        );
        refused.truncate(MAX_REASONS);
        reply.stored = report.stored;
        reply.unchanged = report.unchanged;
        reply.refused = refused;
        reply.refused_count = refused_count;
        Ok(reply)
    }
}

fn refusal_details(peer: &Peer, refused: &[Refused], from: i64, to: i64) -> serde_json::Value {
    let reasons: Vec<_> = refused.iter().take(MAX_REASONS).map(|r| serde_json::json!({"id": r.id, "reason": r.reason})).collect();
    serde_json::json!({"peer": peer.name, "refused": refused.len(), "from": from, "to": to, "reasons": reasons})
}

/// Audits and counts refusals of a batch that stored no objects.
fn finish_refusals(store: &dyn FederationStore, peer: &Peer, refused: &[Refused], from: i64, to: i64) -> Result<(), StoreError> {
    if refused.is_empty() {
        return Ok(());
    }
    store.audit(&peer.origin(), "federation-refused", &format!("{} objects", refused.len()), &refusal_details(peer, refused, from, to))?;
    store.record_exchange(&peer.name, &PeerExchange { refused: refused.len() as u64, ..PeerExchange::default() })?;
    tracing::warn!(peer = %peer.name, refused = refused.len(), first = %refused[0].reason, "deletions from a peer refused");
    Ok(())
}

/// Applies signed deletions: each must be signed by an organisation the
/// peer serves, with a known key, and name a version that organisation
/// originated. A version this node does not hold is nothing to delete.
/// Returns how many versions were deleted.
fn delete(
    store: &dyn FederationStore,
    peer: &Peer,
    known: &HashMap<(String, String), ed25519_dalek::VerifyingKey>,
    deletions: Vec<SignedDeletion>,
    refused: &mut Vec<Refused>,
) -> Result<u64, StoreError> {
    let mut deleted = 0;
    for d in deletions {
        let mut refuse = |reason: String| refused.push(Refused { id: Some(d.id.clone()), reason: format!("deletion: {reason}") });
        if !peer.serves(&d.signer) {
            refuse(format!("signed by {}, an organisation this peer does not serve", d.signer));
            continue;
        }
        let Some(public) = known.get(&(d.signer.clone(), d.key_id.clone())) else {
            refuse(format!("signed with key {} of {}, which this node does not know", d.key_id, d.signer));
            continue;
        };
        if let Err(e) = verify(public, &deletion_bytes(&d.id, &d.version), &d.sig) {
            refuse(format!("signature of {}: {e}", d.signer));
            continue;
        }
        match store.version_originator(&d.id, &d.version)? {
            None => continue,
            Some(originator) if originator != d.signer => {
                refuse(format!("only the originator ({originator}) deletes a version, not {}", d.signer));
                continue;
            }
            Some(_) => {}
        }
        let filter = if d.version.is_empty() {
            VersionFilter::All
        } else {
            match Timestamp::parse(&d.version) {
                Ok(t) => VersionFilter::Exact(vec![t]),
                Err(e) => {
                    refuse(format!("version '{}': {e}", d.version));
                    continue;
                }
            }
        };
        // The signature first: a push worker that sees the tombstone
        // finds it.
        store.put_signatures(&[SignatureRecord {
            id: d.id.clone(),
            version: deletion_key(&d.version),
            signer: d.signer.clone(),
            key_id: d.key_id.clone(),
            sig: d.sig.clone(),
            tree: None,
        }])?;
        deleted += store.delete_versions_by(&peer.origin(), &d.id, &filter)?;
    }
    if deleted > 0 {
        tracing::info!(peer = %peer.name, deleted, "versions deleted by their originator");
    }
    Ok(deleted)
}

/// An object whose signature verified: its path, the parsed object and
/// its signature record.
type Verified = (String, phalanx_model::ParsedObject, ReceivedSignature);

/// The originator's signature of an object whose signature verified, as
/// it is kept with the version ([`VersionSignature`]).
struct ReceivedSignature {
    id: String,
    version: String,
    signer: String,
    key_id: String,
    sig: String,
    /// The inclusion proof in its stored form ([`crate::tree::TreeProof::to_stored`]).
    proof: Option<Vec<u8>>,
}

/// A received object that passed every check but its signature.
struct Unverified {
    path: String,
    item: crate::protocol::SignedObject,
    signature: ed25519_dalek::Signature,
    public: ed25519_dalek::VerifyingKey,
    /// For an object signed in a tree: what its signature covers (the
    /// root its proof gives, with the tree's size).
    tree_message: Option<Vec<u8>>,
    /// Its proof in the stored form, decoded once to check and to keep.
    proof: Option<Vec<u8>>,
}

impl Unverified {
    /// The bytes the signature must cover.
    fn message(&self) -> &[u8] {
        self.tree_message.as_deref().unwrap_or(self.item.object.get().as_bytes())
    }
}

/// The `id` of a received object's text, to name it in a refusal.
fn object_id(text: &str) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Id {
        id: Option<String>,
    }
    serde_json::from_str::<Id>(text).ok().and_then(|o| o.id)
}

/// Checks a run of received objects, in order: served signer, known key,
/// size, signature over exactly the object received (alone, or through its
/// tree proof), and the STIX rules. The run's signatures are verified
/// together; when that fails, one by one, so that only the bad ones are
/// refused.
fn check_run(
    peer: &Peer,
    known: &HashMap<(String, String), ed25519_dalek::VerifyingKey>,
    run: Vec<(usize, crate::protocol::SignedObject)>,
) -> Vec<(i64, Result<Verified, Refused>)> {
    let mut checked: Vec<Result<Unverified, Refused>> = Vec::with_capacity(run.len());
    let mut seqs = Vec::with_capacity(run.len());
    for (i, item) in run {
        seqs.push(item.seq);
        checked.push(pre_check(peer, known, i, item));
    }
    // The objects of one signed tree share its signature: it is verified
    // once (same message, signature and key).
    let (mut messages, mut signatures, mut keys) = (Vec::new(), Vec::new(), Vec::new());
    let mut trees_seen: HashSet<(&[u8], &str, &[u8; 32])> = HashSet::new();
    for u in checked.iter().filter_map(|c| c.as_ref().ok()) {
        if u.tree_message.is_some() && !trees_seen.insert((u.message(), u.item.sig.as_str(), u.public.as_bytes())) {
            continue;
        }
        messages.push(u.message());
        signatures.push(u.signature);
        keys.push(u.public);
    }
    let all_verify = verify_many(&messages, &signatures, &keys);
    drop(messages);
    let mut out = Vec::with_capacity(checked.len());
    for (seq, c) in seqs.into_iter().zip(checked) {
        out.push((seq, c.and_then(|u| {
            if !all_verify
                && let Err(e) = verify(&u.public, u.message(), &u.item.sig)
            {
                return Err(Refused { id: object_id(u.item.object.get()), reason: format!("signature of {}: {e}", u.item.signer) });
            }
            finish_check(u)
        })));
    }
    out
}

/// Everything about one received object but its signature.
fn pre_check(
    peer: &Peer,
    known: &HashMap<(String, String), ed25519_dalek::VerifyingKey>,
    i: usize,
    item: crate::protocol::SignedObject,
) -> Result<Unverified, Refused> {
    let path = format!("$.objects[{i}]");
    let refuse = |reason: String| Refused { id: object_id(item.object.get()), reason };
    if !peer.serves(&item.signer) {
        return Err(refuse(format!("signed by {}, an organisation this peer does not serve", item.signer)));
    }
    let Some(public) = known.get(&(item.signer.clone(), item.key_id.clone())) else {
        return Err(refuse(format!("signed with key {} of {}, which this node does not know", item.key_id, item.signer)));
    };
    if !is_usable_key(public) {
        return Err(refuse(format!("signed with key {} of {}, a weak key", item.key_id, item.signer)));
    }
    let size = item.object.get().len();
    if size > MAX_OBJECT_BYTES {
        return Err(refuse(format!("{size} bytes, larger than {MAX_OBJECT_BYTES}")));
    }
    let signature = decode_signature(&item.sig).map_err(|e| refuse(format!("signature of {}: {e}", item.signer)))?;
    let (tree_message, proof) = match &item.tree {
        None => (None, None),
        Some(proof) => {
            let stored = proof.to_stored().map_err(|e| refuse(format!("signature of {}: {e}", item.signer)))?;
            let root = stored_root(&stored, item.object.get().as_bytes()).map_err(|e| refuse(format!("signature of {}: {e}", item.signer)))?;
            (Some(tree_message(&root, proof.size)), Some(stored))
        }
    };
    Ok(Unverified { path, item, signature, public: *public, tree_message, proof })
}

/// The STIX rules on an object whose signature verified: it is parsed from
/// the very bytes that verified, and that text is what is stored.
fn finish_check(u: Unverified) -> Result<Verified, Refused> {
    let Unverified { path, item, proof, .. } = u;
    let text: Box<str> = item.object.into();
    let parsed = StixObject::from_compact_json(text.into_boxed_bytes().into_vec(), &path)
        .map_err(|e| Refused { id: e.0.first().and_then(|o| o.object_id.clone()), reason: e.to_string() })?;
    let version = parsed.object.version().map(|t| t.sort_key()).unwrap_or_default();
    let signature = ReceivedSignature {
        id: parsed.object.id().to_string(),
        version,
        signer: item.signer,
        key_id: item.key_id,
        sig: item.sig,
        proof,
    };
    Ok((path, parsed, signature))
}
