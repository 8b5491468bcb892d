//! Assistance requests (`x-phalanx-assistance-request`): the channel, who
//! asks for whom, what is needed, the state machine with every transition
//! recorded, the response target, the team and its deployment.
//!
//! States: draft → submitted → assessing → approved | rejected; approved →
//! activated → team-forming → cleared → deployed → active → demobilising →
//! completed → reported; cancelled from any state before completed except
//! the final rejected. Activated and deployed are separate: a team can be
//! activated and never deployed (Ukraine, February 2022).

use crate::clock::{Deadline, add_hours, millis};
use crate::error::ResponseError;
use crate::roster::{Expert, ExpertOffer, check_eligibility};
use crate::stix::{
    ASSISTANCE_REQUEST_EXTENSION_ID, ASSISTANCE_REQUEST_TYPE, Placement, StixMeta, check_ref, decode, encode,
};
use crate::vocab::{Channel, Mode, Service, TeamRole, UnknownValue, vocabulary};
use phalanx_labels::{Label, Organisation};
use phalanx_model::Timestamp;
use serde::{Deserialize, Serialize};

const OBJECT: &str = "assistance request";

vocabulary! {
    /// The state of an assistance request.
    RequestState, "assistance request state" {
        /// Being written by the requester.
        Draft = "draft",
        /// Sent to the channel.
        Submitted = "submitted",
        /// Being assessed (acknowledged).
        Assessing = "assessing",
        /// Approved by the channel's decision body.
        Approved = "approved",
        /// Rejected (final).
        Rejected = "rejected",
        /// Participating states decided to activate a team.
        Activated = "activated",
        /// Experts are being selected.
        TeamForming = "team-forming",
        /// Legal and security clearance done (host-nation arrangement, access).
        Cleared = "cleared",
        /// The team is deployed (on site or connected remotely).
        Deployed = "deployed",
        /// The team is working.
        Active = "active",
        /// The team is handing over and withdrawing.
        Demobilising = "demobilising",
        /// The support has ended.
        Completed = "completed",
        /// The final report was delivered (final).
        Reported = "reported",
        /// Withdrawn or called off before completion (final).
        Cancelled = "cancelled",
    }
}

impl RequestState {
    /// The states this one may move to.
    pub fn allowed_next(self) -> &'static [RequestState] {
        use RequestState::*;
        match self {
            Draft => &[Submitted, Cancelled],
            Submitted => &[Assessing, Cancelled],
            Assessing => &[Approved, Rejected, Cancelled],
            Approved => &[Activated, Cancelled],
            Activated => &[TeamForming, Cancelled],
            TeamForming => &[Cleared, Cancelled],
            Cleared => &[Deployed, Cancelled],
            Deployed => &[Active, Cancelled],
            Active => &[Demobilising, Cancelled],
            Demobilising => &[Completed, Cancelled],
            Completed => &[Reported],
            Rejected | Reported | Cancelled => &[],
        }
    }

    /// Whether no transition leaves this state.
    pub fn is_final(self) -> bool {
        self.allowed_next().is_empty()
    }

    /// Whether the team may change in this state (from activation until
    /// the team stops working).
    pub fn team_may_change(self) -> bool {
        use RequestState::*;
        matches!(self, Activated | TeamForming | Cleared | Deployed | Active)
    }
}

/// One state change: who, when, from, to and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestTransition {
    /// The state before.
    pub from_state: RequestState,
    /// The state after.
    pub to_state: RequestState,
    /// When.
    pub time: Timestamp,
    /// Who (`user:<name>`).
    pub actor: String,
    /// Why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// A team member.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeamMember {
    /// The roster entry.
    pub expert_ref: String,
    /// The nationality under which the expert may read the label.
    pub nationality: String,
    /// Role in the team.
    pub role: TeamRole,
    /// The offer the expert came with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offer_ref: Option<String>,
    /// When the expert joined.
    pub added_at: Timestamp,
    /// Who added them.
    pub added_by: String,
}

/// Where and when the team works.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deployment {
    /// Location (`Vilnius, LTU`; `remote` for remote support).
    pub location: String,
    /// Start (the move to `deployed`).
    pub start: Timestamp,
    /// End (the move to `completed`, or `cancelled` after deployment).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<Timestamp>,
}

/// The Phalanx properties of a request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestDetails {
    /// The mechanism.
    pub channel: Channel,
    /// Who asks (for the Reserve: via the NIS2 single point of contact).
    pub requester_ref: String,
    /// Who is helped.
    pub beneficiary_ref: String,
    /// The incident, when there is one (none for preventive work).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incident_ref: Option<String>,
    /// Services needed.
    pub services: Vec<Service>,
    /// On site, remote or hybrid.
    pub mode: Mode,
    /// Estimated needs (experts, duration).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimated_needs: Option<String>,
    /// Mitigation already taken.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mitigation_taken: Option<String>,
    /// Other support available (contracts, insurance).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub other_support: Option<String>,
    /// Legal basis (CRRT MoU and host-nation arrangement, Reserve specific agreement, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub legal_basis: Option<String>,
    /// Target time from submission to a response (activation or rejection).
    pub response_target_hours: u32,
    /// Current state.
    pub state: RequestState,
    /// Every transition, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub transitions: Vec<RequestTransition>,
    /// Team members.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub team: Vec<TeamMember>,
    /// Deployment, once deployed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment: Option<Deployment>,
}

/// What a requester gives to open a request (the fields of `assist request`
/// and of the REST body).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestInput {
    /// Title.
    pub name: String,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
    /// The mechanism.
    pub channel: Channel,
    /// Who is helped.
    pub beneficiary_ref: String,
    /// The incident, if any.
    #[serde(default)]
    pub incident_ref: Option<String>,
    /// Services needed.
    pub services: Vec<Service>,
    /// Mode.
    pub mode: Mode,
    /// Estimated needs.
    #[serde(default)]
    pub estimated_needs: Option<String>,
    /// Mitigation already taken.
    #[serde(default)]
    pub mitigation_taken: Option<String>,
    /// Other support available.
    #[serde(default)]
    pub other_support: Option<String>,
    /// Legal basis.
    #[serde(default)]
    pub legal_basis: Option<String>,
    /// Response target in hours; the channel's default when absent.
    #[serde(default)]
    pub response_target_hours: Option<u32>,
}

impl RequestInput {
    /// A request with the required fields; the optional ones are empty
    /// (set them with struct update syntax).
    pub fn new(name: &str, channel: Channel, beneficiary_ref: &str, services: Vec<Service>, mode: Mode) -> Self {
        RequestInput {
            name: name.to_owned(),
            description: None,
            channel,
            beneficiary_ref: beneficiary_ref.to_owned(),
            incident_ref: None,
            services,
            mode,
            estimated_needs: None,
            mitigation_taken: None,
            other_support: None,
            legal_basis: None,
            response_target_hours: None,
        }
    }
}

/// A state change asked for (the fields of `assist transition`).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransitionInput {
    /// The target state.
    pub to: RequestState,
    /// Why (required for `rejected` and `cancelled`).
    #[serde(default)]
    pub reason: Option<String>,
    /// Deployment location (for `deployed`; `remote` by default in remote mode).
    #[serde(default)]
    pub location: Option<String>,
}

/// An assistance request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AssistanceRequest {
    /// Id, originator (the requester's organisation), versions, markings.
    pub meta: StixMeta,
    /// Title.
    pub name: String,
    /// Description.
    pub description: Option<String>,
    /// The Phalanx properties.
    pub details: RequestDetails,
}

fn non_empty(s: &Option<String>) -> Option<String> {
    s.as_ref().map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())
}

impl AssistanceRequest {
    /// A new request in `draft`, by `requester_ref` (its originator).
    pub fn draft(
        input: &RequestInput,
        requester_ref: &str,
        label: &Label,
        now: Timestamp,
    ) -> Result<Self, ResponseError> {
        if input.name.trim().is_empty() {
            return Err(ResponseError::input(OBJECT, "name", "must not be empty"));
        }
        check_ref(OBJECT, "requester_ref", requester_ref, &["identity"])?;
        check_ref(OBJECT, "beneficiary_ref", &input.beneficiary_ref, &["identity"])?;
        if let Some(i) = &input.incident_ref {
            check_ref(OBJECT, "incident_ref", i, &["incident"])?;
        }
        if input.services.is_empty() {
            return Err(ResponseError::input(OBJECT, "services", "name at least one service"));
        }
        let target = input.response_target_hours.unwrap_or(input.channel.default_response_hours());
        if target == 0 {
            return Err(ResponseError::input(OBJECT, "response_target_hours", "must be at least 1"));
        }
        let mut services = Vec::new();
        for s in &input.services {
            if !services.contains(s) {
                services.push(*s);
            }
        }
        Ok(AssistanceRequest {
            meta: StixMeta::new(ASSISTANCE_REQUEST_TYPE, requester_ref, label, now),
            name: input.name.trim().to_owned(),
            description: non_empty(&input.description),
            details: RequestDetails {
                channel: input.channel,
                requester_ref: requester_ref.to_owned(),
                beneficiary_ref: input.beneficiary_ref.clone(),
                incident_ref: input.incident_ref.clone(),
                services,
                mode: input.mode,
                estimated_needs: non_empty(&input.estimated_needs),
                mitigation_taken: non_empty(&input.mitigation_taken),
                other_support: non_empty(&input.other_support),
                legal_basis: non_empty(&input.legal_basis),
                response_target_hours: target,
                state: RequestState::Draft,
                transitions: Vec::new(),
                team: Vec::new(),
                deployment: None,
            },
        })
    }

    fn refuse(&self, to: RequestState, reason: impl Into<String>) -> ResponseError {
        ResponseError::Precondition {
            object: OBJECT,
            id: self.meta.id.clone(),
            to: to.to_string(),
            reason: reason.into(),
        }
    }

    /// Moves the request to `input.to` as a new version, recording who,
    /// when and why. Refuses a move the state machine does not allow
    /// (naming from, to and the allowed next states) and a move whose
    /// condition fails: `rejected` and `cancelled` need a reason; `cleared`
    /// needs a team with a team lead; `deployed` needs a location unless
    /// the mode is remote. `deployed` starts the deployment, `completed`
    /// (or `cancelled` after deployment) ends it.
    pub fn transition(&mut self, input: &TransitionInput, actor: &str, now: Timestamp) -> Result<(), ResponseError> {
        let from = self.details.state;
        let to = input.to;
        if !from.allowed_next().contains(&to) {
            return Err(ResponseError::InvalidTransition {
                object: OBJECT,
                id: self.meta.id.clone(),
                from: from.to_string(),
                to: to.to_string(),
                allowed: from.allowed_next().iter().map(|s| s.to_string()).collect(),
            });
        }
        let reason = non_empty(&input.reason);
        if matches!(to, RequestState::Rejected | RequestState::Cancelled) && reason.is_none() {
            return Err(self.refuse(to, "a reason is required"));
        }
        let location = non_empty(&input.location);
        if location.is_some() && to != RequestState::Deployed {
            return Err(ResponseError::input(
                OBJECT,
                "location",
                format!("a location is given only when moving to deployed, not {to}"),
            ));
        }
        let mut deploy_at = None;
        match to {
            RequestState::Cleared => {
                if self.details.team.is_empty() {
                    return Err(self.refuse(to, "the team has no members"));
                }
                if !self.details.team.iter().any(|m| m.role == TeamRole::TeamLead) {
                    return Err(self.refuse(to, "the team has no team lead"));
                }
            }
            RequestState::Deployed => {
                deploy_at = Some(match (location, self.details.mode) {
                    (Some(l), _) => l,
                    (None, Mode::Remote) => "remote".to_owned(),
                    (None, mode) => return Err(self.refuse(to, format!("a location is required for {mode} support"))),
                });
            }
            _ => {}
        }
        // Every check passed: from here on the request changes.
        let time = self.meta.touch(now);
        if let Some(location) = deploy_at {
            self.details.deployment = Some(Deployment { location, start: time, end: None });
        }
        if matches!(to, RequestState::Completed | RequestState::Cancelled)
            && let Some(d) = self.details.deployment.as_mut().filter(|d| d.end.is_none())
        {
            d.end = Some(time);
        }
        self.details.state = to;
        self.details.transitions.push(RequestTransition {
            from_state: from,
            to_state: to,
            time,
            actor: actor.to_owned(),
            reason,
        });
        Ok(())
    }

    /// Adds `expert` to the team in `role`, as a new version. The expert
    /// must be offered for this request in one of `offers`, available at
    /// `now`, not already a member, have the skill the role needs, and be
    /// able to read `label` (the incident's label, or the request's when
    /// there is no incident) under the read rule, with `organisation` as
    /// the expert's registered organisation and `context` the exercise.
    #[allow(clippy::too_many_arguments)]
    pub fn add_member(
        &mut self,
        expert: &Expert,
        organisation: &Organisation,
        role: TeamRole,
        offers: &[ExpertOffer],
        label: &Label,
        context: Option<&str>,
        actor: &str,
        now: Timestamp,
    ) -> Result<(), ResponseError> {
        let not_assignable = |reason: String| ResponseError::NotAssignable {
            expert: expert.meta.id.clone(),
            name: expert.name.clone(),
            reason,
        };
        let state = self.details.state;
        if !state.team_may_change() {
            return Err(not_assignable(format!(
                "the request {} is {state}; the team changes only from activated until active",
                self.meta.id
            )));
        }
        if self.details.team.iter().any(|m| m.expert_ref == expert.meta.id) {
            return Err(not_assignable("already a member of the team".into()));
        }
        if let Some(skill) = role.required_skill()
            && !expert.details.skills.contains(&skill)
        {
            return Err(not_assignable(format!("the role {role} needs the skill {skill}")));
        }
        let Some(offer) = offers
            .iter()
            .find(|o| o.details.request_ref == self.meta.id && o.details.expert_refs.contains(&expert.meta.id))
        else {
            return Err(not_assignable(format!("no contributing nation offered this expert for {}", self.meta.id)));
        };
        if !expert.available_at(millis(now)) {
            return Err(not_assignable(format!("not available at {}", millis(now))));
        }
        let nationality = check_eligibility(expert, organisation, label, context)?;
        let time = self.meta.touch(now);
        self.details.team.push(TeamMember {
            expert_ref: expert.meta.id.clone(),
            nationality,
            role,
            offer_ref: Some(offer.meta.id.clone()),
            added_at: time,
            added_by: actor.to_owned(),
        });
        Ok(())
    }

    /// When the request first entered `state`.
    pub fn entered(&self, state: RequestState) -> Option<Timestamp> {
        self.details.transitions.iter().find(|t| t.to_state == state).map(|t| t.time)
    }

    /// The response target at `now`: due `response_target_hours` after
    /// submission, done at activation or rejection. `None` before
    /// submission, and when the request was cancelled before a response
    /// (the target no longer applies).
    pub fn response_deadline(&self, now: Timestamp) -> Option<Deadline> {
        let submitted = self.entered(RequestState::Submitted)?;
        let due = add_hours(submitted, self.details.response_target_hours);
        let response = [RequestState::Activated, RequestState::Rejected].iter().filter_map(|s| self.entered(*s)).min();
        if response.is_none() && self.details.state == RequestState::Cancelled {
            return None;
        }
        Some(Deadline::evaluate("response", due, response, false, now))
    }

    /// The STIX object of this version.
    pub fn to_stix(&self) -> serde_json::Value {
        encode(
            &self.meta,
            ASSISTANCE_REQUEST_TYPE,
            &self.name,
            self.description.as_deref(),
            &self.details,
            Placement::NewSdo(ASSISTANCE_REQUEST_EXTENSION_ID),
        )
    }

    /// Reads a request written by [`AssistanceRequest::to_stix`].
    pub fn from_stix(value: &serde_json::Value) -> Result<Self, ResponseError> {
        let (meta, name, description, details) =
            decode(value, OBJECT, ASSISTANCE_REQUEST_TYPE, Placement::NewSdo(ASSISTANCE_REQUEST_EXTENSION_ID))?;
        Ok(AssistanceRequest { meta, name, description, details })
    }
}

/// Parses a team role, for interfaces.
pub fn parse_role(text: &str) -> Result<TeamRole, UnknownValue> {
    text.parse()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::{Clock, DeadlineState, ManualClock, next_millisecond};
    use crate::roster::OfferDetails;
    use crate::roster::tests::{EE_ORG, eu_org, eu_restricted_rel, expert, ts};
    use phalanx_labels::{Policy, Rank, Tlp};
    use std::time::Duration;

    const LT_NCSC: &str = "identity--0b3c1d2e-4f50-4a61-8b72-9c83d4e5f601";
    const HOSPITAL: &str = "identity--7a6b5c4d-3e2f-4a1b-8c9d-0e1f2a3b4c5d";

    fn input(channel: Channel, mode: Mode) -> RequestInput {
        RequestInput {
            name: "Ransomware at Vilnius hospital".into(),
            description: None,
            channel,
            beneficiary_ref: HOSPITAL.into(),
            incident_ref: Some("incident--5f1d2c3b-4a59-4e68-8f7a-6b5c4d3e2f10".into()),
            services: vec![Service::IncidentResponse, Service::DigitalForensics],
            mode,
            estimated_needs: Some("6 experts, 2 weeks".into()),
            mitigation_taken: Some("network segment isolated".into()),
            other_support: None,
            legal_basis: Some("CRRT MoU 2020".into()),
            response_target_hours: None,
        }
    }

    fn request(clock: &ManualClock) -> AssistanceRequest {
        AssistanceRequest::draft(
            &input(Channel::Crrt, Mode::OnSite),
            LT_NCSC,
            &Label::unclassified(Tlp::Green),
            clock.now(),
        )
        .expect("draft")
    }

    fn go(r: &mut AssistanceRequest, to: RequestState, clock: &ManualClock) -> Result<(), ResponseError> {
        let input = TransitionInput {
            to,
            reason: Some("because".into()),
            location: Some("Vilnius, LTU".into()).filter(|_| to == RequestState::Deployed),
        };
        r.transition(&input, "user:ona", clock.now())
    }

    /// Puts a request into `state` through the allowed path, with a team
    /// lead when the state needs one.
    fn in_state(state: RequestState, clock: &ManualClock) -> AssistanceRequest {
        use RequestState::*;
        let path: &[RequestState] = match state {
            Draft => &[],
            Submitted => &[Submitted],
            Assessing => &[Submitted, Assessing],
            Approved => &[Submitted, Assessing, Approved],
            Rejected => &[Submitted, Assessing, Rejected],
            Activated => &[Submitted, Assessing, Approved, Activated],
            TeamForming => &[Submitted, Assessing, Approved, Activated, TeamForming],
            Cleared => &[Submitted, Assessing, Approved, Activated, TeamForming, Cleared],
            Deployed => &[Submitted, Assessing, Approved, Activated, TeamForming, Cleared, Deployed],
            Active => &[Submitted, Assessing, Approved, Activated, TeamForming, Cleared, Deployed, Active],
            Demobilising => {
                &[Submitted, Assessing, Approved, Activated, TeamForming, Cleared, Deployed, Active, Demobilising]
            }
            Completed => &[
                Submitted,
                Assessing,
                Approved,
                Activated,
                TeamForming,
                Cleared,
                Deployed,
                Active,
                Demobilising,
                Completed,
            ],
            Reported => &[
                Submitted,
                Assessing,
                Approved,
                Activated,
                TeamForming,
                Cleared,
                Deployed,
                Active,
                Demobilising,
                Completed,
                Reported,
            ],
            Cancelled => &[Cancelled],
        };
        let mut r = request(clock);
        for s in path {
            if *s == TeamForming {
                // A team lead joins while the team forms (checked at cleared).
                r.details.team.push(TeamMember {
                    expert_ref: "x-phalanx-expert--11111111-2222-4333-8444-555555555555".into(),
                    nationality: "EST".into(),
                    role: TeamRole::TeamLead,
                    offer_ref: None,
                    added_at: clock.now(),
                    added_by: "user:ona".into(),
                });
            }
            go(&mut r, *s, clock).unwrap_or_else(|e| panic!("path to {state}: {e}"));
        }
        assert_eq!(r.details.state, state);
        r
    }

    fn allowed_pairs() -> Vec<(RequestState, RequestState)> {
        use RequestState::*;
        let mut v = vec![
            (Draft, Submitted),
            (Submitted, Assessing),
            (Assessing, Approved),
            (Assessing, Rejected),
            (Approved, Activated),
            (Activated, TeamForming),
            (TeamForming, Cleared),
            (Cleared, Deployed),
            (Deployed, Active),
            (Active, Demobilising),
            (Demobilising, Completed),
            (Completed, Reported),
        ];
        for s in
            [Draft, Submitted, Assessing, Approved, Activated, TeamForming, Cleared, Deployed, Active, Demobilising]
        {
            v.push((s, Cancelled));
        }
        v
    }

    #[test]
    fn every_transition_of_the_matrix_is_allowed_or_refused_as_specified() {
        let clock = ManualClock::new(ts("2026-03-01T08:00:00.000Z"));
        let allowed = allowed_pairs();
        let mut refused = 0;
        for from in RequestState::ALL {
            for to in RequestState::ALL {
                let mut r = in_state(*from, &clock);
                let before = r.clone();
                let result = go(&mut r, *to, &clock);
                if allowed.contains(&(*from, *to)) {
                    assert!(result.is_ok(), "{from} -> {to} must be allowed: {result:?}");
                    let last = r.details.transitions.last().expect("recorded");
                    assert_eq!((last.from_state, last.to_state), (*from, *to));
                    assert_eq!(last.actor, "user:ona");
                    assert_eq!(last.reason.as_deref(), Some("because"));
                    assert_eq!(last.time, r.meta.modified);
                    assert!(r.meta.modified > before.meta.modified, "a transition is a new version");
                } else {
                    refused += 1;
                    let e = result.expect_err("must be refused");
                    let ResponseError::InvalidTransition { from: f, to: t, allowed: next, .. } = &e else {
                        panic!("{from} -> {to}: expected an invalid transition, got {e}");
                    };
                    assert_eq!((f.as_str(), t.as_str()), (from.as_str(), to.as_str()));
                    let expected: Vec<String> = from.allowed_next().iter().map(|s| s.to_string()).collect();
                    assert_eq!(next, &expected);
                    assert!(e.to_string().contains(&format!("invalid transition from {from} to {to}")), "{e}");
                    assert_eq!(r, before, "a refused transition changes nothing");
                }
            }
        }
        assert_eq!(refused, 14 * 14 - allowed.len());
    }

    #[test]
    fn the_machine_matches_the_specified_pairs_exactly() {
        let allowed = allowed_pairs();
        for from in RequestState::ALL {
            for to in from.allowed_next() {
                assert!(allowed.contains(&(*from, *to)), "{from} -> {to} is not in the specification");
            }
        }
        assert_eq!(RequestState::ALL.iter().map(|s| s.allowed_next().len()).sum::<usize>(), allowed.len());
    }

    #[test]
    fn conditions_of_target_states_are_checked() {
        let clock = ManualClock::new(ts("2026-03-01T08:00:00.000Z"));
        let mut r = in_state(RequestState::Assessing, &clock);
        let e = r.transition(
            &TransitionInput { to: RequestState::Rejected, reason: None, location: None },
            "user:ona",
            clock.now(),
        );
        assert!(e.unwrap_err().to_string().ends_with("cannot move to rejected: a reason is required"));

        let mut r = in_state(RequestState::TeamForming, &clock);
        let lead = r.details.team.clone();
        r.details.team.clear();
        let e = go(&mut r, RequestState::Cleared, &clock).unwrap_err();
        assert!(e.to_string().ends_with("cannot move to cleared: the team has no members"), "{e}");
        r.details.team = lead;
        r.details.team[0].role = TeamRole::ForensicAnalyst;
        let e = go(&mut r, RequestState::Cleared, &clock).unwrap_err();
        assert!(e.to_string().ends_with("cannot move to cleared: the team has no team lead"), "{e}");

        let mut r = in_state(RequestState::Cleared, &clock);
        let e = r.transition(
            &TransitionInput { to: RequestState::Deployed, reason: None, location: None },
            "user:ona",
            clock.now(),
        );
        assert!(e.unwrap_err().to_string().contains("a location is required for on-site support"));

        let mut remote = AssistanceRequest::draft(
            &input(Channel::Crrt, Mode::Remote),
            LT_NCSC,
            &Label::unclassified(Tlp::Green),
            clock.now(),
        )
        .expect("draft");
        remote.details = in_state(RequestState::Cleared, &clock).details;
        remote.details.mode = Mode::Remote;
        remote
            .transition(
                &TransitionInput { to: RequestState::Deployed, reason: None, location: None },
                "user:ona",
                clock.now(),
            )
            .expect("remote deploy");
        assert_eq!(remote.details.deployment.as_ref().map(|d| d.location.as_str()), Some("remote"));
    }

    #[test]
    fn deployment_starts_at_deployed_and_ends_at_completion() {
        let clock = ManualClock::new(ts("2026-03-01T08:00:00.000Z"));
        let mut r = in_state(RequestState::Cleared, &clock);
        clock.advance(Duration::from_secs(3600));
        go(&mut r, RequestState::Deployed, &clock).expect("deploy");
        let d = r.details.deployment.clone().expect("deployment");
        assert_eq!((d.location.as_str(), d.start, d.end), ("Vilnius, LTU", clock.now(), None));
        for s in [RequestState::Active, RequestState::Demobilising] {
            go(&mut r, s, &clock).expect("step");
        }
        clock.advance(Duration::from_secs(7 * 86_400));
        go(&mut r, RequestState::Completed, &clock).expect("complete");
        assert_eq!(r.details.deployment.and_then(|d| d.end), Some(clock.now()));
    }

    #[test]
    fn activated_then_cancelled_never_deploys() {
        let clock = ManualClock::new(ts("2022-02-22T08:00:00.000Z"));
        let mut r = in_state(RequestState::Activated, &clock);
        go(&mut r, RequestState::Cancelled, &clock).expect("cancel");
        assert!(r.entered(RequestState::Activated).is_some());
        assert!(r.entered(RequestState::Deployed).is_none());
        assert!(r.details.deployment.is_none());
        assert!(r.details.state.is_final());
    }

    #[test]
    fn the_crrt_response_target_is_72_hours_and_tracked() {
        let clock = ManualClock::new(ts("2026-03-01T08:00:00.000Z"));
        let mut r = request(&clock);
        assert_eq!(r.details.response_target_hours, 72);
        assert!(r.response_deadline(clock.now()).is_none(), "a draft has no target yet");
        go(&mut r, RequestState::Submitted, &clock).expect("submit");
        let submitted = r.entered(RequestState::Submitted).expect("submitted");
        let due = add_hours(submitted, 72);
        assert_eq!(r.response_deadline(due).map(|d| d.state), Some(DeadlineState::Due));
        assert_eq!(r.response_deadline(next_millisecond(due)).map(|d| d.state), Some(DeadlineState::Overdue));
        for s in [RequestState::Assessing, RequestState::Approved] {
            go(&mut r, s, &clock).expect("step");
        }
        clock.advance(Duration::from_secs(30 * 3600));
        go(&mut r, RequestState::Activated, &clock).expect("activate");
        assert_eq!(r.response_deadline(add_hours(due, 100)).map(|d| d.state), Some(DeadlineState::Met));

        let mut custom = input(Channel::Crrt, Mode::OnSite);
        custom.response_target_hours = Some(12);
        let r =
            AssistanceRequest::draft(&custom, LT_NCSC, &Label::unclassified(Tlp::Green), clock.now()).expect("draft");
        assert_eq!(r.details.response_target_hours, 12);
    }

    fn offer_for(r: &AssistanceRequest, experts: &[&Expert]) -> ExpertOffer {
        ExpertOffer::new(
            OfferDetails {
                request_ref: r.meta.id.clone(),
                nation: "EST".into(),
                expert_refs: experts.iter().map(|e| e.meta.id.clone()).collect(),
                note: None,
            },
            EE_ORG,
            &Label::unclassified(Tlp::Green),
            ts("2026-03-01T09:00:00Z"),
        )
        .expect("offer")
    }

    #[test]
    fn team_members_must_be_offered_skilled_available_and_cleared() {
        let clock = ManualClock::new(ts("2026-03-01T08:00:00.000Z"));
        let mut r = in_state(RequestState::TeamForming, &clock);
        r.details.team.clear();
        let label = eu_restricted_rel(&["PESCO_CRRT"]);
        let kadri = expert("Kadri", "EST", Rank::Secret, &[Policy::Eu]);
        let mart = expert("Mart", "EST", Rank::Unclassified, &[]);
        let offers = vec![offer_for(&r, &[&kadri, &mart])];
        let add = |r: &mut AssistanceRequest, e: &Expert, role: TeamRole, offers: &[ExpertOffer]| {
            r.add_member(e, &eu_org(), role, offers, &label, None, "user:ona", clock.now())
        };

        let e = add(&mut r, &kadri, TeamRole::TeamLead, &[]).unwrap_err();
        assert!(e.to_string().contains("no contributing nation offered this expert"), "{e}");
        let e = add(&mut r, &kadri, TeamRole::MalwareAnalyst, &offers).unwrap_err();
        assert!(e.to_string().contains("the role malware-analyst needs the skill malware-analysis"), "{e}");
        let before = r.clone();
        let e = add(&mut r, &mart, TeamRole::ForensicAnalyst, &offers).unwrap_err();
        assert!(matches!(&e, ResponseError::NotEligible { reason, .. } if reason.rule() == 1), "{e}");
        assert!(e.is_refusal());
        assert_eq!(r, before, "a refused member changes nothing");

        add(&mut r, &kadri, TeamRole::TeamLead, &offers).expect("kadri joins");
        assert_eq!(r.details.team.len(), 1);
        assert_eq!(r.details.team[0].offer_ref.as_deref(), Some(offers[0].meta.id.as_str()));
        let e = add(&mut r, &kadri, TeamRole::TeamLead, &offers).unwrap_err();
        assert!(e.to_string().contains("already a member"), "{e}");

        let mut away = expert("Tiit", "EST", Rank::Secret, &[Policy::Eu]);
        away.details.availability = vec!["2026-05-01T00:00:00Z/2026-05-31T00:00:00Z".parse().expect("window")];
        let offers = vec![offer_for(&r, &[&away])];
        let e = add(&mut r, &away, TeamRole::ForensicAnalyst, &offers).unwrap_err();
        assert!(e.to_string().contains("not available at 2026-03-01T08:00:00.000Z"), "{e}");

        let mut done = in_state(RequestState::Completed, &clock);
        let offers = vec![offer_for(&done, &[&kadri])];
        let e = done
            .add_member(&kadri, &eu_org(), TeamRole::TeamLead, &offers, &label, None, "user:ona", clock.now())
            .unwrap_err();
        assert!(e.to_string().contains("is completed; the team changes only from activated until active"), "{e}");
    }

    #[test]
    fn drafts_are_checked() {
        let clock = ManualClock::new(ts("2026-03-01T08:00:00.000Z"));
        let label = Label::unclassified(Tlp::Green);
        let mut bad = input(Channel::Crrt, Mode::OnSite);
        bad.services.clear();
        assert!(
            AssistanceRequest::draft(&bad, LT_NCSC, &label, clock.now())
                .unwrap_err()
                .to_string()
                .starts_with("assistance request: services:")
        );
        let mut bad = input(Channel::Crrt, Mode::OnSite);
        bad.incident_ref = Some("report--5f1d2c3b-4a59-4e68-8f7a-6b5c4d3e2f10".into());
        let e = AssistanceRequest::draft(&bad, LT_NCSC, &label, clock.now()).unwrap_err();
        assert!(e.to_string().starts_with("assistance request: incident_ref: 'report--"), "{e}");
        let mut preventive = input(Channel::Crrt, Mode::Remote);
        preventive.incident_ref = None;
        assert!(
            AssistanceRequest::draft(&preventive, LT_NCSC, &label, clock.now()).is_ok(),
            "the incident is optional"
        );
    }

    #[test]
    fn requests_round_trip_and_pass_the_model_checker() {
        let clock = ManualClock::new(ts("2026-03-01T08:00:00.000Z"));
        let r = in_state(RequestState::Deployed, &clock);
        let v = r.to_stix();
        let parsed = phalanx_model::StixObject::from_value(v.clone(), "$");
        assert!(parsed.is_ok(), "{:?}", parsed.err());
        assert_eq!(v["extensions"][ASSISTANCE_REQUEST_EXTENSION_ID]["extension_type"], "new-sdo");
        assert_eq!(v["state"], "deployed");
        assert_eq!(AssistanceRequest::from_stix(&v).expect("decode"), r);
    }
}
