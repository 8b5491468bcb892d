//! Tasks (`x-phalanx-task`) of an incident or an assistance request, and
//! the playbooks (task templates) per incident type.

use crate::clock::{Deadline, DeadlineState, add_hours, millis};
use crate::error::ResponseError;
use crate::stix::{
    ASSISTANCE_REQUEST_TYPE, Placement, StixMeta, TASK_EXTENSION_ID, TASK_TYPE, check_ref, decode, encode,
};
use crate::vocab::{TeamRole, UnknownValue, vocabulary};
use phalanx_labels::Label;
use phalanx_model::Timestamp;
use serde::{Deserialize, Serialize};

const OBJECT: &str = "task";

vocabulary! {
    /// Where a task stands.
    TaskStatus, "task status" {
        /// Not started.
        Open = "open",
        /// Being worked on.
        InProgress = "in-progress",
        /// Waiting on something.
        Blocked = "blocked",
        /// Finished (final).
        Done = "done",
        /// Dropped (final).
        Cancelled = "cancelled",
    }
}

impl TaskStatus {
    /// The statuses this one may move to; `done` and `cancelled` are final.
    pub fn allowed_next(self) -> &'static [TaskStatus] {
        use TaskStatus::*;
        match self {
            Open => &[InProgress, Blocked, Done, Cancelled],
            InProgress => &[Open, Blocked, Done, Cancelled],
            Blocked => &[Open, InProgress, Cancelled],
            Done | Cancelled => &[],
        }
    }
}

/// One entry of a task's log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskLogEntry {
    /// When.
    pub time: Timestamp,
    /// Who.
    pub author: String,
    /// What.
    pub text: String,
    /// The status before, when the entry records a status change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_status: Option<TaskStatus>,
    /// The status after, when the entry records a status change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_status: Option<TaskStatus>,
}

/// The Phalanx properties of a task.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskDetails {
    /// The incident it belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incident_ref: Option<String>,
    /// The assistance request it belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_ref: Option<String>,
    /// Who does it (a user, an expert id, or a team role).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// When it is due.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due: Option<Timestamp>,
    /// Status.
    pub status: TaskStatus,
    /// The playbook it came from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub playbook: Option<String>,
    /// Log, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub log: Vec<TaskLogEntry>,
}

/// A task.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Task {
    /// Id, originator, versions, markings.
    pub meta: StixMeta,
    /// What to do.
    pub name: String,
    /// Details.
    pub description: Option<String>,
    /// The Phalanx properties.
    pub details: TaskDetails,
}

/// What a new task needs (the fields of `task add` and of the REST body).
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TaskInput {
    /// What to do.
    pub name: String,
    /// Details.
    pub description: Option<String>,
    /// The incident.
    pub incident_ref: Option<String>,
    /// The request.
    pub request_ref: Option<String>,
    /// Owner.
    pub owner: Option<String>,
    /// Due time.
    pub due: Option<Timestamp>,
}

/// A change to a task (the fields of `task update`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TaskChanges {
    /// New status.
    pub status: Option<TaskStatus>,
    /// New owner.
    pub owner: Option<String>,
    /// New due time.
    pub due: Option<Timestamp>,
    /// A log entry (with the status change, if any).
    pub note: Option<String>,
}

impl Task {
    /// A new open task, checked: it belongs to an incident, a request, or both.
    pub fn new(
        input: &TaskInput,
        created_by_ref: &str,
        label: &Label,
        actor: &str,
        now: Timestamp,
    ) -> Result<Task, ResponseError> {
        if input.name.trim().is_empty() {
            return Err(ResponseError::input(OBJECT, "name", "must not be empty"));
        }
        if input.incident_ref.is_none() && input.request_ref.is_none() {
            return Err(ResponseError::input(
                OBJECT,
                "incident_ref",
                "a task belongs to an incident or an assistance request",
            ));
        }
        if let Some(i) = &input.incident_ref {
            check_ref(OBJECT, "incident_ref", i, &["incident"])?;
        }
        if let Some(r) = &input.request_ref {
            check_ref(OBJECT, "request_ref", r, &[ASSISTANCE_REQUEST_TYPE])?;
        }
        let meta = StixMeta::new(TASK_TYPE, created_by_ref, label, now);
        let created = meta.created;
        Ok(Task {
            meta,
            name: input.name.trim().to_owned(),
            description: input.description.clone().filter(|d| !d.trim().is_empty()),
            details: TaskDetails {
                incident_ref: input.incident_ref.clone(),
                request_ref: input.request_ref.clone(),
                owner: input.owner.clone().filter(|o| !o.trim().is_empty()),
                due: input.due.map(millis),
                status: TaskStatus::Open,
                playbook: None,
                log: vec![TaskLogEntry {
                    time: created,
                    author: actor.to_owned(),
                    text: "task created".into(),
                    from_status: None,
                    to_status: None,
                }],
            },
        })
    }

    /// Applies `changes` as a new version; a status change the task's
    /// workflow does not allow is refused and nothing changes.
    pub fn update(&mut self, changes: &TaskChanges, actor: &str, now: Timestamp) -> Result<(), ResponseError> {
        if *changes == TaskChanges::default() {
            return Err(ResponseError::input(
                OBJECT,
                "changes",
                "nothing to change: give a status, owner, due time or note",
            ));
        }
        let from = self.details.status;
        if let Some(to) = changes.status
            && !from.allowed_next().contains(&to)
        {
            return Err(ResponseError::InvalidTransition {
                object: OBJECT,
                id: self.meta.id.clone(),
                from: from.to_string(),
                to: to.to_string(),
                allowed: from.allowed_next().iter().map(|s| s.to_string()).collect(),
            });
        }
        let time = self.meta.touch(now);
        if let Some(o) = &changes.owner {
            self.details.owner = Some(o.clone()).filter(|o| !o.trim().is_empty());
        }
        if let Some(d) = changes.due {
            self.details.due = Some(millis(d));
        }
        let mut texts = Vec::new();
        if let Some(to) = changes.status {
            self.details.status = to;
            texts.push(format!("status {from} -> {to}"));
        }
        if let Some(o) = &changes.owner {
            texts.push(format!("owner {o}"));
        }
        if let Some(d) = changes.due {
            texts.push(format!("due {}", millis(d)));
        }
        if let Some(n) = changes.note.as_deref().filter(|n| !n.trim().is_empty()) {
            texts.push(n.trim().to_owned());
        }
        self.details.log.push(TaskLogEntry {
            time,
            author: actor.to_owned(),
            text: texts.join("; "),
            from_status: changes.status.map(|_| from),
            to_status: changes.status,
        });
        Ok(())
    }

    /// The task's due time at `now`: met when done by then; `None` without
    /// a due time or when cancelled.
    pub fn deadline(&self, now: Timestamp) -> Option<Deadline> {
        let due = self.details.due?;
        if self.details.status == TaskStatus::Cancelled {
            return None;
        }
        let done_at = if self.details.status == TaskStatus::Done {
            self.details.log.iter().rev().find(|l| l.to_status == Some(TaskStatus::Done)).map(|l| l.time)
        } else {
            None
        };
        Some(Deadline::evaluate("task", due, done_at, false, now))
    }

    /// Whether the task is overdue at `now`.
    pub fn is_overdue(&self, now: Timestamp) -> bool {
        self.deadline(now).is_some_and(|d| d.state == DeadlineState::Overdue)
    }

    /// The STIX object.
    pub fn to_stix(&self) -> serde_json::Value {
        encode(
            &self.meta,
            TASK_TYPE,
            &self.name,
            self.description.as_deref(),
            &self.details,
            Placement::NewSdo(TASK_EXTENSION_ID),
        )
    }

    /// Reads a task written by [`Task::to_stix`].
    pub fn from_stix(value: &serde_json::Value) -> Result<Task, ResponseError> {
        let (meta, name, description, details) =
            decode(value, OBJECT, TASK_TYPE, Placement::NewSdo(TASK_EXTENSION_ID))?;
        Ok(Task { meta, name, description, details })
    }
}

/// One step of a playbook.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PlaybookStep {
    /// What to do.
    pub name: &'static str,
    /// Which team role owns it.
    pub owner: TeamRole,
    /// Hours after the playbook is applied when it is due.
    pub due_after_hours: u32,
}

/// A task template for an incident type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Playbook {
    /// Key, also the incident type it fits (`ransomware-hospital`).
    pub key: &'static str,
    /// Title.
    pub name: &'static str,
    /// Steps, in order.
    pub steps: &'static [PlaybookStep],
}

const fn step(name: &'static str, owner: TeamRole, due_after_hours: u32) -> PlaybookStep {
    PlaybookStep { name, owner, due_after_hours }
}

/// The built-in playbooks.
pub const PLAYBOOKS: &[Playbook] = &[
    Playbook {
        key: "ransomware-hospital",
        name: "Ransomware in a hospital",
        steps: &[
            step("Agree priorities with the hospital: patient safety systems first", TeamRole::TeamLead, 2),
            step("Isolate affected segments; protect backups and medical devices", TeamRole::IncidentHandler, 4),
            step("Acquire memory and disk images of patient-zero hosts", TeamRole::ForensicAnalyst, 12),
            step("Identify the ransomware family and its decryptability", TeamRole::MalwareAnalyst, 24),
            step("Share indicators with the CSIRTs Network", TeamRole::Liaison, 24),
            step("Check the NIS2 early warning and notification were sent", TeamRole::Liaison, 24),
            step("Restore clinical systems from clean backups", TeamRole::IncidentHandler, 72),
            step("Hand over and write the mission report", TeamRole::TeamLead, 168),
        ],
    },
    Playbook {
        key: "ddos-elections",
        name: "DDoS on election infrastructure",
        steps: &[
            step("Map election-critical services and their providers", TeamRole::TeamLead, 2),
            step("Coordinate upstream filtering with ISPs and the CDN", TeamRole::IncidentHandler, 4),
            step("Monitor result-publication and voter-information sites", TeamRole::IncidentHandler, 8),
            step("Watch for FIMI narratives exploiting the outage", TeamRole::OsintFimiAnalyst, 12),
            step("Brief the election authority and the national CSIRT", TeamRole::Liaison, 12),
            step("Hand over and write the mission report", TeamRole::TeamLead, 96),
        ],
    },
    Playbook {
        key: "election-support",
        name: "Preventive election support",
        steps: &[
            step("Vulnerability assessment of election systems", TeamRole::VulnerabilityAssessor, 72),
            step("Threat briefing for the election authority", TeamRole::TeamLead, 48),
            step("Set up FIMI monitoring with the national authorities", TeamRole::OsintFimiAnalyst, 48),
            step("Report findings and recommendations", TeamRole::TeamLead, 168),
        ],
    },
];

/// The playbook with key `key`.
pub fn playbook(key: &str) -> Result<&'static Playbook, UnknownValue> {
    PLAYBOOKS.iter().find(|p| p.key == key).ok_or_else(|| UnknownValue {
        vocabulary: "playbook",
        value: key.to_owned(),
        allowed: PLAYBOOKS.iter().map(|p| p.key).collect(),
    })
}

/// The tasks of `playbook` for the incident and/or request of `target`
/// (its `name`, `owner` and `due` are ignored), due relative to `now`.
pub fn tasks_from_playbook(
    playbook: &Playbook,
    target: &TaskInput,
    created_by_ref: &str,
    label: &Label,
    actor: &str,
    now: Timestamp,
) -> Result<Vec<Task>, ResponseError> {
    playbook
        .steps
        .iter()
        .map(|s| {
            let input = TaskInput {
                name: s.name.to_owned(),
                description: None,
                incident_ref: target.incident_ref.clone(),
                request_ref: target.request_ref.clone(),
                owner: Some(s.owner.to_string()),
                due: Some(add_hours(now, s.due_after_hours)),
            };
            let mut task = Task::new(&input, created_by_ref, label, actor, now)?;
            task.details.playbook = Some(playbook.key.to_owned());
            Ok(task)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::{Clock, ManualClock, next_millisecond};
    use crate::roster::tests::ts;
    use phalanx_labels::Tlp;

    const LT: &str = "identity--0b3c1d2e-4f50-4a61-8b72-9c83d4e5f601";
    const REQ: &str = "x-phalanx-assistance-request--4d4b1b4e-33a9-4a5e-9a52-2b5b8b1c0f11";

    fn task(clock: &ManualClock) -> Task {
        let input = TaskInput {
            name: "Image the PACS server".into(),
            request_ref: Some(REQ.into()),
            due: Some(add_hours(clock.now(), 12)),
            ..Default::default()
        };
        Task::new(&input, LT, &Label::unclassified(Tlp::Green), "user:ona", clock.now()).expect("task")
    }

    #[test]
    fn every_status_change_follows_the_workflow() {
        let clock = ManualClock::new(ts("2026-03-01T08:00:00.000Z"));
        for from in TaskStatus::ALL {
            for to in TaskStatus::ALL {
                let mut t = task(&clock);
                t.details.status = *from;
                let before = t.clone();
                let result =
                    t.update(&TaskChanges { status: Some(*to), ..Default::default() }, "user:ona", clock.now());
                if from.allowed_next().contains(to) {
                    assert!(result.is_ok(), "{from} -> {to}");
                    let last = t.details.log.last().expect("log");
                    assert_eq!((last.from_status, last.to_status), (Some(*from), Some(*to)));
                } else {
                    let e = result.expect_err("refused");
                    assert!(e.to_string().contains(&format!("invalid transition from {from} to {to}")), "{e}");
                    assert_eq!(t, before);
                }
            }
        }
        assert!(TaskStatus::Done.allowed_next().is_empty() && TaskStatus::Cancelled.allowed_next().is_empty());
    }

    #[test]
    fn tasks_turn_overdue_after_their_due_time_unless_done() {
        let clock = ManualClock::new(ts("2026-03-01T08:00:00.000Z"));
        let mut t = task(&clock);
        let due = t.details.due.expect("due");
        assert!(!t.is_overdue(due));
        assert!(t.is_overdue(next_millisecond(due)));
        t.update(
            &TaskChanges { status: Some(TaskStatus::Done), note: Some("image taken".into()), ..Default::default() },
            "user:ona",
            clock.now(),
        )
        .expect("done");
        assert_eq!(t.deadline(add_hours(due, 10)).map(|d| d.state), Some(DeadlineState::Met));
        assert_eq!(t.details.log.last().map(|l| l.text.as_str()), Some("status open -> done; image taken"));
    }

    #[test]
    fn a_task_belongs_to_an_incident_or_a_request() {
        let clock = ManualClock::new(ts("2026-03-01T08:00:00.000Z"));
        let e = Task::new(
            &TaskInput { name: "x".into(), ..Default::default() },
            LT,
            &Label::unclassified(Tlp::Green),
            "user:ona",
            clock.now(),
        )
        .unwrap_err();
        assert!(e.to_string().starts_with("task: incident_ref:"), "{e}");
        let e = task(&clock).update(&TaskChanges::default(), "user:ona", clock.now()).unwrap_err();
        assert!(e.to_string().contains("nothing to change"), "{e}");
    }

    #[test]
    fn playbooks_make_tasks_with_owners_and_due_times() {
        let clock = ManualClock::new(ts("2026-03-01T08:00:00.000Z"));
        let pb = playbook("ransomware-hospital").expect("playbook");
        let target = TaskInput { request_ref: Some(REQ.into()), ..Default::default() };
        let tasks = tasks_from_playbook(pb, &target, LT, &Label::unclassified(Tlp::Green), "user:ona", clock.now())
            .expect("tasks");
        assert_eq!(tasks.len(), pb.steps.len());
        assert_eq!(tasks[0].details.owner.as_deref(), Some("team-lead"));
        assert_eq!(tasks[2].details.due, Some(add_hours(clock.now(), 12)));
        assert!(tasks.iter().all(|t| t.details.playbook.as_deref() == Some("ransomware-hospital")));
        for t in &tasks {
            let v = t.to_stix();
            assert!(phalanx_model::StixObject::from_value(v.clone(), "$").is_ok());
            assert_eq!(&Task::from_stix(&v).expect("decode"), t);
        }
        assert!(playbook("ddos-elections").is_ok());
        let e = playbook("flood").unwrap_err();
        assert!(e.to_string().contains("ransomware-hospital"), "{e}");
    }
}
