//! Rapid-response events: what a stored version means to a coordinator
//! (a new assistance request, a state change, a collective-threat alert),
//! and the deadlines that became overdue. The live stream adds them to its
//! version events and the webhooks deliver them.
//!
//! Events are derived from the versions themselves, so every interface
//! that wrote the version (CLI, REST, web, a peer) produces the same ones:
//! the first version of an object the reader may read is its creation
//! (the caller tells, from the store); a version whose last recorded
//! transition happened at its `modified` is that transition (a request
//! created and submitted in one write is both).
//! Deadlines are evaluated at an instant ([`overdue_deadlines`]).

use phalanx_matcher::alert::CollectiveAlert;
use phalanx_model::Timestamp;
use phalanx_response::request::AssistanceRequest;
use phalanx_response::stix::{ASSISTANCE_REQUEST_TYPE, INCIDENT_TYPE, TASK_TYPE};
use phalanx_response::task::{Task, TaskStatus};
use phalanx_response::{DeadlineState, Incident};
use phalanx_labels::Subject;
use phalanx_store::{Cursor, Order, Query, Store, StoreError, StoredObject, VersionFilter};
use serde::Serialize;
use serde_json::{Value, json};

/// The kinds of event, as named in the stream, the webhook configuration
/// and the `X-Phalanx-Event` header.
pub const EVENT_KINDS: &[&str] = &[
    REQUEST_CREATED,
    REQUEST_STATE_CHANGED,
    INCIDENT_CREATED,
    INCIDENT_STATUS_CHANGED,
    ALERT_RAISED,
    ALERT_UPDATED,
    DEADLINE_OVERDUE,
];
/// A new assistance request.
pub const REQUEST_CREATED: &str = "assistance-request.created";
/// An assistance request changed state.
pub const REQUEST_STATE_CHANGED: &str = "assistance-request.state-changed";
/// A new incident.
pub const INCIDENT_CREATED: &str = "incident.created";
/// An incident changed status.
pub const INCIDENT_STATUS_CHANGED: &str = "incident.status-changed";
/// A new collective-threat alert.
pub const ALERT_RAISED: &str = "collective-alert.raised";
/// A collective-threat alert grew (more nations, more sightings).
pub const ALERT_UPDATED: &str = "collective-alert.updated";
/// A NIS2 clock, a response target or a task's due time passed unmet.
pub const DEADLINE_OVERDUE: &str = "deadline.overdue";

/// One event.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ResponseEvent {
    /// One of [`EVENT_KINDS`].
    pub kind: &'static str,
    /// The object it is about.
    pub object_ref: String,
    /// What happened: states, actor, reason, countries, deadline.
    pub detail: Value,
}

fn str_of<'a>(object: &'a Value, key: &str) -> Option<&'a str> {
    object.get(key).and_then(Value::as_str)
}

/// Whether objects of `object_type` can carry events (the others need not
/// be parsed).
pub fn may_carry_events(object_type: &str) -> bool {
    matches!(object_type, "grouping" | INCIDENT_TYPE | ASSISTANCE_REQUEST_TYPE)
}

/// The events one stored version carries (none for most objects);
/// `first_version` says whether it is the first version of the object
/// that the reader may read.
pub fn version_events(object: &Value, first_version: bool) -> Vec<ResponseEvent> {
    let mut events = Vec::new();
    let Some(id) = str_of(object, "id") else { return events };
    let modified = str_of(object, "modified").and_then(|m| Timestamp::parse(m).ok());
    match str_of(object, "type") {
        Some(ASSISTANCE_REQUEST_TYPE) => {
            let Ok(request) = AssistanceRequest::from_stix(object) else { return events };
            let d = &request.details;
            if first_version {
                events.push(ResponseEvent {
                    kind: REQUEST_CREATED,
                    object_ref: id.to_owned(),
                    detail: json!({"name": request.name, "channel": d.channel, "state": d.state,
                                   "requester_ref": d.requester_ref, "beneficiary_ref": d.beneficiary_ref,
                                   "incident_ref": d.incident_ref}),
                });
            }
            if let Some(t) = d.transitions.last()
                && Some(t.time) == modified
            {
                events.push(ResponseEvent {
                    kind: REQUEST_STATE_CHANGED,
                    object_ref: id.to_owned(),
                    detail: json!({"name": request.name, "channel": d.channel, "from": t.from_state, "to": t.to_state,
                                   "actor": t.actor, "reason": t.reason, "time": t.time.to_string()}),
                });
            }
        }
        Some(INCIDENT_TYPE) => {
            let Ok(incident) = Incident::from_stix(object) else { return events };
            let d = &incident.details;
            if first_version {
                events.push(ResponseEvent {
                    kind: INCIDENT_CREATED,
                    object_ref: id.to_owned(),
                    detail: json!({"name": incident.name, "status": d.status, "affected_countries": d.affected_countries,
                                   "sectors": d.sectors, "significant": d.significant}),
                });
            }
            if let Some(c) = d.status_history.last()
                && Some(c.time) == modified
            {
                events.push(ResponseEvent {
                    kind: INCIDENT_STATUS_CHANGED,
                    object_ref: id.to_owned(),
                    detail: json!({"name": incident.name, "from": c.from_state, "to": c.to_state, "actor": c.actor,
                                   "reason": c.reason, "time": c.time.to_string()}),
                });
            }
        }
        Some("grouping") => {
            let Some(alert) = CollectiveAlert::from_object(object) else { return events };
            events.push(ResponseEvent {
                kind: if first_version { ALERT_RAISED } else { ALERT_UPDATED },
                object_ref: id.to_owned(),
                detail: json!({"subject": alert.subject, "subject_name": alert.subject_name,
                               "countries": alert.countries, "sighting_count": alert.sighting_count,
                               "indicator_refs": alert.indicator_refs, "first_seen": alert.first_seen.to_string(),
                               "last_seen": alert.last_seen.to_string()}),
            });
        }
        _ => {}
    }
    events
}

/// The deadlines of one object that are overdue at `now`: the NIS2 clocks
/// of an incident, the response target of an assistance request, the due
/// time of an unfinished task. Each event's `detail.key` identifies the
/// deadline (object, name and due time), so a sender reports it once.
pub fn overdue_deadlines(object: &Value, now: Timestamp) -> Vec<ResponseEvent> {
    let mut events = Vec::new();
    let Some(id) = str_of(object, "id") else { return events };
    let mut push = |name: &str, due: Timestamp, what: &str| {
        events.push(ResponseEvent {
            kind: DEADLINE_OVERDUE,
            object_ref: id.to_owned(),
            detail: json!({"deadline": name, "due": due.to_string(), "name": what,
                           "key": format!("{id}|{name}|{due}")}),
        });
    };
    match str_of(object, "type") {
        Some(INCIDENT_TYPE) => {
            let Ok(incident) = Incident::from_stix(object) else { return events };
            if !incident.details.significant {
                return events; // the NIS2 reporting obligation holds for significant incidents
            }
            for deadline in incident.nis2_clocks(now).all() {
                if deadline.state == DeadlineState::Overdue {
                    push(&deadline.name, deadline.due, &incident.name);
                }
            }
        }
        Some(ASSISTANCE_REQUEST_TYPE) => {
            let Ok(request) = AssistanceRequest::from_stix(object) else { return events };
            if let Some(deadline) = request.response_deadline(now)
                && deadline.state == DeadlineState::Overdue
            {
                push("response-target", deadline.due, &request.name);
            }
        }
        Some(TASK_TYPE) => {
            let Ok(task) = Task::from_stix(object) else { return events };
            let open = !matches!(task.details.status, TaskStatus::Done | TaskStatus::Cancelled);
            if let Some(due) = task.details.due
                && open
                && due < now
            {
                push("task-due", due, &task.name);
            }
        }
        _ => {}
    }
    events
}

/// Where a feed that starts "from now" begins: the newest version `reader`
/// may read (0 on an empty store).
pub fn newest_cursor(store: &dyn Store, reader: &Subject) -> Result<Cursor, StoreError> {
    let query = Query { versions: VersionFilter::All, order: Order::AddedDescending, limit: 1, ..Query::default() };
    let page = store.query(reader, &query)?;
    Ok(Cursor(page.objects.first().map(|o| o.seq).unwrap_or(0)))
}

/// Whether `stored` is the first version of its object that `reader` may
/// read (its creation, as far as that reader knows).
pub fn is_first_readable_version(store: &dyn Store, reader: &Subject, stored: &StoredObject) -> Result<bool, StoreError> {
    if stored.version.is_none() {
        return Ok(true); // unversioned objects (most SCOs) have one version only
    }
    let first = Query {
        ids: vec![stored.id.clone()],
        versions: VersionFilter::All,
        order: Order::AddedAscending,
        limit: 1,
        ..Query::default()
    };
    Ok(store.query(reader, &first)?.objects.first().is_none_or(|earliest| earliest.seq >= stored.seq))
}

/// The deadlines overdue at `now` among the latest incidents, assistance
/// requests and tasks that `reader` may read: each event with the stored
/// version and the object it is about.
pub fn overdue_now(
    store: &dyn Store,
    reader: &Subject,
    now: Timestamp,
) -> Result<Vec<(ResponseEvent, StoredObject, Value)>, StoreError> {
    let query = Query {
        types: vec![INCIDENT_TYPE.to_owned(), ASSISTANCE_REQUEST_TYPE.to_owned(), TASK_TYPE.to_owned()],
        versions: VersionFilter::Last,
        exclude_revoked: true,
        ..Query::default()
    };
    let mut out = Vec::new();
    for stored in store.query(reader, &query)?.objects {
        let Ok(object) = phalanx_model::strict::parse_text(&stored.json) else { continue };
        for event in overdue_deadlines(&object, now) {
            out.push((event, stored.clone(), object.clone()));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use phalanx_labels::{Label, Tlp};
    use phalanx_response::request::{RequestInput, RequestState, TransitionInput};
    use phalanx_response::vocab::{Channel, Mode, Service};
    use phalanx_response::{IncidentChanges, IncidentStatus};

    const ORG: &str = "identity--0b1d2c3e-4f50-4a61-8b72-9c83d4e5f601";

    fn t(s: &str) -> Timestamp {
        Timestamp::parse(s).expect("timestamp")
    }

    fn request_input() -> RequestInput {
        RequestInput {
            response_target_hours: Some(72),
            ..RequestInput::new("CRRT", Channel::Crrt, ORG, vec![Service::IncidentResponse], Mode::Remote)
        }
    }

    #[test]
    fn a_request_is_created_then_changes_state_and_goes_overdue() {
        let label = Label::unclassified(Tlp::Green);
        let mut request = AssistanceRequest::draft(&request_input(), ORG, &label, t("2026-03-01T00:00:00Z")).expect("draft");
        let kinds = |v: &Value, first: bool| version_events(v, first).iter().map(|e| e.kind).collect::<Vec<_>>();
        assert_eq!(kinds(&request.to_stix(), true), vec![REQUEST_CREATED]);
        let submit = TransitionInput { to: RequestState::Submitted, reason: None, location: None };
        let mut at_once = request.clone();
        at_once.transition(&submit, "user:a", t("2026-03-01T00:00:00.001Z")).expect("submit");
        assert_eq!(kinds(&at_once.to_stix(), true), vec![REQUEST_CREATED, REQUEST_STATE_CHANGED], "created and submitted in one write");
        request.transition(&submit, "user:a", t("2026-03-01T01:00:00Z")).expect("submit");
        let events = version_events(&request.to_stix(), false);
        assert_eq!(events.iter().map(|e| e.kind).collect::<Vec<_>>(), vec![REQUEST_STATE_CHANGED]);
        assert_eq!(events[0].detail["from"], "draft");
        assert_eq!(events[0].detail["to"], "submitted");
        // The response target (72 h from submission) is overdue after 72 h, not before.
        assert!(overdue_deadlines(&request.to_stix(), t("2026-03-04T00:59:00Z")).is_empty());
        let overdue = overdue_deadlines(&request.to_stix(), t("2026-03-04T01:00:01Z"));
        assert_eq!(overdue.len(), 1);
        assert_eq!(overdue[0].detail["deadline"], "response-target");
    }

    #[test]
    fn an_incident_status_change_and_its_nis2_clocks() {
        let label = Label::unclassified(Tlp::Green);
        let changes = IncidentChanges { significant: Some(true), ..IncidentChanges::default() };
        let mut incident =
            Incident::open("outage", ORG, &label, &changes, "user:a", t("2026-03-01T00:00:00Z")).expect("open");
        assert_eq!(version_events(&incident.to_stix(), true)[0].kind, INCIDENT_CREATED);
        incident.set_status(IncidentStatus::Triaged, "user:a", None, t("2026-03-01T02:00:00Z")).expect("status");
        let events = version_events(&incident.to_stix(), false);
        assert_eq!(events.iter().map(|e| e.kind).collect::<Vec<_>>(), vec![INCIDENT_STATUS_CHANGED]);
        // Early warning due at 24 h: overdue one second later, notification still due.
        let overdue = overdue_deadlines(&incident.to_stix(), t("2026-03-02T00:00:01Z"));
        let names: Vec<_> = overdue.iter().map(|e| e.detail["deadline"].clone()).collect();
        assert_eq!(names, vec![json!("early-warning")]);
        // Not significant: no NIS2 obligation, no overdue event.
        let quiet = Incident::open("minor", ORG, &label, &IncidentChanges::default(), "user:a", t("2026-03-01T00:00:00Z"))
            .expect("open");
        assert!(overdue_deadlines(&quiet.to_stix(), t("2026-04-01T00:00:00Z")).is_empty());
    }

    #[test]
    fn other_objects_carry_no_events() {
        let indicator = json!({"type": "indicator", "id": "indicator--0b1d2c3e-4f50-4a61-8b72-9c83d4e5f601",
                               "created": "2026-01-01T00:00:00Z", "modified": "2026-01-01T00:00:00Z"});
        assert!(version_events(&indicator, true).is_empty());
        assert!(overdue_deadlines(&indicator, t("2027-01-01T00:00:00Z")).is_empty());
    }
}
