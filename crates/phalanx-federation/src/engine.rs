//! The sync engine: per peer, a push worker that follows the store's
//! commit order from a persisted cursor, and a pull worker that catches
//! up from this node's position in the peer's stream. Each runs on its
//! own thread with its own backoff, so a slow or dead peer never stalls
//! the others.

use crate::error::FederationError;
use crate::keys::KeyRing;
use crate::peers::{Peer, load_peers};
use crate::protocol::{
    AUTH_HEADER, Batch, CHANGES_PATH, PUSH_PATH, PublicKey, PushReply, SignedDeletion, SignedObject, auth_header, check_auth,
    deletion_bytes, deletion_key, parse_auth,
};
use crate::tree::{MAX_TREE_LEAVES, SALT_BYTES, TreeProof, tree_message};
use crate::receive::{ReceiveError, position, receive};
use phalanx_store::{Cursor, FederationStore, PeerExchange, SignatureRecord, StoredObject};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// Most versions of pulled batches stored in one transaction.
const PULL_TXN_OBJECTS: usize = 100_000;

/// Longest a pull worker keeps adding waiting batches to one transaction
/// (other writers wait for it meanwhile).
const PULL_TXN_TIME: Duration = Duration::from_secs(2);

/// Batches a pull's fetch thread may hand on ahead of the check thread,
/// so that fetching goes on while the writer commits.
const PULL_AHEAD: usize = 3;

/// Objects a pull's check thread checks and hands on at once: the writer
/// starts on a batch's first objects while the rest are checked, and few
/// parsed objects wait in memory (a whole checked batch of 20,000 was
/// tens of MiB, out of the caches when written).
const PULL_PART: usize = 256;

/// Checked parts the check thread may hand on ahead of the writer.
const PARTS_AHEAD: usize = 8;

/// How long a push worker leaves a peer that is pulling from us before it
/// asks again where the peer is.
const PULL_WATCH: Duration = Duration::from_millis(250);

/// Signatures of local versions kept for the next peer that gets them.
const SIGNATURE_CACHE_ENTRIES: usize = 100_000;

/// Signatures of local versions made for one peer and kept for the others
/// (and for a batch sent again): signing is most of a sender's work, and
/// every local version goes to every peer that may have it. Keyed by the
/// version's `seq`, which no other version ever takes; an entry counts
/// only while its key is the originator's current one. When full, the
/// older half goes.
#[derive(Default)]
struct SignatureCache {
    /// seq -> (key id, signature, tree proof when the signature covers a tree).
    by_seq: HashMap<i64, (String, String, Option<TreeProof>)>,
    order: std::collections::VecDeque<i64>,
}

impl SignatureCache {
    /// The signature of version `seq` by the key `key_id` (and its tree
    /// proof), when kept.
    fn get(&self, seq: i64, key_id: &str) -> Option<(String, Option<TreeProof>)> {
        self.by_seq.get(&seq).filter(|(k, _, _)| k == key_id).map(|(_, sig, tree)| (sig.clone(), tree.clone()))
    }

    fn insert(&mut self, seq: i64, key_id: &str, sig: &str, tree: Option<TreeProof>) {
        if self.by_seq.len() >= SIGNATURE_CACHE_ENTRIES {
            for old in self.order.drain(..SIGNATURE_CACHE_ENTRIES / 2) {
                self.by_seq.remove(&old);
            }
        }
        if self.by_seq.insert(seq, (key_id.to_owned(), sig.to_owned(), tree)).is_none() {
            self.order.push_back(seq);
        }
    }
}

/// What a pull worker's check thread hands on: for each batch, `Begin`,
/// its objects in `Part`s, then `End`.
enum Pulled {
    /// A batch fetched, its shape and keys checked, its objects not yet
    /// ([`crate::receive::begin_check`]); `more` when the peer has more.
    Begin { more: bool, batch: crate::receive::CheckedBatch },
    /// The next objects of the batch begun, checked.
    Part(crate::receive::CheckedPart),
    /// Every object of the batch begun was handed on.
    End,
    /// Fetching or checking failed.
    Failed(String),
    /// The peer's stream starts over.
    Rewind,
}

/// The error of a pull whose check thread stopped within a batch (the
/// engine stops).
fn check_stopped() -> ReceiveError {
    ReceiveError::Malformed("the check thread stopped before the batch's end".into())
}

/// The rest of a begun batch, from its parts up to its end.
fn collect_parts(
    mut batch: crate::receive::CheckedBatch,
    rx: &std::sync::mpsc::Receiver<Pulled>,
) -> Result<crate::receive::CheckedBatch, ReceiveError> {
    loop {
        match rx.recv() {
            Ok(Pulled::Part(part)) => batch.extend(part),
            Ok(Pulled::End) => return Ok(batch),
            _ => return Err(check_stopped()),
        }
    }
}

/// A version on its way into a batch.
struct Outgoing {
    seq: i64,
    /// Its canonical text.
    text: String,
    /// Whether it was written here (its originator's key is ours).
    local: bool,
    signer: String,
    key_id: String,
    /// Empty until signed.
    sig: String,
    tree: Option<TreeProof>,
}

/// Most bytes of stored JSON in one batch: half the receiver's body limit
/// ([`crate::server::MAX_BODY_BYTES`]), which leaves room for signatures,
/// keys and the envelope whatever the objects' sizes.
const MAX_BATCH_BYTES: usize = crate::server::MAX_BODY_BYTES / 2;

/// What each version adds to a batch beside its JSON (signature, signer,
/// key id, sequence number), counted generously.
const VERSION_OVERHEAD_BYTES: usize = 512;

/// Cuts `versions` after the last one that keeps the batch within
/// `max_bytes` (always keeping the first); whether it cut any.
fn cut_to_bytes(versions: &mut Vec<StoredObject>, max_bytes: usize) -> bool {
    let mut bytes = 0;
    let mut keep = 0;
    for v in versions.iter() {
        bytes += v.json.len() + VERSION_OVERHEAD_BYTES;
        if keep > 0 && bytes > max_bytes {
            break;
        }
        keep += 1;
    }
    let cut = keep < versions.len();
    versions.truncate(keep);
    cut
}

/// How the engine runs.
#[derive(Clone, Debug)]
pub struct SyncConfig {
    /// Most versions per batch.
    pub batch_size: usize,
    /// How often a push worker looks for new versions when not woken.
    pub poll_interval: Duration,
    /// How often a pull worker asks a peer that is up to date.
    pub pull_interval: Duration,
    /// First and longest wait after a failure (doubling in between).
    pub backoff_min: Duration,
    /// The longest wait after failures.
    pub backoff_max: Duration,
    /// Timeout of one exchange with a peer.
    pub request_timeout: Duration,
    /// How often the peer list is reloaded (peers added or removed).
    pub reload_interval: Duration,
}

impl Default for SyncConfig {
    fn default() -> Self {
        SyncConfig {
            batch_size: crate::receive::MAX_BATCH_OBJECTS,
            poll_interval: Duration::from_millis(500),
            pull_interval: Duration::from_secs(30),
            backoff_min: Duration::from_millis(250),
            backoff_max: Duration::from_secs(30),
            request_timeout: Duration::from_secs(60),
            reload_interval: Duration::from_secs(5),
        }
    }
}

/// A counter that workers wait on: bumped after every local commit.
#[derive(Default)]
pub struct Wakeup {
    generation: Mutex<u64>,
    changed: Condvar,
}

impl Wakeup {
    /// Wakes every waiting worker.
    pub fn notify(&self) {
        let mut g = self.generation.lock().unwrap_or_else(|p| p.into_inner());
        *g = g.wrapping_add(1);
        self.changed.notify_all();
    }

    /// The current generation.
    pub fn generation(&self) -> u64 {
        *self.generation.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Waits until the generation differs from `seen` or `timeout` passes.
    pub fn wait(&self, seen: u64, timeout: Duration) {
        let g = self.generation.lock().unwrap_or_else(|p| p.into_inner());
        let _ = self.changed.wait_timeout_while(g, timeout, |g| *g == seen);
    }
}

/// The federation of one node: its keys, store, peers and workers.
pub struct Federation {
    store: Arc<dyn FederationStore>,
    keys: Arc<KeyRing>,
    node_org: String,
    config: SyncConfig,
    wakeup: Arc<Wakeup>,
    on_commit: Box<dyn Fn() + Send + Sync>,
    stopping: AtomicBool,
    receive_locks: Mutex<HashMap<String, Arc<Mutex<()>>>>,
    /// Peers whose stream our pull worker is reading now (told to their
    /// push workers in each push reply).
    pulling: Mutex<HashSet<String>>,
    /// Peers that sent us an authenticated request since their push
    /// worker last failed to reach them: they are up again, so the worker
    /// ends its backoff early (see [`Federation::sleep_until_heard`]).
    heard_from: Mutex<HashSet<String>>,
    signatures: Mutex<SignatureCache>,
    peers: Mutex<Vec<Peer>>,
}

/// An exchange with a peer that failed.
#[derive(Debug)]
enum ExchangeError {
    /// Try again later (after the peer's `Retry-After`, when it gave one).
    Retry(String, Option<Duration>),
    /// The peer is at another position in our stream: continue there.
    Rewind(i64),
}

impl Federation {
    /// The federation of the node whose organisation is `node_org`.
    /// `on_commit` is called after a received batch committed (live
    /// streams and push workers then see it at once).
    pub fn new(
        store: Arc<dyn FederationStore>,
        keys: Arc<KeyRing>,
        node_org: String,
        config: SyncConfig,
        on_commit: Box<dyn Fn() + Send + Sync>,
    ) -> Result<Arc<Self>, FederationError> {
        let peers = load_peers(store.as_ref())?;
        Ok(Arc::new(Federation {
            store,
            keys,
            node_org,
            config,
            wakeup: Arc::new(Wakeup::default()),
            on_commit,
            stopping: AtomicBool::new(false),
            receive_locks: Mutex::new(HashMap::new()),
            pulling: Mutex::new(HashSet::new()),
            heard_from: Mutex::new(HashSet::new()),
            signatures: Mutex::new(SignatureCache::default()),
            peers: Mutex::new(peers),
        }))
    }

    /// The wakeup that push workers wait on: notify it after each commit.
    pub fn wakeup(&self) -> Arc<Wakeup> {
        self.wakeup.clone()
    }

    /// The node's keys.
    pub fn keys(&self) -> &KeyRing {
        &self.keys
    }

    /// The store.
    pub fn store(&self) -> &dyn FederationStore {
        self.store.as_ref()
    }

    /// Asks every worker to stop after its current exchange.
    pub fn stop(&self) {
        self.stopping.store(true, Ordering::SeqCst);
        self.wakeup.notify();
    }

    fn stopped(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
    }

    /// The configured peer whose node key has id `key_id`, freshly loaded.
    pub fn peer_by_key(&self, key_id: &str) -> Result<Option<Peer>, FederationError> {
        let peers = load_peers(self.store.as_ref())?;
        let found = peers.iter().find(|p| p.node_key_id == key_id).cloned();
        *self.peers.lock().unwrap_or_else(|p| p.into_inner()) = peers;
        Ok(found)
    }

    /// Authenticates a request (see [`crate::protocol`]): the peer whose
    /// node key signed it.
    pub fn authenticate(&self, header: Option<&str>, method: &str, path: &str, body: &[u8]) -> Result<Peer, FederationError> {
        let header = header.ok_or_else(|| FederationError::Authentication(format!("no {AUTH_HEADER} header")))?;
        let parts = parse_auth(header).ok_or_else(|| FederationError::Authentication(format!("malformed {AUTH_HEADER} header")))?;
        let cached = self.peers.lock().unwrap_or_else(|p| p.into_inner()).iter().find(|p| p.node_key_id == parts.key_id).cloned();
        let peer = match cached {
            Some(p) => p,
            None => self
                .peer_by_key(parts.key_id)?
                .ok_or_else(|| FederationError::Authentication(format!("no peer has node key {}", parts.key_id)))?,
        };
        check_auth(&parts, &peer.node_key, method, path, body).map_err(FederationError::Authentication)?;
        let mut heard = self.heard_from.lock().unwrap_or_else(|p| p.into_inner());
        if !heard.contains(&peer.name) {
            heard.insert(peer.name.clone());
        }
        drop(heard);
        Ok(peer)
    }

    fn receive_lock(&self, peer: &str) -> Arc<Mutex<()>> {
        self.receive_locks.lock().unwrap_or_else(|p| p.into_inner()).entry(peer.to_owned()).or_default().clone()
    }

    /// Stores a pulled batch of `peer` that [`crate::receive::check`]
    /// checked.
    fn store_checked_batch(&self, peer: &Peer, batch: crate::receive::CheckedBatch) -> Result<PushReply, ReceiveError> {
        let lock = self.receive_lock(&peer.name);
        let _held = lock.lock().unwrap_or_else(|p| p.into_inner());
        let reply = crate::receive::store_checked(self.store.as_ref(), peer, &self.node_org, batch)?;
        Ok(self.taken(peer, reply))
    }

    /// After a batch was taken: tells who waits for commits when it
    /// changed anything, and says whether we pull from `peer`.
    fn taken(&self, peer: &Peer, mut reply: PushReply) -> PushReply {
        if reply.stored > 0 || reply.deleted > 0 {
            (self.on_commit)();
            self.wakeup.notify();
        }
        reply.pulling = self.is_pulling(&peer.name);
        reply
    }

    /// Takes a batch from `peer` (pushed to us, or pulled by us).
    pub fn take_batch(&self, peer: &Peer, batch: Batch) -> Result<PushReply, ReceiveError> {
        let lock = self.receive_lock(&peer.name);
        let _held = lock.lock().unwrap_or_else(|p| p.into_inner());
        let reply = receive(self.store.as_ref(), peer, &self.node_org, batch)?;
        Ok(self.taken(peer, reply))
    }

    /// Whether our pull worker is reading `peer`'s stream now.
    fn is_pulling(&self, peer: &str) -> bool {
        self.pulling.lock().unwrap_or_else(|p| p.into_inner()).contains(peer)
    }

    fn set_pulling(&self, peer: &str, pulling: bool) {
        let mut set = self.pulling.lock().unwrap_or_else(|p| p.into_inner());
        if pulling {
            set.insert(peer.to_owned());
        } else {
            set.remove(peer);
        }
    }

    /// The next run of our stream for `peer` after `after`: at most one
    /// batch of versions that may go to it, signed, without those that
    /// came from it.
    pub fn outgoing(&self, peer: &Peer, after: i64, limit: usize) -> Result<Batch, FederationError> {
        let mut page = self.store.release_page(&peer.scope, Cursor(after), limit.clamp(1, self.config.batch_size))?;
        if cut_to_bytes(&mut page.objects, MAX_BATCH_BYTES) {
            page.more = true;
        }
        let to = page.objects.last().map(|o| o.seq).unwrap_or(after);
        let origin = peer.origin();
        // Organisation records (and their STIX identities) are each node's
        // own configuration, and built-in definitions exist on every node:
        // neither travels.
        let registered: std::collections::HashSet<String> =
            self.store.organisations()?.into_iter().map(|o| o.org.id).collect();
        let versions: Vec<StoredObject> = page
            .objects
            .into_iter()
            .filter(|o| o.origin != origin && o.origin != "builtin")
            .filter(|o| !(o.object_type == "identity" && registered.contains(&o.id)))
            .collect();
        let forwarded: Vec<i64> = versions.iter().filter(|o| o.origin.starts_with("peer:")).map(|o| o.seq).collect();
        let mut stored_sigs = HashMap::new();
        for s in self.store.signatures_by_seq(&forwarded)? {
            stored_sigs.insert(s.seq, s);
        }
        let mut keys: BTreeMap<(String, String), PublicKey> = BTreeMap::new();
        let known: HashMap<(String, String), String> =
            self.store.known_keys()?.into_iter().map(|k| ((k.owner, k.key_id), k.public_key)).collect();
        // First each version's canonical text and signature: a forwarded
        // version keeps the one it came with; a local one is signed by its
        // originator, unless a signature made for another peer is kept.
        let mut pending: Vec<Outgoing> = Vec::with_capacity(versions.len());
        let mut unsigned: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        for v in versions {
            let text = match phalanx_model::jcs::canonicalize_text(&v.json) {
                Ok(text) => text,
                Err(e) => {
                    tracing::error!(id = %v.id, error = %e, "stored object is not JSON: not sent");
                    continue;
                }
            };
            if v.origin.starts_with("peer:") {
                let Some(s) = stored_sigs.remove(&v.seq) else {
                    tracing::warn!(id = %v.id, origin = %v.origin, "received version without a stored signature: not forwarded");
                    continue;
                };
                let tree = match s.proof.as_deref().map(TreeProof::from_stored) {
                    None => None,
                    Some(Ok(proof)) => Some(proof),
                    Some(Err(e)) => {
                        tracing::error!(id = %v.id, error = %e, "stored tree proof is not readable: not forwarded");
                        continue;
                    }
                };
                pending.push(Outgoing { seq: v.seq, text, local: false, signer: s.signer, key_id: s.key_id, sig: s.sig, tree });
                continue;
            }
            let Some(originator) = v.label.originator.clone() else {
                tracing::warn!(id = %v.id, "version without an originator: not sent");
                continue;
            };
            let key = self.keys.org(&originator)?;
            let kept = self.signatures.lock().unwrap_or_else(|p| p.into_inner()).get(v.seq, &key.key_id);
            let (sig, tree) = kept.unwrap_or_default();
            if sig.is_empty() {
                unsigned.entry(originator.clone()).or_default().push(pending.len());
            }
            pending.push(Outgoing { seq: v.seq, text, local: true, signer: originator, key_id: key.key_id.clone(), sig, tree });
        }
        // Unsigned local versions: one signature per tree of up to
        // MAX_TREE_LEAVES of an originator's versions (a version alone is
        // signed alone).
        for (originator, indexes) in unsigned {
            let key = self.keys.org(&originator)?;
            for chunk in indexes.chunks(MAX_TREE_LEAVES) {
                if let [only] = chunk {
                    let out = &mut pending[*only];
                    out.sig = key.sign(out.text.as_bytes());
                } else {
                    let mut salts = vec![[0u8; SALT_BYTES]; chunk.len()];
                    getrandom::fill(salts.as_flattened_mut()).map_err(|e| FederationError::Randomness(e.to_string()))?;
                    let texts: Vec<&[u8]> = chunk.iter().map(|i| pending[*i].text.as_bytes()).collect();
                    let tree = crate::tree::build(&texts, &salts);
                    let sig = key.sign(&tree_message(&tree.root, chunk.len() as u32));
                    for (i, proof) in chunk.iter().zip(tree.proofs) {
                        pending[*i].sig = sig.clone();
                        pending[*i].tree = Some(proof);
                    }
                }
                let mut cache = self.signatures.lock().unwrap_or_else(|p| p.into_inner());
                for i in chunk {
                    let out = &pending[*i];
                    cache.insert(out.seq, &key.key_id, &out.sig, out.tree.clone());
                }
            }
        }
        let mut objects = Vec::with_capacity(pending.len());
        for out in pending {
            let key_entry = (out.signer.clone(), out.key_id.clone());
            if !keys.contains_key(&key_entry) {
                let public = match known.get(&key_entry) {
                    Some(p) => Some(p.clone()),
                    None if out.local => Some(self.keys.org(&out.signer)?.public_text()),
                    None => None,
                };
                if let Some(public_key) = public {
                    keys.insert(key_entry, PublicKey { owner: out.signer.clone(), key_id: out.key_id.clone(), public_key });
                }
            }
            let object = match serde_json::value::RawValue::from_string(out.text) {
                Ok(o) => o,
                Err(e) => {
                    tracing::error!(seq = out.seq, error = %e, "canonical form is not JSON: not sent");
                    continue;
                }
            };
            objects.push(SignedObject { seq: out.seq, object, signer: out.signer, key_id: out.key_id, sig: out.sig, tree: out.tree });
        }
        Ok(Batch { from: after, to, more: page.more, objects, keys: keys.into_values().collect(), deletions: Vec::new() })
    }

    fn agent(&self) -> ureq::Agent {
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(self.config.request_timeout))
            .build()
            .new_agent()
    }

    /// One push: the next batch of our stream to `peer`. Returns how many
    /// versions went and whether more are waiting.
    fn push_once(&self, agent: &ureq::Agent, peer: &Peer, cursor: &mut i64) -> Result<(usize, bool), ExchangeError> {
        let batch = self.outgoing(peer, *cursor, self.config.batch_size).map_err(|e| ExchangeError::Retry(e.to_string(), None))?;
        if batch.to == *cursor {
            return Ok((0, false));
        }
        let count = batch.objects.len();
        let more = batch.more;
        let to = batch.to;
        let reply = self.send(agent, peer, &batch)?;
        if reply.refused_count > 0 {
            tracing::warn!(peer = %peer.name, refused = reply.refused_count, first = ?reply.refused.first(), "peer refused objects");
        }
        *cursor = reply.have.max(to);
        Ok((count, more))
    }

    /// Pushes the deletions after `delete_cursor` that may go to `peer`
    /// (their versions could go there), signed by the originator: our
    /// own organisations sign deletions made here; a deletion received
    /// from a peer is forwarded with its originator's signature. Called
    /// when the objects are up to date at `cursor`. Returns how many went.
    fn push_deletions(&self, agent: &ureq::Agent, peer: &Peer, cursor: i64, delete_cursor: &mut i64) -> Result<usize, ExchangeError> {
        let retry = |e: FederationError| ExchangeError::Retry(e.to_string(), None);
        let tombs = self.store.deletions_for(&peer.scope, *delete_cursor, self.config.batch_size).map_err(|e| retry(e.into()))?;
        let Some(last) = tombs.last().map(|t| t.row) else { return Ok(0) };
        let origin = peer.origin();
        let forwarded: Vec<(String, String)> =
            tombs.iter().filter(|t| t.origin.starts_with("peer:")).map(|t| (t.id.clone(), deletion_key(&t.version))).collect();
        let mut stored: HashMap<(String, String), SignatureRecord> = HashMap::new();
        for s in self.store.signatures_of(&forwarded).map_err(|e| retry(e.into()))? {
            stored.insert((s.id.clone(), s.version.clone()), s);
        }
        let known: HashMap<(String, String), String> =
            self.store.known_keys().map_err(|e| retry(e.into()))?.into_iter().map(|k| ((k.owner, k.key_id), k.public_key)).collect();
        let mut keys: BTreeMap<(String, String), PublicKey> = BTreeMap::new();
        let mut deletions = Vec::new();
        for t in tombs {
            if t.origin == origin {
                continue;
            }
            let (signer, key_id, sig, public) = if t.origin.starts_with("peer:") {
                match stored.remove(&(t.id.clone(), deletion_key(&t.version))) {
                    Some(s) => {
                        let public = known.get(&(s.signer.clone(), s.key_id.clone())).cloned();
                        (s.signer, s.key_id, s.sig, public)
                    }
                    // Deleted here, not by its originator: a local decision.
                    None => continue,
                }
            } else {
                let Some(originator) = t.label.originator.clone() else { continue };
                let key = self.keys.org(&originator).map_err(retry)?;
                (originator, key.key_id.clone(), key.sign(&deletion_bytes(&t.id, &t.version)), Some(key.public_text()))
            };
            if let Some(public_key) = public {
                keys.entry((signer.clone(), key_id.clone()))
                    .or_insert_with(|| PublicKey { owner: signer.clone(), key_id: key_id.clone(), public_key });
            }
            deletions.push(SignedDeletion { id: t.id, version: t.version, signer, key_id, sig });
        }
        let count = deletions.len();
        if count > 0 {
            let batch = Batch { from: cursor, to: cursor, more: false, objects: Vec::new(), keys: keys.into_values().collect(), deletions };
            let reply = self.send(agent, peer, &batch)?;
            if reply.refused_count > 0 {
                tracing::warn!(peer = %peer.name, refused = reply.refused_count, first = ?reply.refused.first(), "peer refused deletions");
            }
        }
        *delete_cursor = last;
        if let Err(e) = self.store.set_delete_cursor(&peer.name, last) {
            tracing::error!(peer = %peer.name, error = %e, "cannot save the deletion cursor");
        }
        Ok(count)
    }

    /// Where `peer` is in our stream, and whether it is pulling from us,
    /// asked with an empty batch at `cursor`.
    fn probe(&self, agent: &ureq::Agent, peer: &Peer, cursor: i64) -> Result<PushReply, ExchangeError> {
        let empty = Batch { from: cursor, to: cursor, more: false, objects: Vec::new(), keys: Vec::new(), deletions: Vec::new() };
        self.send(agent, peer, &empty)
    }

    /// Pushes one batch; the peer's reply.
    fn send(&self, agent: &ureq::Agent, peer: &Peer, batch: &Batch) -> Result<PushReply, ExchangeError> {
        let mut body = Vec::with_capacity(batch.size_hint());
        serde_json::to_writer(&mut body, &batch).map_err(|e| ExchangeError::Retry(e.to_string(), None))?;
        let auth = auth_header(&self.keys.node(), "POST", PUSH_PATH, &body);
        let request = ureq::http::Request::builder()
            .method("POST")
            .uri(format!("{}{PUSH_PATH}", peer.config.url))
            .header(AUTH_HEADER, auth)
            .header("content-type", "application/json")
            .body(body)
            .map_err(|e| ExchangeError::Retry(e.to_string(), None))?;
        let mut response = agent.run(request).map_err(|e| ExchangeError::Retry(e.to_string(), None))?;
        let status = response.status().as_u16();
        let text = response.body_mut().with_config().limit(1 << 20).read_to_string().unwrap_or_default();
        match status {
            200 => serde_json::from_str(&text).map_err(|e| ExchangeError::Retry(format!("reply is not a push reply: {e}"), None)),
            409 => {
                let have = phalanx_model::strict::parse_text(&text)
                    .ok()
                    .and_then(|v| v.get("have").and_then(|h| h.as_i64()))
                    .ok_or_else(|| ExchangeError::Retry("409 without a position".into(), None))?;
                Err(ExchangeError::Rewind(have))
            }
            429 | 503 => {
                let after = response
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse::<u64>().ok())
                    .map(Duration::from_secs);
                Err(ExchangeError::Retry(format!("peer busy ({status})"), after))
            }
            _ => Err(ExchangeError::Retry(format!("http {status}: {}", text.chars().take(300).collect::<String>()), None)),
        }
    }

    /// Fetches the batch of `peer`'s stream for us after `after` (its
    /// node signature checked).
    /// Asks `peer` for the batch after `after`; `body` is the buffer its
    /// response is read into, kept by the caller across fetches (a new one
    /// grew by copying and faulted in fresh pages for every batch: 40% of
    /// the fetch thread in a catch-up profile).
    fn fetch(&self, agent: &ureq::Agent, peer: &Peer, after: i64, body: &mut Vec<u8>) -> Result<Batch, ExchangeError> {
        let path = format!("{CHANGES_PATH}?after={after}&limit={}", self.config.batch_size);
        let auth = auth_header(&self.keys.node(), "GET", &path, b"");
        let mut response = agent
            .get(format!("{}{path}", peer.config.url))
            .header(AUTH_HEADER, auth)
            .call()
            .map_err(|e| ExchangeError::Retry(e.to_string(), None))?;
        let status = response.status().as_u16();
        let signature = response.headers().get(AUTH_HEADER).and_then(|v| v.to_str().ok()).map(str::to_owned);
        use std::io::Read as _;
        body.clear();
        response
            .body_mut()
            .with_config()
            .limit(crate::server::MAX_BODY_BYTES as u64)
            .reader()
            .read_to_end(body)
            .map_err(|e| ExchangeError::Retry(e.to_string(), None))?;
        if status == 429 || status == 503 {
            return Err(ExchangeError::Retry(format!("peer busy ({status})"), None));
        }
        if status != 200 {
            return Err(ExchangeError::Retry(format!("http {status}: {}", String::from_utf8_lossy(&body[..body.len().min(300)])), None));
        }
        let parts = signature
            .as_deref()
            .and_then(parse_auth)
            .ok_or_else(|| ExchangeError::Retry("pull response without node authentication".into(), None))?;
        check_auth(&parts, &peer.node_key, "RESPONSE", &path, body)
            .map_err(|e| ExchangeError::Retry(format!("pull response: {e}"), None))?;
        serde_json::from_slice(body).map_err(|e| ExchangeError::Retry(format!("pull response: {e}"), None))
    }

    fn current_peer(&self, name: &str) -> Option<Peer> {
        self.peers.lock().unwrap_or_else(|p| p.into_inner()).iter().find(|p| p.name == name).cloned()
    }

    fn record(&self, peer: &str, exchange: PeerExchange) {
        if let Err(e) = self.store.record_exchange(peer, &exchange) {
            tracing::error!(peer, error = %e, "cannot record the exchange");
        }
    }

    /// The push worker of `name`: runs until the peer is removed or the
    /// engine stops.
    fn push_worker(self: Arc<Self>, name: String) {
        let agent = self.agent();
        let mut backoff = self.config.backoff_min;
        let (mut cursor, mut delete_cursor) = match self.current_peer(&name) {
            Some(p) => (p.record.push_cursor, p.record.delete_cursor),
            None => return,
        };
        // Set while more than a batch waits, and at the start: the peer's
        // pull worker may be catching up on it already, so its position is
        // asked first. While it pulls from us, every version would travel
        // twice (signed twice here, parsed twice there) if we pushed too.
        let mut behind = true;
        while !self.stopped() {
            let Some(peer) = self.current_peer(&name) else { return };
            let seen = self.wakeup.generation();
            let started = Instant::now();
            // A peer that does not answer the probe gets no batch: signing
            // one is wasted when it cannot be sent.
            let mut probe_failed = None;
            if behind {
                match self.probe(&agent, &peer, cursor) {
                    Ok(reply) if reply.pulling || reply.have > cursor => {
                        if reply.have > cursor {
                            cursor = reply.have;
                            if let Err(e) = self.store.set_push_cursor(&name, cursor) {
                                tracing::error!(peer = %name, error = %e, "cannot save the push cursor");
                            }
                        }
                        self.sleep(PULL_WATCH);
                        continue;
                    }
                    Ok(_) => {}
                    Err(ExchangeError::Rewind(have)) => {
                        cursor = have;
                        continue;
                    }
                    Err(failure) => probe_failed = Some(failure),
                }
            }
            let mut outcome = match probe_failed {
                Some(failure) => Err(failure),
                None => self.push_once(&agent, &peer, &mut cursor),
            };
            if let Ok((0, false)) = outcome {
                // Objects up to date: now the deletions.
                outcome = self.push_deletions(&agent, &peer, cursor, &mut delete_cursor).map(|n| (n, false));
            }
            // After a failure the peer may have pulled meanwhile: ask first.
            behind = !matches!(outcome, Ok((_, false)));
            match outcome {
                Ok((sent, more)) => {
                    backoff = self.config.backoff_min;
                    if let Err(e) = self.store.set_push_cursor(&name, cursor) {
                        tracing::error!(peer = %name, error = %e, "cannot save the push cursor");
                    }
                    if sent > 0 || more {
                        self.record(&name, PeerExchange { sent: sent as u64, ..PeerExchange::default() });
                        tracing::debug!(peer = %name, sent, cursor, ms = started.elapsed().as_millis() as u64, "pushed");
                    }
                    if !more {
                        self.wakeup.wait(seen, self.config.poll_interval);
                    }
                }
                Err(ExchangeError::Rewind(have)) => {
                    tracing::info!(peer = %name, from = cursor, to = have, "peer asked to continue from its position");
                    cursor = have;
                    if let Err(e) = self.store.set_push_cursor(&name, cursor) {
                        tracing::error!(peer = %name, error = %e, "cannot save the push cursor");
                    }
                }
                Err(ExchangeError::Retry(error, after)) => {
                    tracing::warn!(peer = %name, %error, "push failed; retrying");
                    self.record(&name, PeerExchange { error: Some(format!("push: {error}")), ..PeerExchange::default() });
                    match after {
                        // The peer asked for the wait (busy, throttled): keep it.
                        Some(after) => self.sleep(after.min(self.config.backoff_max)),
                        // Unreachable or failing: back off, unless the peer
                        // calls in meanwhile (it is up again, e.g. its pull
                        // worker after a restart): then try at once. The
                        // backoff still doubles, so a peer that calls in
                        // while our pushes keep failing is tried no more
                        // often than it calls.
                        None => {
                            if self.sleep_until_heard(&name, backoff) {
                                tracing::info!(peer = %name, "peer called in; pushing again");
                            }
                        }
                    }
                    backoff = (backoff * 2).min(self.config.backoff_max);
                }
            }
        }
    }

    /// The pull worker of `name`: catches up from this node's position in
    /// the peer's stream, then asks again every `pull_interval` (pushes
    /// carry the live changes). While catching up, the next batch is
    /// fetched on one thread and the one before checked (signatures, STIX
    /// rules) on another while this one stores the one before that, so the
    /// two nodes, and the checking and the writing here, work at the same
    /// time.
    fn pull_worker(self: Arc<Self>, name: String) {
        let mut backoff = self.config.backoff_min;
        while !self.stopped() {
            let Some(peer) = self.current_peer(&name) else { return };
            let start = match position(self.store.as_ref(), &peer.name) {
                Ok(p) => p,
                Err(e) => {
                    tracing::error!(peer = %name, error = %e, "cannot read the position");
                    self.sleep(self.config.backoff_max);
                    continue;
                }
            };
            // Three stages at once: a fetch thread asks for the next batch
            // while a check thread checks the objects before (signatures,
            // STIX rules) and this one stores those checked before them.
            let (fetched_tx, fetched_rx) = std::sync::mpsc::sync_channel::<Result<Batch, ExchangeError>>(PULL_AHEAD);
            let (tx, rx) = std::sync::mpsc::sync_channel::<Pulled>(PARTS_AHEAD);
            let fetcher = {
                let engine = self.clone();
                let peer = peer.clone();
                std::thread::Builder::new().name(format!("fetch-{name}")).spawn(move || {
                    let agent = engine.agent();
                    let mut after = start;
                    let mut body = Vec::new();
                    loop {
                        let fetched = engine.fetch(&agent, &peer, after, &mut body);
                        let next = fetched.as_ref().ok().filter(|b| b.more).map(|b| b.to);
                        if fetched_tx.send(fetched).is_err() || engine.stopped() {
                            return;
                        }
                        match next {
                            Some(to) => after = to,
                            None => return,
                        }
                    }
                })
            };
            let checker = {
                let engine = self.clone();
                let peer = peer.clone();
                std::thread::Builder::new().name(format!("check-{name}")).spawn(move || {
                    phalanx_store::pipeline::yield_to_the_writer();
                    for fetched in fetched_rx.iter() {
                        let (more, mut objects) = match fetched {
                            Ok(batch) => {
                                let more = batch.more;
                                let begun = position(engine.store.as_ref(), &peer.name)
                                    .map_err(ReceiveError::from)
                                    .and_then(|have| crate::receive::begin_check(engine.store.as_ref(), &peer, batch, have));
                                match begun {
                                    Ok((batch, objects)) => {
                                        if tx.send(Pulled::Begin { more, batch }).is_err() {
                                            return;
                                        }
                                        (more, objects)
                                    }
                                    Err(e) => {
                                        let _ = tx.send(Pulled::Failed(e.to_string()));
                                        return;
                                    }
                                }
                            }
                            Err(ExchangeError::Retry(error, _)) => {
                                let _ = tx.send(Pulled::Failed(error));
                                return;
                            }
                            Err(ExchangeError::Rewind(_)) => {
                                let _ = tx.send(Pulled::Rewind);
                                return;
                            }
                        };
                        while let Some(part) = objects.next_part(&peer, PULL_PART) {
                            if tx.send(Pulled::Part(part)).is_err() || engine.stopped() {
                                return;
                            }
                        }
                        if tx.send(Pulled::End).is_err() || !more || engine.stopped() {
                            return;
                        }
                    }
                })
            };
            let (fetcher, checker) = match (fetcher, checker) {
                (Ok(f), Ok(c)) => (f, c),
                (f, c) => {
                    let error = f.err().or(c.err()).map(|e| e.to_string()).unwrap_or_default();
                    tracing::error!(peer = %name, %error, "cannot start the fetch and check threads");
                    self.sleep(self.config.backoff_max);
                    continue;
                }
            };
            self.set_pulling(&name, true);
            let (failed, caught_up) = self.store_pulled(&peer, &rx);
            drop(rx);
            let _ = checker.join();
            let _ = fetcher.join();
            self.set_pulling(&name, false);
            match failed {
                // Stopping ends a batch's checks early: not the peer's fault.
                Some(_) if self.stopped() => return,
                Some(error) => {
                    tracing::warn!(peer = %name, %error, "pull failed; retrying");
                    self.record(&name, PeerExchange { error: Some(format!("pull: {error}")), ..PeerExchange::default() });
                    self.sleep(backoff);
                    backoff = (backoff * 2).min(self.config.backoff_max);
                }
                None => {
                    backoff = self.config.backoff_min;
                    if caught_up {
                        self.sleep(self.config.pull_interval);
                    }
                }
            }
        }
    }

    /// Stores the batches a pull worker's check thread hands on; whether
    /// it failed (and why) and whether the last batch stored was the
    /// peer's last. Batches that are begun and waiting when one is stored
    /// go into the same transaction, up to [`PULL_TXN_OBJECTS`] versions
    /// or [`PULL_TXN_TIME`]: a commit rewrites most leaves of the
    /// random-key indexes, so fewer commits catch up faster. A transaction
    /// never waits for the network: it commits when no batch is waiting
    /// (it waits only for the checks of a batch it began).
    fn store_pulled(&self, peer: &Peer, rx: &std::sync::mpsc::Receiver<Pulled>) -> (Option<String>, bool) {
        let describe = |e: ReceiveError| match e {
            ReceiveError::Gap { have, .. } => format!("pull answered after {have}"),
            e => e.to_string(),
        };
        let mut caught_up = false;
        let mut next = rx.recv().ok();
        while let Some(pulled) = next.take() {
            let (more, batch) = match pulled {
                Pulled::Begin { more, batch } => (more, batch),
                Pulled::Failed(error) => return (Some(error), caught_up),
                Pulled::Rewind => return (None, caught_up),
                Pulled::Part(_) | Pulled::End => return (Some("checked objects came without their batch".into()), caught_up),
            };
            let stored = if crate::receive::has_deletions(&batch) {
                // Deletions need writes of their own: the whole batch first.
                collect_parts(batch, rx).and_then(|batch| self.store_checked_batch(peer, batch)).map(|_| more)
            } else {
                self.store_run(peer, more, batch, rx, &mut next)
            };
            match stored {
                Ok(more) => caught_up = !more,
                Err(e) => return (Some(describe(e)), caught_up),
            }
            if next.is_none() {
                next = rx.recv().ok();
            }
        }
        (None, caught_up)
    }

    /// Stores `batch` (begun: its objects come in parts) and the batches
    /// waiting after it in one transaction (see [`Federation::store_pulled`]);
    /// a batch that cannot join is left in `next`. Whether the peer has
    /// more after the last batch stored.
    fn store_run(
        &self,
        peer: &Peer,
        more: bool,
        batch: crate::receive::CheckedBatch,
        rx: &std::sync::mpsc::Receiver<Pulled>,
        next: &mut Option<Pulled>,
    ) -> Result<bool, ReceiveError> {
        let lock = self.receive_lock(&peer.name);
        let _held = lock.lock().unwrap_or_else(|p| p.into_inner());
        let mut have = position(self.store.as_ref(), &peer.name)?;
        let actor = crate::receive::peer_actor(peer, &self.node_org);
        let mut txn = self.store.begin()?;
        let started = Instant::now();
        let (mut batches, mut versions, mut changed, mut last_more) = (0, 0, false, more);
        let mut current = Some((more, batch));
        while let Some((more, batch)) = current.take() {
            batches += 1;
            let mut writer = crate::receive::BatchWriter::begin(self.store.as_ref(), peer, &actor, &batch, have, Vec::new())?;
            loop {
                match rx.recv() {
                    Ok(Pulled::Part(part)) => {
                        versions += part.len();
                        writer.add(txn.as_mut(), part)?;
                    }
                    Ok(Pulled::End) => break,
                    // The transaction rolls back when dropped.
                    _ => return Err(check_stopped()),
                }
            }
            let reply = writer.finish(txn.as_mut())?;
            have = reply.have;
            changed |= reply.stored > 0;
            last_more = more;
            if !more || versions >= PULL_TXN_OBJECTS || started.elapsed() >= PULL_TXN_TIME {
                break;
            }
            match rx.try_recv() {
                Ok(Pulled::Begin { more, batch }) if !crate::receive::has_deletions(&batch) => current = Some((more, batch)),
                Ok(other) => *next = Some(other),
                Err(_) => {}
            }
        }
        txn.commit()?;
        tracing::debug!(peer = %peer.name, batches, versions, ms = started.elapsed().as_millis() as u64, "pulled batches committed");
        if changed {
            (self.on_commit)();
            self.wakeup.notify();
        }
        Ok(last_more)
    }

    /// Sleeps `wait`, waking early when the engine stops.
    fn sleep(&self, wait: Duration) {
        self.sleep_until(wait, || false);
    }

    /// Sleeps like [`Self::sleep`], but returns early, with `true`, when
    /// `peer` sends an authenticated request after the sleep began.
    fn sleep_until_heard(&self, peer: &str, wait: Duration) -> bool {
        let heard = || self.heard_from.lock().unwrap_or_else(|p| p.into_inner()).remove(peer);
        heard();
        self.sleep_until(wait, heard)
    }

    /// Sleeps `wait`, looking at `done` every 200 ms at most; returns
    /// whether `done` ended it (not the time, not the engine stopping).
    fn sleep_until(&self, wait: Duration, mut done: impl FnMut() -> bool) -> bool {
        let deadline = Instant::now() + wait;
        while !self.stopped() {
            if done() {
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            let seen = self.wakeup.generation();
            self.wakeup.wait(seen, (deadline - now).min(Duration::from_millis(200)));
        }
        false
    }

    /// Starts the workers of every configured peer, and a supervisor that
    /// starts those of peers added later (removed peers' workers end).
    pub fn start(self: &Arc<Self>) {
        let engine = self.clone();
        let spawn = std::thread::Builder::new().name("federation".into()).spawn(move || {
            let mut running: std::collections::BTreeSet<String> = std::collections::BTreeSet::new();
            while !engine.stopped() {
                match load_peers(engine.store.as_ref()) {
                    Ok(peers) => {
                        let names: Vec<String> = peers.iter().map(|p| p.name.clone()).collect();
                        *engine.peers.lock().unwrap_or_else(|p| p.into_inner()) = peers;
                        running.retain(|name| names.contains(name));
                        for name in names {
                            if !running.insert(name.clone()) {
                                continue;
                            }
                            tracing::info!(peer = %name, "federation workers started");
                            for (kind, pull) in [("push", false), ("pull", true)] {
                                let worker = engine.clone();
                                let peer = name.clone();
                                let result = std::thread::Builder::new().name(format!("{kind}-{name}")).spawn(move || {
                                    if pull { worker.pull_worker(peer) } else { worker.push_worker(peer) }
                                });
                                if let Err(e) = result {
                                    tracing::error!(peer = %name, error = %e, "cannot start a federation worker");
                                }
                            }
                        }
                    }
                    Err(e) => tracing::error!(error = %e, "cannot load the peers"),
                }
                engine.sleep(engine.config.reload_interval);
            }
        });
        if let Err(e) = spawn {
            tracing::error!(error = %e, "cannot start federation");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use phalanx_labels::{Label, Tlp};
    use phalanx_model::Timestamp;

    fn version(seq: i64, json_len: usize) -> StoredObject {
        StoredObject {
            seq,
            id: format!("note--{seq}"),
            object_type: "note".into(),
            version: None,
            date_added: Timestamp::from_unix_micros(seq),
            label: Label::unclassified(Tlp::Clear),
            origin: "local:t".into(),
            revoked: false,
            json: "x".repeat(json_len),
        }
    }

    #[test]
    fn a_batch_is_cut_before_it_passes_its_byte_budget() {
        let mut versions: Vec<StoredObject> = (1..=10).map(|seq| version(seq, 1000 - VERSION_OVERHEAD_BYTES)).collect();
        assert!(cut_to_bytes(&mut versions, 3500));
        assert_eq!(versions.iter().map(|v| v.seq).collect::<Vec<_>>(), vec![1, 2, 3]);
        let mut small: Vec<StoredObject> = (1..=3).map(|seq| version(seq, 10)).collect();
        assert!(!cut_to_bytes(&mut small, 3500));
        assert_eq!(small.len(), 3);
    }

    #[test]
    fn one_version_larger_than_the_budget_still_travels_alone() {
        let mut versions = vec![version(1, 5000), version(2, 10)];
        assert!(cut_to_bytes(&mut versions, 1000));
        assert_eq!(versions.len(), 1);
        assert_eq!(versions[0].seq, 1);
    }

    #[test]
    fn the_batch_budget_fits_the_receivers_body_limit() {
        // A batch carries at most MAX_BATCH_BYTES of versions plus one
        // more, which is at most MAX_OBJECT_BYTES.
        assert!(MAX_BATCH_BYTES + crate::receive::MAX_OBJECT_BYTES < crate::server::MAX_BODY_BYTES);
    }

    #[test]
    fn the_signature_cache_answers_only_for_the_same_key_and_keeps_the_newer_half() {
        let mut cache = SignatureCache::default();
        cache.insert(1, "k1", "sig-1", None);
        assert_eq!(cache.get(1, "k1"), Some(("sig-1".to_string(), None)));
        assert_eq!(cache.get(1, "k2"), None, "a signature by another key is no signature by this one");
        assert_eq!(cache.get(2, "k1"), None);
        for seq in 2..=SIGNATURE_CACHE_ENTRIES as i64 + 1 {
            cache.insert(seq, "k1", "s", None);
        }
        assert!(cache.by_seq.len() <= SIGNATURE_CACHE_ENTRIES);
        assert_eq!(cache.get(1, "k1"), None, "the oldest went");
        assert!(cache.get(SIGNATURE_CACHE_ENTRIES as i64 + 1, "k1").is_some(), "the newest stayed");
    }

    /// An engine whose organisation `ORG` wrote `n` TLP:CLEAR indicators,
    /// with two peers (`p1`, `p2`) that may have them.
    fn engine_with_local_versions(n: u8) -> (tempfile::TempDir, Arc<KeyRing>, Arc<Federation>) {
        use phalanx_store::{NewVersion, Store};
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(phalanx_store::SqliteStore::open(&dir.path().join("store")).unwrap());
        let keys = Arc::new(KeyRing::open(&dir.path().join("keys")).unwrap());
        let label = Label::unclassified(Tlp::Clear).with_originator(Some(ORG.into()));
        let mut txn = store.begin().unwrap();
        for i in 1..=n {
            let object = phalanx_model::StixObject::from_value(
                serde_json::json!({
                    "type": "indicator", "spec_version": "2.1", "id": format!("indicator--c0000000-0000-4000-8000-0000000000{i:02}"),
                    "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z",
                    "pattern": format!("[ipv4-addr:value = '198.51.100.{i}']"), "pattern_type": "stix", "valid_from": "2026-01-01T00:00:00Z"
                }),
                "$",
            )
            .unwrap()
            .object;
            let json = object.to_json_string();
            txn.put(NewVersion { object: &object, json: &json, label: &label, origin: "local:test" }).unwrap();
        }
        txn.commit().unwrap();
        peers_serving(&store, &keys, "identity--b0000000-0000-4000-8000-000000000002", "partner", &["p1", "p2"]);
        let engine = Federation::new(store, keys.clone(), ORG.into(), SyncConfig::default(), Box::new(|| {})).unwrap();
        (dir, keys, engine)
    }

    /// Registers organisation `org` (of kind `kind`) and peers `names` that
    /// serve it, keyed with this node's key.
    fn peers_serving(store: &phalanx_store::SqliteStore, keys: &KeyRing, org: &str, kind: &str, names: &[&str]) {
        use phalanx_store::Registry;
        store
            .put_organisation(&phalanx_store::OrganisationRecord {
                org: phalanx_labels::Organisation::new(org),
                name: kind.into(),
                kind: kind.into(),
                created: phalanx_model::Timestamp::now(3),
            })
            .unwrap();
        let config = crate::peers::PeerConfig {
            url: "http://127.0.0.1:9".into(),
            key: keys.node().public_text(),
            serves: vec![org.into()],
            accredited: Default::default(),
            ceiling: phalanx_labels::Rank::Unclassified,
            exercises: Default::default(),
        };
        for name in names {
            store.put_peer(name, &serde_json::to_string(&config).unwrap()).unwrap();
        }
    }

    /// The organisation that wrote the versions of [`engine_with_local_versions`].
    const ORG: &str = "identity--a0000000-0000-4000-8000-000000000001";

    #[test]
    fn a_local_version_is_signed_once_for_every_peer_and_again_after_a_key_rotation() {
        let (_dir, keys, engine) = engine_with_local_versions(1);
        let first = engine.outgoing(&engine.current_peer("p1").unwrap(), 0, 10).unwrap();
        assert_eq!(first.objects.len(), 1, "the TLP:CLEAR version goes to the peer");
        assert_eq!(engine.signatures.lock().unwrap().by_seq.len(), 1, "its signature is kept");
        let second = engine.outgoing(&engine.current_peer("p2").unwrap(), 0, 10).unwrap();
        assert_eq!(second.objects[0].sig, first.objects[0].sig);
        // A rotated key signs again: the kept signature is by the old key,
        // which a new peer would not know.
        let (_, new_key) = keys.rotate(ORG).unwrap();
        let third = engine.outgoing(&engine.current_peer("p2").unwrap(), 0, 10).unwrap();
        let sent = &third.objects[0];
        assert_eq!(sent.key_id, new_key.key_id);
        assert!(crate::keys::verify(&new_key.public(), sent.object.get().as_bytes(), &sent.sig).is_ok());
        assert_ne!(sent.sig, first.objects[0].sig);
    }

    #[test]
    fn local_versions_of_a_batch_are_signed_as_one_tree_and_each_proves_its_root() {
        let (_dir, keys, engine) = engine_with_local_versions(3);
        let batch = engine.outgoing(&engine.current_peer("p1").unwrap(), 0, 10).unwrap();
        assert_eq!(batch.objects.len(), 3);
        let public = keys.org(ORG).unwrap().public();
        for (i, o) in batch.objects.iter().enumerate() {
            assert_eq!(o.sig, batch.objects[0].sig, "one signature for the tree");
            let proof = o.tree.as_ref().expect("a proof");
            assert_eq!((proof.index, proof.size), (i as u32, 3));
            let root = crate::tree::proven_root(proof, o.object.get().as_bytes()).unwrap();
            assert!(crate::keys::verify(&public, &tree_message(&root, 3), &o.sig).is_ok(), "object {i} proves the signed root");
            assert!(crate::keys::verify(&public, o.object.get().as_bytes(), &o.sig).is_err(), "the signature is not over the object alone");
        }
        // Another peer gets the same signature and proofs (kept, not made again).
        let again = engine.outgoing(&engine.current_peer("p2").unwrap(), 0, 10).unwrap();
        for (a, b) in batch.objects.iter().zip(&again.objects) {
            assert_eq!((&a.sig, &a.tree), (&b.sig, &b.tree));
        }
    }

    /// A receiving engine whose peers `d` and `e` serve [`ORG`].
    fn receiver() -> (tempfile::TempDir, Arc<phalanx_store::SqliteStore>, Arc<Federation>) {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(phalanx_store::SqliteStore::open(&dir.path().join("store")).unwrap());
        let keys = Arc::new(KeyRing::open(&dir.path().join("keys")).unwrap());
        peers_serving(&store, &keys, ORG, "csirt", &["d", "e"]);
        let engine = Federation::new(store.clone(), keys, "identity--c0000000-0000-4000-8000-000000000003".into(), SyncConfig::default(), Box::new(|| {}))
            .unwrap();
        (dir, store, engine)
    }

    #[test]
    fn a_pulled_batch_is_stored_part_by_part_and_nothing_of_it_when_its_checks_stop() {
        let (_sender_dir, _keys, sender) = engine_with_local_versions(7);
        let mut batch = sender.outgoing(&sender.current_peer("p1").unwrap(), 0, 10).unwrap();
        assert_eq!(batch.objects.len(), 7);
        // One object altered on the way: refused alone.
        let altered = batch.objects[3].object.get().replace("198.51.100.4", "198.51.100.99");
        batch.objects[3].object = serde_json::value::RawValue::from_string(altered).unwrap();
        let (_dir, store, engine) = receiver();
        let peer = engine.current_peer("d").unwrap();
        // What this node holds of them: what it would pass on to `e`.
        let other = engine.current_peer("e").unwrap();
        let stored = || engine.store.release_page(&other.scope, Cursor(0), 100).unwrap().objects.len();

        // The check thread stops after the first part: nothing is written.
        let (tx, rx) = std::sync::mpsc::sync_channel(16);
        let (begun, mut objects) = crate::receive::begin_check(store.as_ref(), &peer, batch.clone(), 0).unwrap();
        tx.send(Pulled::Begin { more: false, batch: begun }).unwrap();
        tx.send(Pulled::Part(objects.next_part(&peer, 3).unwrap())).unwrap();
        drop(tx);
        let (failed, _) = engine.store_pulled(&peer, &rx);
        assert!(failed.expect("a failure").contains("stopped before the batch's end"));
        assert_eq!(stored(), 0, "the part written before rolled back");
        assert_eq!(position(store.as_ref(), "d").unwrap(), 0);

        // Every part, then the end: all but the altered object, and the
        // position after the batch.
        let (tx, rx) = std::sync::mpsc::sync_channel(16);
        let (begun, mut objects) = crate::receive::begin_check(store.as_ref(), &peer, batch.clone(), 0).unwrap();
        tx.send(Pulled::Begin { more: false, batch: begun }).unwrap();
        let mut parts = 0;
        while let Some(part) = objects.next_part(&peer, 3) {
            parts += 1;
            tx.send(Pulled::Part(part)).unwrap();
        }
        tx.send(Pulled::End).unwrap();
        drop(tx);
        assert_eq!(parts, 3, "7 objects in parts of 3");
        let (failed, caught_up) = engine.store_pulled(&peer, &rx);
        assert_eq!(failed, None);
        assert!(caught_up);
        let exchange = engine.store.peers().unwrap().into_iter().find(|p| p.name == "d").unwrap();
        assert_eq!((exchange.received, exchange.refused), (6, 1));
        assert_eq!(stored(), 6);
        assert_eq!(position(store.as_ref(), "d").unwrap(), batch.to);
    }

    #[test]
    fn a_push_reply_says_whether_our_pull_worker_reads_the_senders_stream() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(phalanx_store::SqliteStore::open(&dir.path().join("store")).unwrap());
        let keys = Arc::new(KeyRing::open(&dir.path().join("keys")).unwrap());
        let config = crate::peers::PeerConfig {
            url: "http://127.0.0.1:9".into(),
            key: keys.node().public_text(),
            serves: Vec::new(),
            accredited: Default::default(),
            ceiling: phalanx_labels::Rank::Unclassified,
            exercises: Default::default(),
        };
        store.put_peer("d", &serde_json::to_string(&config).unwrap()).unwrap();
        let engine = Federation::new(store, keys, "identity--1".into(), SyncConfig::default(), Box::new(|| {})).unwrap();
        let peer = engine.current_peer("d").unwrap();
        let probe = || Batch { from: 0, to: 0, more: false, objects: Vec::new(), keys: Vec::new(), deletions: Vec::new() };
        assert!(!engine.take_batch(&peer, probe()).unwrap().pulling);
        engine.set_pulling("d", true);
        assert!(engine.take_batch(&peer, probe()).unwrap().pulling, "a pulled peer must hear it, or it pushes the backlog as well");
        engine.set_pulling("other", false);
        assert!(engine.take_batch(&peer, probe()).unwrap().pulling);
        engine.set_pulling("d", false);
        assert!(!engine.take_batch(&peer, probe()).unwrap().pulling);
    }
}
