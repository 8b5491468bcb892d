//! The rapid-response desk: the store-facing operations on incidents,
//! assistance requests, experts, offers and tasks, shared by the REST API
//! (`rest/response.rs`), the web dashboard and anything else that acts for
//! a signed-in user.
//!
//! Each operation reads the latest versions it needs through the read rule
//! (the acting user's subject goes into the store query), calls the pure
//! domain function of `phalanx-response`, and writes the new version
//! through `phalanx_store::ingest::Ingest` in one transaction (labels from
//! markings, originator-only versions). A refused operation writes
//! nothing. Nothing here knows HTTP.

use phalanx_labels::{Label, LabelMarking, Tlp};
use phalanx_model::{StixObject, Timestamp};
use phalanx_response::request::{AssistanceRequest, RequestInput, RequestState, TransitionInput};
use phalanx_response::roster::{Expert, ExpertDetails, ExpertOffer, OfferDetails};
use phalanx_response::stix::{ASSISTANCE_REQUEST_TYPE, EXPERT_OFFER_TYPE, EXPERT_TYPE, INCIDENT_TYPE, TASK_TYPE};
use phalanx_response::task::{Task, TaskChanges, TaskInput};
use phalanx_response::vocab::TeamRole;
use phalanx_response::{Incident, IncidentChanges, IncidentStatus, ResponseError};
use phalanx_store::ingest::{Ingest, IngestOptions, Refusal};
use phalanx_store::{Actor, NewVersion, Query, Store, StoreError, StoredObject, VersionFilter};

/// Why a desk operation did not happen. Messages are lowercase and name
/// the object and the field.
#[derive(Debug, thiserror::Error)]
pub enum DeskError {
    /// No such object, or none the user may read (the two look alike).
    #[error("no {what} {id} (or none you may read)")]
    NotFound {
        /// The kind of object.
        what: &'static str,
        /// The id asked for.
        id: String,
    },
    /// The object exists but is not one this desk manages: another type,
    /// or an object of the type without the Phalanx extension (e.g. an
    /// imported `incident`). Answered like a missing object.
    #[error("{id}: not a phalanx {what} ({reason})")]
    NotManaged {
        /// The kind of object asked for.
        what: &'static str,
        /// The id asked for.
        id: String,
        /// Why it cannot be read as one.
        reason: String,
    },
    /// The domain refused the operation or its input.
    #[error(transparent)]
    Domain(#[from] ResponseError),
    /// The user's role does not write.
    #[error("user '{user}' has the role {role} and may not write")]
    ReadOnly {
        /// The user.
        user: String,
        /// The role.
        role: String,
    },
    /// Only the originator organisation makes new versions.
    #[error(
        "{what} {id}: only the originator organisation ({owner}) may make a new version; user '{user}' acts for {org}"
    )]
    NotOriginator {
        /// The kind of object.
        what: &'static str,
        /// The object's id.
        id: String,
        /// The originator organisation's name.
        owner: String,
        /// The acting user.
        user: String,
        /// The acting user's organisation's name.
        org: String,
    },
    /// A label given for a new object is not valid.
    #[error("{field}: {message}")]
    Label {
        /// The field (`tlp` or `label`).
        field: &'static str,
        /// What is wrong.
        message: String,
    },
    /// The store's write rules refused a version (nothing was written).
    #[error("refused {id}: {reason}")]
    Refused {
        /// The object id (or JSON path).
        id: String,
        /// The rule that refused it.
        reason: String,
    },
    /// A stored object could not be read back.
    #[error("{what} {id}: stored object is not json: {message}")]
    Corrupt {
        /// The kind of object.
        what: &'static str,
        /// Its id.
        id: String,
        /// The parser's message.
        message: String,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The label options of a new object: TLP and/or a label marking.
#[derive(Clone, Debug, Default, serde::Deserialize)]
pub struct NewLabel {
    /// TLP of the new object (`clear`, `green`, `amber`, `amber+strict`, `red`).
    pub tlp: Option<String>,
    /// The label marking (content of the Phalanx label extension).
    pub label: Option<LabelMarking>,
}

/// An incident as read: the domain object and the stored version.
pub type IncidentRecord = (Incident, StoredObject);
/// An assistance request as read.
pub type RequestRecord = (AssistanceRequest, StoredObject);
/// An expert as read.
pub type ExpertRecord = (Expert, StoredObject);
/// An offer as read.
pub type OfferRecord = (ExpertOffer, StoredObject);
/// A task as read.
pub type TaskRecord = (Task, StoredObject);

/// The desk of one acting user at one instant.
pub struct Desk<'a> {
    store: &'a dyn Store,
    actor: &'a Actor,
    now: Timestamp,
}

impl<'a> Desk<'a> {
    /// The desk of `actor` on `store`, at `now`.
    pub fn new(store: &'a dyn Store, actor: &'a Actor, now: Timestamp) -> Self {
        Desk { store, actor, now }
    }

    /// The acting user as recorded in transitions and logs (`user:<name>`).
    pub fn who(&self) -> String {
        self.actor.audit_name()
    }

    /// The instant the desk acts at.
    pub fn now(&self) -> Timestamp {
        self.now
    }

    fn latest(&self, what: &'static str, object_type: &str, id: &str) -> Result<StoredObject, DeskError> {
        let id = id.trim();
        let found = self.store.get(&self.actor.subject, id, &VersionFilter::Last)?;
        let stored = found.into_iter().next().ok_or_else(|| DeskError::NotFound { what, id: id.to_owned() })?;
        if stored.object_type != object_type {
            return Err(DeskError::NotManaged { what, id: id.to_owned(), reason: format!("it is a {}", stored.object_type) });
        }
        Ok(stored)
    }

    fn all_of(&self, object_type: &str) -> Result<Vec<StoredObject>, DeskError> {
        let query = Query { types: vec![object_type.to_owned()], versions: VersionFilter::Last, ..Query::default() };
        Ok(self.store.query(&self.actor.subject, &query)?.objects)
    }

    fn decode<T>(
        &self,
        what: &'static str,
        stored: StoredObject,
        from_stix: fn(&serde_json::Value) -> Result<T, ResponseError>,
    ) -> Result<(T, StoredObject), DeskError> {
        let value: serde_json::Value = phalanx_model::strict::parse_text(&stored.json).map_err(|e| DeskError::Corrupt {
            what,
            id: stored.id.clone(),
            message: e.to_string(),
        })?;
        match from_stix(&value) {
            Ok(item) => Ok((item, stored)),
            Err(e) => Err(DeskError::NotManaged { what, id: stored.id.clone(), reason: e.to_string() }),
        }
    }

    /// Every readable latest version of `object_type` that decodes; those
    /// that do not (another producer's objects of the same type) are skipped.
    fn list<T>(
        &self,
        object_type: &str,
        from_stix: fn(&serde_json::Value) -> Result<T, ResponseError>,
    ) -> Result<Vec<(T, StoredObject)>, DeskError> {
        let mut out = Vec::new();
        for stored in self.all_of(object_type)? {
            let Ok(value) = phalanx_model::strict::parse_text(&stored.json) else { continue };
            let Ok(item) = from_stix(&value) else { continue };
            out.push((item, stored));
        }
        Ok(out)
    }

    /// The latest readable version of an incident.
    pub fn incident(&self, id: &str) -> Result<IncidentRecord, DeskError> {
        self.decode("incident", self.latest("incident", INCIDENT_TYPE, id)?, Incident::from_stix)
    }

    /// The latest readable version of an assistance request.
    pub fn request(&self, id: &str) -> Result<RequestRecord, DeskError> {
        self.decode(
            "assistance request",
            self.latest("assistance request", ASSISTANCE_REQUEST_TYPE, id)?,
            AssistanceRequest::from_stix,
        )
    }

    /// The latest readable version of an expert.
    pub fn expert(&self, id: &str) -> Result<ExpertRecord, DeskError> {
        self.decode("expert", self.latest("expert", EXPERT_TYPE, id)?, Expert::from_stix)
    }

    /// The latest readable version of a task.
    pub fn task(&self, id: &str) -> Result<TaskRecord, DeskError> {
        self.decode("task", self.latest("task", TASK_TYPE, id)?, Task::from_stix)
    }

    /// Every readable incident.
    pub fn incidents(&self) -> Result<Vec<IncidentRecord>, DeskError> {
        self.list(INCIDENT_TYPE, Incident::from_stix)
    }

    /// Every readable assistance request.
    pub fn requests(&self) -> Result<Vec<RequestRecord>, DeskError> {
        self.list(ASSISTANCE_REQUEST_TYPE, AssistanceRequest::from_stix)
    }

    /// Every readable expert.
    pub fn experts(&self) -> Result<Vec<ExpertRecord>, DeskError> {
        self.list(EXPERT_TYPE, Expert::from_stix)
    }

    /// Every readable task.
    pub fn tasks(&self) -> Result<Vec<TaskRecord>, DeskError> {
        self.list(TASK_TYPE, Task::from_stix)
    }

    /// The readable offers made for `request_id`.
    pub fn offers_for(&self, request_id: &str) -> Result<Vec<OfferRecord>, DeskError> {
        let mut offers = self.list(EXPERT_OFFER_TYPE, ExpertOffer::from_stix)?;
        offers.retain(|(o, _)| o.details.request_ref == request_id);
        Ok(offers)
    }

    /// Audits the reads of objects about to be shown (RESTRICTED and above).
    pub fn audit_shown(&self, objects: &[StoredObject], via: &str) -> Result<(), DeskError> {
        phalanx_auth::audit_reads(self.store, self.actor, objects, via)?;
        Ok(())
    }

    /// A registered organisation's display name, else the id.
    pub fn organisation_name(&self, id: &str) -> String {
        self.store
            .organisations()
            .ok()
            .and_then(|orgs| orgs.into_iter().find(|o| o.org.id == id).map(|o| o.name))
            .unwrap_or_else(|| id.to_owned())
    }

    fn require_writer(&self) -> Result<(), DeskError> {
        if self.actor.user.role.can_write() {
            return Ok(());
        }
        Err(DeskError::ReadOnly { user: self.actor.user.name.clone(), role: self.actor.user.role.to_string() })
    }

    fn require_originator(&self, what: &'static str, id: &str, created_by_ref: &str) -> Result<(), DeskError> {
        self.require_writer()?;
        if created_by_ref == self.actor.org_id() {
            return Ok(());
        }
        Err(DeskError::NotOriginator {
            what,
            id: id.to_owned(),
            owner: self.organisation_name(created_by_ref),
            user: self.actor.user.name.clone(),
            org: self.organisation_name(self.actor.org_id()),
        })
    }

    /// The label of a new object: from `given`, else `inherit` (the label
    /// of the object it belongs to), else TLP:AMBER+STRICT. The user's
    /// exercise context is kept on the marking.
    pub fn label_for_new(&self, given: &NewLabel, inherit: Option<&Label>) -> Result<Label, DeskError> {
        if given.tlp.is_none()
            && given.label.is_none()
            && let Some(l) = inherit
        {
            return Ok(l.clone().with_originator(None));
        }
        let tlp = match &given.tlp {
            Some(t) => t.parse::<Tlp>().map_err(|e| DeskError::Label { field: "tlp", message: e.to_string() })?,
            None => Tlp::AmberStrict,
        };
        let mut marking = given.label.clone().unwrap_or_else(LabelMarking::unclassified);
        marking.validate().map_err(|e| DeskError::Label { field: "label", message: e.to_string() })?;
        if marking.exercise.is_none() {
            marking.exercise = self.actor.subject.context().map(str::to_owned);
        }
        Ok(Label::from_marking(marking, Some(tlp), None))
    }

    /// Stores the rapid-response extension definitions unless present
    /// (public metadata, TLP:CLEAR).
    fn ensure_definitions(&self) -> Result<(), DeskError> {
        let mut txn = self.store.begin()?;
        let clear = Label::unclassified(Tlp::Clear).with_originator(Some(self.actor.org_id().to_owned()));
        for def in phalanx_response::stix::extension_definitions() {
            let id = def.get("id").and_then(|v| v.as_str()).unwrap_or_default().to_owned();
            if !txn.versions_of(&id)?.is_empty() {
                continue;
            }
            let parsed = StixObject::from_value(def, "$").map_err(|e| DeskError::Refused {
                id: id.clone(),
                reason: format!("built-in extension definition is invalid: {e}"),
            })?;
            let json = parsed.object.to_json_string();
            txn.put(NewVersion { object: &parsed.object, json: &json, label: &clear, origin: "builtin" })?;
        }
        txn.commit()?;
        Ok(())
    }

    /// Writes `objects` (the label's marking definitions first) in one
    /// transaction through the ingest; all or nothing. The first refusal
    /// is the error.
    pub fn write(&self, label: &Label, objects: Vec<serde_json::Value>) -> Result<(), DeskError> {
        self.ensure_definitions()?;
        let options = IngestOptions {
            defaults: phalanx_labels::LabelDefaults::default(),
            explicit_defaults: false,
            origin: self.actor.origin(),
            signed_by_originator: false,
        };
        let mut txn = self.store.begin()?;
        let mut ingest = Ingest::new(self.store, self.actor, options)?;
        let all = phalanx_response::stix::marking_definitions(label).into_iter().chain(objects);
        for (i, value) in all.enumerate() {
            let path = format!("$[{i}]");
            match StixObject::from_value(value, &path) {
                Ok(parsed) => ingest.object(txn.as_mut(), &path, parsed)?,
                Err(errors) => ingest.refuse_invalid(&path, &errors),
            }
        }
        let report = ingest.finish(txn.as_mut())?;
        if let Some(Refusal { id, path, reason, .. }) = report.refused.into_iter().next() {
            drop(txn); // nothing of a partly refused change is stored
            return Err(DeskError::Refused { id: id.unwrap_or(path), reason });
        }
        txn.commit()?;
        tracing::info!(stored = report.stored, actor = %self.actor.user.name, "rapid-response write");
        Ok(())
    }

    /// Opens an incident reported by the user's organisation.
    pub fn open_incident(
        &self,
        name: &str,
        description: Option<&str>,
        changes: &IncidentChanges,
        label: &NewLabel,
    ) -> Result<Incident, DeskError> {
        self.require_writer()?;
        let label = self.label_for_new(label, None)?;
        let mut incident = Incident::open(name, self.actor.org_id(), &label, changes, &self.who(), self.now)?;
        if let Some(d) = description.map(str::trim).filter(|d| !d.is_empty()) {
            incident.description = Some(d.to_owned());
        }
        self.write(&label, vec![incident.to_stix()])?;
        Ok(incident)
    }

    /// Changes an incident's properties (a new version).
    pub fn update_incident(&self, id: &str, changes: &IncidentChanges) -> Result<Incident, DeskError> {
        let (mut incident, stored) = self.incident(id)?;
        self.require_originator("incident", &incident.meta.id, &incident.meta.created_by_ref)?;
        if changes.is_empty() {
            return Err(ResponseError::input("incident", "changes", "nothing to change").into());
        }
        incident.update(changes, self.now)?;
        self.write(&stored.label, vec![incident.to_stix()])?;
        Ok(incident)
    }

    /// Moves an incident to `to`, recording who, when and why.
    pub fn set_incident_status(
        &self,
        id: &str,
        to: IncidentStatus,
        reason: Option<&str>,
    ) -> Result<Incident, DeskError> {
        let (mut incident, stored) = self.incident(id)?;
        self.require_originator("incident", &incident.meta.id, &incident.meta.created_by_ref)?;
        incident.set_status(to, &self.who(), reason, self.now)?;
        self.write(&stored.label, vec![incident.to_stix()])?;
        Ok(incident)
    }

    /// Adds a timeline entry to an incident.
    pub fn add_timeline(
        &self,
        id: &str,
        text: &str,
        object_refs: &[String],
        time: Option<Timestamp>,
    ) -> Result<Incident, DeskError> {
        let (mut incident, stored) = self.incident(id)?;
        self.require_originator("incident", &incident.meta.id, &incident.meta.created_by_ref)?;
        incident.add_timeline(&self.who(), text, object_refs, time, self.now)?;
        self.write(&stored.label, vec![incident.to_stix()])?;
        Ok(incident)
    }

    /// Opens an assistance request by the user's organisation (a draft, or
    /// submitted at once); it takes the incident's label unless one is given.
    pub fn open_request(&self, input: &RequestInput, label: &NewLabel, submit: bool) -> Result<AssistanceRequest, DeskError> {
        self.require_writer()?;
        let incident = match &input.incident_ref {
            Some(id) => Some(self.incident(id)?),
            None => None,
        };
        if input.beneficiary_ref.trim().is_empty() {
            return Err(ResponseError::input("assistance request", "beneficiary_ref", "must not be empty").into());
        }
        let label = self.label_for_new(label, incident.as_ref().map(|(_, s)| &s.label))?;
        let mut request = AssistanceRequest::draft(input, self.actor.org_id(), &label, self.now)?;
        if submit {
            let to_submitted = TransitionInput { to: RequestState::Submitted, reason: None, location: None };
            request.transition(&to_submitted, &self.who(), self.now)?;
        }
        self.write(&label, vec![request.to_stix()])?;
        Ok(request)
    }

    /// Moves an assistance request to its next state.
    pub fn transition_request(&self, id: &str, input: &TransitionInput) -> Result<AssistanceRequest, DeskError> {
        let (mut request, stored) = self.request(id)?;
        self.require_originator("assistance request", &request.meta.id, &request.meta.created_by_ref)?;
        let from = request.details.state;
        request.transition(input, &self.who(), self.now)?;
        self.write(&stored.label, vec![request.to_stix()])?;
        tracing::info!(request = %request.meta.id, from = %from, to = %input.to, actor = %self.who(), "assistance request transition");
        Ok(request)
    }

    /// Adds an offered expert to a request's team; refused, naming the
    /// rule, when the expert may not read the incident's label.
    pub fn add_team_member(&self, id: &str, expert_id: &str, role: TeamRole) -> Result<AssistanceRequest, DeskError> {
        let (mut request, stored) = self.request(id)?;
        self.require_originator("assistance request", &request.meta.id, &request.meta.created_by_ref)?;
        let (expert, _) = self.expert(expert_id)?;
        let label = match &request.details.incident_ref {
            Some(incident) => self.incident(incident)?.1.label,
            None => stored.label.clone(),
        };
        let offers: Vec<ExpertOffer> = self.offers_for(&request.meta.id)?.into_iter().map(|(o, _)| o).collect();
        let organisation = self
            .store
            .organisations()?
            .into_iter()
            .find(|o| o.org.id == expert.details.organisation_ref)
            .map(|o| o.org)
            .unwrap_or_else(|| phalanx_labels::Organisation::new(&expert.details.organisation_ref));
        let context = self.actor.subject.context().map(str::to_owned);
        request.add_member(&expert, &organisation, role, &offers, &label, context.as_deref(), &self.who(), self.now)?;
        self.write(&stored.label, vec![request.to_stix()])?;
        Ok(request)
    }

    /// Puts an expert of the user's organisation on the roster.
    pub fn add_expert(&self, name: &str, details: ExpertDetails, label: &NewLabel) -> Result<Expert, DeskError> {
        self.require_writer()?;
        let label = self.label_for_new(label, None)?;
        let expert = Expert::new(name, details, self.actor.org_id(), &label, self.now)?;
        self.write(&label, vec![expert.to_stix()])?;
        Ok(expert)
    }

    /// Offers experts for a request; it takes the request's label unless one is given.
    pub fn offer(&self, details: OfferDetails, label: &NewLabel) -> Result<ExpertOffer, DeskError> {
        self.require_writer()?;
        let (_, request) = self.request(&details.request_ref)?;
        let label = self.label_for_new(label, Some(&request.label))?;
        let offer = ExpertOffer::new(details, self.actor.org_id(), &label, self.now)?;
        self.write(&label, vec![offer.to_stix()])?;
        Ok(offer)
    }

    /// Adds a task to an incident or request; it takes their label unless one is given.
    pub fn add_task(&self, input: &TaskInput, label: &NewLabel) -> Result<Task, DeskError> {
        self.require_writer()?;
        let parent = match (&input.request_ref, &input.incident_ref) {
            (Some(r), _) => Some(self.request(r)?.1.label),
            (None, Some(i)) => Some(self.incident(i)?.1.label),
            (None, None) => None,
        };
        let label = self.label_for_new(label, parent.as_ref())?;
        let task = Task::new(input, self.actor.org_id(), &label, &self.who(), self.now)?;
        self.write(&label, vec![task.to_stix()])?;
        Ok(task)
    }

    /// Changes a task (status, owner, due time, a log note).
    pub fn update_task(&self, id: &str, changes: &TaskChanges) -> Result<Task, DeskError> {
        let (mut task, stored) = self.task(id)?;
        self.require_originator("task", &task.meta.id, &task.meta.created_by_ref)?;
        task.update(changes, &self.who(), self.now)?;
        self.write(&stored.label, vec![task.to_stix()])?;
        Ok(task)
    }
}
