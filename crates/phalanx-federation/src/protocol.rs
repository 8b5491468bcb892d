//! The wire protocol between nodes: batches of signed objects, the keys
//! that verify them, and node authentication of requests and responses.
//!
//! An object is signed by its originator organisation over its RFC 8785
//! canonical form ([`phalanx_model::jcs`]), alone or as a leaf of a signed
//! tree ([`crate::tree`]); the signature (and proof) travels with the
//! object through every hop unchanged, and the object travels as that
//! canonical text, so a receiver verifies the bytes it got (another text
//! of the same object does not verify) and stores them as they are.
//!
//! A request (or a pull response) carries the header [`AUTH_HEADER`]:
//! `key_id=<node key id>;ts=<unix seconds>;sig=<base64>`, an Ed25519
//! signature by the sending node's key over
//! `phalanx-federation-v1\n<METHOD>\n<path and query>\n<ts>\n<hex SHA-256 of the body>`
//! (method `RESPONSE` for a response). A timestamp more than
//! [`MAX_CLOCK_SKEW_SECS`] away from the receiver's clock is refused.

use crate::keys::{KeyPair, verify};
use ed25519_dalek::VerifyingKey;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};

/// The header carrying node authentication.
pub const AUTH_HEADER: &str = "phalanx-node-auth";
/// The path peers push batches to.
pub const PUSH_PATH: &str = "/federation/v1/push";
/// The path peers pull changes from (`?after=<seq>&limit=<n>`).
pub const CHANGES_PATH: &str = "/federation/v1/changes";
/// How far a request's timestamp may be from the receiver's clock.
pub const MAX_CLOCK_SKEW_SECS: i64 = 300;

/// One object as it travels: the object and its originator's signature.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedObject {
    /// The version's `seq` on the sending node (its place in the stream).
    pub seq: i64,
    /// The STIX object as its RFC 8785 canonical text ([`signed_text`]):
    /// exactly the bytes its signature covers. The receiver verifies these
    /// bytes and stores the object parsed from them, so it never
    /// canonicalises or serialises the object again.
    pub object: Box<RawValue>,
    /// The originator organisation that signed it.
    pub signer: String,
    /// The id of the key that signed it.
    pub key_id: String,
    /// The Ed25519 signature, base64: over the object's RFC 8785 form, or,
    /// with `tree`, over the root of a tree of objects that holds it.
    pub sig: String,
    /// The object's inclusion proof when `sig` signs a tree
    /// ([`crate::tree`]): an originator signs up to
    /// [`crate::tree::MAX_TREE_LEAVES`] objects at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tree: Option<crate::tree::TreeProof>,
}

/// The deletion of one version, signed by the object's originator over
/// [`deletion_bytes`]; it travels like an object.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedDeletion {
    /// The object id.
    pub id: String,
    /// The version's sort key (`modified`/`created`, 9 digits), `""` when unversioned.
    pub version: String,
    /// The originator organisation that signed it.
    pub signer: String,
    /// The id of the key that signed it.
    pub key_id: String,
    /// The Ed25519 signature, base64.
    pub sig: String,
}

/// The bytes a deletion's signature covers.
pub fn deletion_bytes(id: &str, version: &str) -> Vec<u8> {
    format!("phalanx-delete-v1\n{id}\n{version}").into_bytes()
}

/// The key under which a deletion's signature is stored beside the
/// versions' signatures.
pub fn deletion_key(version: &str) -> String {
    format!("deleted:{version}")
}

/// A public key that verifies objects of a batch.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct PublicKey {
    /// The organisation that owns it.
    pub owner: String,
    /// Its id.
    pub key_id: String,
    /// The Ed25519 public key, base64.
    pub public_key: String,
}

/// A run of the sender's release stream to one peer: every version with
/// `from < seq <= to` that may go to the receiver (versions that came from
/// the receiver are left out, but counted in the run).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Batch {
    /// The stream position before the run.
    pub from: i64,
    /// The stream position after it.
    pub to: i64,
    /// Whether more follows right away (pull).
    #[serde(default)]
    pub more: bool,
    /// The objects, in the sender's commit order.
    pub objects: Vec<SignedObject>,
    /// Keys of the signers of these objects and deletions.
    #[serde(default)]
    pub keys: Vec<PublicKey>,
    /// Deletions of versions sent earlier (pushed once the objects are
    /// up to date, so a deletion never overtakes its version).
    #[serde(default)]
    pub deletions: Vec<SignedDeletion>,
}

impl Batch {
    /// About how many bytes the batch takes as JSON, a little more rather
    /// than less: its objects' texts, signatures and proofs, and room for
    /// the keys and deletions.
    pub fn size_hint(&self) -> usize {
        let mut bytes = 4096 + 512 * (self.keys.len() + self.deletions.len());
        for o in &self.objects {
            bytes += 128 + o.object.get().len() + o.signer.len() + o.key_id.len() + o.sig.len();
            if let Some(proof) = &o.tree {
                bytes += 64 + proof.salt.len() + proof.path.len();
            }
        }
        bytes
    }
}

/// One refused object in a [`PushReply`].
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Refused {
    /// The object's id, when it had one.
    pub id: Option<String>,
    /// Why.
    pub reason: String,
}

/// The answer to a push (and the outcome of a pulled batch).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct PushReply {
    /// The receiver's position in the sender's stream after this batch:
    /// the sender continues after it.
    pub have: i64,
    /// New versions stored.
    pub stored: u64,
    /// Versions already held.
    pub unchanged: u64,
    /// Versions deleted.
    #[serde(default)]
    pub deleted: u64,
    /// Versions refused, with reasons (at most [`MAX_REASONS`] listed).
    pub refused: Vec<Refused>,
    /// How many were refused in all.
    pub refused_count: u64,
    /// Whether the receiver is pulling from the sender's stream right
    /// now: its pull worker carries the backlog, and the sender's push
    /// worker leaves it alone (both would send every version).
    #[serde(default)]
    pub pulling: bool,
}

/// Most refusal reasons listed in a reply or an audit entry.
pub const MAX_REASONS: usize = 20;

/// The bytes an object's signature covers: its RFC 8785 canonical form.
pub fn signed_bytes(object: &serde_json::Value) -> Vec<u8> {
    phalanx_model::jcs::canonicalize(object).into_bytes()
}

/// An object as it travels: its canonical text ([`signed_bytes`]).
pub fn signed_text(object: &serde_json::Value) -> Result<Box<RawValue>, serde_json::Error> {
    RawValue::from_string(phalanx_model::jcs::canonicalize(object))
}

fn auth_message(method: &str, path: &str, ts: i64, body: &[u8]) -> Vec<u8> {
    let digest = Sha256::digest(body);
    let mut hex = String::with_capacity(64);
    for b in digest {
        hex.push_str(&format!("{b:02x}"));
    }
    format!("phalanx-federation-v1\n{method}\n{path}\n{ts}\n{hex}").into_bytes()
}

/// The current time in unix seconds.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

/// The [`AUTH_HEADER`] value for a request (`method` `RESPONSE` for a
/// response) by the node key `key`.
pub fn auth_header(key: &KeyPair, method: &str, path: &str, body: &[u8]) -> String {
    let ts = unix_now();
    format!("key_id={};ts={ts};sig={}", key.key_id, key.sign(&auth_message(method, path, ts, body)))
}

/// The parts of an [`AUTH_HEADER`] value.
#[derive(Debug, PartialEq, Eq)]
pub struct AuthParts<'a> {
    /// The sender's node key id.
    pub key_id: &'a str,
    /// Its timestamp.
    pub ts: i64,
    /// The signature.
    pub sig: &'a str,
}

/// Parses an [`AUTH_HEADER`] value.
pub fn parse_auth(value: &str) -> Option<AuthParts<'_>> {
    let (mut key_id, mut ts, mut sig) = (None, None, None);
    for part in value.split(';') {
        let (k, v) = part.trim().split_once('=')?;
        match k {
            "key_id" => key_id = Some(v),
            "ts" => ts = v.parse::<i64>().ok(),
            "sig" => sig = Some(v),
            _ => return None,
        }
    }
    Some(AuthParts { key_id: key_id?, ts: ts?, sig: sig? })
}

/// Checks an [`AUTH_HEADER`] against the node key `key` and the clock.
pub fn check_auth(parts: &AuthParts<'_>, key: &VerifyingKey, method: &str, path: &str, body: &[u8]) -> Result<(), String> {
    if (unix_now() - parts.ts).abs() > MAX_CLOCK_SKEW_SECS {
        return Err(format!("timestamp {} is more than {MAX_CLOCK_SKEW_SECS} s from this node's clock", parts.ts));
    }
    verify(key, &auth_message(method, path, parts.ts, body), parts.sig)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::KeyRing;

    #[test]
    fn a_batch_fits_the_size_it_hints() {
        let texts: Vec<Vec<u8>> = (0..32).map(|i| format!(r#"{{"id":"indicator--{i}","name":"n\"{i}"}}"#).into_bytes()).collect();
        let refs: Vec<&[u8]> = texts.iter().map(|t| t.as_slice()).collect();
        let tree = crate::tree::build(&refs, &vec![[7u8; crate::tree::SALT_BYTES]; 32]);
        let objects: Vec<SignedObject> = texts
            .iter()
            .zip(tree.proofs)
            .enumerate()
            .map(|(i, (text, proof))| SignedObject {
                seq: 1_700_000_000_000_000 + i as i64,
                object: RawValue::from_string(String::from_utf8(text.clone()).unwrap()).unwrap(),
                signer: "identity--6a5d2a8e-1b1f-4b55-9a42-3e3a1b0e0c01".into(),
                key_id: "0123456789abcdef".into(),
                sig: "A".repeat(88),
                tree: Some(proof),
            })
            .collect();
        let batch = Batch { from: 1, to: 2, more: true, objects, keys: vec![], deletions: vec![] };
        let json = serde_json::to_vec(&batch).unwrap();
        assert!(json.len() <= batch.size_hint(), "{} bytes, hinted {}", json.len(), batch.size_hint());
        assert!(batch.size_hint() < 2 * json.len() + 4096, "a hint far above the size wastes memory");
    }

    #[test]
    fn canonical_form_ignores_member_order_and_white_space() {
        let a: serde_json::Value = serde_json::from_str(r#"{"b": 1, "a": [1, 2.0, "x"]}"#).expect("json");
        let b: serde_json::Value = serde_json::from_str(r#"{"a":[1,2,"x"],"b":1}"#).expect("json");
        assert_eq!(signed_bytes(&a), signed_bytes(&b));
        assert_eq!(signed_bytes(&a), br#"{"a":[1,2,"x"],"b":1}"#.to_vec());
    }

    #[test]
    fn request_authentication_binds_method_path_body_and_key() {
        let dir = tempfile::tempdir().expect("tempdir");
        let ring = KeyRing::open(dir.path()).expect("keys");
        let node = ring.node();
        let header = auth_header(&node, "POST", PUSH_PATH, b"{}");
        let parts = parse_auth(&header).expect("parts");
        assert_eq!(parts.key_id, node.key_id);
        assert!(check_auth(&parts, &node.public(), "POST", PUSH_PATH, b"{}").is_ok());
        assert!(check_auth(&parts, &node.public(), "POST", PUSH_PATH, b"{ }").is_err());
        assert!(check_auth(&parts, &node.public(), "GET", PUSH_PATH, b"{}").is_err());
        assert!(check_auth(&parts, &node.public(), "POST", CHANGES_PATH, b"{}").is_err());
        let other = ring.org("identity--6d1bb8a3-4ad4-4a8d-9a63-7a1a6bd0f2ad").expect("org");
        assert!(check_auth(&parts, &other.public(), "POST", PUSH_PATH, b"{}").is_err());
        let stale = AuthParts { ts: parts.ts - 3600, ..parts };
        assert!(check_auth(&stale, &node.public(), "POST", PUSH_PATH, b"{}").is_err());
        assert!(parse_auth("key_id=a;ts=x;sig=b").is_none());
        assert!(parse_auth("garbage").is_none());
    }
}
