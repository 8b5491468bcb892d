//! Signed trees: an originator signs many objects with one Ed25519
//! signature over the root of a Merkle tree of them, and each object
//! travels with its inclusion proof ([`TreeProof`]), so it can be
//! verified alone, at every hop, like an object signed by itself.
//!
//! The tree is RFC 9162's (§2.1.1): a leaf is `SHA-256(0x00 || salt ||
//! canonical text)`, an inner node `SHA-256(0x01 || left || right)`, and
//! a tree of `n` leaves splits after the largest power of two below `n`.
//! Inclusion proofs are built and checked as in RFC 9162 §2.1.3. The salt
//! (16 random bytes per leaf) keeps a proof from telling anything about the
//! other objects of its tree: a peer sees the hashes of its siblings, and
//! without their salts it cannot test a guess of what they were.
//!
//! The signature covers `phalanx-tree-v1\n`, the tree's size (4 bytes,
//! big-endian) and the 32 bytes of the root ([`tree_message`]), which no
//! object text, deletion or request message can equal. The size is signed
//! because a proof of a smaller tree can also fit a larger one.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Most objects under one signature. A proof holds one hash per level
/// (five for 32 leaves, about 220 bytes of base64), and signing costs one
/// Ed25519 signature per tree instead of one per object.
pub const MAX_TREE_LEAVES: usize = 32;

/// Bytes of a leaf's salt.
pub const SALT_BYTES: usize = 16;

/// The prefix of the message a tree's signature covers.
const TREE_MESSAGE_PREFIX: &[u8] = b"phalanx-tree-v1\n";

/// A SHA-256 hash.
pub type Hash = [u8; 32];

/// Where an object sits in a signed tree: what a receiver needs, beside
/// the object's text, to compute the root the signature covers.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct TreeProof {
    /// The leaf's salt, base64 of [`SALT_BYTES`] bytes.
    pub salt: String,
    /// The leaf's index (from 0).
    pub index: u32,
    /// The number of leaves of the tree.
    pub size: u32,
    /// The inclusion path from the leaf up (RFC 9162 §2.1.3): base64 of
    /// its 32-byte hashes one after the other; empty for a tree of one.
    pub path: String,
}

/// The hash of a leaf.
pub fn leaf_hash(salt: &[u8], text: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(salt);
    h.update(text);
    h.finalize().into()
}

fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// The levels of the tree over `leaves` (at least one), leaves first,
/// root last: each inner node hashed once. A last node without a pair is
/// carried up unchanged, which gives RFC 9162's tree (split after the
/// largest power of two below the size).
fn levels(leaves: &[Hash]) -> Vec<Vec<Hash>> {
    let mut levels = vec![leaves.to_vec()];
    while let Some(level) = levels.last().filter(|l| l.len() > 1) {
        let mut up = Vec::with_capacity(level.len().div_ceil(2));
        for pair in level.chunks(2) {
            match pair {
                [left, right] => up.push(node_hash(left, right)),
                [alone] => up.push(*alone),
                _ => {}
            }
        }
        levels.push(up);
    }
    levels
}

/// The root of the tree over `leaves` (at least one).
pub fn root(leaves: &[Hash]) -> Hash {
    levels(leaves).last().and_then(|top| top.first().copied()).unwrap_or([0; 32])
}

/// The inclusion path of leaf `index` of the tree over `leaves`, from the
/// leaf up.
pub fn inclusion_path(leaves: &[Hash], index: usize) -> Vec<Hash> {
    path_in(&levels(leaves), index)
}

/// The inclusion path of leaf `index` in the tree's `levels`: the sibling
/// at each level that has one.
fn path_in(levels: &[Vec<Hash>], mut index: usize) -> Vec<Hash> {
    let mut path = Vec::new();
    for level in &levels[..levels.len().saturating_sub(1)] {
        if let Some(sibling) = level.get(index ^ 1) {
            path.push(*sibling);
        }
        index /= 2;
    }
    path
}

/// The root that leaf `leaf` at `index` of a tree of `size` leaves proves
/// with `path`, or `None` when the path cannot be one of such a tree
/// (RFC 9162 §2.1.3.2).
pub fn root_from_path(leaf: Hash, index: u32, size: u32, path: &[Hash]) -> Option<Hash> {
    if index >= size {
        return None;
    }
    let (mut f, mut s) = (u64::from(index), u64::from(size) - 1);
    let mut r = leaf;
    for p in path {
        if s == 0 {
            return None;
        }
        if f & 1 == 1 || f == s {
            r = node_hash(p, &r);
            if f & 1 == 0 {
                while f & 1 == 0 && f != 0 {
                    f >>= 1;
                    s >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        f >>= 1;
        s >>= 1;
    }
    (s == 0).then_some(r)
}

/// The bytes the signature of a tree of `size` leaves with `root` covers.
pub fn tree_message(root: &Hash, size: u32) -> Vec<u8> {
    let mut m = Vec::with_capacity(TREE_MESSAGE_PREFIX.len() + 4 + root.len());
    m.extend_from_slice(TREE_MESSAGE_PREFIX);
    m.extend_from_slice(&size.to_be_bytes());
    m.extend_from_slice(root);
    m
}

/// A tree built over objects' canonical texts: its root and each
/// object's proof, in the objects' order.
pub struct BuiltTree {
    /// The root the originator signs ([`tree_message`]).
    pub root: Hash,
    /// The proof of each object.
    pub proofs: Vec<TreeProof>,
}

/// Builds the tree over `texts` (one to [`MAX_TREE_LEAVES`]) with `salts`
/// (one per text, [`SALT_BYTES`] each, random).
pub fn build(texts: &[&[u8]], salts: &[[u8; SALT_BYTES]]) -> BuiltTree {
    let leaves: Vec<Hash> = texts.iter().zip(salts).map(|(t, s)| leaf_hash(s, t)).collect();
    let levels = levels(&leaves);
    let size = leaves.len() as u32;
    let mut proofs = Vec::with_capacity(leaves.len());
    for (i, salt) in salts.iter().enumerate().take(leaves.len()) {
        let path: Vec<u8> = path_in(&levels, i).concat();
        proofs.push(TreeProof { salt: B64.encode(salt), index: i as u32, size, path: B64.encode(path) });
    }
    let root = levels.last().and_then(|top| top.first().copied()).unwrap_or([0; 32]);
    BuiltTree { root, proofs }
}

/// The root `proof` proves for an object whose canonical text is `text`,
/// or why the proof is malformed.
pub fn proven_root(proof: &TreeProof, text: &[u8]) -> Result<Hash, String> {
    stored_root(&proof.to_stored()?, text)
}

/// [`proven_root`] of a proof in its stored form ([`TreeProof::to_stored`]),
/// so that a receiver decodes each proof once to check and to keep it.
pub fn stored_root(stored: &[u8], text: &[u8]) -> Result<Hash, String> {
    let (index, size, salt, path) = stored_parts(stored)?;
    let (hashes, _) = path.as_chunks::<32>();
    root_from_path(leaf_hash(salt, text), index, size, hashes)
        .ok_or_else(|| format!("tree proof: leaf {index} of {size} does not fit a path of {} hashes", hashes.len()))
}

/// The index, size, salt and path of a proof's stored form.
fn stored_parts(bytes: &[u8]) -> Result<(u32, u32, &[u8], &[u8]), String> {
    let header = 9 + SALT_BYTES;
    if bytes.first() != Some(&STORED_FORM_V1) {
        return Err("stored tree proof: not in the stored form".into());
    }
    if bytes.len() < header || (bytes.len() - header) % 32 != 0 || (bytes.len() - header) / 32 > 32 {
        return Err(format!("stored tree proof: {} bytes, not {header} and a multiple of 32 up to 1024", bytes.len()));
    }
    let word = |at: usize| u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]);
    Ok((word(1), word(5), &bytes[9..header], &bytes[header..]))
}

/// The first byte of a proof's stored form ([`TreeProof::to_stored`]).
const STORED_FORM_V1: u8 = 1;

impl TreeProof {
    /// The proof as the store keeps it: a form byte, the index and the
    /// size (4 bytes each, big-endian), the salt and the path's hashes as
    /// raw bytes: 185 bytes for a tree of 32, against about 290 as JSON.
    pub fn to_stored(&self) -> Result<Vec<u8>, String> {
        let salt = B64.decode(&self.salt).map_err(|_| "tree proof: the salt is not base64".to_string())?;
        if salt.len() != SALT_BYTES {
            return Err(format!("tree proof: the salt has {} bytes, not {SALT_BYTES}", salt.len()));
        }
        let path = B64.decode(&self.path).map_err(|_| "tree proof: the path is not base64".to_string())?;
        if path.len() % 32 != 0 || path.len() / 32 > 32 {
            return Err(format!("tree proof: the path has {} bytes, not a multiple of 32 up to 1024", path.len()));
        }
        let mut out = Vec::with_capacity(9 + salt.len() + path.len());
        out.push(STORED_FORM_V1);
        out.extend_from_slice(&self.index.to_be_bytes());
        out.extend_from_slice(&self.size.to_be_bytes());
        out.extend_from_slice(&salt);
        out.extend_from_slice(&path);
        Ok(out)
    }

    /// A proof from its stored form ([`TreeProof::to_stored`]), or from
    /// the JSON text that stores written before it hold.
    pub fn from_stored(bytes: &[u8]) -> Result<TreeProof, String> {
        match bytes.first() {
            Some(b'{') => serde_json::from_slice(bytes).map_err(|e| format!("stored tree proof: {e}")),
            Some(&STORED_FORM_V1) => {
                let (index, size, salt, path) = stored_parts(bytes)?;
                Ok(TreeProof { index, size, salt: B64.encode(salt), path: B64.encode(path) })
            }
            Some(other) => Err(format!("stored tree proof: unknown form {other}")),
            None => Err("stored tree proof: empty".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_proof_reads_back_from_its_stored_form_and_from_the_older_json() {
        let texts: Vec<Vec<u8>> = (0..5).map(|i| format!("object {i}").into_bytes()).collect();
        let refs: Vec<&[u8]> = texts.iter().map(|t| t.as_slice()).collect();
        let tree = build(&refs, &salts(5));
        for (proof, text) in tree.proofs.iter().zip(&refs) {
            let stored = proof.to_stored().expect("stored");
            assert_eq!(stored.len(), 9 + SALT_BYTES + 32 * B64.decode(&proof.path).expect("path").len() / 32);
            let back = TreeProof::from_stored(&stored).expect("read back");
            assert_eq!(&back, proof);
            assert_eq!(proven_root(&back, text), Ok(tree.root));
            let json = serde_json::to_vec(proof).expect("json");
            assert_eq!(&TreeProof::from_stored(&json).expect("older json"), proof);
        }
        let stored = tree.proofs[0].to_stored().expect("stored");
        assert!(TreeProof::from_stored(&stored[..stored.len() - 1]).unwrap_err().contains("multiple of 32"));
        assert!(TreeProof::from_stored(&[7]).unwrap_err().contains("unknown form 7"));
        assert!(TreeProof::from_stored(&[]).is_err());
        let short_salt = TreeProof { salt: B64.encode([1u8; 8]), ..tree.proofs[0].clone() };
        assert!(short_salt.to_stored().unwrap_err().contains("the salt has 8 bytes"), "it would not read back");
    }

    fn salts(n: usize) -> Vec<[u8; SALT_BYTES]> {
        (0..n).map(|i| [i as u8; SALT_BYTES]).collect()
    }

    #[test]
    fn every_leaf_of_trees_of_every_size_proves_the_root() {
        for n in 1..=MAX_TREE_LEAVES + 9 {
            let texts: Vec<Vec<u8>> = (0..n).map(|i| format!("{{\"n\":{i}}}").into_bytes()).collect();
            let refs: Vec<&[u8]> = texts.iter().map(Vec::as_slice).collect();
            let tree = build(&refs, &salts(n));
            for (i, proof) in tree.proofs.iter().enumerate() {
                assert_eq!(proven_root(proof, &texts[i]), Ok(tree.root), "leaf {i} of {n}");
                // Another object, or this one under another index or size,
                // proves another root or nothing.
                assert_ne!(proven_root(proof, b"{\"n\":-1}").ok(), Some(tree.root));
                let moved = TreeProof { index: ((i + 1) % n) as u32, ..proof.clone() };
                if n > 1 {
                    assert_ne!(proven_root(&moved, &texts[i]).ok(), Some(tree.root), "leaf {i} of {n} moved");
                }
                // A proof can fit a larger tree with the same root (three
                // leaves prove the root of four): the signed size tells.
                let grown = TreeProof { size: n as u32 + 1, ..proof.clone() };
                let claimed = proven_root(&grown, &texts[i]).map(|r| tree_message(&r, grown.size));
                assert_ne!(claimed, Ok(tree_message(&tree.root, n as u32)), "leaf {i} of {n} in a larger tree");
            }
        }
    }

    /// RFC 9162's MTH, by its recursive definition.
    fn rfc_root(leaves: &[Hash]) -> Hash {
        if leaves.len() == 1 {
            return leaves[0];
        }
        let mut k = 1;
        while k * 2 < leaves.len() {
            k *= 2;
        }
        node_hash(&rfc_root(&leaves[..k]), &rfc_root(&leaves[k..]))
    }

    #[test]
    fn the_levels_give_rfc_9162s_root_for_every_size() {
        for n in 1..=70u8 {
            let leaves: Vec<Hash> = (0..n).map(|i| leaf_hash(&[i; SALT_BYTES], &[i])).collect();
            assert_eq!(root(&leaves), rfc_root(&leaves), "{n} leaves");
        }
    }

    #[test]
    fn the_root_is_rfc_9162s_tree_hash() {
        // Three leaves: the split is after two.
        let leaves: Vec<Hash> = (0..3u8).map(|i| leaf_hash(&[i; SALT_BYTES], &[i])).collect();
        let expected = node_hash(&node_hash(&leaves[0], &leaves[1]), &leaves[2]);
        assert_eq!(root(&leaves), expected);
        assert_eq!(inclusion_path(&leaves, 2), vec![node_hash(&leaves[0], &leaves[1])]);
        assert_eq!(inclusion_path(&leaves, 0), vec![leaves[1], leaves[2]]);
    }

    #[test]
    fn malformed_proofs_are_named() {
        let tree = build(&[b"{}"], &salts(1));
        let proof = &tree.proofs[0];
        let bad_salt = TreeProof { salt: B64.encode([0u8; 3]), ..proof.clone() };
        assert!(proven_root(&bad_salt, b"{}").unwrap_err().contains("salt has 3 bytes"));
        let bad_path = TreeProof { path: B64.encode([0u8; 33]), ..proof.clone() };
        assert!(proven_root(&bad_path, b"{}").unwrap_err().contains("33 bytes"));
        let outside = TreeProof { index: 1, ..proof.clone() };
        assert!(proven_root(&outside, b"{}").unwrap_err().contains("leaf 1 of 1"));
        let not_base64 = TreeProof { path: "***".into(), ..proof.clone() };
        assert!(proven_root(&not_base64, b"{}").unwrap_err().contains("not base64"));
    }

    #[test]
    fn the_signed_message_is_no_object_text() {
        let m = tree_message(&[7; 32], 3);
        assert!(m.starts_with(b"phalanx-tree-v1\n\0\0\0\x03"));
        assert_eq!(m.len(), 16 + 4 + 32);
    }
}
