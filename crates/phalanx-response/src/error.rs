//! The errors of the rapid-response domain.

use phalanx_labels::DenyReason;

/// Why a rapid-response operation was refused or an object could not be
/// read back. Messages are lowercase and name the object and the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ResponseError {
    /// A value given for a field is not acceptable.
    #[error("{object}: {field}: {message}")]
    Input {
        /// The kind of object (`incident`, `assistance request`, ...).
        object: &'static str,
        /// The field (as the STIX property or command-line flag names it).
        field: String,
        /// What is wrong with it.
        message: String,
    },
    /// A state change that the object's state machine does not allow.
    #[error(
        "{object} {id}: invalid transition from {from} to {to}; allowed next: {}",
        if allowed.is_empty() { "none (final state)".to_owned() } else { allowed.join(", ") }
    )]
    InvalidTransition {
        /// The kind of object.
        object: &'static str,
        /// The object's id.
        id: String,
        /// The current state.
        from: String,
        /// The state asked for.
        to: String,
        /// The states the current one may move to.
        allowed: Vec<String>,
    },
    /// The state change is allowed by the state machine but a condition of
    /// the target state does not hold (e.g. `cleared` without a team lead).
    #[error("{object} {id}: cannot move to {to}: {reason}")]
    Precondition {
        /// The kind of object.
        object: &'static str,
        /// The object's id.
        id: String,
        /// The state asked for.
        to: String,
        /// The condition that failed.
        reason: String,
    },
    /// An expert may not join a team: the incident's label would not let
    /// them read it. The reason names the rule of the read rule that failed.
    #[error("expert '{name}' ({expert}) may not join the team: cannot read the label {label}: {reason}")]
    NotEligible {
        /// The expert's id.
        expert: String,
        /// The expert's name.
        name: String,
        /// The label's display name.
        label: String,
        /// The first failing rule of the read rule (boxed: it is large and rare).
        reason: Box<DenyReason>,
    },
    /// An expert may not join a team for another reason than the label
    /// (not offered for this request, not available, already a member).
    #[error("expert '{name}' ({expert}) may not join the team: {reason}")]
    NotAssignable {
        /// The expert's id.
        expert: String,
        /// The expert's name.
        name: String,
        /// Why.
        reason: String,
    },
    /// A stored object is not the kind asked for, or misses a property.
    #[error("{object} {id}: cannot read the stix object: {message}")]
    Decode {
        /// The kind of object expected.
        object: &'static str,
        /// The object's id (or `-`).
        id: String,
        /// What is wrong.
        message: String,
    },
}

impl ResponseError {
    /// An [`ResponseError::Input`] error.
    pub fn input(object: &'static str, field: impl Into<String>, message: impl Into<String>) -> Self {
        ResponseError::Input { object, field: field.into(), message: message.into() }
    }

    /// A [`ResponseError::Decode`] error.
    pub fn decode(object: &'static str, id: impl Into<String>, message: impl Into<String>) -> Self {
        ResponseError::Decode { object, id: id.into(), message: message.into() }
    }

    /// Whether the error is a refusal of a well-formed request (invalid
    /// transition, failed precondition, ineligible expert), as opposed to
    /// bad input or a corrupt object. Interfaces map refusals to "refused"
    /// (CLI exit code 1, HTTP 409) and the rest to "bad request".
    pub fn is_refusal(&self) -> bool {
        matches!(
            self,
            ResponseError::InvalidTransition { .. }
                | ResponseError::Precondition { .. }
                | ResponseError::NotEligible { .. }
                | ResponseError::NotAssignable { .. }
        )
    }
}
