//! The STIX 2.1 encoding of labels (spec §6): marking definitions, ids,
//! the extension definition, and reading an object's label from its
//! markings.

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};
use uuid::Uuid;

use crate::error::LabelError;
use crate::model::{Label, LabelMarking, Pap, Tlp};

/// The UUID v5 namespace of Phalanx label marking ids (spec §6).
pub const LABEL_ID_NAMESPACE: Uuid = Uuid::from_u128(0xa695434a_e898_43a6_9662_afb02ffa663b);

/// The id of the Phalanx label extension definition.
pub const PHALANX_LABEL_EXTENSION_ID: &str =
    "extension-definition--8ea66e3e-9f13-48ea-8a0f-a87be27069e0";

/// The id of the TLP 2.0 property extension definition.
pub const TLP2_EXTENSION_ID: &str = "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d";

/// TLP 2.0 CLEAR marking definition id.
pub const TLP2_CLEAR: &str = "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487";
/// TLP 2.0 GREEN marking definition id.
pub const TLP2_GREEN: &str = "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb";
/// TLP 2.0 AMBER marking definition id.
pub const TLP2_AMBER: &str = "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421";
/// TLP 2.0 AMBER+STRICT marking definition id.
pub const TLP2_AMBER_STRICT: &str = "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003";
/// TLP 2.0 RED marking definition id.
pub const TLP2_RED: &str = "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1";

/// STIX 2.1 predefined TLP 1.0 WHITE marking definition id (read as `clear`).
pub const TLP1_WHITE: &str = "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9";
/// STIX 2.1 predefined TLP 1.0 GREEN marking definition id.
pub const TLP1_GREEN: &str = "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da";
/// STIX 2.1 predefined TLP 1.0 AMBER marking definition id.
pub const TLP1_AMBER: &str = "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82";
/// STIX 2.1 predefined TLP 1.0 RED marking definition id.
pub const TLP1_RED: &str = "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed";

/// The `created` timestamp of the TLP 2.0 marking definitions.
pub const TLP2_CREATED: &str = "2022-10-01T00:00:00.000Z";

/// The `created` timestamp of every Phalanx label marking definition (fixed,
/// so that equal labels give byte-equal definitions on every node).
pub const LABEL_MARKING_CREATED: &str = "2026-01-01T00:00:00.000Z";

/// The `created` and `modified` timestamps of the Phalanx extension definition.
pub const EXTENSION_DEFINITION_CREATED: &str = "2026-01-01T00:00:00.000Z";

/// The id of the Phalanx identity, the `created_by_ref` of the extension
/// definition. Fixed: UUID v5 in [`LABEL_ID_NAMESPACE`] over the text
/// `identity|Phalanx` (see [`phalanx_identity`]).
pub const PHALANX_IDENTITY_ID: &str = "identity--bf8caf51-eca8-512c-b423-6318b918f42a";

/// The version of the Phalanx label extension.
pub const EXTENSION_VERSION: &str = "1.0.0";

impl Tlp {
    /// The TLP 2.0 marking definition id of this level.
    pub fn marking_id(self) -> &'static str {
        match self {
            Tlp::Clear => TLP2_CLEAR,
            Tlp::Green => TLP2_GREEN,
            Tlp::Amber => TLP2_AMBER,
            Tlp::AmberStrict => TLP2_AMBER_STRICT,
            Tlp::Red => TLP2_RED,
        }
    }
}

/// The TLP level of a well-known marking definition id, TLP 2.0 or the
/// STIX 2.1 predefined TLP 1.0 ones (WHITE = `clear`); `None` for any other id.
pub fn tlp_from_marking_id(id: &str) -> Option<Tlp> {
    match id {
        TLP2_CLEAR | TLP1_WHITE => Some(Tlp::Clear),
        TLP2_GREEN | TLP1_GREEN => Some(Tlp::Green),
        TLP2_AMBER | TLP1_AMBER => Some(Tlp::Amber),
        TLP2_AMBER_STRICT => Some(Tlp::AmberStrict),
        TLP2_RED | TLP1_RED => Some(Tlp::Red),
        _ => None,
    }
}

impl LabelMarking {
    /// `marking-definition--` + UUID v5 in [`LABEL_ID_NAMESPACE`] over the
    /// canonical form (spec §6).
    pub fn marking_id(&self) -> String {
        let u = Uuid::new_v5(&LABEL_ID_NAMESPACE, self.canonical_form().as_bytes());
        format!("marking-definition--{u}")
    }

    /// The marking-definition object carrying this marking (spec §6).
    pub fn marking_definition(&self) -> Value {
        // Empty lists and nulls are left out: STIX prohibits them (§2.12,
        // §3.1) and stix2-validator refuses them. The id is computed from
        // the canonical form, where absent and empty are the same.
        let mut ext = serde_json::Map::new();
        ext.insert("extension_type".into(), json!("property-extension"));
        ext.insert("policy".into(), json!(self.policy.to_string()));
        ext.insert("classification".into(), json!(self.classification.as_str()));
        if !self.releasable_to.is_empty() {
            ext.insert("releasable_to".into(), json!(self.releasable_to));
        }
        if !self.caveats.is_empty() {
            ext.insert("caveats".into(), json!(self.caveats));
        }
        if let Some(pap) = self.pap {
            ext.insert("pap".into(), json!(pap.as_str()));
        }
        if let Some(exercise) = &self.exercise {
            ext.insert("exercise".into(), json!(exercise));
        }
        json!({
            "type": "marking-definition",
            "spec_version": "2.1",
            "id": self.marking_id(),
            "created": LABEL_MARKING_CREATED,
            "name": self.display_name(None),
            "extensions": { PHALANX_LABEL_EXTENSION_ID: Value::Object(ext) }
        })
    }
}

/// The canonical form of a label's marking part (spec §6):
/// `policy|classification|sorted releasable_to joined by ,|sorted caveats joined by ,|pap|exercise`.
/// TLP and originator are not part of it.
pub fn label_canonical_form(label: &Label) -> String {
    label.marking().canonical_form()
}

/// The id of the Phalanx label marking definition of `label`:
/// `marking-definition--` + UUID v5 of [`label_canonical_form`].
pub fn label_marking_id(label: &Label) -> String {
    label.marking().marking_id()
}

/// The Phalanx label marking-definition object of `label` (spec §6), named
/// with its human display (e.g. `NATO SECRET REL TO EU`).
pub fn label_marking_definition(label: &Label) -> Value {
    label.marking().marking_definition()
}

/// The standard TLP 2.0 marking-definition object of a level (spec §6),
/// named e.g. `TLP:AMBER+STRICT`.
pub fn tlp_marking_definition(tlp: Tlp) -> Value {
    json!({
        "type": "marking-definition",
        "spec_version": "2.1",
        "id": tlp.marking_id(),
        "created": TLP2_CREATED,
        "name": format!("TLP:{}", tlp.as_str().to_uppercase()),
        "extensions": {
            TLP2_EXTENSION_ID: {
                "extension_type": "property-extension",
                "tlp_2_0": tlp.as_str(),
            }
        }
    })
}

/// The JSON Schema (draft 2020-12) of the Phalanx label extension content.
pub fn label_extension_schema() -> Value {
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Phalanx security label",
        "description": "The marking part of a Phalanx security label: policy, classification, releasability, caveats, PAP and exercise. TLP is carried by the standard TLP 2.0 marking definitions. The marking-definition id is marking-definition-- followed by the UUID v5, in namespace a695434a-e898-43a6-9662-afb02ffa663b, of policy|classification|sorted releasable_to joined by ,|sorted caveats joined by ,|pap|exercise (absent values empty). The token NOBODY matches no organisation and stands alone.",
        "type": "object",
        "properties": {
            "extension_type": { "const": "property-extension" },
            "policy": { "type": "string", "pattern": "^(UNCLASSIFIED|EU|NATO|NATIONAL:[A-Z]{3})$" },
            "classification": { "enum": ["UNCLASSIFIED", "RESTRICTED", "CONFIDENTIAL", "SECRET", "TOP_SECRET"] },
            "releasable_to": { "type": "array", "uniqueItems": true, "items": { "$ref": "#/$defs/token" } },
            "caveats": { "type": "array", "uniqueItems": true, "items": { "$ref": "#/$defs/token" } },
            "pap": { "enum": ["clear", "green", "amber", "red", null] },
            "exercise": { "oneOf": [ { "type": "null" }, { "$ref": "#/$defs/token" } ] }
        },
        "required": ["extension_type", "policy", "classification"],
        "additionalProperties": false,
        "allOf": [
            {
                "if": { "properties": { "policy": { "const": "UNCLASSIFIED" } } },
                "then": { "properties": { "classification": { "const": "UNCLASSIFIED" } } }
            },
            {
                "if": { "properties": { "policy": { "pattern": "^(EU|NATIONAL:[A-Z]{3})$" } } },
                "then": { "properties": { "classification": { "not": { "const": "UNCLASSIFIED" } } } }
            }
        ],
        "$defs": {
            "token": { "type": "string", "minLength": 1, "maxLength": 256, "pattern": "^[^\\s,|]+$" }
        }
    })
}

/// The Phalanx label extension-definition object (STIX 2.1 §7.3), to be
/// served by the node and included in exports. Its `schema` is the JSON
/// Schema of [`label_extension_schema`] as a JSON string.
pub fn extension_definition() -> Value {
    json!({
        "type": "extension-definition",
        "spec_version": "2.1",
        "id": PHALANX_LABEL_EXTENSION_ID,
        "created_by_ref": PHALANX_IDENTITY_ID,
        "created": EXTENSION_DEFINITION_CREATED,
        "modified": EXTENSION_DEFINITION_CREATED,
        "name": "Phalanx security label",
        "description": "Security label of the Phalanx CTI federation: classification policy and rank, releasability, caveats, PAP and exercise of the objects a marking-definition carrying this extension marks. Access is decided by the Phalanx read rule.",
        "schema": label_extension_schema().to_string(),
        "version": EXTENSION_VERSION,
        "extension_types": ["property-extension"]
    })
}

/// The Phalanx identity object that [`extension_definition`]'s
/// `created_by_ref` names, for exports that carry the extension definition.
pub fn phalanx_identity() -> Value {
    json!({
        "type": "identity",
        "spec_version": "2.1",
        "id": PHALANX_IDENTITY_ID,
        "created": EXTENSION_DEFINITION_CREATED,
        "modified": EXTENSION_DEFINITION_CREATED,
        "name": "Phalanx",
        "identity_class": "system"
    })
}

/// What a marking definition stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MarkingKind {
    /// A TLP level (TLP 2.0, TLP 1.0, or a definition carrying either form).
    Tlp(Tlp),
    /// The marking part of a Phalanx label.
    PhalanxLabel(LabelMarking),
    /// Anything else (statement, copyright, ...): kept, no part in access.
    Other,
}

/// What a resolver returns for a marking id: either what it already knows
/// the id stands for, or the marking-definition JSON (stored, or from the
/// same bundle), which [`label_from_object`] then parses.
#[derive(Debug, Clone, PartialEq)]
pub enum MarkingDefinitionRef {
    /// The definition already parsed.
    Kind(MarkingKind),
    /// The marking-definition object as JSON.
    Definition(Value),
}

impl From<MarkingKind> for MarkingDefinitionRef {
    fn from(k: MarkingKind) -> Self {
        MarkingDefinitionRef::Kind(k)
    }
}

impl From<Value> for MarkingDefinitionRef {
    fn from(v: Value) -> Self {
        MarkingDefinitionRef::Definition(v)
    }
}

fn malformed(id: &str, reason: impl Into<String>) -> LabelError {
    LabelError::MalformedMarkingDefinition {
        id: id.to_string(),
        reason: reason.into(),
    }
}

/// Reads a marking-definition object.
///
/// - a well-known TLP id (2.0 or 1.0) is that level, whatever the body says;
/// - a definition with the Phalanx label extension is a
///   [`MarkingKind::PhalanxLabel`]: every property is checked, unknown
///   properties are refused, the label is validated, and the id must be the
///   one its content gives (spec §6), so a definition cannot pass one label
///   off under another's id;
/// - any other definition carrying the TLP 2.0 extension or a TLP 1.0
///   `definition_type: "tlp"` is read as that TLP level (never ignored: a
///   custom TLP:RED must not fall back to a looser default);
/// - anything else is [`MarkingKind::Other`].
pub fn parse_marking_definition(def: &Value) -> Result<MarkingKind, LabelError> {
    let obj = def
        .as_object()
        .ok_or_else(|| malformed("(no id)", "expected a json object"))?;
    let id = match obj.get("id") {
        Some(Value::String(s)) if s.starts_with("marking-definition--") => s.as_str(),
        _ => return Err(malformed("(no id)", "id: expected a marking-definition id")),
    };
    if obj.get("type").and_then(Value::as_str) != Some("marking-definition") {
        return Err(malformed(id, "type: expected `marking-definition`"));
    }
    if let Some(t) = tlp_from_marking_id(id) {
        return Ok(MarkingKind::Tlp(t));
    }
    let exts = match obj.get("extensions") {
        None | Some(Value::Null) => None,
        Some(Value::Object(m)) => Some(m),
        Some(_) => return Err(malformed(id, "extensions: expected an object")),
    };
    let phalanx = exts.and_then(|e| e.get(PHALANX_LABEL_EXTENSION_ID));
    let tlp = tlp_of_definition(id, obj, exts)?;
    match (phalanx, tlp) {
        (Some(_), Some(_)) => Err(malformed(
            id,
            "extensions: carries both a tlp level and a phalanx label",
        )),
        (Some(ext), None) => {
            let m = parse_label_extension(id, ext)?;
            let expected = m.marking_id();
            if expected != id {
                return Err(malformed(
                    id,
                    format!("id: does not match the label it carries (expected {expected})"),
                ));
            }
            Ok(MarkingKind::PhalanxLabel(m))
        }
        (None, Some(t)) => Ok(MarkingKind::Tlp(t)),
        (None, None) => Ok(MarkingKind::Other),
    }
}

fn tlp_of_definition(
    id: &str,
    obj: &Map<String, Value>,
    exts: Option<&Map<String, Value>>,
) -> Result<Option<Tlp>, LabelError> {
    if let Some(ext) = exts.and_then(|e| e.get(TLP2_EXTENSION_ID)) {
        let level = ext
            .get("tlp_2_0")
            .and_then(Value::as_str)
            .ok_or_else(|| malformed(id, "tlp_2_0: expected a tlp 2.0 level"))?;
        return level
            .parse()
            .map(Some)
            .map_err(|e: LabelError| malformed(id, e.to_string()));
    }
    if obj.get("definition_type").and_then(Value::as_str) == Some("tlp") {
        let level = obj
            .get("definition")
            .and_then(|d| d.get("tlp"))
            .and_then(Value::as_str)
            .ok_or_else(|| malformed(id, "definition.tlp: expected a tlp level"))?;
        return match level {
            "white" | "clear" => Ok(Some(Tlp::Clear)),
            "green" => Ok(Some(Tlp::Green)),
            "amber" => Ok(Some(Tlp::Amber)),
            "red" => Ok(Some(Tlp::Red)),
            other => Err(malformed(
                id,
                format!(
                    "definition.tlp: `{other}` is not a tlp 1.0 level (white, green, amber, red)"
                ),
            )),
        };
    }
    Ok(None)
}

fn parse_label_extension(id: &str, ext: &Value) -> Result<LabelMarking, LabelError> {
    let ext = ext
        .as_object()
        .ok_or_else(|| malformed(id, "phalanx label extension: expected an object"))?;
    for k in ext.keys() {
        if !matches!(
            k.as_str(),
            "extension_type"
                | "policy"
                | "classification"
                | "releasable_to"
                | "caveats"
                | "pap"
                | "exercise"
        ) {
            return Err(malformed(
                id,
                format!("{k}: unknown property of the phalanx label extension"),
            ));
        }
    }
    if ext.get("extension_type").and_then(Value::as_str) != Some("property-extension") {
        return Err(malformed(
            id,
            "extension_type: expected `property-extension`",
        ));
    }
    let field_err = |e: LabelError| malformed(id, e.to_string());
    let required_str = |k: &str| {
        ext.get(k)
            .and_then(Value::as_str)
            .ok_or_else(|| malformed(id, format!("{k}: expected a string")))
    };
    let optional_str = |k: &str| match ext.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.as_str())),
        Some(_) => Err(malformed(id, format!("{k}: expected a string or null"))),
    };
    let string_set = |k: &str| -> Result<BTreeSet<String>, LabelError> {
        match ext.get(k) {
            None | Some(Value::Null) => Ok(BTreeSet::new()),
            Some(Value::Array(a)) => a
                .iter()
                .map(|v| {
                    v.as_str()
                        .map(str::to_string)
                        .ok_or_else(|| malformed(id, format!("{k}: expected an array of strings")))
                })
                .collect(),
            Some(_) => Err(malformed(id, format!("{k}: expected an array of strings"))),
        }
    };
    let m = LabelMarking {
        policy: required_str("policy")?.parse().map_err(field_err)?,
        classification: required_str("classification")?.parse().map_err(field_err)?,
        releasable_to: string_set("releasable_to")?,
        caveats: string_set("caveats")?,
        pap: optional_str("pap")?
            .map(str::parse::<Pap>)
            .transpose()
            .map_err(field_err)?,
        exercise: optional_str("exercise")?.map(str::to_string),
    };
    m.validate().map_err(field_err)?;
    Ok(m)
}

/// What a writer gives for the objects it sends unmarked (spec §6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelDefaults {
    /// TLP for an object with no TLP marking (node default: `amber+strict`).
    pub tlp: Tlp,
    /// Label marking for an object with no Phalanx label marking; `None` =
    /// UNCLASSIFIED, empty releasable_to, no caveats, real world.
    pub label: Option<LabelMarking>,
}

impl Default for LabelDefaults {
    /// The node defaults: TLP `amber+strict`, no default label marking.
    fn default() -> Self {
        LabelDefaults {
            tlp: Tlp::AmberStrict,
            label: None,
        }
    }
}

/// An object's label as read from its markings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectLabel {
    /// The label. Its originator is unset: the caller sets it (spec §6:
    /// `created_by_ref` when that is a registered organisation, else the
    /// organisation of the user who first stored it).
    pub label: Label,
    /// Marking ids to add to the object's `object_marking_refs` so that it
    /// carries its defaults explicitly: the TLP 2.0 id of the default TLP
    /// when it had no TLP marking, and the id of the default label marking
    /// when it had no Phalanx label marking and the defaults give one (the
    /// caller then stores [`LabelMarking::marking_definition`] too). Apply
    /// with [`apply_added_markings`].
    pub added_markings: Vec<String>,
}

/// Reads an object's label from its `object_marking_refs` and
/// `granular_markings` (spec §6).
///
/// Every reference is resolved: the TLP 1.0/2.0 ids without the resolver,
/// any other through `resolve`. A reference that resolves to nothing is an
/// error naming it and its JSON path (`object_marking_refs[2]`,
/// `granular_markings[0].marking_ref`); so is a malformed definition, or one
/// whose id differs from the reference. TLP levels and Phalanx label
/// markings from both properties combine by the least upper bound: the most
/// restrictive TLP, and the [`lub`](crate::lub) of the label markings under
/// that TLP (conflicting policies or exercises are an error). Other
/// markings are ignored. No TLP marking: `defaults.tlp`; no Phalanx label
/// marking: `defaults.label`, else UNCLASSIFIED, empty releasable_to, no
/// caveats, real world. A label marking releasable to [`NOBODY`](crate::NOBODY)
/// under TLP `amber` or stricter reads as an empty releasable_to (the same
/// audience: the originator alone). Granular markings without `marking_ref` (`lang`)
/// play no part.
pub fn label_from_object(
    obj: &Map<String, Value>,
    resolve: &dyn Fn(&str) -> Option<MarkingDefinitionRef>,
    defaults: &LabelDefaults,
) -> Result<ObjectLabel, LabelError> {
    let mut tlps: Vec<Tlp> = Vec::new();
    let mut markings: Vec<LabelMarking> = Vec::new();

    let mut visit = |r: &Value, path: String| -> Result<(), LabelError> {
        let marking_ref = r.as_str().ok_or_else(|| LabelError::MalformedObject {
            path: path.clone(),
            reason: "expected a marking-definition id (a string)".to_string(),
        })?;
        match resolve_ref(marking_ref, resolve) {
            Ok(Some(MarkingKind::Tlp(t))) => tlps.push(t),
            Ok(Some(MarkingKind::PhalanxLabel(m))) => markings.push(m),
            Ok(Some(MarkingKind::Other)) => {}
            Ok(None) => {
                return Err(LabelError::UnresolvedMarking {
                    marking_ref: marking_ref.to_string(),
                    path,
                });
            }
            Err(e) => {
                return Err(LabelError::AtMarking {
                    marking_ref: marking_ref.to_string(),
                    path,
                    source: Box::new(e),
                });
            }
        }
        Ok(())
    };

    match obj.get("object_marking_refs") {
        None => {}
        Some(Value::Array(refs)) => {
            for (i, r) in refs.iter().enumerate() {
                visit(r, format!("object_marking_refs[{i}]"))?;
            }
        }
        Some(_) => {
            return Err(LabelError::MalformedObject {
                path: "object_marking_refs".to_string(),
                reason: "expected an array of marking-definition ids".to_string(),
            });
        }
    }
    match obj.get("granular_markings") {
        None => {}
        Some(Value::Array(gms)) => {
            for (i, gm) in gms.iter().enumerate() {
                let gm = gm.as_object().ok_or_else(|| LabelError::MalformedObject {
                    path: format!("granular_markings[{i}]"),
                    reason: "expected a granular marking object".to_string(),
                })?;
                if let Some(r) = gm.get("marking_ref") {
                    visit(r, format!("granular_markings[{i}].marking_ref"))?;
                }
            }
        }
        Some(_) => {
            return Err(LabelError::MalformedObject {
                path: "granular_markings".to_string(),
                reason: "expected an array of granular markings".to_string(),
            });
        }
    }

    let mut added_markings = Vec::new();
    let tlp = match tlps.iter().copied().max() {
        Some(t) => t,
        None => {
            added_markings.push(defaults.tlp.marking_id().to_string());
            defaults.tlp
        }
    };
    if markings.is_empty() {
        match &defaults.label {
            Some(m) => {
                m.validate()?;
                added_markings.push(m.marking_id());
                markings.push(m.clone());
            }
            None => markings.push(LabelMarking::unclassified()),
        }
    }
    let mut parts = markings.into_iter().map(|mut m| {
        // Under amber, amber+strict and red an empty list already means the
        // originator alone: `NOBODY` is written that way there.
        if tlp.restricts_empty_releasability() && m.releasable_to.contains(crate::model::NOBODY) {
            m.releasable_to.clear();
        }
        Label::from_marking(m, Some(tlp), None)
    });
    let first = parts.next().unwrap_or_else(|| Label::unclassified(tlp));
    first.validate()?;
    let label = parts.try_fold(first, |acc, l| crate::lattice::lub(&acc, &l))?;
    Ok(ObjectLabel {
        label,
        added_markings,
    })
}

/// What one reference stands for: `Ok(None)` when nothing resolves it.
fn resolve_ref(
    marking_ref: &str,
    resolve: &dyn Fn(&str) -> Option<MarkingDefinitionRef>,
) -> Result<Option<MarkingKind>, LabelError> {
    if let Some(t) = tlp_from_marking_id(marking_ref) {
        return Ok(Some(MarkingKind::Tlp(t)));
    }
    let kind = match resolve(marking_ref) {
        None => return Ok(None),
        Some(MarkingDefinitionRef::Kind(k)) => k,
        Some(MarkingDefinitionRef::Definition(def)) => {
            let def_id = def.get("id").and_then(Value::as_str);
            if def_id.is_some_and(|d| d != marking_ref) {
                return Err(malformed(
                    def_id.unwrap_or("(no id)"),
                    "id: is not the id the object refers to",
                ));
            }
            parse_marking_definition(&def)?
        }
    };
    if let MarkingKind::PhalanxLabel(m) = &kind {
        m.validate()?;
        if m.marking_id() != marking_ref {
            return Err(malformed(
                marking_ref,
                format!("id: the resolved label has id {}", m.marking_id()),
            ));
        }
    }
    Ok(Some(kind))
}

/// Appends `added` (from [`ObjectLabel::added_markings`]) to the object's
/// `object_marking_refs`, creating it if absent and skipping ids already
/// there. Errors if `object_marking_refs` is present but not an array.
pub fn apply_added_markings(
    obj: &mut Map<String, Value>,
    added: &[String],
) -> Result<(), LabelError> {
    if added.is_empty() {
        return Ok(());
    }
    let refs = obj
        .entry("object_marking_refs")
        .or_insert_with(|| Value::Array(Vec::new()));
    let Value::Array(refs) = refs else {
        return Err(LabelError::MalformedObject {
            path: "object_marking_refs".to_string(),
            reason: "expected an array of marking-definition ids".to_string(),
        });
    };
    for id in added {
        if !refs.iter().any(|r| r.as_str() == Some(id.as_str())) {
            refs.push(Value::String(id.clone()));
        }
    }
    Ok(())
}

/// The marking-definition objects among `objects` (e.g. a bundle's), by id:
/// a ready source for a resolver over "the same bundle".
pub fn marking_definitions_in<'a>(
    objects: impl IntoIterator<Item = &'a Value>,
) -> std::collections::BTreeMap<String, Value> {
    objects
        .into_iter()
        .filter(|o| o.get("type").and_then(Value::as_str) == Some("marking-definition"))
        .filter_map(|o| Some((o.get("id")?.as_str()?.to_string(), o.clone())))
        .collect()
}
