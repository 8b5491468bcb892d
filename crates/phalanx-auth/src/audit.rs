//! Audit of classified reads, and verification of the hash-chained log.

use phalanx_labels::{Label, Rank};
use phalanx_store::registry::{AUDIT_GENESIS, AuditBreak};
use phalanx_store::{Actor, AuditEntry, Registry, Store, StoreError, StoredObject};
use serde_json::json;

/// The lowest classification whose reads are audited (spec: every read of
/// an object ranked RESTRICTED or above).
pub const READ_AUDIT_MIN_RANK: Rank = Rank::Restricted;

/// Whether reading an object with `label` must be audited.
pub fn is_audited_read(label: &Label) -> bool {
    label.classification >= READ_AUDIT_MIN_RANK
}

/// Appends one `read` entry for each object of `objects` ranked RESTRICTED
/// or above, all in one write transaction: actor `actor`'s audit name,
/// target the object id, details the label (display name, TLP, policy,
/// rank), the version, the exercise and `via` (the path: `get`, `export`,
/// `rest`, `taxii`, ...). Returns how many entries were written. Call it
/// before the objects leave the node, and refuse to send them if it fails.
pub fn audit_reads<S: Store + ?Sized>(
    store: &S,
    actor: &Actor,
    objects: &[StoredObject],
    via: &str,
) -> Result<usize, StoreError> {
    let audited: Vec<&StoredObject> = objects
        .iter()
        .filter(|o| is_audited_read(&o.label))
        .collect();
    if audited.is_empty() {
        return Ok(0);
    }
    let name = actor.audit_name();
    let mut txn = store.begin()?;
    for o in &audited {
        txn.audit(
            &name,
            "read",
            &o.id,
            &json!({
                "via": via,
                "label": o.label.display_name(None),
                "policy": o.label.policy.to_string(),
                "classification": o.label.classification.as_str(),
                "tlp": o.label.tlp.map(|t| t.as_str()),
                "version": o.version.map(|v| v.to_string()),
                "exercise": o.label.exercise,
            }),
        )?;
    }
    txn.commit()?;
    Ok(audited.len())
}

/// Checks an audit log entry by entry, from the first, without holding it
/// all in memory. It applies the same checks as
/// [`phalanx_store::registry::verify_audit_chain`]: sequence numbers from 1
/// without gaps, each `prev_hash` equal to the previous entry's hash, each
/// hash equal to the hash of the entry's content.
#[derive(Clone, Debug)]
pub struct ChainVerifier {
    prev: String,
    next_seq: i64,
}

impl Default for ChainVerifier {
    fn default() -> Self {
        ChainVerifier {
            prev: AUDIT_GENESIS.to_owned(),
            next_seq: 1,
        }
    }
}

impl ChainVerifier {
    /// A verifier expecting the first entry.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many entries have verified so far.
    pub fn verified(&self) -> u64 {
        (self.next_seq - 1) as u64
    }

    /// Checks the next entry; the first failure says which entry and why.
    pub fn check(&mut self, e: &AuditEntry) -> Result<(), AuditBreak> {
        if e.seq != self.next_seq {
            return Err(AuditBreak {
                seq: e.seq,
                reason: format!(
                    "entry {} is missing or out of order (found {})",
                    self.next_seq, e.seq
                ),
            });
        }
        if e.prev_hash != self.prev {
            return Err(AuditBreak {
                seq: e.seq,
                reason: "prev_hash does not match the previous entry's hash".into(),
            });
        }
        if e.compute_hash() != e.hash {
            return Err(AuditBreak {
                seq: e.seq,
                reason: "the entry's content does not match its hash".into(),
            });
        }
        self.prev = e.hash.clone();
        self.next_seq += 1;
        Ok(())
    }
}

/// Verifies the whole audit log of `registry`, reading it in pages.
/// `Ok(Ok(n))`: all `n` entries verify; `Ok(Err(b))`: the first broken link.
///
/// A chain cannot show entries cut from its end; compare the count and the
/// last hash with a copy kept elsewhere (a peer, a printout) for that.
pub fn verify_log<R: Registry + ?Sized>(
    registry: &R,
) -> Result<Result<u64, AuditBreak>, StoreError> {
    const PAGE: usize = 10_000;
    let mut verifier = ChainVerifier::new();
    // Pages are read by position (seq > last seen), so a reordered or
    // missing entry shows up as a seq that is not the one expected.
    let mut after = 0;
    loop {
        let page = registry.audit_entries(after, PAGE)?;
        for e in &page {
            if let Err(b) = verifier.check(e) {
                return Ok(Err(b));
            }
        }
        match page.last() {
            Some(last) if page.len() == PAGE => after = last.seq,
            _ => return Ok(Ok(verifier.verified())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::fixture;
    use phalanx_store::registry::verify_audit_chain;

    fn entries(n: usize) -> Vec<AuditEntry> {
        let f = fixture();
        for i in 0..n {
            f.store
                .audit("cli", "test", &format!("t{i}"), &json!({"i": i}))
                .unwrap();
        }
        f.store.audit_entries(0, usize::MAX).unwrap()
    }

    fn run(list: &[AuditEntry]) -> Option<AuditBreak> {
        let mut v = ChainVerifier::new();
        list.iter().find_map(|e| v.check(e).err())
    }

    #[test]
    fn agrees_with_the_store_on_intact_and_tampered_logs() {
        let good = entries(6);
        assert_eq!(run(&good), None);
        assert_eq!(verify_audit_chain(&good), None);

        let mut changed = good.clone();
        changed[2].details = r#"{"i":99}"#.into();
        let mut removed = good.clone();
        removed.remove(3);
        let mut reseq = good.clone();
        let (a, b) = (reseq[1].seq, reseq[4].seq);
        reseq[1].seq = b;
        reseq[4].seq = a;
        reseq.sort_by_key(|e| e.seq);
        for (name, list, at) in [
            ("changed", changed, 3),
            ("removed", removed, 5),
            ("reseq", reseq, 2),
        ] {
            let ours = run(&list).unwrap_or_else(|| panic!("{name}: not detected"));
            assert_eq!(Some(ours.clone()), verify_audit_chain(&list), "{name}");
            assert_eq!(ours.seq, at, "{name}: {}", ours.reason);
        }
    }

    #[test]
    fn verify_log_pages_through_the_registry() {
        let f = fixture();
        for i in 0..25 {
            f.store.audit("cli", "test", "t", &json!({"i": i})).unwrap();
        }
        assert_eq!(verify_log(&f.store).unwrap(), Ok(25));
    }
}
