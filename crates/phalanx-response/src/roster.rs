//! The roster: experts that nations put forward, their offers for a
//! request, and who may join a team.
//!
//! An expert may join a team only if they could read the incident's (or,
//! without an incident, the request's) label: the decision is
//! [`phalanx_labels::explain_read`] for a [`Reader`] built from the expert
//! ([`expert_reader`]), so a refusal names the rule that failed, exactly as
//! the read rule would for the expert's own account.

use crate::error::ResponseError;
use crate::stix::{
    ASSISTANCE_REQUEST_TYPE, EXPERT_EXTENSION_ID, EXPERT_OFFER_EXTENSION_ID, EXPERT_OFFER_TYPE, EXPERT_TYPE, Placement,
    StixMeta, check_country, check_ref, decode, encode,
};
use crate::vocab::Skill;
use phalanx_labels::{Label, Organisation, Policy, Rank, Reader, Subject, explain_read};
use phalanx_model::Timestamp;
use serde::{Deserialize, Serialize};

const EXPERT: &str = "expert";
const OFFER: &str = "expert offer";

/// A window in which an expert can deploy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AvailabilityWindow {
    /// First instant.
    pub start: Timestamp,
    /// Last instant.
    pub end: Timestamp,
}

impl std::str::FromStr for AvailabilityWindow {
    type Err = String;

    /// `START/END`, two STIX timestamps.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (a, b) = s.split_once('/').ok_or_else(|| format!("'{s}' is not START/END"))?;
        let start = Timestamp::parse(a.trim()).map_err(|e| e.to_string())?;
        let end = Timestamp::parse(b.trim()).map_err(|e| e.to_string())?;
        if end < start {
            return Err(format!("'{s}': the end is before the start"));
        }
        Ok(AvailabilityWindow { start, end })
    }
}

/// The Phalanx properties of an expert.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExpertDetails {
    /// Nationalities (ISO 3166 alpha-3), the first being the one shown.
    pub nationalities: Vec<String>,
    /// The organisation that delegates the expert.
    pub organisation_ref: String,
    /// Skills.
    pub skills: Vec<Skill>,
    /// Security clearance rank.
    pub clearance: Rank,
    /// Policies the expert is briefed for.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub briefings: Vec<Policy>,
    /// Caveats the expert holds.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub caveats: Vec<String>,
    /// Languages (ISO 639 codes, lower case).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub languages: Vec<String>,
    /// When the expert can deploy; none given = not restricted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub availability: Vec<AvailabilityWindow>,
}

/// An expert on the roster (`x-phalanx-expert`), created by the expert's
/// organisation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expert {
    /// Id, originator, versions, markings.
    pub meta: StixMeta,
    /// The expert's name.
    pub name: String,
    /// The Phalanx properties.
    pub details: ExpertDetails,
}

impl Expert {
    /// A new roster entry, checked. `created_by_ref` is the organisation
    /// writing it, which must be the expert's organisation.
    pub fn new(
        name: &str,
        details: ExpertDetails,
        created_by_ref: &str,
        label: &Label,
        now: Timestamp,
    ) -> Result<Expert, ResponseError> {
        if name.trim().is_empty() {
            return Err(ResponseError::input(EXPERT, "name", "must not be empty"));
        }
        if details.nationalities.is_empty() {
            return Err(ResponseError::input(EXPERT, "nationalities", "at least one nationality is needed"));
        }
        for n in &details.nationalities {
            check_country(EXPERT, "nationalities", n)?;
        }
        check_ref(EXPERT, "organisation_ref", &details.organisation_ref, &["identity"])?;
        if details.organisation_ref != created_by_ref {
            return Err(ResponseError::input(
                EXPERT,
                "organisation_ref",
                "an expert is put on the roster by their own organisation (created_by_ref)",
            ));
        }
        if details.skills.is_empty() {
            return Err(ResponseError::input(EXPERT, "skills", "at least one skill is needed"));
        }
        for l in &details.languages {
            if !(2..=3).contains(&l.len()) || !l.bytes().all(|b| b.is_ascii_lowercase()) {
                return Err(ResponseError::input(
                    EXPERT,
                    "languages",
                    format!("'{l}' is not an iso 639 language code (e.g. en, lt)"),
                ));
            }
        }
        for c in &details.caveats {
            if c.is_empty() || c.contains([',', '|']) || c.chars().any(char::is_whitespace) {
                return Err(ResponseError::input(EXPERT, "caveats", format!("'{c}' is not a caveat token")));
            }
        }
        if details.clearance > Rank::Unclassified && details.briefings.is_empty() {
            return Err(ResponseError::input(
                EXPERT,
                "briefings",
                "a cleared expert is briefed for at least one policy (EU, NATO, NATIONAL:XXX)",
            ));
        }
        Ok(Expert {
            meta: StixMeta::new(EXPERT_TYPE, created_by_ref, label, now),
            name: name.trim().to_owned(),
            details,
        })
    }

    /// Whether the expert can deploy at `at`: inside one of the windows,
    /// or always when none are given.
    pub fn available_at(&self, at: Timestamp) -> bool {
        self.details.availability.is_empty() || self.details.availability.iter().any(|w| w.start <= at && at <= w.end)
    }

    /// The STIX object.
    pub fn to_stix(&self) -> serde_json::Value {
        encode(&self.meta, EXPERT_TYPE, &self.name, None, &self.details, Placement::NewSdo(EXPERT_EXTENSION_ID))
    }

    /// Reads an expert written by [`Expert::to_stix`].
    pub fn from_stix(value: &serde_json::Value) -> Result<Expert, ResponseError> {
        let (meta, name, _, details) = decode(value, EXPERT, EXPERT_TYPE, Placement::NewSdo(EXPERT_EXTENSION_ID))?;
        Ok(Expert { meta, name, details })
    }
}

/// The reader the read rule sees for `expert` holding `nationality`:
/// the expert's organisation (memberships and parent as registered) with
/// the expert's nationality as its country, the expert's clearance,
/// briefings and caveats, in `context` (`None` = the real world).
pub fn expert_reader(expert: &Expert, organisation: &Organisation, nationality: &str, context: Option<&str>) -> Reader {
    let mut org = organisation.clone();
    org.id = expert.details.organisation_ref.clone();
    org.country = Some(nationality.to_owned());
    let mut reader = Reader::new(org);
    reader.clearance = expert.details.clearance;
    reader.briefed = expert.details.briefings.iter().cloned().collect();
    reader.caveats = expert.details.caveats.iter().cloned().collect();
    reader.context = context.map(str::to_owned);
    reader
}

/// Whether `expert` may work on something labelled `label`: the read rule
/// for the expert under one of their nationalities. The refusal names the
/// first rule that failed for the first nationality.
pub fn check_eligibility(
    expert: &Expert,
    organisation: &Organisation,
    label: &Label,
    context: Option<&str>,
) -> Result<String, ResponseError> {
    let mut first_denial = None;
    for nationality in &expert.details.nationalities {
        let reader = expert_reader(expert, organisation, nationality, context);
        match explain_read(&Subject::User(reader), label) {
            Ok(()) => return Ok(nationality.clone()),
            Err(reason) => {
                first_denial.get_or_insert(reason);
            }
        }
    }
    let reason = first_denial.unwrap_or(phalanx_labels::DenyReason::NotReleasable);
    Err(ResponseError::NotEligible {
        expert: expert.meta.id.clone(),
        name: expert.name.clone(),
        label: label.display_name(None),
        reason: Box::new(reason),
    })
}

/// The Phalanx properties of an offer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OfferDetails {
    /// The request the experts are offered for.
    pub request_ref: String,
    /// The contributing nation.
    pub nation: String,
    /// The experts offered.
    pub expert_refs: Vec<String>,
    /// A note (conditions, dates).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Experts a contributing nation offers for a request
/// (`x-phalanx-expert-offer`), created by the offering organisation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExpertOffer {
    /// Id, originator, versions, markings.
    pub meta: StixMeta,
    /// A short title.
    pub name: String,
    /// The Phalanx properties.
    pub details: OfferDetails,
}

impl ExpertOffer {
    /// A new offer, checked.
    pub fn new(
        details: OfferDetails,
        created_by_ref: &str,
        label: &Label,
        now: Timestamp,
    ) -> Result<ExpertOffer, ResponseError> {
        check_ref(OFFER, "request_ref", &details.request_ref, &[ASSISTANCE_REQUEST_TYPE])?;
        check_country(OFFER, "nation", &details.nation)?;
        if details.expert_refs.is_empty() {
            return Err(ResponseError::input(OFFER, "expert_refs", "offer at least one expert"));
        }
        for e in &details.expert_refs {
            check_ref(OFFER, "expert_refs", e, &[EXPERT_TYPE])?;
        }
        let name = format!("{} offers {} expert(s)", details.nation, details.expert_refs.len());
        Ok(ExpertOffer { meta: StixMeta::new(EXPERT_OFFER_TYPE, created_by_ref, label, now), name, details })
    }

    /// The STIX object.
    pub fn to_stix(&self) -> serde_json::Value {
        encode(
            &self.meta,
            EXPERT_OFFER_TYPE,
            &self.name,
            None,
            &self.details,
            Placement::NewSdo(EXPERT_OFFER_EXTENSION_ID),
        )
    }

    /// Reads an offer written by [`ExpertOffer::to_stix`].
    pub fn from_stix(value: &serde_json::Value) -> Result<ExpertOffer, ResponseError> {
        let (meta, name, _, details) =
            decode(value, OFFER, EXPERT_OFFER_TYPE, Placement::NewSdo(EXPERT_OFFER_EXTENSION_ID))?;
        Ok(ExpertOffer { meta, name, details })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use phalanx_labels::{LabelMarking, Tlp};

    pub(crate) const EE_ORG: &str = "identity--1e2d3c4b-5a69-4788-9a1b-2c3d4e5f6a7b";

    pub(crate) fn ts(s: &str) -> Timestamp {
        Timestamp::parse(s).expect("test timestamp")
    }

    pub(crate) fn eu_restricted_rel(tokens: &[&str]) -> Label {
        let marking: LabelMarking = serde_json::from_value(serde_json::json!({
            "policy": "EU", "classification": "RESTRICTED", "releasable_to": tokens
        }))
        .expect("marking");
        Label::from_marking(marking, Some(Tlp::Green), None)
    }

    pub(crate) fn expert(name: &str, nationality: &str, clearance: Rank, briefed: &[Policy]) -> Expert {
        Expert::new(
            name,
            ExpertDetails {
                nationalities: vec![nationality.into()],
                organisation_ref: EE_ORG.into(),
                skills: vec![Skill::Forensics, Skill::TeamLead],
                clearance,
                briefings: briefed.to_vec(),
                caveats: Vec::new(),
                languages: vec!["en".into()],
                availability: Vec::new(),
            },
            EE_ORG,
            &Label::unclassified(Tlp::Green),
            ts("2026-03-01T08:00:00Z"),
        )
        .expect("expert")
    }

    pub(crate) fn eu_org() -> Organisation {
        let mut org = Organisation::new(EE_ORG);
        org.country = Some("EST".into());
        org.memberships.insert("EU".into());
        org.memberships.insert("PESCO_CRRT".into());
        org
    }

    #[test]
    fn a_cleared_briefed_expert_of_an_audience_nation_is_eligible() {
        let e = expert("Kadri", "EST", Rank::Secret, &[Policy::Eu]);
        let label = eu_restricted_rel(&["PESCO_CRRT"]);
        assert_eq!(check_eligibility(&e, &eu_org(), &label, None), Ok("EST".into()));
    }

    #[test]
    fn refusals_name_the_rule_that_failed() {
        let label = eu_restricted_rel(&["LTU", "EST"]);
        let uncleared = expert("Mart", "EST", Rank::Unclassified, &[]);
        let e = check_eligibility(&uncleared, &eu_org(), &label, None).unwrap_err();
        assert!(matches!(&e, ResponseError::NotEligible { reason, .. } if reason.rule() == 1));
        let text = e.to_string();
        assert!(text.contains("expert 'Mart'"), "{text}");
        assert!(text.contains("rule 1 (classification): clearance UNCLASSIFIED is below RESTRICTED"), "{text}");

        let not_briefed = expert("Liis", "EST", Rank::Secret, &[Policy::Nato]);
        let e = check_eligibility(&not_briefed, &eu_org(), &label, None).unwrap_err();
        assert!(e.to_string().contains("rule 1 (classification): not briefed for policy EU"), "{e}");

        // A Polish national in the Estonian organisation: not in REL TO LTU, EST.
        let foreign = expert("Piotr", "POL", Rank::Secret, &[Policy::Eu]);
        let e = check_eligibility(&foreign, &eu_org(), &label, None).unwrap_err();
        assert!(e.to_string().contains("rule 2 (releasability)"), "{e}");

        let mut caveat = label.clone();
        caveat.caveats.insert("CASE-2026-0042".into());
        let cleared = expert("Kadri", "EST", Rank::Secret, &[Policy::Eu]);
        let e = check_eligibility(&cleared, &eu_org(), &caveat, None).unwrap_err();
        assert!(e.to_string().contains("rule 3 (caveats): missing caveats CASE-2026-0042"), "{e}");

        let mut exercise = label.clone();
        exercise.exercise = Some("amber-mist-2026".into());
        let e = check_eligibility(&cleared, &eu_org(), &exercise, None).unwrap_err();
        assert!(e.to_string().contains("rule 5 (context)"), "{e}");
        assert!(check_eligibility(&cleared, &eu_org(), &exercise, Some("amber-mist-2026")).is_ok());
    }

    #[test]
    fn any_nationality_that_reads_the_label_makes_the_expert_eligible() {
        let label = eu_restricted_rel(&["LTU"]);
        let mut dual = expert("Rūta", "EST", Rank::Restricted, &[Policy::Eu]);
        dual.details.nationalities.push("LTU".into());
        assert_eq!(check_eligibility(&dual, &eu_org(), &label, None), Ok("LTU".into()));
    }

    #[test]
    fn roster_entries_are_checked() {
        let details = |nat: &str| ExpertDetails {
            nationalities: vec![nat.into()],
            organisation_ref: EE_ORG.into(),
            skills: vec![Skill::Forensics],
            clearance: Rank::Restricted,
            briefings: vec![],
            caveats: vec![],
            languages: vec![],
            availability: vec![],
        };
        let label = Label::unclassified(Tlp::Green);
        let now = ts("2026-03-01T08:00:00Z");
        let e = Expert::new("X", details("Estonia"), EE_ORG, &label, now).unwrap_err();
        assert!(e.to_string().starts_with("expert: nationalities:"), "{e}");
        let e = Expert::new("X", details("EST"), EE_ORG, &label, now).unwrap_err();
        assert!(e.to_string().starts_with("expert: briefings:"), "{e}");
        let e = Expert::new("X", details("EST"), "identity--9e2d3c4b-5a69-4788-9a1b-2c3d4e5f6a7b", &label, now)
            .unwrap_err();
        assert!(e.to_string().starts_with("expert: organisation_ref:"), "{e}");
    }

    #[test]
    fn availability_windows_bound_deployment() {
        let mut e = expert("Kadri", "EST", Rank::Secret, &[Policy::Eu]);
        assert!(e.available_at(ts("2030-01-01T00:00:00Z")), "no windows: not restricted");
        e.details.availability = vec!["2026-03-01T00:00:00Z/2026-03-31T23:59:59Z".parse().expect("window")];
        assert!(e.available_at(ts("2026-03-15T00:00:00Z")));
        assert!(!e.available_at(ts("2026-04-01T00:00:00Z")));
        assert!("2026-03-31T00:00:00Z/2026-03-01T00:00:00Z".parse::<AvailabilityWindow>().is_err());
    }

    #[test]
    fn experts_and_offers_round_trip_and_pass_the_model_checker() {
        let e = expert("Kadri", "EST", Rank::Secret, &[Policy::Eu]);
        let v = e.to_stix();
        assert!(phalanx_model::StixObject::from_value(v.clone(), "$").is_ok());
        assert_eq!(Expert::from_stix(&v).expect("decode"), e);
        let offer = ExpertOffer::new(
            OfferDetails {
                request_ref: "x-phalanx-assistance-request--4d4b1b4e-33a9-4a5e-9a52-2b5b8b1c0f11".into(),
                nation: "EST".into(),
                expert_refs: vec![e.meta.id.clone()],
                note: None,
            },
            EE_ORG,
            &Label::unclassified(Tlp::Green),
            ts("2026-03-01T09:00:00Z"),
        )
        .expect("offer");
        let v = offer.to_stix();
        assert!(phalanx_model::StixObject::from_value(v.clone(), "$").is_ok());
        assert_eq!(ExpertOffer::from_stix(&v).expect("decode"), offer);
    }
}
