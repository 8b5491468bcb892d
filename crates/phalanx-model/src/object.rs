//! [`StixObject`]: one validated STIX 2.1 object, kept as the JSON it came
//! in (properties in their order, custom properties and extensions
//! untouched) with its identity and version read out.

use crate::check::{Checker, has_member, json_kind, member};
use crate::error::{ObjectError, ObjectErrors};
use crate::id::{StixId, is_valid_type_name};
use crate::kinds::{Family, builtin_family};
use crate::sco::deterministic_id;
use crate::timestamp::Timestamp;
use crate::types::check_type;
use phalanx_pattern::Pattern;
use serde_json::{Map, Value};
use std::sync::Arc;

/// A validated STIX 2.1 object.
#[derive(Clone, Debug, PartialEq)]
pub struct StixObject {
    id: StixId,
    family: Family,
    created: Option<Timestamp>,
    modified: Option<Timestamp>,
    revoked: bool,
    map: Map<String, Value>,
    /// The compact JSON text the object was parsed from, when it is known
    /// to equal what serialising `map` gives (saves serialising again).
    source: Option<String>,
    /// The parsed `pattern` of an indicator whose `pattern_type` is `stix`,
    /// kept from validation so that readers of it need not parse it again.
    pattern: Option<Arc<Pattern>>,
}

/// A parsed object with the warnings found while validating it.
#[derive(Clone, Debug)]
pub struct ParsedObject {
    /// The object.
    pub object: StixObject,
    /// Problems that did not make it invalid (open vocabularies, ...).
    pub warnings: Vec<ObjectError>,
    /// Whether the `id` was absent and computed (SCOs only).
    pub id_computed: bool,
}

const TLP_1_0_AND_KNOWN_EXTENSION_TYPES: &[&str] =
    &["new-sdo", "new-sco", "new-sro", "property-extension", "toplevel-property-extension"];

impl StixObject {
    /// Parses and validates an object from JSON bytes. `base` is the JSON
    /// path of the object in its container, used in error messages.
    pub fn from_json(bytes: &[u8], base: &str) -> Result<ParsedObject, ObjectErrors> {
        Self::from_parsed_json(crate::strict::parse_value(bytes), base)
    }

    /// [`StixObject::from_json`] after the JSON was parsed.
    fn from_parsed_json(parsed: Result<Value, serde_json::Error>, base: &str) -> Result<ParsedObject, ObjectErrors> {
        match parsed {
            Ok(value) => Self::from_value(value, base),
            // A data error is the only one the value itself gives: a
            // member named twice ([`crate::strict`]).
            Err(e) if e.is_data() => Err(ObjectErrors(vec![ObjectError {
                object_id: None,
                path: base.to_owned(),
                rule: "duplicate-property",
                message: format!("invalid object: {e}"),
            }])),
            Err(e) => Err(ObjectErrors(vec![ObjectError {
                object_id: None,
                path: base.to_owned(),
                rule: "json-syntax",
                message: format!("invalid json: {e}"),
            }])),
        }
    }

    /// Like [`StixObject::from_json`], for bytes that are compact JSON (no
    /// white space outside strings, as [`crate::stream`] hands them on):
    /// the text is kept and served as is.
    pub fn from_compact_json(bytes: Vec<u8>, base: &str) -> Result<ParsedObject, ObjectErrors> {
        Self::from_compact_json_or_bytes(bytes, base).map_err(|(errors, _)| errors)
    }

    /// Like [`StixObject::from_compact_json`]; an invalid object's bytes
    /// come back with its errors, to report what it said it was.
    pub fn from_compact_json_or_bytes(bytes: Vec<u8>, base: &str) -> Result<ParsedObject, (ObjectErrors, Vec<u8>)> {
        // UTF-8 is checked once, over the whole text, which is then parsed
        // as text; other bytes are parsed as bytes, whose error says where.
        let text = match String::from_utf8(bytes) {
            Ok(text) => text,
            Err(e) => {
                let bytes = e.into_bytes();
                return Self::from_json(&bytes, base).map_err(|errors| (errors, bytes));
            }
        };
        let mut parsed = match Self::from_parsed_json(crate::strict::parse_text(&text), base) {
            Ok(parsed) => parsed,
            Err(errors) => return Err((errors, text.into_bytes())),
        };
        if !parsed.id_computed {
            parsed.object.source = Some(text);
        }
        Ok(parsed)
    }

    /// Validates a JSON value as a STIX 2.1 object.
    pub fn from_value(value: Value, base: &str) -> Result<ParsedObject, ObjectErrors> {
        let mut map = match value {
            Value::Object(map) => map,
            other => {
                return Err(ObjectErrors(vec![ObjectError {
                    object_id: None,
                    path: base.to_owned(),
                    rule: "property-type",
                    message: format!("a STIX object must be a JSON object, not {}", json_kind(&other)),
                }]));
            }
        };
        let given_id = member(&map, "id").and_then(Value::as_str).map(str::to_owned);
        let mut c = Checker::new(base, given_id.clone());

        let Some(object_type) = c.string(&map, "type").map(str::to_owned) else {
            if !has_member(&map, "type") {
                c.error("type", "required-property", "required property 'type' is missing");
            }
            return Err(ObjectErrors(c.errors));
        };
        if !is_valid_type_name(&object_type) {
            c.error("type", "type-name", format!("'{object_type}' is not a valid STIX type name"));
            return Err(ObjectErrors(c.errors));
        }
        if object_type == "bundle" {
            c.error("type", "nested-bundle", "a bundle cannot be an object inside another container");
            return Err(ObjectErrors(c.errors));
        }
        let family = builtin_family(&object_type).unwrap_or_else(|| {
            if has_member(&map, "created") && has_member(&map, "modified") {
                Family::CustomVersioned
            } else {
                Family::CustomUnversioned
            }
        });

        // Identifier: required, except for SCOs whose id can be computed.
        let computed = if family == Family::Sco { deterministic_id(&object_type, &map) } else { None };
        let mut id_computed = false;
        let id = match member(&map, "id") {
            Some(v) => c.id_value("id", v, &[]),
            None => match &computed {
                Some(id) => {
                    id_computed = true;
                    Some(id.clone())
                }
                None => {
                    c.error("id", "required-property", "required property 'id' is missing");
                    None
                }
            },
        };
        if let Some(id) = &id {
            if id.object_type() != object_type {
                c.error(
                    "id",
                    "id-type-mismatch",
                    format!("id type '{}' does not match the object type '{object_type}'", id.object_type()),
                );
            }
            // A UUIDv5 SCO id claims to be the deterministic one, so a
            // mismatch is an error; other versions are allowed (a SHOULD in
            // §2.9) and only reported.
            if let Some(expected) = &computed {
                if !id_computed && expected.uuid() != id.uuid() {
                    let message = format!(
                        "id does not match the deterministic id computed from the id-contributing properties: expected {expected}"
                    );
                    if id.uuid().get_version_num() == 5 {
                        c.error("id", "sco-id", message);
                    } else {
                        c.warn("id", "sco-id", message);
                    }
                }
            }
        }

        let (created, modified) = check_common(&mut c, &map, family);
        let revoked = c.boolean(&map, "revoked").unwrap_or(false);
        check_type(&object_type, &map, &mut c);

        if c.failed() {
            return Err(ObjectErrors(c.errors));
        }
        let Some(id) = id else {
            c.error("id", "required-property", "required property 'id' is missing");
            return Err(ObjectErrors(c.errors));
        };
        if id_computed {
            map.insert("id".into(), Value::String(id.to_string()));
        }
        let pattern = c.pattern.take().map(Arc::new);
        let object = StixObject { id, family, created, modified, revoked, map, source: None, pattern };
        Ok(ParsedObject { object, warnings: c.warnings, id_computed })
    }

    /// The object's identifier.
    pub fn id(&self) -> &StixId {
        &self.id
    }

    /// The parsed `pattern` of an indicator whose `pattern_type` is `stix`.
    pub fn stix_pattern(&self) -> Option<&Pattern> {
        self.pattern.as_deref()
    }

    /// The object's type.
    pub fn object_type(&self) -> &str {
        self.id.object_type()
    }

    /// The family of the object's type.
    pub fn family(&self) -> Family {
        self.family
    }

    /// `created`, when the object has one.
    pub fn created(&self) -> Option<Timestamp> {
        self.created
    }

    /// `modified`, when the object has one.
    pub fn modified(&self) -> Option<Timestamp> {
        self.modified
    }

    /// The version of the object as TAXII sees it: `modified`, else
    /// `created`, else none (SCOs are not versioned).
    pub fn version(&self) -> Option<Timestamp> {
        self.modified.or(self.created)
    }

    /// Whether the object is revoked.
    pub fn revoked(&self) -> bool {
        self.revoked
    }

    /// `created_by_ref`, when present.
    pub fn created_by_ref(&self) -> Option<&str> {
        member(&self.map, "created_by_ref").and_then(Value::as_str)
    }

    /// `spec_version`, defaulting to 2.1.
    pub fn spec_version(&self) -> &str {
        member(&self.map, "spec_version").and_then(Value::as_str).unwrap_or("2.1")
    }

    /// A string property, when present.
    pub fn get_str(&self, key: &str) -> Option<&str> {
        member(&self.map, key).and_then(Value::as_str)
    }

    /// The object's properties.
    pub fn map(&self) -> &Map<String, Value> {
        &self.map
    }

    /// The object's properties, for a change that is validated again.
    pub fn into_map(self) -> Map<String, Value> {
        self.map
    }

    /// The object with `object_marking_refs` replaced by `refs` (the
    /// markings a writer adds or a label carries). Only that property
    /// changes, so only it is validated again: each ref must be a
    /// marking-definition id, and the list may not be empty. The member
    /// keeps its place (or comes last when it was absent), and the text
    /// follows.
    pub fn with_marking_refs(mut self, refs: Vec<String>, base: &str) -> Result<StixObject, ObjectErrors> {
        let valid = |r: &String| StixId::parse(r).is_ok_and(|id| id.object_type() == "marking-definition");
        if refs.is_empty() || !refs.iter().all(valid) {
            return Err(self.marking_ref_errors(&refs, base));
        }
        let refs = Value::Array(refs.into_iter().map(Value::String).collect());
        // A new member comes last, so the kept text only grows by it (the
        // text is what serialising the properties gives, in their order).
        let appended = !self.map.contains_key("object_marking_refs");
        self.source = match (appended, self.source.take()) {
            (true, Some(mut text)) if text.len() > 2 && text.ends_with('}') => {
                text.pop();
                text.push_str(",\"object_marking_refs\":");
                text.push_str(&refs.to_string());
                text.push('}');
                Some(text)
            }
            _ => None,
        };
        self.map.insert("object_marking_refs".into(), refs);
        Ok(self)
    }

    /// What is wrong with `refs` as an object's `object_marking_refs`.
    fn marking_ref_errors(&self, refs: &[String], base: &str) -> ObjectErrors {
        let mut c = Checker::new(base, Some(self.id.to_string()));
        if refs.is_empty() {
            c.error("object_marking_refs", "empty-list", "'object_marking_refs' is an empty list; STIX prohibits empty lists (§2.12)");
        }
        for (i, r) in refs.iter().enumerate() {
            match StixId::parse(r) {
                Ok(id) if id.object_type() == "marking-definition" => {}
                Ok(id) => c.error(
                    &format!("object_marking_refs[{i}]"),
                    "reference-type",
                    format!("'object_marking_refs[{i}]' must refer to marking-definition, not to a {}", id.object_type()),
                ),
                Err(e) => c.error(&format!("object_marking_refs[{i}]"), "id-format", format!("'object_marking_refs[{i}]': {e}")),
            }
        }
        ObjectErrors(c.errors)
    }

    /// The object as a JSON value.
    pub fn to_value(&self) -> Value {
        Value::Object(self.map.clone())
    }

    /// The object as compact JSON text, properties in their stored order.
    pub fn to_json_string(&self) -> String {
        match &self.source {
            Some(text) => text.clone(),
            None => serde_json::to_string(&self.map).unwrap_or_default(),
        }
    }

    /// Like [`StixObject::to_json_string`], borrowing the text the object
    /// was parsed from when it is kept (no copy).
    pub fn json_text(&self) -> std::borrow::Cow<'_, str> {
        match &self.source {
            Some(text) => std::borrow::Cow::Borrowed(text),
            None => std::borrow::Cow::Owned(serde_json::to_string(&self.map).unwrap_or_default()),
        }
    }

    /// Identifiers this object refers to through its top-level `*_ref`
    /// and `*_refs` properties (markings not included).
    pub fn references(&self) -> Vec<&str> {
        let mut out = Vec::new();
        for (key, value) in &self.map {
            if key == "object_marking_refs" {
                continue;
            }
            if key.ends_with("_ref") {
                if let Some(s) = value.as_str() {
                    out.push(s);
                }
            } else if key.ends_with("_refs") {
                if let Some(items) = value.as_array() {
                    out.extend(items.iter().filter_map(Value::as_str));
                }
            }
        }
        out
    }

    /// The text indexed for full-text search in `form`: (names, then the
    /// description).
    pub fn search_text(&self, form: SearchTextForm) -> (String, String) {
        search_text_of(&self.map, form)
    }
}

/// Which properties a full-text index holds. A store keeps the form it was
/// made with: a deletion hands the indexed text back, read again from the
/// stored object, and must hand back exactly what was indexed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SearchTextForm {
    /// Names, aliases and descriptions. An SCO's `value` and an
    /// indicator's `pattern` only where a store's value index does not hold
    /// them: the `value` of SCO types other than `ipv4-addr`, `ipv6-addr`,
    /// `domain-name`, `url` and `email-addr`, and patterns whose
    /// `pattern_type` is not `stix`. Values are not words: cut into words,
    /// `10.0.0.1` would also find `1.0.0.10`.
    Words,
    /// The form of stores made before [`SearchTextForm::Words`]: `name`,
    /// `value`, `pattern` and aliases, then the description.
    WithValuesAndPatterns,
}

/// SCO types whose `value` a store indexes as a value in normal form, not
/// as words ([`SearchTextForm::Words`]). Part of the form, so fixed: data
/// directories hand this text back to delete a version, and a change here
/// would make a new form with a setting value of its own. A store that
/// comes to hold more kinds of values keeps them as words too.
const VALUE_INDEXED_TYPES: [&str; 5] = ["ipv4-addr", "ipv6-addr", "domain-name", "url", "email-addr"];

/// [`StixObject::search_text`] of an object's properties: (the names,
/// then `description`). A store that must hand the indexed text back to
/// remove it reads it from the stored JSON.
pub fn search_text_of(map: &Map<String, Value>, form: SearchTextForm) -> (String, String) {
    let text = |key: &str| member(map, key).and_then(Value::as_str);
    let keys: &[&str] = match form {
        SearchTextForm::WithValuesAndPatterns => &["name", "value", "pattern"],
        SearchTextForm::Words => {
            let object_type = text("type").unwrap_or_default();
            if object_type == "indicator" {
                if text("pattern_type").is_some_and(|t| t != "stix") { &["name", "pattern"] } else { &["name"] }
            } else if VALUE_INDEXED_TYPES.contains(&object_type) {
                &["name"]
            } else {
                &["name", "value"]
            }
        }
    };
    let mut name = String::new();
    for key in keys {
        if let Some(s) = text(key) {
            if !name.is_empty() {
                name.push(' ');
            }
            name.push_str(s);
        }
    }
    if let Some(aliases) = map.get("aliases").and_then(Value::as_array) {
        for a in aliases.iter().filter_map(Value::as_str) {
            name.push(' ');
            name.push_str(a);
        }
    }
    let description = text("description").unwrap_or_default().to_owned();
    (name, description)
}

/// Common properties (§3.2) by family; returns (created, modified).
fn check_common(c: &mut Checker, map: &Map<String, Value>, family: Family) -> (Option<Timestamp>, Option<Timestamp>) {
    let versioned = family.is_versioned();
    match family {
        Family::Sco | Family::CustomUnversioned => {}
        Family::MarkingDefinition => c.require(map, &["spec_version", "created"]),
        _ => c.require(map, &["spec_version", "created", "modified"]),
    }
    if let Some(v) = c.string(map, "spec_version") {
        if v != "2.1" {
            c.error("spec_version", "spec-version", format!("spec_version must be '2.1', not '{v}'"));
        }
    }
    let created = c.timestamp(map, "created");
    let modified = c.timestamp(map, "modified");
    if versioned {
        if let (Some(cr), Some(m)) = (created, modified) {
            if m < cr {
                c.error("modified", "modified-before-created", format!("modified ({m}) is earlier than created ({cr})"));
            }
        }
        for (key, digits) in [("created", created), ("modified", modified)] {
            if let Some(t) = digits {
                if t.digits() < 3 && family != Family::CustomVersioned {
                    c.error(key, "timestamp-precision", format!("'{key}' must have at least millisecond precision (§3.2)"));
                }
            }
        }
    }
    c.id_ref(map, "created_by_ref", &["identity"]);
    c.string_list(map, "labels");
    c.integer(map, "confidence", 0, 100);
    c.string(map, "lang");
    check_external_references(c, map);
    c.id_refs(map, "object_marking_refs", &["marking-definition"]);
    check_granular_markings(c, map);
    check_extensions(c, map);
    c.boolean(map, "defanged");
    for (key, value) in map {
        if matches!(value, Value::Array(a) if a.is_empty()) && !key.starts_with("x_") && !key.starts_with("x-") {
            // `list()` reports known list properties; this catches the rest.
            let known = ["labels", "external_references", "object_marking_refs", "granular_markings"];
            if !known.contains(&key.as_str()) {
                c.error(key, "empty-list", format!("'{key}' is an empty list; STIX prohibits empty lists (§2.12)"));
            }
        }
    }
    (created, if versioned || family == Family::CustomVersioned { modified } else { None })
}

fn check_external_references(c: &mut Checker, map: &Map<String, Value>) {
    let Some(items) = c.list(map, "external_references") else { return };
    for (i, item) in items.iter().enumerate() {
        let path = format!("external_references[{i}]");
        let Value::Object(er) = item else {
            c.error(&path, "property-type", format!("'{path}' must be an object, not {}", json_kind(item)));
            continue;
        };
        match er.get("source_name") {
            Some(Value::String(_)) => {}
            Some(other) => c.error(
                &format!("{path}.source_name"),
                "property-type",
                format!("source_name must be a string, not {}", json_kind(other)),
            ),
            None => c.error(&format!("{path}.source_name"), "required-property", "required property 'source_name' is missing"),
        }
        for key in ["description", "url", "external_id"] {
            if let Some(v) = er.get(key) {
                if !v.is_string() {
                    c.error(&format!("{path}.{key}"), "property-type", format!("{key} must be a string, not {}", json_kind(v)));
                }
            }
        }
        if !er.contains_key("description") && !er.contains_key("url") && !er.contains_key("external_id") {
            c.error(&path, "required-property", "an external reference needs at least one of description, url, external_id");
        }
        if let Some(h) = er.get("hashes") {
            if !h.is_object() {
                c.error(&format!("{path}.hashes"), "property-type", format!("hashes must be an object, not {}", json_kind(h)));
            }
        }
    }
}

fn check_granular_markings(c: &mut Checker, map: &Map<String, Value>) {
    let Some(items) = c.list(map, "granular_markings") else { return };
    for (i, item) in items.iter().enumerate() {
        let path = format!("granular_markings[{i}]");
        let Value::Object(gm) = item else {
            c.error(&path, "property-type", format!("'{path}' must be an object, not {}", json_kind(item)));
            continue;
        };
        match (gm.get("marking_ref"), gm.get("lang")) {
            (Some(r), None) => {
                c.id_value(&format!("{path}.marking_ref"), r, &["marking-definition"]);
            }
            (None, Some(Value::String(_))) => {}
            (None, Some(other)) => {
                c.error(&format!("{path}.lang"), "property-type", format!("lang must be a string, not {}", json_kind(other)))
            }
            _ => c.error(&path, "granular-marking", "a granular marking needs exactly one of marking_ref and lang"),
        }
        match gm.get("selectors") {
            Some(Value::Array(s)) if !s.is_empty() && s.iter().all(Value::is_string) => {}
            _ => c.error(&format!("{path}.selectors"), "granular-marking", "selectors must be a non-empty list of strings"),
        }
    }
}

fn check_extensions(c: &mut Checker, map: &Map<String, Value>) {
    let Some(exts) = c.object(map, "extensions") else { return };
    if exts.is_empty() {
        c.error("extensions", "empty-dictionary", "'extensions' must not be empty");
    }
    for (key, value) in exts {
        let path = format!("extensions.{key}");
        let Value::Object(ext) = value else {
            c.error(&path, "property-type", format!("an extension must be an object, not {}", json_kind(value)));
            continue;
        };
        if key.starts_with("extension-definition--") {
            if let Err(e) = StixId::parse(key) {
                c.error(&path, "id-format", format!("extension key: {e}"));
            }
            if let Some(t) = ext.get("extension_type") {
                match t.as_str() {
                    Some(t) if TLP_1_0_AND_KNOWN_EXTENSION_TYPES.contains(&t) => {}
                    _ => c.error(
                        &format!("{path}.extension_type"),
                        "enumeration",
                        format!("extension_type must be one of {}", TLP_1_0_AND_KNOWN_EXTENSION_TYPES.join(", ")),
                    ),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TLP_GREEN: &str = "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb";
    const TLP_AMBER: &str = "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421";

    fn indicator(markings: &str) -> StixObject {
        let text = format!(
            r#"{{"type":"indicator","spec_version":"2.1","id":"indicator--44af6c39-c09b-49c5-9de2-394224b04982","created":"2016-04-06T20:03:48.000Z","modified":"2016-04-06T20:03:48.000Z"{markings},"pattern":"[ipv4-addr:value = '10.0.0.1']","pattern_type":"stix","valid_from":"2016-04-06T20:03:48Z","x_custom":{{"a":[1,2.5]}}}}"#
        );
        StixObject::from_compact_json(text.into_bytes(), "$").expect("valid").object
    }

    #[test]
    fn the_words_form_leaves_indexed_values_and_stix_patterns_out() {
        let text = |v: Value, form| match v {
            Value::Object(map) => search_text_of(&map, form),
            _ => unreachable!("objects only"),
        };
        let address = serde_json::json!({"type": "ipv4-addr", "value": "10.0.0.1", "description": "d"});
        assert_eq!(text(address.clone(), SearchTextForm::Words), (String::new(), "d".to_owned()));
        assert_eq!(text(address, SearchTextForm::WithValuesAndPatterns), ("10.0.0.1".to_owned(), "d".to_owned()));
        let mac = serde_json::json!({"type": "mac-addr", "value": "00:11:22:33:44:55"});
        assert_eq!(text(mac, SearchTextForm::Words).0, "00:11:22:33:44:55");
        let stix = serde_json::json!({"type": "indicator", "name": "n", "pattern": "[x:y = 'z']", "pattern_type": "stix", "aliases": ["a"]});
        assert_eq!(text(stix.clone(), SearchTextForm::Words).0, "n a");
        assert_eq!(text(stix, SearchTextForm::WithValuesAndPatterns).0, "n [x:y = 'z'] a");
        let yara = serde_json::json!({"type": "indicator", "name": "n", "pattern": "rule r {}", "pattern_type": "yara"});
        assert_eq!(text(yara, SearchTextForm::Words).0, "n rule r {}");
    }

    #[test]
    fn bytes_that_are_not_utf8_are_refused_with_where_and_kept_for_the_report() {
        let good = indicator("").json_text().into_owned();
        // A byte that is not UTF-8 inside the name: refused as JSON, with
        // its place, and the bytes come back whole.
        let mut bad = good.replacen(r#""pattern":"#, "\"name\":\"x\u{1}\",\"pattern\":", 1).into_bytes();
        let at = bad.iter().position(|b| *b == 1).expect("the marker byte");
        bad[at] = 0xff;
        let (errors, back) = StixObject::from_compact_json_or_bytes(bad.clone(), "line 3").expect_err("not utf-8");
        assert_eq!(back, bad);
        let error = errors.first().expect("an error");
        assert_eq!((error.rule, error.path.as_str()), ("json-syntax", "line 3"));
        assert!(error.message.contains("column"), "{}", error.message);
        // The same object in UTF-8 is valid and keeps its text.
        let fine = StixObject::from_compact_json_or_bytes(good.clone().into_bytes(), "line 3").expect("valid").object;
        assert_eq!(fine.json_text(), good);
    }

    #[test]
    fn validation_keeps_the_parsed_stix_pattern_and_only_that() {
        let object = indicator("");
        let kept = object.stix_pattern().expect("a stix pattern is kept");
        assert_eq!(Some(kept), phalanx_pattern::parse("[ipv4-addr:value = '10.0.0.1']").ok().as_ref());
        // New markings keep it; other pattern languages have none.
        let marked = object.with_marking_refs(vec![TLP_AMBER.to_owned()], "$").expect("valid refs");
        assert!(marked.stix_pattern().is_some());
        let yara = indicator("").to_value().as_object().cloned().map(|mut m| {
            m.insert("pattern_type".into(), Value::String("yara".into()));
            m.insert("pattern".into(), Value::String("rule x { condition: true }".into()));
            Value::Object(m)
        });
        let yara = StixObject::from_value(yara.expect("an object"), "$").expect("valid").object;
        assert!(yara.stix_pattern().is_none());
    }

    #[test]
    fn new_marking_refs_replace_the_old_ones_in_place_and_the_text_follows() {
        let before = indicator(&format!(r#","object_marking_refs":["{TLP_GREEN}"]"#));
        let after = before.clone().with_marking_refs(vec![TLP_AMBER.to_owned()], "$").expect("valid refs");
        let text = after.json_text().into_owned();
        assert!(text.contains(&format!(r#""object_marking_refs":["{TLP_AMBER}"],"pattern""#)), "{text}");
        assert!(!text.contains(TLP_GREEN), "{text}");
        // Everything else is as it was, and the new text is a valid object.
        let again = StixObject::from_compact_json(text.into_bytes(), "$").expect("still valid").object;
        assert_eq!(again.map().get("x_custom"), before.map().get("x_custom"));
        assert_eq!(again.version(), before.version());
        assert_eq!(again.map(), after.map());
        assert_eq!(again.json_text(), after.json_text());
        assert_eq!(after.json_text(), serde_json::to_string(after.map()).expect("text"));
    }

    #[test]
    fn marking_refs_on_an_object_without_any_come_last() {
        let after = indicator("").with_marking_refs(vec![TLP_GREEN.to_owned()], "$").expect("valid refs");
        assert_eq!(after.map().keys().last().map(String::as_str), Some("object_marking_refs"));
        assert!(after.json_text().ends_with(&format!(r#""x_custom":{{"a":[1,2.5]}},"object_marking_refs":["{TLP_GREEN}"]}}"#)));
        assert_eq!(after.json_text(), serde_json::to_string(after.map()).expect("text"));
        // Without a kept text (an object built from a value), the text is
        // made from the properties.
        let built = StixObject::from_value(indicator("").to_value(), "$").expect("valid").object;
        let after_built = built.with_marking_refs(vec![TLP_GREEN.to_owned()], "$").expect("valid refs");
        assert_eq!(after_built.json_text(), after.json_text());
    }

    #[test]
    fn marking_refs_that_are_not_marking_definitions_or_empty_are_refused_by_path_and_rule() {
        let wrong = indicator("").with_marking_refs(vec![TLP_GREEN.to_owned(), "identity--44af6c39-c09b-49c5-9de2-394224b04982".into()], "$.objects[4]");
        let errors = wrong.expect_err("an identity is no marking").0;
        assert_eq!(errors[0].path, "$.objects[4].object_marking_refs[1]");
        assert_eq!(errors[0].rule, "reference-type");
        assert_eq!(errors[0].object_id.as_deref(), Some("indicator--44af6c39-c09b-49c5-9de2-394224b04982"));
        let malformed = indicator("").with_marking_refs(vec!["marking-definition--nope".into()], "$").expect_err("not an id").0;
        assert_eq!(malformed[0].rule, "id-format");
        let empty = indicator("").with_marking_refs(Vec::new(), "$").expect_err("empty").0;
        assert_eq!(empty[0].rule, "empty-list");
    }
}
