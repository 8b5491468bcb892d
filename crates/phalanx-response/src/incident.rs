//! Incidents: a STIX `incident` with the Phalanx property extension, its
//! status workflow, timeline and NIS2 reporting clocks.

use crate::clock::{Deadline, add_hours, add_months, millis};
use crate::error::ResponseError;
use crate::stix::{
    INCIDENT_EXTENSION_ID, INCIDENT_TYPE, Placement, StixMeta, check_country, check_ref, decode, encode,
};
use crate::vocab::{
    EntityClass, ImpactSeverity, Outlook, RootCause, RsitClass, Sector, ThreatSeverity, UnknownValue, vocabulary,
};
use phalanx_labels::Label;
use phalanx_model::Timestamp;
use serde::{Deserialize, Serialize};

const OBJECT: &str = "incident";

vocabulary! {
    /// Where an incident stands: new → triaged → analysing → containing →
    /// recovering → closed → reviewed.
    IncidentStatus, "incident status" {
        /// Reported, not yet looked at.
        New = "new",
        /// Looked at and classified.
        Triaged = "triaged",
        /// Being analysed.
        Analysing = "analysing",
        /// Being contained.
        Containing = "containing",
        /// Systems being recovered.
        Recovering = "recovering",
        /// Handled.
        Closed = "closed",
        /// Reviewed after closing (lessons learned).
        Reviewed = "reviewed",
    }
}

impl IncidentStatus {
    /// The statuses this one may move to: the next step of the workflow,
    /// and `closed` from any open status before it (an incident found to be
    /// a false positive, or resolved early, closes directly). `reviewed`
    /// is final.
    pub fn allowed_next(self) -> &'static [IncidentStatus] {
        use IncidentStatus::*;
        match self {
            New => &[Triaged, Closed],
            Triaged => &[Analysing, Closed],
            Analysing => &[Containing, Closed],
            Containing => &[Recovering, Closed],
            Recovering => &[Closed],
            Closed => &[Reviewed],
            Reviewed => &[],
        }
    }
}

/// One status change: who, when, from, to and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusChange {
    /// The status before.
    pub from_state: IncidentStatus,
    /// The status after.
    pub to_state: IncidentStatus,
    /// When.
    pub time: Timestamp,
    /// Who (`user:<name>`).
    pub actor: String,
    /// Why, when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// One entry of an incident's timeline.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimelineEntry {
    /// When it happened (or was recorded).
    pub time: Timestamp,
    /// Who wrote it.
    pub author: String,
    /// What happened.
    pub text: String,
    /// STIX objects it is about.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub object_refs: Vec<String>,
}

/// The Phalanx properties of an incident (the property extension's content).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncidentDetails {
    /// The reporting organisation.
    pub reporter_ref: String,
    /// Affected organisations (`identity--`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub affected_refs: Vec<String>,
    /// Affected countries (ISO 3166 alpha-3).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub affected_countries: Vec<String>,
    /// Affected sectors.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sectors: Vec<Sector>,
    /// NIS2 class of the affected entity.
    pub entity_class: EntityClass,
    /// The incident type that selects playbooks (`ransomware-hospital`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incident_type: Option<String>,
    /// RSIT class.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rsit_class: Option<RsitClass>,
    /// RSIT type (one of the class's types).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rsit_type: Option<String>,
    /// NIS CG: nature of the root cause.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nis_root_cause: Option<RootCause>,
    /// NIS CG: severity of the threat.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nis_threat_severity: Option<ThreatSeverity>,
    /// NIS CG: severity of the impact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nis_impact_severity: Option<ImpactSeverity>,
    /// NIS CG: outlook over the next six hours.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nis_outlook: Option<Outlook>,
    /// Significant incident (NIS2 Art 23(3)): the reporting clocks apply.
    pub significant: bool,
    /// Cross-border impact.
    pub cross_border: bool,
    /// Large-scale incident (NIS2 Art 6(7)).
    pub large_scale: bool,
    /// The affected entity is a trust service provider (notification in 24 h).
    pub trust_service_provider: bool,
    /// Current status.
    pub status: IncidentStatus,
    /// Every status change, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub status_history: Vec<StatusChange>,
    /// When it was detected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detected_at: Option<Timestamp>,
    /// When the entity became aware of it: the NIS2 clocks run from here.
    pub aware_at: Timestamp,
    /// When the early warning was sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub early_warning_sent_at: Option<Timestamp>,
    /// When the incident notification was sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notification_sent_at: Option<Timestamp>,
    /// When the final report was sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub final_report_sent_at: Option<Timestamp>,
    /// Timeline, in the order entries were added.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub timeline: Vec<TimelineEntry>,
    /// Linked indicators, observables, reports, attack patterns (ATT&CK or DISARM), ...
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub linked_refs: Vec<String>,
}

/// An incident.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Incident {
    /// Id, originator, versions, markings.
    pub meta: StixMeta,
    /// Title.
    pub name: String,
    /// Description.
    pub description: Option<String>,
    /// The Phalanx properties.
    pub details: IncidentDetails,
}

/// A change to an incident's properties (the fields of `incident open` and
/// `incident update`, and of the REST body). Lists add to what is there.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IncidentChanges {
    /// New title.
    pub name: Option<String>,
    /// New description.
    pub description: Option<String>,
    /// Affected organisations to add.
    pub affected_refs: Vec<String>,
    /// Affected countries to add.
    pub affected_countries: Vec<String>,
    /// Sectors to add.
    pub sectors: Vec<Sector>,
    /// Entity class.
    pub entity_class: Option<EntityClass>,
    /// Incident type (playbook key).
    pub incident_type: Option<String>,
    /// RSIT class.
    pub rsit_class: Option<RsitClass>,
    /// RSIT type.
    pub rsit_type: Option<String>,
    /// NIS CG root cause.
    pub nis_root_cause: Option<RootCause>,
    /// NIS CG threat severity.
    pub nis_threat_severity: Option<ThreatSeverity>,
    /// NIS CG impact severity.
    pub nis_impact_severity: Option<ImpactSeverity>,
    /// NIS CG outlook.
    pub nis_outlook: Option<Outlook>,
    /// Significant flag.
    pub significant: Option<bool>,
    /// Cross-border flag.
    pub cross_border: Option<bool>,
    /// Large-scale flag.
    pub large_scale: Option<bool>,
    /// Trust service provider flag.
    pub trust_service_provider: Option<bool>,
    /// Detection time.
    pub detected_at: Option<Timestamp>,
    /// Awareness time.
    pub aware_at: Option<Timestamp>,
    /// Early warning sent.
    pub early_warning_sent_at: Option<Timestamp>,
    /// Notification sent.
    pub notification_sent_at: Option<Timestamp>,
    /// Final report sent.
    pub final_report_sent_at: Option<Timestamp>,
    /// Objects to link.
    pub linked_refs: Vec<String>,
}

impl IncidentChanges {
    /// Whether nothing would change.
    pub fn is_empty(&self) -> bool {
        *self == IncidentChanges::default()
    }
}

/// Types an incident may link to: anything but markings, extension
/// definitions and identities (affected organisations go to `affected_refs`).
fn linkable(field: &str, id: &str) -> Result<(), ResponseError> {
    check_ref(OBJECT, field, id, &[])?;
    let ty = id.split("--").next().unwrap_or_default();
    if matches!(ty, "marking-definition" | "extension-definition" | "identity" | "language-content") {
        return Err(ResponseError::input(OBJECT, field, format!("an incident does not link to a {ty}")));
    }
    Ok(())
}

fn push_unique<T: PartialEq + Clone>(list: &mut Vec<T>, items: &[T]) {
    for item in items {
        if !list.contains(item) {
            list.push(item.clone());
        }
    }
}

/// The NIS2 Art 23(4) reporting clocks of an incident, evaluated at an instant.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Nis2Clocks {
    /// Early warning: 24 h after awareness.
    pub early_warning: Deadline,
    /// Incident notification: 72 h after awareness (24 h for trust service providers).
    pub notification: Deadline,
    /// Final report: one month after the notification was sent (while it
    /// has not been sent, one month after its due time, provisional).
    pub final_report: Deadline,
}

impl Nis2Clocks {
    /// The three deadlines in order.
    pub fn all(&self) -> [&Deadline; 3] {
        [&self.early_warning, &self.notification, &self.final_report]
    }
}

impl Incident {
    /// Opens an incident reported by `reporter_ref` (its originator), in
    /// status `new`, marked with `label`. Awareness defaults to `now`.
    pub fn open(
        name: &str,
        reporter_ref: &str,
        label: &Label,
        changes: &IncidentChanges,
        actor: &str,
        now: Timestamp,
    ) -> Result<Incident, ResponseError> {
        check_ref(OBJECT, "reporter_ref", reporter_ref, &["identity"])?;
        if name.trim().is_empty() {
            return Err(ResponseError::input(OBJECT, "name", "must not be empty"));
        }
        let now = millis(now);
        let mut incident = Incident {
            meta: StixMeta::new(INCIDENT_TYPE, reporter_ref, label, now),
            name: name.trim().to_owned(),
            description: None,
            details: IncidentDetails {
                reporter_ref: reporter_ref.to_owned(),
                affected_refs: Vec::new(),
                affected_countries: Vec::new(),
                sectors: Vec::new(),
                entity_class: EntityClass::None,
                incident_type: None,
                rsit_class: None,
                rsit_type: None,
                nis_root_cause: None,
                nis_threat_severity: None,
                nis_impact_severity: None,
                nis_outlook: None,
                significant: false,
                cross_border: false,
                large_scale: false,
                trust_service_provider: false,
                status: IncidentStatus::New,
                status_history: Vec::new(),
                detected_at: None,
                aware_at: now,
                early_warning_sent_at: None,
                notification_sent_at: None,
                final_report_sent_at: None,
                timeline: Vec::new(),
                linked_refs: Vec::new(),
            },
        };
        incident.apply(changes, now)?;
        incident.details.timeline.push(TimelineEntry {
            time: now,
            author: actor.to_owned(),
            text: "incident opened".into(),
            object_refs: Vec::new(),
        });
        Ok(incident)
    }

    /// Applies `changes` (checked first: nothing changes when one is
    /// refused) and makes a new version at `now`.
    pub fn update(&mut self, changes: &IncidentChanges, now: Timestamp) -> Result<(), ResponseError> {
        let mut next = self.clone();
        next.apply(changes, now)?;
        next.meta.touch(now);
        *self = next;
        Ok(())
    }

    fn apply(&mut self, c: &IncidentChanges, now: Timestamp) -> Result<(), ResponseError> {
        let d = &mut self.details;
        if let Some(n) = &c.name {
            if n.trim().is_empty() {
                return Err(ResponseError::input(OBJECT, "name", "must not be empty"));
            }
            self.name = n.trim().to_owned();
        }
        if let Some(desc) = &c.description {
            self.description = Some(desc.clone()).filter(|s| !s.is_empty());
        }
        for r in &c.affected_refs {
            check_ref(OBJECT, "affected_refs", r, &["identity"])?;
        }
        push_unique(&mut d.affected_refs, &c.affected_refs);
        for country in &c.affected_countries {
            check_country(OBJECT, "affected_countries", country)?;
        }
        push_unique(&mut d.affected_countries, &c.affected_countries);
        push_unique(&mut d.sectors, &c.sectors);
        if let Some(e) = c.entity_class {
            d.entity_class = e;
        }
        if let Some(t) = &c.incident_type {
            if t.trim().is_empty() {
                return Err(ResponseError::input(OBJECT, "incident_type", "must not be empty"));
            }
            d.incident_type = Some(t.trim().to_owned());
        }
        if let Some(class) = c.rsit_class {
            d.rsit_class = Some(class);
            if let Some(t) = &d.rsit_type
                && c.rsit_type.is_none()
                && !class.types().contains(&t.as_str())
            {
                d.rsit_type = None;
            }
        }
        if let Some(t) = &c.rsit_type {
            let Some(class) = d.rsit_class else {
                return Err(ResponseError::input(
                    OBJECT,
                    "rsit_type",
                    "set rsit_class first (the type belongs to a class)",
                ));
            };
            if !class.types().contains(&t.as_str()) {
                return Err(ResponseError::input(
                    OBJECT,
                    "rsit_type",
                    UnknownValue {
                        vocabulary: "rsit type of this class",
                        value: t.clone(),
                        allowed: class.types().to_vec(),
                    }
                    .to_string(),
                ));
            }
            d.rsit_type = Some(t.clone());
        }
        d.nis_root_cause = c.nis_root_cause.or(d.nis_root_cause);
        d.nis_threat_severity = c.nis_threat_severity.or(d.nis_threat_severity);
        d.nis_impact_severity = c.nis_impact_severity.or(d.nis_impact_severity);
        d.nis_outlook = c.nis_outlook.or(d.nis_outlook);
        d.significant = c.significant.unwrap_or(d.significant);
        d.cross_border = c.cross_border.unwrap_or(d.cross_border);
        d.large_scale = c.large_scale.unwrap_or(d.large_scale);
        d.trust_service_provider = c.trust_service_provider.unwrap_or(d.trust_service_provider);
        d.detected_at = c.detected_at.map(millis).or(d.detected_at);
        d.aware_at = c.aware_at.map(millis).unwrap_or(d.aware_at);
        d.early_warning_sent_at = c.early_warning_sent_at.map(millis).or(d.early_warning_sent_at);
        d.notification_sent_at = c.notification_sent_at.map(millis).or(d.notification_sent_at);
        d.final_report_sent_at = c.final_report_sent_at.map(millis).or(d.final_report_sent_at);
        let now = millis(now);
        for (field, t) in [
            ("detected_at", d.detected_at),
            ("aware_at", Some(d.aware_at)),
            ("early_warning_sent_at", d.early_warning_sent_at),
            ("notification_sent_at", d.notification_sent_at),
            ("final_report_sent_at", d.final_report_sent_at),
        ] {
            if let Some(t) = t
                && t > now
            {
                return Err(ResponseError::input(OBJECT, field, format!("{t} is in the future (now is {now})")));
            }
        }
        if let Some(detected) = d.detected_at
            && detected > d.aware_at
        {
            return Err(ResponseError::input(OBJECT, "detected_at", "is later than aware_at"));
        }
        for (field, t) in [
            ("early_warning_sent_at", d.early_warning_sent_at),
            ("notification_sent_at", d.notification_sent_at),
            ("final_report_sent_at", d.final_report_sent_at),
        ] {
            if let Some(t) = t
                && t < d.aware_at
            {
                return Err(ResponseError::input(
                    OBJECT,
                    field,
                    format!("{t} is earlier than aware_at ({})", d.aware_at),
                ));
            }
        }
        if d.final_report_sent_at.is_some() && d.notification_sent_at.is_none() {
            return Err(ResponseError::input(
                OBJECT,
                "final_report_sent_at",
                "the final report follows the incident notification: set notification_sent_at first",
            ));
        }
        for r in &c.linked_refs {
            linkable("linked_refs", r)?;
        }
        push_unique(&mut d.linked_refs, &c.linked_refs);
        Ok(())
    }

    /// Moves the incident to `to`, recording who, when and why, as a new
    /// version. Refuses a move the workflow does not allow.
    pub fn set_status(
        &mut self,
        to: IncidentStatus,
        actor: &str,
        reason: Option<&str>,
        now: Timestamp,
    ) -> Result<(), ResponseError> {
        let from = self.details.status;
        if !from.allowed_next().contains(&to) {
            return Err(ResponseError::InvalidTransition {
                object: OBJECT,
                id: self.meta.id.clone(),
                from: from.to_string(),
                to: to.to_string(),
                allowed: from.allowed_next().iter().map(|s| s.to_string()).collect(),
            });
        }
        let time = self.meta.touch(now);
        self.details.status = to;
        self.details.status_history.push(StatusChange {
            from_state: from,
            to_state: to,
            time,
            actor: actor.to_owned(),
            reason: reason.map(str::to_owned).filter(|r| !r.is_empty()),
        });
        Ok(())
    }

    /// Adds a timeline entry (as a new version).
    pub fn add_timeline(
        &mut self,
        author: &str,
        text: &str,
        object_refs: &[String],
        time: Option<Timestamp>,
        now: Timestamp,
    ) -> Result<(), ResponseError> {
        if text.trim().is_empty() {
            return Err(ResponseError::input(OBJECT, "timeline.text", "must not be empty"));
        }
        for r in object_refs {
            check_ref(OBJECT, "timeline.object_refs", r, &[])?;
        }
        let version = self.meta.touch(now);
        let time = time.map(millis).unwrap_or(version);
        if time > version {
            return Err(ResponseError::input(OBJECT, "timeline.time", format!("{time} is in the future")));
        }
        self.details.timeline.push(TimelineEntry {
            time,
            author: author.to_owned(),
            text: text.trim().to_owned(),
            object_refs: object_refs.to_vec(),
        });
        Ok(())
    }

    /// The NIS2 clocks at `now` (NIS2 Art 23(4)): early warning 24 h after
    /// awareness; notification 72 h after awareness, 24 h for trust
    /// service providers; final report one calendar month after the
    /// notification was sent. They are computed for every incident; the
    /// legal obligation holds for significant ones (see `significant`).
    pub fn nis2_clocks(&self, now: Timestamp) -> Nis2Clocks {
        let d = &self.details;
        let early_due = add_hours(d.aware_at, 24);
        let notification_due = add_hours(d.aware_at, if d.trust_service_provider { 24 } else { 72 });
        let (final_base, provisional) = match d.notification_sent_at {
            Some(sent) => (sent, false),
            None => (notification_due, true),
        };
        Nis2Clocks {
            early_warning: Deadline::evaluate("early-warning", early_due, d.early_warning_sent_at, false, now),
            notification: Deadline::evaluate("notification", notification_due, d.notification_sent_at, false, now),
            final_report: Deadline::evaluate(
                "final-report",
                add_months(final_base, 1),
                d.final_report_sent_at,
                provisional,
                now,
            ),
        }
    }

    /// The STIX `incident` object of this version.
    pub fn to_stix(&self) -> serde_json::Value {
        encode(
            &self.meta,
            INCIDENT_TYPE,
            &self.name,
            self.description.as_deref(),
            &self.details,
            Placement::Property(INCIDENT_EXTENSION_ID),
        )
    }

    /// Reads an incident written by [`Incident::to_stix`].
    pub fn from_stix(value: &serde_json::Value) -> Result<Incident, ResponseError> {
        let (meta, name, description, details) =
            decode(value, OBJECT, INCIDENT_TYPE, Placement::Property(INCIDENT_EXTENSION_ID))?;
        Ok(Incident { meta, name, description, details })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::{Clock, DeadlineState, ManualClock, next_millisecond};
    use phalanx_labels::Tlp;
    use std::time::Duration;

    const LT_CSIRT: &str = "identity--0b3c1d2e-4f50-4a61-8b72-9c83d4e5f601";

    fn ts(s: &str) -> Timestamp {
        Timestamp::parse(s).expect("test timestamp")
    }

    fn hospital(clock: &ManualClock, tsp: bool) -> Incident {
        let changes = IncidentChanges {
            sectors: vec![Sector::Health],
            entity_class: Some(EntityClass::Essential),
            significant: Some(true),
            trust_service_provider: Some(tsp),
            ..Default::default()
        };
        Incident::open(
            "Ransomware at a hospital",
            LT_CSIRT,
            &Label::unclassified(Tlp::Amber),
            &changes,
            "user:ona",
            clock.now(),
        )
        .expect("open")
    }

    #[test]
    fn nis2_clocks_turn_overdue_at_the_right_instants() {
        let clock = ManualClock::new(ts("2026-03-01T08:00:00.000Z"));
        let incident = hospital(&clock, false);
        let aware = incident.details.aware_at;
        let states = |now: Timestamp| {
            let c = incident.nis2_clocks(now);
            (c.early_warning.state, c.notification.state, c.final_report.state)
        };
        use DeadlineState::*;
        assert_eq!(states(aware), (Due, Due, Due));
        let early_due = add_hours(aware, 24);
        assert_eq!(incident.nis2_clocks(aware).early_warning.due.to_string(), "2026-03-02T08:00:00.000Z");
        assert_eq!(states(early_due), (Due, Due, Due));
        assert_eq!(states(next_millisecond(early_due)), (Overdue, Due, Due));
        let notification_due = add_hours(aware, 72);
        assert_eq!(incident.nis2_clocks(aware).notification.due.to_string(), "2026-03-04T08:00:00.000Z");
        assert_eq!(states(notification_due), (Overdue, Due, Due));
        assert_eq!(states(next_millisecond(notification_due)), (Overdue, Overdue, Due));
        // Not yet notified: the final report is provisionally a month after the notification's due time.
        let c = incident.nis2_clocks(aware);
        assert!(c.final_report.provisional);
        assert_eq!(c.final_report.due.to_string(), "2026-04-04T08:00:00.000Z");
        assert_eq!(states(next_millisecond(c.final_report.due)), (Overdue, Overdue, Overdue));
    }

    #[test]
    fn trust_service_providers_notify_within_24_hours() {
        let clock = ManualClock::new(ts("2026-03-01T08:00:00.000Z"));
        let incident = hospital(&clock, true);
        let due = add_hours(incident.details.aware_at, 24);
        let c = incident.nis2_clocks(due);
        assert_eq!(c.notification.due, due);
        assert_eq!(c.notification.state, DeadlineState::Due);
        assert_eq!(incident.nis2_clocks(next_millisecond(due)).notification.state, DeadlineState::Overdue);
    }

    #[test]
    fn sent_reports_are_met_or_met_late_and_the_final_report_runs_from_the_notification() {
        let clock = ManualClock::new(ts("2026-01-30T10:00:00.000Z"));
        let mut incident = hospital(&clock, false);
        clock.advance(Duration::from_secs(20 * 3600));
        let early = clock.now();
        clock.advance(Duration::from_secs(60 * 3600)); // 80 h after awareness: late notification
        let notified = clock.now();
        let changes = IncidentChanges {
            early_warning_sent_at: Some(early),
            notification_sent_at: Some(notified),
            ..Default::default()
        };
        incident.update(&changes, clock.now()).expect("update");
        let c = incident.nis2_clocks(clock.now());
        assert_eq!(c.early_warning.state, DeadlineState::Met);
        assert_eq!(c.notification.state, DeadlineState::MetLate);
        assert!(!c.final_report.provisional);
        assert_eq!(notified.to_string(), "2026-02-02T18:00:00.000Z");
        assert_eq!(c.final_report.due.to_string(), "2026-03-02T18:00:00.000Z");
        assert_eq!(incident.nis2_clocks(c.final_report.due).final_report.state, DeadlineState::Due);
        assert_eq!(
            incident.nis2_clocks(next_millisecond(c.final_report.due)).final_report.state,
            DeadlineState::Overdue
        );
    }

    #[test]
    fn the_full_status_matrix_allows_only_the_workflow() {
        let allowed: &[(IncidentStatus, IncidentStatus)] = {
            use IncidentStatus::*;
            &[
                (New, Triaged),
                (Triaged, Analysing),
                (Analysing, Containing),
                (Containing, Recovering),
                (Recovering, Closed),
                (Closed, Reviewed),
                (New, Closed),
                (Triaged, Closed),
                (Analysing, Closed),
                (Containing, Closed),
            ]
        };
        let clock = ManualClock::new(ts("2026-03-01T08:00:00.000Z"));
        for from in IncidentStatus::ALL {
            for to in IncidentStatus::ALL {
                let mut incident = hospital(&clock, false);
                incident.details.status = *from;
                let before = incident.clone();
                let result = incident.set_status(*to, "user:ona", Some("test"), clock.now());
                if allowed.contains(&(*from, *to)) {
                    assert!(result.is_ok(), "{from} -> {to} must be allowed: {result:?}");
                    assert_eq!(incident.details.status, *to);
                    assert_eq!(incident.details.status_history.last().map(|c| c.from_state), Some(*from));
                    assert!(incident.meta.modified > before.meta.modified);
                } else {
                    let e = result.expect_err("must be refused");
                    let text = e.to_string();
                    assert!(text.contains(&format!("from {from} to {to}")), "{text}");
                    assert!(e.is_refusal());
                    assert_eq!(incident, before, "a refused transition changes nothing");
                }
            }
        }
    }

    #[test]
    fn refusal_names_the_allowed_next_statuses() {
        let clock = ManualClock::new(ts("2026-03-01T08:00:00.000Z"));
        let mut incident = hospital(&clock, false);
        let e = incident.set_status(IncidentStatus::Recovering, "user:ona", None, clock.now()).unwrap_err();
        assert!(e.to_string().ends_with("allowed next: triaged, closed"), "{e}");
        incident.details.status = IncidentStatus::Reviewed;
        let e = incident.set_status(IncidentStatus::New, "user:ona", None, clock.now()).unwrap_err();
        assert!(e.to_string().contains("none (final state)"), "{e}");
    }

    #[test]
    fn changes_are_checked_before_anything_changes() {
        let clock = ManualClock::new(ts("2026-03-01T08:00:00.000Z"));
        let mut incident = hospital(&clock, false);
        let before = incident.clone();
        let bad_type = IncidentChanges {
            rsit_class: Some(RsitClass::Availability),
            rsit_type: Some("phishing".into()),
            ..Default::default()
        };
        let e = incident.update(&bad_type, clock.now()).unwrap_err();
        assert!(
            e.to_string().starts_with("incident: rsit_type: 'phishing' is not a known rsit type of this class"),
            "{e}"
        );
        assert_eq!(incident, before);
        let bad_country = IncidentChanges { affected_countries: vec!["Lithuania".into()], ..Default::default() };
        assert!(incident.update(&bad_country, clock.now()).unwrap_err().to_string().contains("affected_countries"));
        let future = IncidentChanges { aware_at: Some(add_hours(clock.now(), 1)), ..Default::default() };
        assert!(incident.update(&future, clock.now()).unwrap_err().to_string().contains("aware_at"));
        let link_identity = IncidentChanges { linked_refs: vec![LT_CSIRT.into()], ..Default::default() };
        assert!(incident.update(&link_identity, clock.now()).is_err());
        let final_first = IncidentChanges { final_report_sent_at: Some(clock.now()), ..Default::default() };
        assert!(
            incident.update(&final_first, clock.now()).unwrap_err().to_string().contains("notification_sent_at first")
        );
        assert_eq!(incident, before);
    }

    #[test]
    fn stix_round_trip_passes_the_model_checker() {
        let clock = ManualClock::new(ts("2026-03-01T08:00:00.000Z"));
        let mut incident = hospital(&clock, false);
        let changes = IncidentChanges {
            rsit_class: Some(RsitClass::MaliciousCode),
            rsit_type: Some("infected-system".into()),
            nis_impact_severity: Some(ImpactSeverity::Red),
            affected_countries: vec!["LTU".into()],
            linked_refs: vec!["indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f".into()],
            ..Default::default()
        };
        incident.update(&changes, clock.now()).expect("update");
        incident
            .add_timeline(
                "user:ona",
                "encryptor found on the PACS server",
                &["indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f".into()],
                None,
                clock.now(),
            )
            .expect("timeline");
        incident.set_status(IncidentStatus::Triaged, "user:ona", Some("confirmed"), clock.now()).expect("status");
        let value = incident.to_stix();
        let parsed = phalanx_model::StixObject::from_value(value.clone(), "$");
        assert!(parsed.is_ok(), "{:?}", parsed.err());
        assert_eq!(value["extensions"][INCIDENT_EXTENSION_ID]["extension_type"], "property-extension");
        assert_eq!(value["extensions"][INCIDENT_EXTENSION_ID]["nis_impact_severity"], "red");
        assert_eq!(Incident::from_stix(&value).expect("decode"), incident);
    }
}
