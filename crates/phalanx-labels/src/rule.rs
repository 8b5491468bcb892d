//! The read rule (spec §3), the write rule's reading half (spec §4) and
//! release to a peer node (spec §5).

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::error::LabelError;
use crate::model::{Label, Policy, Rank, Tlp};
use crate::subject::{Organisation, ParentView, Subject};

/// Why a subject may not read a label: the first rule of spec §3 that fails.
///
/// Meant for the "who could read" preview and for rosters, never for an
/// answer to the subject itself (spec §3: a refused object is a 404).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DenyReason {
    /// The label is not valid; nobody reads it (fail closed). Rule 0.
    #[error("rule 0 (label): {0}")]
    InvalidLabel(LabelError),
    /// Rule 1: the clearance is below the classification.
    #[error("rule 1 (classification): clearance {held} is below {required}")]
    Clearance {
        /// The label's classification.
        required: Rank,
        /// The reader's clearance.
        held: Rank,
    },
    /// Rule 1: the reader is not briefed for the label's policy.
    #[error("rule 1 (classification): not briefed for policy {policy}")]
    NotBriefed {
        /// The label's policy.
        policy: Policy,
    },
    /// Rule 2: the organisation is not the originator and matches neither
    /// releasable_to nor (where it applies) the default community.
    #[error("rule 2 (releasability): the organisation is not in the label's audience")]
    NotReleasable,
    /// Rule 2 for anonymous requests: only TLP:CLEAR, UNCLASSIFIED data with
    /// an empty releasable_to is public.
    #[error(
        "rule 2 (releasability): anonymous requests see only tlp clear, unclassified data with an empty releasable_to"
    )]
    NotPublic,
    /// Rule 3: the reader lacks caveats.
    #[error("rule 3 (caveats): missing caveats {}", join(missing))]
    MissingCaveats {
        /// The label's caveats that the reader does not hold.
        missing: BTreeSet<String>,
    },
    /// Rule 4: TLP:RED and the organisation's own id is not listed.
    #[error("rule 4 (tlp audience): tlp red and the organisation is not named in releasable_to")]
    TlpRedNotNamed,
    /// Rule 5: the label's exercise is not the request's context.
    #[error(
        "rule 5 (context): the label's context ({}) is not the request's ({})",
        show_ctx(label),
        show_ctx(request)
    )]
    Context {
        /// The label's exercise.
        label: Option<String>,
        /// The request's exercise.
        request: Option<String>,
    },
}

impl DenyReason {
    /// The number of the spec §3 rule that failed (0 for an invalid label).
    pub fn rule(&self) -> u8 {
        match self {
            DenyReason::InvalidLabel(_) => 0,
            DenyReason::Clearance { .. } | DenyReason::NotBriefed { .. } => 1,
            DenyReason::NotReleasable | DenyReason::NotPublic => 2,
            DenyReason::MissingCaveats { .. } => 3,
            DenyReason::TlpRedNotNamed => 4,
            DenyReason::Context { .. } => 5,
        }
    }
}

fn join(s: &BTreeSet<String>) -> String {
    s.iter().map(String::as_str).collect::<Vec<_>>().join(", ")
}

fn show_ctx(c: &Option<String>) -> String {
    match c {
        Some(e) => format!("exercise {e}"),
        None => "real world".to_string(),
    }
}

/// Whether `subject` may read an object labelled `label` (spec §3, rules 1–5).
///
/// This is exactly `explain_read(subject, label).is_ok()`, so the preview
/// and the decision never diverge.
pub fn can_read(subject: &Subject, label: &Label) -> bool {
    explain_read(subject, label).is_ok()
}

/// The read rule with its reason: `Ok(())` if `subject` may read `label`,
/// else the first rule (in the order 0, 1, 2, 3, 4, 5) that fails.
///
/// For a user u of organisation o:
/// 1. if L.classification > 0: u.clearance >= L.classification and u is
///    briefed for L.policy;
/// 2. o is the originator; or releasable_to is not empty and o matches a
///    token (for TLP `amber`, o's parent matching is enough); or
///    releasable_to is empty, TLP is not `amber`/`amber+strict`/`red`, and
///    o is in the policy's default community;
/// 3. u holds every caveat;
/// 4. TLP `red`: unless o is the originator, o's own id is in releasable_to;
/// 5. L.exercise equals the request's context.
///
/// Anonymous: rule 1 (classification 0), rule 2 becomes "policy
/// `UNCLASSIFIED`, TLP `clear`, empty releasable_to", rule 3 (no caveats),
/// rule 5 (real world). An invalid label is refused for everyone (rule 0).
pub fn explain_read(subject: &Subject, label: &Label) -> Result<(), DenyReason> {
    label.validate().map_err(DenyReason::InvalidLabel)?;
    match subject {
        Subject::Anonymous => {
            if label.classification > Rank::Unclassified {
                return Err(DenyReason::Clearance {
                    required: label.classification,
                    held: Rank::Unclassified,
                });
            }
            if label.policy != Policy::Unclassified
                || label.tlp != Some(Tlp::Clear)
                || !label.releasable_to.is_empty()
            {
                return Err(DenyReason::NotPublic);
            }
            if !label.caveats.is_empty() {
                return Err(DenyReason::MissingCaveats {
                    missing: label.caveats.clone(),
                });
            }
            check_context(label, None)
        }
        Subject::User(u) => {
            // Rule 1.
            if label.classification > Rank::Unclassified {
                if u.clearance < label.classification {
                    return Err(DenyReason::Clearance {
                        required: label.classification,
                        held: u.clearance,
                    });
                }
                if !u.briefed.contains(&label.policy) {
                    return Err(DenyReason::NotBriefed {
                        policy: label.policy.clone(),
                    });
                }
            }
            // Rule 2.
            if !releasable(&u.org, u.parent(), label) {
                return Err(DenyReason::NotReleasable);
            }
            // Rule 3.
            let missing: BTreeSet<String> = label.caveats.difference(&u.caveats).cloned().collect();
            if !missing.is_empty() {
                return Err(DenyReason::MissingCaveats { missing });
            }
            // Rule 4.
            if !tlp_audience(&u.org, label) {
                return Err(DenyReason::TlpRedNotNamed);
            }
            // Rule 5.
            check_context(label, u.context.as_deref())
        }
    }
}

fn check_context(label: &Label, context: Option<&str>) -> Result<(), DenyReason> {
    if label.exercise.as_deref() == context {
        Ok(())
    } else {
        Err(DenyReason::Context {
            label: label.exercise.clone(),
            request: context.map(str::to_string),
        })
    }
}

fn is_originator(org: &Organisation, label: &Label) -> bool {
    label.originator.as_deref() == Some(org.id.as_str())
}

/// Rule 2.
fn releasable(org: &Organisation, parent: Option<ParentView<'_>>, label: &Label) -> bool {
    if is_originator(org, label) {
        return true;
    }
    if label.releasable_to.is_empty() {
        !label.tlp.is_some_and(Tlp::restricts_empty_releasability)
            && org.in_default_community(&label.policy)
    } else {
        label.releasable_to.iter().any(|t| org.matches(t))
            || (label.tlp == Some(Tlp::Amber)
                && parent.is_some_and(|p| label.releasable_to.iter().any(|t| p.matches(t))))
    }
}

/// Rule 4 (what rule 2 does not already say).
fn tlp_audience(org: &Organisation, label: &Label) -> bool {
    label.tlp != Some(Tlp::Red)
        || is_originator(org, label)
        || (org.matches(&org.id) && label.releasable_to.contains(&org.id))
}

/// Whether `subject` may create or store an object labelled `label`
/// (spec §4: not an object it could not read itself). Same as [`can_read`].
pub fn can_write(subject: &Subject, label: &Label) -> bool {
    can_read(subject, label)
}

/// A peer node as configured for release (spec §5).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PeerScope {
    /// The organisations the peer serves.
    #[serde(default)]
    pub serves: Vec<Organisation>,
    /// The policies the peer is accredited for (`UNCLASSIFIED` always is).
    #[serde(default)]
    pub accredited: BTreeSet<Policy>,
    /// The highest classification the peer may hold.
    pub ceiling: Rank,
    /// The exercises the peer takes part in.
    #[serde(default)]
    pub exercises: BTreeSet<String>,
}

/// Whether an object labelled `label` may go to `peer` (spec §5): the
/// classification is at most the ceiling; the policy is accredited
/// (`UNCLASSIFIED` always is); at least one served organisation satisfies
/// rules 2 and 4; and the peer takes part in the label's exercise when it
/// is set. An invalid label never goes.
///
/// For TLP:AMBER's clients, a served organisation's parent is looked up
/// among the served organisations by id; a parent the peer does not serve
/// is matched by its id alone.
pub fn may_release_to_peer(peer: &PeerScope, label: &Label) -> bool {
    if label.validate().is_err() || label.classification > peer.ceiling {
        return false;
    }
    if label.policy != Policy::Unclassified && !peer.accredited.contains(&label.policy) {
        return false;
    }
    if let Some(e) = &label.exercise
        && !peer.exercises.contains(e)
    {
        return false;
    }
    peer.serves.iter().any(|o| {
        let known = o
            .parent
            .as_deref()
            .and_then(|pid| peer.serves.iter().find(|p| p.id == pid));
        releasable(o, ParentView::of(o, known), label) && tlp_audience(o, label)
    })
}
