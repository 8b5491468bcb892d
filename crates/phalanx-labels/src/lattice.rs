//! The least upper bound of labels and the loosening test (spec §4).
//!
//! The spec's lub takes "the intersection of non-empty releasable_to lists
//! (an empty one is no constraint)". Read literally that can widen access,
//! in three ways, and this module closes each so that the invariant holds:
//! whoever can read `lub(a, b)` can read `a` and can read `b`.
//!
//! 1. An empty list is not always "no constraint": it means the policy's
//!    default community (NATO members for `NATO`), and with TLP `amber`,
//!    `amber+strict` or `red` the originator alone. Each side is therefore
//!    turned into the audience it really has (everyone, the default
//!    community's token, a token set, or nobody) before the intersection.
//! 2. Two disjoint lists intersect to the empty list, which would read as
//!    "default community". The result is `["NOBODY"]` instead
//!    ([`NOBODY`] matches no organisation), or the empty list
//!    when the result's TLP is `amber` or stricter (where empty already means
//!    the originator alone).
//! 3. TLP `amber` lets the clients of a listed organisation read; `green`
//!    does not. When the most restrictive TLP is `amber` but the other side
//!    was below `amber` and restricted its audience, the result is
//!    `amber+strict`, so no client reads what the other side did not release
//!    to it. A side that releases to every organisation does not cause this.
//!
//! "No TLP" sorts between `clear` and `green`: it reads like `clear` for
//! organisations but is not public, so `lub(none, clear)` is "no TLP".
//!
//! The originator is a property of one object, not of a marking: the result
//! keeps it only when both labels have the same one, and has none otherwise.
//! (Keeping `a`'s would let `a`'s originator read `b`'s content through its
//! rule-2 exemption, and would make lub non-commutative.) A caller that
//! raises the label of a new object sets that object's originator on the
//! result itself.

use std::collections::BTreeSet;

use crate::error::{LabelError, LubError};
use crate::model::{Label, NOBODY, Policy, Tlp};

/// The audience a label's releasability gives, ignoring the originator.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Audience {
    /// Every organisation (UNCLASSIFIED policy, empty list, TLP below amber).
    Everyone,
    /// The default community of a classified policy (empty list, TLP below amber).
    Default(Policy),
    /// The organisations matching one of the tokens; empty = nobody.
    Tokens(BTreeSet<String>),
}

fn audience(l: &Label) -> Audience {
    if !l.releasable_to.is_empty() {
        Audience::Tokens(l.releasable_to.clone())
    } else if l.tlp.is_some_and(Tlp::restricts_empty_releasability) {
        Audience::Tokens(BTreeSet::new())
    } else {
        match l.policy.default_community_token() {
            None => Audience::Everyone,
            Some(_) => Audience::Default(l.policy.clone()),
        }
    }
}

fn tokens_of(a: Audience) -> Option<BTreeSet<String>> {
    match a {
        Audience::Everyone => None,
        Audience::Default(p) => Some(
            p.default_community_token()
                .map(|t| BTreeSet::from([t.to_string()]))
                .unwrap_or_default(),
        ),
        Audience::Tokens(t) => Some(t),
    }
}

fn meet(a: Audience, b: Audience) -> Audience {
    match (a, b) {
        (Audience::Everyone, x) | (x, Audience::Everyone) => x,
        (Audience::Default(p), Audience::Default(q)) if p == q => Audience::Default(p),
        (a, b) => {
            let (a, b) = (
                tokens_of(a).unwrap_or_default(),
                tokens_of(b).unwrap_or_default(),
            );
            Audience::Tokens(a.intersection(&b).cloned().collect())
        }
    }
}

/// Position of a TLP in lub order: clear < none < green < amber < amber+strict < red.
fn tlp_order(t: Option<Tlp>) -> u8 {
    match t {
        Some(Tlp::Clear) => 0,
        None => 1,
        Some(Tlp::Green) => 2,
        Some(Tlp::Amber) => 3,
        Some(Tlp::AmberStrict) => 4,
        Some(Tlp::Red) => 5,
    }
}

fn below_amber_and_restricted(l: &Label) -> bool {
    tlp_order(l.tlp) < tlp_order(Some(Tlp::Amber)) && audience(l) != Audience::Everyone
}

/// The least upper bound of two labels (spec §4): a label at least as
/// restrictive as each, read by nobody who cannot read both.
///
/// Highest classification; union of caveats; intersection of the
/// releasability audiences; most restrictive TLP and PAP; the policy both
/// share (`UNCLASSIFIED` combines with anything). See the
/// [module docs](crate::lattice) for how the empty list, disjoint lists,
/// TLP `amber` and the originator are handled.
///
/// Errors: two different non-`UNCLASSIFIED` policies (EU and NATO, EU and a
/// national policy, two national policies, ... — NATO UNCLASSIFIED counts as
/// NATO) ([`LubError::PolicyConflict`]); real-world and exercise data or two
/// exercises ([`LubError::ExerciseConflict`]); an invalid input
/// ([`LubError::InvalidLabel`]). lub is commutative, associative and
/// idempotent on valid labels, and fails for the same sets of inputs
/// whatever the grouping.
pub fn lub(a: &Label, b: &Label) -> Result<Label, LubError> {
    let invalid = |e: LabelError| LubError::InvalidLabel(Box::new(e));
    a.validate().map_err(invalid)?;
    b.validate().map_err(invalid)?;

    if a.exercise != b.exercise {
        return Err(LubError::ExerciseConflict {
            a: a.exercise.clone(),
            b: b.exercise.clone(),
        });
    }
    let policy = match (&a.policy, &b.policy) {
        (p, q) if p == q => p.clone(),
        (Policy::Unclassified, q) => q.clone(),
        (p, Policy::Unclassified) => p.clone(),
        (p, q) => {
            return Err(LubError::PolicyConflict {
                a: p.clone(),
                b: q.clone(),
            });
        }
    };

    let mut tlp = if tlp_order(a.tlp) >= tlp_order(b.tlp) {
        a.tlp
    } else {
        b.tlp
    };
    if tlp == Some(Tlp::Amber) && (below_amber_and_restricted(a) || below_amber_and_restricted(b)) {
        tlp = Some(Tlp::AmberStrict);
    }

    let releasable_to = match meet(audience(a), audience(b)) {
        // Both only arise when every side had an empty list and TLP below
        // amber, with this very policy (or UNCLASSIFIED): empty is exact.
        Audience::Everyone | Audience::Default(_) => BTreeSet::new(),
        Audience::Tokens(t) if t.is_empty() || (t.len() == 1 && t.contains(NOBODY)) => {
            if tlp.is_some_and(Tlp::restricts_empty_releasability) {
                BTreeSet::new()
            } else {
                BTreeSet::from([NOBODY.to_string()])
            }
        }
        Audience::Tokens(t) => t,
    };

    Ok(Label {
        policy,
        classification: a.classification.max(b.classification),
        releasable_to,
        caveats: a.caveats.union(&b.caveats).cloned().collect(),
        tlp,
        pap: a.pap.max(b.pap),
        exercise: a.exercise.clone(),
        originator: if a.originator == b.originator {
            a.originator.clone()
        } else {
            None
        },
    })
}

/// Whether changing a label from `old` to `new` loosens it (spec §4):
/// lower classification, removed caveats, wider releasable_to, looser TLP
/// or PAP — or any change of policy (other than from `UNCLASSIFIED`) or of
/// exercise. Such a change is a release decision: only the originator may
/// make it, and it is audited.
///
/// Decided by the lattice order: `new` is not a loosening exactly when
/// `lub(old, new)` is `new` (originators ignored), i.e. `new` is at least
/// as restrictive as `old` in every part. This is conservative: a change
/// whose audience this crate cannot prove no wider counts as loosening:
/// e.g. `["NATO"]` under policy NATO replaced by the empty list (the same
/// audience, written differently), or `green` raised to `amber` with a
/// non-empty releasable_to (which lets the clients of the listed
/// organisations in). An invalid label on either
/// side counts as loosening.
pub fn is_loosening(old: &Label, new: &Label) -> bool {
    match lub(old, new) {
        Ok(l) => l.with_originator(None) != new.clone().with_originator(None),
        Err(_) => true,
    }
}
