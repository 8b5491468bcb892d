//! The errors of this crate.
//!
//! Every message is lowercase and starts with the field (or JSON path) it is
//! about, so that a CLI or HTTP layer can show it as it is.

use crate::model::{Policy, Rank};

/// Why a label, a token, a marking definition or an object's markings were
/// refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LabelError {
    /// A policy string is not `UNCLASSIFIED`, `EU`, `NATO` or
    /// `NATIONAL:<ISO 3166 alpha-3>`.
    #[error(
        "policy: `{value}` is not a policy (expected UNCLASSIFIED, EU, NATO or NATIONAL:<ISO 3166 alpha-3, uppercase>)"
    )]
    InvalidPolicy {
        /// The refused text.
        value: String,
    },

    /// A rank string is not one of the five rank names.
    #[error(
        "classification: `{value}` is not a rank (expected UNCLASSIFIED, RESTRICTED, CONFIDENTIAL, SECRET or TOP_SECRET)"
    )]
    InvalidRank {
        /// The refused text.
        value: String,
    },

    /// A TLP string is not one of the five TLP 2.0 levels.
    #[error(
        "tlp: `{value}` is not a tlp 2.0 level (expected clear, green, amber, amber+strict or red)"
    )]
    InvalidTlp {
        /// The refused text.
        value: String,
    },

    /// A PAP string is not one of the four PAP levels.
    #[error("pap: `{value}` is not a pap level (expected clear, green, amber or red)")]
    InvalidPap {
        /// The refused text.
        value: String,
    },

    /// The policy does not allow that classification (spec §1 valid pairs).
    #[error(
        "classification: {classification} is not valid under policy {policy} (UNCLASSIFIED allows rank 0 only, NATO ranks 0..4, EU and NATIONAL ranks 1..4)"
    )]
    InvalidPolicyRank {
        /// The label's policy.
        policy: Policy,
        /// The label's classification.
        classification: Rank,
    },

    /// A releasable_to token, caveat, exercise id or originator is malformed.
    #[error("{field}: `{token}` {reason}")]
    InvalidToken {
        /// The label field (`releasable_to`, `caveats`, `exercise`, `originator`).
        field: &'static str,
        /// The refused token.
        token: String,
        /// What is wrong with it.
        reason: &'static str,
    },

    /// A marking definition (as JSON) is not a well-formed marking definition
    /// or carries a malformed Phalanx label.
    #[error("marking definition {id}: {reason}")]
    MalformedMarkingDefinition {
        /// The definition's id, or `(no id)`.
        id: String,
        /// What is wrong with it, starting with the field.
        reason: String,
    },

    /// An object's marking properties are not shaped as STIX 2.1 says.
    #[error("{path}: {reason}")]
    MalformedObject {
        /// JSON path inside the object, e.g. `object_marking_refs[1]`.
        path: String,
        /// What is wrong.
        reason: String,
    },

    /// A marking reference resolves to nothing: neither a predefined TLP
    /// definition nor anything the resolver knows. The object must be refused
    /// (spec §6), never stored with the marking ignored.
    #[error("{path}: marking reference `{marking_ref}` cannot be resolved to a marking definition")]
    UnresolvedMarking {
        /// The reference as found in the object.
        marking_ref: String,
        /// JSON path of the reference, e.g. `object_marking_refs[2]` or
        /// `granular_markings[0].marking_ref`.
        path: String,
    },

    /// A marking reference resolved to a definition that is itself wrong.
    #[error("{path}: marking `{marking_ref}`: {source}")]
    AtMarking {
        /// The reference as found in the object.
        marking_ref: String,
        /// JSON path of the reference.
        path: String,
        /// What is wrong with the definition it resolved to.
        source: Box<LabelError>,
    },

    /// The markings of one object do not combine into one label.
    #[error("markings: {0}")]
    Lub(#[from] LubError),
}

/// Why two labels have no least upper bound (spec §4).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LubError {
    /// Two different classification policies (EU and NATO, two national
    /// policies, or a national policy and EU/NATO) do not combine.
    #[error("policy: {a} and {b} do not combine (different classification policies)")]
    PolicyConflict {
        /// The first label's policy.
        a: Policy,
        /// The second label's policy.
        b: Policy,
    },

    /// Real-world and exercise data, or two exercises, never combine.
    #[error(
        "exercise: {} and {} do not combine (real-world and exercise data, or two exercises, never combine)",
        show_exercise(.a),
        show_exercise(.b)
    )]
    ExerciseConflict {
        /// The first label's exercise (`None` = real world).
        a: Option<String>,
        /// The second label's exercise (`None` = real world).
        b: Option<String>,
    },

    /// One of the labels is not valid, so nothing is computed from it.
    #[error("invalid label: {0}")]
    InvalidLabel(Box<LabelError>),
}

fn show_exercise(e: &Option<String>) -> String {
    match e {
        Some(e) => format!("exercise `{e}`"),
        None => "real-world data".to_string(),
    }
}
