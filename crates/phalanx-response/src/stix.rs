//! The STIX 2.1 encoding of rapid response: extension definitions with
//! deterministic ids and JSON schemas, the common properties of every
//! object written, and markings from a label.
//!
//! * An incident is a STIX `incident` carrying the property extension
//!   [`INCIDENT_EXTENSION_ID`].
//! * Assistance requests, roster experts, expert offers and tasks are new
//!   SDO types (`x-phalanx-assistance-request`, `x-phalanx-expert`,
//!   `x-phalanx-expert-offer`, `x-phalanx-task`), each defined by an
//!   extension definition of `extension_type` `new-sdo`; their properties
//!   are top-level, as STIX 2.1 §7.3 prescribes for new object types.
//!
//! Extension-definition ids are UUID v5 in the Phalanx label namespace
//! ([`phalanx_labels::LABEL_ID_NAMESPACE`]) over `extension-definition|phalanx-<name>`,
//! so every node computes the same ids; their `created_by_ref` is the
//! Phalanx identity ([`phalanx_labels::PHALANX_IDENTITY_ID`]), like the
//! label extension's.

use crate::clock::{millis, next_millisecond};
use crate::error::ResponseError;
use crate::vocab::{
    Channel, EntityClass, ImpactSeverity, Mode, Outlook, RootCause, RsitClass, Sector, Service, Skill, TeamRole,
    ThreatSeverity,
};
use phalanx_labels::{EXTENSION_DEFINITION_CREATED, Label, LabelMarking, PHALANX_IDENTITY_ID};
use phalanx_model::{StixId, Timestamp};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

/// The incident property extension.
pub const INCIDENT_EXTENSION_ID: &str = "extension-definition--36e73302-625e-5a78-a0d0-309887e536d0";
/// The new SDO `x-phalanx-assistance-request`.
pub const ASSISTANCE_REQUEST_EXTENSION_ID: &str = "extension-definition--78af994d-78f4-5af3-9292-1b3ae4611fae";
/// The new SDO `x-phalanx-expert`.
pub const EXPERT_EXTENSION_ID: &str = "extension-definition--234b559e-03f3-5f23-9637-1c5f1e39f2ef";
/// The new SDO `x-phalanx-expert-offer`.
pub const EXPERT_OFFER_EXTENSION_ID: &str = "extension-definition--927dc222-f19a-525d-9c32-65fd4c4c02ec";
/// The new SDO `x-phalanx-task`.
pub const TASK_EXTENSION_ID: &str = "extension-definition--be1a3a7b-bfd5-5041-a0c2-1fbe65dddf65";

/// The STIX type of incidents.
pub const INCIDENT_TYPE: &str = "incident";
/// The STIX type of assistance requests.
pub const ASSISTANCE_REQUEST_TYPE: &str = "x-phalanx-assistance-request";
/// The STIX type of roster experts.
pub const EXPERT_TYPE: &str = "x-phalanx-expert";
/// The STIX type of expert offers.
pub const EXPERT_OFFER_TYPE: &str = "x-phalanx-expert-offer";
/// The STIX type of tasks.
pub const TASK_TYPE: &str = "x-phalanx-task";

/// The version of the rapid-response extensions.
pub const RESPONSE_EXTENSION_VERSION: &str = "1.0.0";

/// The deterministic id of the extension definition named `name`
/// (`incident`, `assistance-request`, `expert`, `expert-offer`, `task`).
pub fn extension_definition_id(name: &str) -> String {
    let uuid = uuid::Uuid::new_v5(
        &phalanx_labels::LABEL_ID_NAMESPACE,
        format!("extension-definition|phalanx-{name}").as_bytes(),
    );
    format!("extension-definition--{uuid}")
}

/// The common properties of every object this crate writes: id,
/// originator (`created_by_ref`), version timestamps and markings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StixMeta {
    /// The STIX id.
    pub id: String,
    /// The organisation that created it, its originator: only this
    /// organisation may make new versions (the store's write rule).
    pub created_by_ref: String,
    /// When the first version was made.
    pub created: Timestamp,
    /// When this version was made.
    pub modified: Timestamp,
    /// The TLP and Phalanx label marking ids (see [`marking_refs`]).
    pub object_marking_refs: Vec<String>,
}

impl StixMeta {
    /// The meta of a new object of `object_type`, with a random (v4) id.
    pub fn new(object_type: &str, created_by_ref: &str, label: &Label, now: Timestamp) -> Self {
        let now = millis(now);
        StixMeta {
            id: StixId::new_v4(object_type).to_string(),
            created_by_ref: created_by_ref.to_owned(),
            created: now,
            modified: now,
            object_marking_refs: marking_refs(label),
        }
    }

    /// Marks a new version: `modified` becomes `now`, or one millisecond
    /// after the previous version when `now` is not later (versions must
    /// strictly increase). Returns the new `modified`.
    pub fn touch(&mut self, now: Timestamp) -> Timestamp {
        let now = millis(now);
        self.modified = if now > self.modified { now } else { next_millisecond(self.modified) };
        self.modified
    }

    fn write_header(&self, map: &mut Map<String, Value>, object_type: &str) {
        map.insert("type".into(), json!(object_type));
        map.insert("spec_version".into(), json!("2.1"));
        map.insert("id".into(), json!(self.id));
        map.insert("created_by_ref".into(), json!(self.created_by_ref));
        map.insert("created".into(), json!(self.created));
        map.insert("modified".into(), json!(self.modified));
    }

    fn read(value: &Map<String, Value>, object: &'static str, object_type: &str) -> Result<Self, ResponseError> {
        let id = value.get("id").and_then(Value::as_str).unwrap_or("-").to_owned();
        let kind = value.get("type").and_then(Value::as_str).unwrap_or_default();
        if kind != object_type {
            return Err(ResponseError::decode(object, id, format!("type is '{kind}', expected '{object_type}'")));
        }
        let string =
            |key: &str| -> Result<String, ResponseError> {
                value.get(key).and_then(Value::as_str).map(str::to_owned).ok_or_else(|| {
                    ResponseError::decode(object, id.clone(), format!("'{key}' is missing or not a string"))
                })
            };
        let time = |key: &str| -> Result<Timestamp, ResponseError> {
            Timestamp::parse(&string(key)?)
                .map_err(|e| ResponseError::decode(object, id.clone(), format!("'{key}': {e}")))
        };
        let object_marking_refs = match value.get("object_marking_refs") {
            None => Vec::new(),
            Some(v) => serde_json::from_value(v.clone())
                .map_err(|e| ResponseError::decode(object, id.clone(), format!("'object_marking_refs': {e}")))?,
        };
        Ok(StixMeta {
            created_by_ref: string("created_by_ref")?,
            created: time("created")?,
            modified: time("modified")?,
            object_marking_refs,
            id,
        })
    }
}

/// The marking ids that give an object `label` (spec §6): the TLP 2.0
/// marking when the label has a TLP, and the Phalanx label marking when
/// the label is more than unclassified and unrestricted. Write the
/// definition of the latter ([`marking_definitions`]) with the object.
pub fn marking_refs(label: &Label) -> Vec<String> {
    let mut refs = Vec::new();
    if let Some(tlp) = label.tlp {
        refs.push(tlp.marking_id().to_owned());
    }
    if label.marking() != LabelMarking::unclassified() {
        refs.push(phalanx_labels::label_marking_id(label));
    }
    refs
}

/// The marking definitions that must be stored before (or with) an object
/// marked with `label`: the Phalanx label marking definition, when the
/// label needs one (the TLP 2.0 definitions are predefined).
pub fn marking_definitions(label: &Label) -> Vec<Value> {
    if label.marking() == LabelMarking::unclassified() {
        Vec::new()
    } else {
        vec![phalanx_labels::label_marking_definition(label)]
    }
}

/// Where an object's Phalanx properties live.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Placement {
    /// Top-level properties of a new SDO type defined by this extension.
    NewSdo(&'static str),
    /// Inside a property extension of a STIX type.
    Property(&'static str),
}

/// Encodes an object: header, `name`, `description`, then the details
/// (top-level or in the property extension), markings and extensions.
pub(crate) fn encode(
    meta: &StixMeta,
    object_type: &str,
    name: &str,
    description: Option<&str>,
    details: &impl Serialize,
    placement: Placement,
) -> Value {
    let mut map = Map::new();
    meta.write_header(&mut map, object_type);
    map.insert("name".into(), json!(name));
    if let Some(d) = description.filter(|d| !d.is_empty()) {
        map.insert("description".into(), json!(d));
    }
    let details = match serde_json::to_value(details) {
        Ok(Value::Object(m)) => m,
        // The details types are structs of strings, numbers, lists and
        // nested structs: they always serialise to a JSON object.
        _ => Map::new(),
    };
    let mut extensions = Map::new();
    match placement {
        Placement::NewSdo(ext) => {
            map.extend(details);
            extensions.insert(ext.into(), json!({"extension_type": "new-sdo"}));
        }
        Placement::Property(ext) => {
            let mut content = Map::new();
            content.insert("extension_type".into(), json!("property-extension"));
            content.extend(details);
            extensions.insert(ext.into(), Value::Object(content));
        }
    }
    if !meta.object_marking_refs.is_empty() {
        map.insert("object_marking_refs".into(), json!(meta.object_marking_refs));
    }
    map.insert("extensions".into(), Value::Object(extensions));
    Value::Object(map)
}

/// Decodes what [`encode`] wrote: (meta, name, description, details).
pub(crate) fn decode<T: DeserializeOwned>(
    value: &Value,
    object: &'static str,
    object_type: &str,
    placement: Placement,
) -> Result<(StixMeta, String, Option<String>, T), ResponseError> {
    let Value::Object(map) = value else {
        return Err(ResponseError::decode(object, "-", "not a json object"));
    };
    let meta = StixMeta::read(map, object, object_type)?;
    let name = map.get("name").and_then(Value::as_str).unwrap_or_default().to_owned();
    let description = map.get("description").and_then(Value::as_str).map(str::to_owned);
    let source =
        match placement {
            Placement::NewSdo(_) => value.clone(),
            Placement::Property(ext) => map.get("extensions").and_then(|e| e.get(ext)).cloned().ok_or_else(|| {
                ResponseError::decode(object, meta.id.clone(), format!("the extension {ext} is missing"))
            })?,
        };
    let details =
        serde_json::from_value(source).map_err(|e| ResponseError::decode(object, meta.id.clone(), e.to_string()))?;
    Ok((meta, name, description, details))
}

fn texts(values: Vec<&'static str>) -> Value {
    json!({ "enum": values })
}

fn id_of(prefix: &str) -> Value {
    json!({ "type": "string", "pattern": format!("^{prefix}--[0-9a-f]{{8}}-[0-9a-f]{{4}}-[0-9a-f]{{4}}-[0-9a-f]{{4}}-[0-9a-f]{{12}}$") })
}

fn timestamp() -> Value {
    json!({ "type": "string", "format": "date-time" })
}

fn list(items: Value) -> Value {
    json!({ "type": "array", "minItems": 1, "items": items })
}

fn any_id() -> Value {
    json!({ "type": "string", "pattern": "^[a-z0-9-]+--[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$" })
}

fn country() -> Value {
    json!({ "type": "string", "pattern": "^[A-Z]{3}$" })
}

fn schema(title: &str, description: &str, properties: Value, required: &[&str]) -> String {
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": title,
        "description": description,
        "type": "object",
        "properties": properties,
        "required": required,
    })
    .to_string()
}

fn definition(id: &str, name: &str, description: &str, schema: String, extension_type: &str) -> Value {
    json!({
        "type": "extension-definition",
        "spec_version": "2.1",
        "id": id,
        "created_by_ref": PHALANX_IDENTITY_ID,
        "created": EXTENSION_DEFINITION_CREATED,
        "modified": EXTENSION_DEFINITION_CREATED,
        "name": name,
        "description": description,
        "schema": schema,
        "version": RESPONSE_EXTENSION_VERSION,
        "extension_types": [extension_type]
    })
}

fn transition_schema(states: Vec<&'static str>) -> Value {
    json!({
        "type": "object",
        "properties": {
            "from_state": texts(states.clone()),
            "to_state": texts(states),
            "time": timestamp(),
            "actor": { "type": "string" },
            "reason": { "type": "string" }
        },
        "required": ["from_state", "to_state", "time", "actor"]
    })
}

/// The extension definitions of rapid response (with their JSON schemas),
/// to be stored once per node and served with the data.
pub fn extension_definitions() -> Vec<Value> {
    use crate::incident::IncidentStatus;
    use crate::request::RequestState;
    use crate::task::TaskStatus;
    let incident = schema(
        "Phalanx incident",
        "Phalanx properties of a STIX incident: reporter, affected organisations and countries, NIS2 sectors and entity class, RSIT and NIS Cooperation Group classification, flags, status workflow with its history, NIS2 reporting times (clocks run from aware_at), timeline, and links to indicators, observables, reports and attack patterns.",
        json!({
            "extension_type": { "const": "property-extension" },
            "reporter_ref": id_of("identity"),
            "affected_refs": list(id_of("identity")),
            "affected_countries": list(country()),
            "sectors": list(texts(Sector::texts())),
            "entity_class": texts(EntityClass::texts()),
            "incident_type": { "type": "string" },
            "rsit_class": texts(RsitClass::texts()),
            "rsit_type": { "type": "string" },
            "nis_root_cause": texts(RootCause::texts()),
            "nis_threat_severity": texts(ThreatSeverity::texts()),
            "nis_impact_severity": texts(ImpactSeverity::texts()),
            "nis_outlook": texts(Outlook::texts()),
            "significant": { "type": "boolean" },
            "cross_border": { "type": "boolean" },
            "large_scale": { "type": "boolean" },
            "trust_service_provider": { "type": "boolean" },
            "status": texts(IncidentStatus::texts()),
            "status_history": list(transition_schema(IncidentStatus::texts())),
            "detected_at": timestamp(),
            "aware_at": timestamp(),
            "early_warning_sent_at": timestamp(),
            "notification_sent_at": timestamp(),
            "final_report_sent_at": timestamp(),
            "timeline": list(json!({
                "type": "object",
                "properties": {
                    "time": timestamp(), "author": { "type": "string" }, "text": { "type": "string" },
                    "object_refs": list(any_id())
                },
                "required": ["time", "author", "text"]
            })),
            "linked_refs": list(any_id())
        }),
        &["extension_type", "reporter_ref", "entity_class", "status", "aware_at"],
    );
    let request = schema(
        "Phalanx assistance request",
        "A request for cyber assistance (CRRT, EU Cybersecurity Reserve, CSIRTs Network mutual assistance, bilateral): requester, beneficiary, optional incident, services, mode, mitigation taken, legal basis, response target, state with every transition (who, when, why), team and deployment.",
        json!({
            "channel": texts(Channel::texts()),
            "requester_ref": id_of("identity"),
            "beneficiary_ref": id_of("identity"),
            "incident_ref": id_of("incident"),
            "services": list(texts(Service::texts())),
            "mode": texts(Mode::texts()),
            "estimated_needs": { "type": "string" },
            "mitigation_taken": { "type": "string" },
            "other_support": { "type": "string" },
            "legal_basis": { "type": "string" },
            "response_target_hours": { "type": "integer", "minimum": 1 },
            "state": texts(RequestState::texts()),
            "transitions": list(transition_schema(RequestState::texts())),
            "team": list(json!({
                "type": "object",
                "properties": {
                    "expert_ref": id_of(EXPERT_TYPE),
                    "nationality": country(),
                    "role": texts(TeamRole::texts()),
                    "offer_ref": id_of(EXPERT_OFFER_TYPE),
                    "added_at": timestamp(),
                    "added_by": { "type": "string" }
                },
                "required": ["expert_ref", "nationality", "role", "added_at", "added_by"]
            })),
            "deployment": {
                "type": "object",
                "properties": { "location": { "type": "string" }, "start": timestamp(), "end": timestamp() },
                "required": ["location", "start"]
            }
        }),
        &["channel", "requester_ref", "beneficiary_ref", "services", "mode", "response_target_hours", "state"],
    );
    let expert = schema(
        "Phalanx roster expert",
        "An expert on a rapid-response roster: nationalities, organisation, skills, clearance and briefings, caveats held, languages and availability windows.",
        json!({
            "nationalities": list(country()),
            "organisation_ref": id_of("identity"),
            "skills": list(texts(Skill::texts())),
            "clearance": texts(vec!["UNCLASSIFIED", "RESTRICTED", "CONFIDENTIAL", "SECRET", "TOP_SECRET"]),
            "briefings": list(json!({ "type": "string", "pattern": "^(UNCLASSIFIED|EU|NATO|NATIONAL:[A-Z]{3})$" })),
            "caveats": list(json!({ "type": "string" })),
            "languages": list(json!({ "type": "string", "pattern": "^[a-z]{2,3}$" })),
            "availability": list(json!({
                "type": "object",
                "properties": { "start": timestamp(), "end": timestamp() },
                "required": ["start", "end"]
            }))
        }),
        &["nationalities", "organisation_ref", "skills", "clearance"],
    );
    let offer = schema(
        "Phalanx expert offer",
        "Experts that a contributing nation offers for an assistance request; created by the offering organisation.",
        json!({
            "request_ref": id_of(ASSISTANCE_REQUEST_TYPE),
            "nation": country(),
            "expert_refs": list(id_of(EXPERT_TYPE)),
            "note": { "type": "string" }
        }),
        &["request_ref", "nation", "expert_refs"],
    );
    let task = schema(
        "Phalanx response task",
        "A task of an incident or assistance request: owner, due time, status, the playbook it came from, and its log.",
        json!({
            "incident_ref": id_of("incident"),
            "request_ref": id_of(ASSISTANCE_REQUEST_TYPE),
            "owner": { "type": "string" },
            "due": timestamp(),
            "status": texts(TaskStatus::texts()),
            "playbook": { "type": "string" },
            "log": list(json!({
                "type": "object",
                "properties": {
                    "time": timestamp(), "author": { "type": "string" }, "text": { "type": "string" },
                    "from_status": texts(TaskStatus::texts()), "to_status": texts(TaskStatus::texts())
                },
                "required": ["time", "author", "text"]
            }))
        }),
        &["status"],
    );
    vec![
        definition(
            INCIDENT_EXTENSION_ID,
            "Phalanx incident",
            "Rapid-response properties of a STIX incident (NIS2, RSIT, NIS Cooperation Group taxonomy, status workflow, timeline).",
            incident,
            "property-extension",
        ),
        definition(
            ASSISTANCE_REQUEST_EXTENSION_ID,
            "Phalanx assistance request",
            "The x-phalanx-assistance-request object: a request for cyber assistance and its state machine.",
            request,
            "new-sdo",
        ),
        definition(
            EXPERT_EXTENSION_ID,
            "Phalanx roster expert",
            "The x-phalanx-expert object: an expert on a rapid-response roster.",
            expert,
            "new-sdo",
        ),
        definition(
            EXPERT_OFFER_EXTENSION_ID,
            "Phalanx expert offer",
            "The x-phalanx-expert-offer object: experts offered by a contributing nation for a request.",
            offer,
            "new-sdo",
        ),
        definition(
            TASK_EXTENSION_ID,
            "Phalanx response task",
            "The x-phalanx-task object: a task of an incident or assistance request.",
            task,
            "new-sdo",
        ),
    ]
}

/// Checks that `value` is a STIX id of one of `types` (any type when empty).
pub(crate) fn check_ref(object: &'static str, field: &str, value: &str, types: &[&str]) -> Result<(), ResponseError> {
    let id = StixId::parse(value).map_err(|e| ResponseError::input(object, field, e.to_string()))?;
    if !types.is_empty() && !types.contains(&id.object_type()) {
        return Err(ResponseError::input(
            object,
            field,
            format!("'{value}' is a {}, expected {}", id.object_type(), types.join(" or ")),
        ));
    }
    Ok(())
}

/// Checks an ISO 3166 alpha-3 country code (upper case).
pub(crate) fn check_country(object: &'static str, field: &str, value: &str) -> Result<(), ResponseError> {
    if phalanx_labels::is_alpha3(value) {
        Ok(())
    } else {
        Err(ResponseError::input(
            object,
            field,
            format!("'{value}' is not an iso 3166 alpha-3 country code (e.g. LTU)"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extension_ids_are_the_deterministic_ones() {
        assert_eq!(extension_definition_id("incident"), INCIDENT_EXTENSION_ID);
        assert_eq!(extension_definition_id("assistance-request"), ASSISTANCE_REQUEST_EXTENSION_ID);
        assert_eq!(extension_definition_id("expert"), EXPERT_EXTENSION_ID);
        assert_eq!(extension_definition_id("expert-offer"), EXPERT_OFFER_EXTENSION_ID);
        assert_eq!(extension_definition_id("task"), TASK_EXTENSION_ID);
    }

    #[test]
    fn extension_definitions_pass_the_model_checker_and_carry_parseable_schemas() {
        let defs = extension_definitions();
        assert_eq!(defs.len(), 5);
        for def in defs {
            let id = def["id"].as_str().unwrap_or_default().to_owned();
            let parsed = phalanx_model::StixObject::from_value(def.clone(), "$");
            assert!(parsed.is_ok(), "{id}: {:?}", parsed.err());
            let schema: Value =
                serde_json::from_str(def["schema"].as_str().unwrap_or_default()).expect("schema is json");
            assert_eq!(schema["type"], "object", "{id}");
        }
    }

    #[test]
    fn markings_follow_the_label() {
        let green = Label::unclassified(phalanx_labels::Tlp::Green);
        assert_eq!(marking_refs(&green), vec![phalanx_labels::TLP2_GREEN.to_owned()]);
        assert!(marking_definitions(&green).is_empty());
        let marking: LabelMarking =
            serde_json::from_value(json!({"policy": "EU", "classification": "RESTRICTED"})).expect("marking");
        let restricted = Label::from_marking(marking, Some(phalanx_labels::Tlp::Amber), None);
        let refs = marking_refs(&restricted);
        assert_eq!(refs.len(), 2);
        assert_eq!(refs[1], phalanx_labels::label_marking_id(&restricted));
        assert_eq!(marking_definitions(&restricted)[0]["id"], json!(refs[1]));
    }

    #[test]
    fn touch_strictly_increases_modified() {
        let t = Timestamp::parse("2026-03-01T12:00:00.000Z").expect("ts");
        let mut meta = StixMeta::new(
            "incident",
            "identity--6d1bb8a3-4ad4-4a8d-9a63-7a1a6bd0f2ad",
            &Label::unclassified(phalanx_labels::Tlp::Green),
            t,
        );
        assert_eq!(meta.touch(t).to_string(), "2026-03-01T12:00:00.001Z");
        assert_eq!(meta.touch(t).to_string(), "2026-03-01T12:00:00.002Z");
        let later = Timestamp::parse("2026-03-01T13:00:00Z").expect("ts");
        assert_eq!(meta.touch(later).to_string(), "2026-03-01T13:00:00.000Z");
    }
}
