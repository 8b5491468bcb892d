//! Ed25519 keys: one for the node (it authenticates the node to its
//! peers) and one per organisation the node hosts (it signs the objects
//! that organisation originates).
//!
//! Private keys live only in files of mode 0600 under `<data>/keys/`
//! (`node.key`, `org-<uuid>.key`, 64 hex digits of the secret seed);
//! rotated-out keys move to `<data>/keys/retired/`. They are never stored
//! in the database and never logged. A key's id is the first 16 hex digits
//! of the SHA-256 of its public key, so an id names exactly one key.

use crate::error::FederationError;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// The folder of the key files inside the data directory.
pub const KEY_DIR: &str = "keys";
/// The owner name of the node's own key.
pub const NODE_OWNER: &str = "node";

/// The id of a public key: the first 16 hex digits of its SHA-256.
pub fn key_id_of(public: &VerifyingKey) -> String {
    let digest = Sha256::digest(public.as_bytes());
    let mut id = String::with_capacity(16);
    for b in &digest[..8] {
        id.push_str(&format!("{b:02x}"));
    }
    id
}

/// Parses a public key given as base64 (32 bytes).
pub fn parse_public_key(text: &str) -> Result<VerifyingKey, String> {
    let bytes = B64.decode(text.trim()).map_err(|e| format!("not base64: {e}"))?;
    let bytes: [u8; 32] = bytes.try_into().map_err(|b: Vec<u8>| format!("{} bytes, an Ed25519 public key has 32", b.len()))?;
    VerifyingKey::from_bytes(&bytes).map_err(|_| "not an Ed25519 public key".to_string())
}

/// The base64 text of a public key.
pub fn public_key_text(key: &VerifyingKey) -> String {
    B64.encode(key.as_bytes())
}

/// Verifies an Ed25519 signature (base64) over `message` (strict
/// verification: no malleable signatures, no weak keys).
pub fn verify(key: &VerifyingKey, message: &[u8], signature: &str) -> Result<(), String> {
    key.verify_strict(message, &decode_signature(signature)?).map_err(|_| "the signature does not verify".to_string())
}

/// Decodes a signature given as base64.
pub fn decode_signature(signature: &str) -> Result<Signature, String> {
    let bytes = B64.decode(signature).map_err(|_| "the signature is not base64".to_string())?;
    let bytes: [u8; 64] = bytes.try_into().map_err(|_| "the signature is not 64 bytes".to_string())?;
    Ok(Signature::from_bytes(&bytes))
}

/// Verifies many signatures at once: `true` when every one verifies.
/// Ed25519 batch verification costs about 16 µs a signature on this
/// project's machine against 38 µs one by one (bench/RESULTS.md,
/// Federation); when it fails, the caller verifies one by one to name the
/// bad ones. It is sound like single verification (a random linear
/// combination: nobody without the private key makes a batch pass) but
/// uses the cofactored equation, so a signature that its own key holder
/// crafted with a small-order component could pass here and fail
/// [`verify`]: that forges nothing. Weak (small-order) keys never reach
/// it: [`is_usable_key`] refuses them first.
/// `messages[i]` is signed by `signatures[i]` under `keys[i]`; slices of
/// different lengths never verify.
pub fn verify_many(messages: &[&[u8]], signatures: &[Signature], keys: &[VerifyingKey]) -> bool {
    if messages.is_empty() && signatures.is_empty() && keys.is_empty() {
        return true;
    }
    ed25519_dalek::verify_batch(messages, signatures, keys).is_ok()
}

/// Whether a key may verify objects: not a weak (small-order) key, which
/// strict verification refuses too.
pub fn is_usable_key(key: &VerifyingKey) -> bool {
    !key.is_weak()
}

/// A private key with its owner and id.
pub struct KeyPair {
    /// `node`, or the organisation id.
    pub owner: String,
    /// The key id (see [`key_id_of`]).
    pub key_id: String,
    signing: SigningKey,
}

impl std::fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyPair").field("owner", &self.owner).field("key_id", &self.key_id).finish_non_exhaustive()
    }
}

impl KeyPair {
    fn new(owner: &str, signing: SigningKey) -> Self {
        KeyPair { owner: owner.to_owned(), key_id: key_id_of(&signing.verifying_key()), signing }
    }

    /// The public key.
    pub fn public(&self) -> VerifyingKey {
        self.signing.verifying_key()
    }

    /// The public key as base64.
    pub fn public_text(&self) -> String {
        public_key_text(&self.public())
    }

    /// Signs `message`; the signature as base64.
    pub fn sign(&self, message: &[u8]) -> String {
        B64.encode(self.signing.sign(message).to_bytes())
    }
}

/// The node's keys, loaded from (and created in) `<data>/keys/`.
pub struct KeyRing {
    dir: PathBuf,
    node: Arc<KeyPair>,
    orgs: Mutex<HashMap<String, Arc<KeyPair>>>,
}

fn file_error(path: &Path, e: impl std::fmt::Display) -> FederationError {
    FederationError::KeyFile { path: path.display().to_string(), message: e.to_string() }
}

/// The file name of `owner`'s key.
fn file_name(owner: &str) -> Result<String, FederationError> {
    if owner == NODE_OWNER {
        return Ok("node.key".into());
    }
    match owner.strip_prefix("identity--") {
        Some(uuid) if phalanx_labels::is_identity_id(owner) => Ok(format!("org-{uuid}.key")),
        _ => Err(FederationError::input("org", format!("'{owner}' is not an organisation id (identity--<uuid>)"))),
    }
}

fn generate() -> Result<SigningKey, FederationError> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| FederationError::Randomness(e.to_string()))?;
    Ok(SigningKey::from_bytes(&seed))
}

fn read_key(path: &Path) -> Result<Option<SigningKey>, FederationError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(file_error(path, e)),
    };
    let mode = std::fs::metadata(path).map_err(|e| file_error(path, e))?.permissions().mode();
    if mode & 0o077 != 0 {
        return Err(file_error(path, format!("mode {:o}: a private key file must be readable by its owner only (0600)", mode & 0o777)));
    }
    let hex = text.trim();
    if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(file_error(path, "not 64 hex digits"));
    }
    let mut seed = [0u8; 32];
    for (i, byte) in seed.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).map_err(|e| file_error(path, e))?;
    }
    Ok(Some(SigningKey::from_bytes(&seed)))
}

/// Writes a key file (mode 0600) atomically: a temporary file, synced,
/// then renamed over the target.
fn write_key(path: &Path, key: &SigningKey) -> Result<(), FederationError> {
    let tmp = path.with_extension("key.tmp");
    let mut text = String::with_capacity(65);
    for b in key.as_bytes() {
        text.push_str(&format!("{b:02x}"));
    }
    text.push('\n');
    let _ = std::fs::remove_file(&tmp);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(|e| file_error(&tmp, e))?;
    file.write_all(text.as_bytes()).and_then(|()| file.sync_all()).map_err(|e| file_error(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| file_error(path, e))
}

fn make_dir(dir: &Path) -> Result<(), FederationError> {
    std::fs::create_dir_all(dir).map_err(|e| file_error(dir, e))?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(|e| file_error(dir, e))
}

impl KeyRing {
    /// Opens the keys of the node in data directory `data`, creating the
    /// node key when there is none.
    pub fn open(data: &Path) -> Result<Self, FederationError> {
        let dir = data.join(KEY_DIR);
        make_dir(&dir)?;
        let path = dir.join(file_name(NODE_OWNER)?);
        let node = match read_key(&path)? {
            Some(k) => k,
            None => {
                let k = generate()?;
                write_key(&path, &k)?;
                tracing::info!(key_id = %key_id_of(&k.verifying_key()), "node key created");
                k
            }
        };
        Ok(KeyRing { dir, node: Arc::new(KeyPair::new(NODE_OWNER, node)), orgs: Mutex::new(HashMap::new()) })
    }

    /// The node's key.
    pub fn node(&self) -> Arc<KeyPair> {
        self.node.clone()
    }

    /// The key of organisation `org`, created when it has none yet (an
    /// organisation hosted here gets its key when it first signs).
    pub fn org(&self, org: &str) -> Result<Arc<KeyPair>, FederationError> {
        let mut orgs = self.orgs.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(k) = orgs.get(org) {
            return Ok(k.clone());
        }
        let path = self.dir.join(file_name(org)?);
        let key = match read_key(&path)? {
            Some(k) => k,
            None => {
                let k = generate()?;
                write_key(&path, &k)?;
                tracing::info!(org, key_id = %key_id_of(&k.verifying_key()), "organisation key created");
                k
            }
        };
        let pair = Arc::new(KeyPair::new(org, key));
        orgs.insert(org.to_owned(), pair.clone());
        Ok(pair)
    }

    /// The organisation keys that exist on disk, by organisation id.
    pub fn org_keys(&self) -> Result<Vec<Arc<KeyPair>>, FederationError> {
        let mut owners = Vec::new();
        for entry in std::fs::read_dir(&self.dir).map_err(|e| file_error(&self.dir, e))? {
            let entry = entry.map_err(|e| file_error(&self.dir, e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if let Some(uuid) = name.strip_prefix("org-").and_then(|n| n.strip_suffix(".key")) {
                owners.push(format!("identity--{uuid}"));
            }
        }
        owners.sort();
        let mut out = Vec::new();
        for owner in owners {
            out.push(self.org(&owner)?);
        }
        Ok(out)
    }

    /// Replaces `owner`'s key (`node` or an organisation id) by a new one;
    /// the old file moves to `retired/` (objects signed with it still
    /// verify at peers that learned it). Returns the old key id and the new key.
    pub fn rotate(&self, owner: &str) -> Result<(Option<String>, Arc<KeyPair>), FederationError> {
        let path = self.dir.join(file_name(owner)?);
        let old = read_key(&path)?;
        let old_id = old.as_ref().map(|k| key_id_of(&k.verifying_key()));
        if let (Some(_), Some(id)) = (&old, &old_id) {
            let retired = self.dir.join("retired");
            make_dir(&retired)?;
            let stem = file_name(owner)?;
            let target = retired.join(format!("{}.{id}.key", stem.trim_end_matches(".key")));
            std::fs::rename(&path, &target).map_err(|e| file_error(&target, e))?;
        }
        let key = generate()?;
        write_key(&path, &key)?;
        let pair = Arc::new(KeyPair::new(owner, key));
        if owner != NODE_OWNER {
            self.orgs.lock().unwrap_or_else(|p| p.into_inner()).insert(owner.to_owned(), pair.clone());
        }
        tracing::info!(owner, old = ?old_id, new = %pair.key_id, "key rotated");
        Ok((old_id, pair))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ORG: &str = "identity--6d1bb8a3-4ad4-4a8d-9a63-7a1a6bd0f2ad";

    #[test]
    fn keys_are_created_once_with_mode_0600_and_reloaded() {
        let dir = tempfile::tempdir().expect("tempdir");
        let ring = KeyRing::open(dir.path()).expect("open");
        let node_id = ring.node().key_id.clone();
        let org_id = ring.org(ORG).expect("org key").key_id.clone();
        assert_ne!(node_id, org_id);
        for name in ["node.key", "org-6d1bb8a3-4ad4-4a8d-9a63-7a1a6bd0f2ad.key"] {
            let mode = std::fs::metadata(dir.path().join(KEY_DIR).join(name)).expect("file").permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{name}");
        }
        let again = KeyRing::open(dir.path()).expect("reopen");
        assert_eq!(again.node().key_id, node_id);
        assert_eq!(again.org(ORG).expect("org").key_id, org_id);
        assert_eq!(again.org_keys().expect("list").len(), 1);
    }

    #[test]
    fn a_signature_verifies_only_for_its_message_and_key() {
        let dir = tempfile::tempdir().expect("tempdir");
        let ring = KeyRing::open(dir.path()).expect("open");
        let key = ring.org(ORG).expect("org");
        let sig = key.sign(b"hello");
        assert!(verify(&key.public(), b"hello", &sig).is_ok());
        assert!(verify(&key.public(), b"hellp", &sig).is_err());
        assert!(verify(&ring.node().public(), b"hello", &sig).is_err());
        assert!(verify(&key.public(), b"hello", "not base64!").is_err());
        let parsed = parse_public_key(&key.public_text()).expect("parse");
        assert_eq!(key_id_of(&parsed), key.key_id);
        assert!(parse_public_key("AAAA").is_err());
    }

    #[test]
    fn a_batch_verifies_only_when_every_signature_does() {
        let dir = tempfile::tempdir().expect("tempdir");
        let ring = KeyRing::open(dir.path()).expect("open");
        let org = ring.org(ORG).expect("org");
        let node = ring.node();
        let messages: Vec<Vec<u8>> = (0..40).map(|i| format!("object {i}").into_bytes()).collect();
        let refs: Vec<&[u8]> = messages.iter().map(Vec::as_slice).collect();
        let (mut signatures, mut keys) = (Vec::new(), Vec::new());
        for (i, m) in messages.iter().enumerate() {
            let key = if i % 3 == 0 { &node } else { &org };
            signatures.push(decode_signature(&key.sign(m)).expect("decode"));
            keys.push(key.public());
        }
        assert!(verify_many(&refs, &signatures, &keys), "forty good signatures by two keys");
        assert!(verify_many(&[], &[], &[]), "nothing to verify");
        assert!(!verify_many(&refs[..39], &signatures, &keys), "lengths differ");
        // One signature over another message, one under the wrong key.
        let mut swapped = signatures.clone();
        swapped[7] = signatures[8];
        assert!(!verify_many(&refs, &swapped, &keys));
        let mut wrong_key = keys.clone();
        wrong_key[5] = node.public();
        assert!(!verify_many(&refs, &signatures, &wrong_key));
        assert!(is_usable_key(&org.public()));
        assert!(decode_signature("AAAA").is_err());
    }

    #[test]
    fn rotation_retires_the_old_key() {
        let dir = tempfile::tempdir().expect("tempdir");
        let ring = KeyRing::open(dir.path()).expect("open");
        let before = ring.org(ORG).expect("org").key_id.clone();
        let (old, new) = ring.rotate(ORG).expect("rotate");
        assert_eq!(old.as_deref(), Some(before.as_str()));
        assert_ne!(new.key_id, before);
        assert_eq!(ring.org(ORG).expect("org").key_id, new.key_id);
        let retired = dir.path().join(KEY_DIR).join("retired");
        assert_eq!(std::fs::read_dir(retired).expect("retired").count(), 1);
        assert!(ring.rotate("not-an-org").is_err());
    }

    #[test]
    fn a_key_file_readable_by_others_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        drop(KeyRing::open(dir.path()).expect("open"));
        let path = dir.path().join(KEY_DIR).join("node.key");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let error = KeyRing::open(dir.path()).err().expect("refused").to_string();
        assert!(error.contains("0600"), "{error}");
    }
}
