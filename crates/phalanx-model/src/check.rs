//! The [`Checker`]: collects errors and warnings for one object, with
//! helpers that check one property each. Type-specific rules
//! (`types.rs`) and common rules (`object.rs`) are written with it.

use crate::error::ObjectError;
use crate::id::{StixId, is_valid_type_name};
use crate::timestamp::Timestamp;
use serde_json::{Map, Value};

/// Collects the problems of one object.
#[derive(Debug)]
pub struct Checker {
    base: String,
    object_id: Option<String>,
    /// Problems that make the object refused.
    pub errors: Vec<ObjectError>,
    /// Problems reported while the object is kept.
    pub warnings: Vec<ObjectError>,
    /// The parsed `pattern` of an indicator whose `pattern_type` is `stix`.
    pub(crate) pattern: Option<phalanx_pattern::Pattern>,
}

/// Objects of up to this many members are searched in order.
const SMALL_OBJECT: usize = 16;

/// The member `key` of a JSON object. An object of a few members (most
/// STIX objects) is searched in order: comparing `key` with each member's
/// name costs less than hashing it with the map's SipHash, and validation
/// asks for tens of names per object, most of them absent.
pub fn member<'m>(map: &'m Map<String, Value>, key: &str) -> Option<&'m Value> {
    if map.len() <= SMALL_OBJECT {
        map.iter().find(|(name, _)| name.as_str() == key).map(|(_, v)| v)
    } else {
        map.get(key)
    }
}

/// Whether a JSON object has the member `key` (see [`member`]).
pub fn has_member(map: &Map<String, Value>, key: &str) -> bool {
    member(map, key).is_some()
}

/// A short JSON type name for messages.
pub fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

impl Checker {
    /// A checker for the object at JSON path `base` (e.g. `$.objects[3]`).
    pub fn new(base: &str, object_id: Option<String>) -> Self {
        Checker { base: base.to_owned(), object_id, errors: Vec::new(), warnings: Vec::new(), pattern: None }
    }

    /// The full path of a property path inside the object.
    pub fn path(&self, prop: &str) -> String {
        if prop.is_empty() {
            self.base.clone()
        } else if prop.starts_with('[') {
            format!("{}{prop}", self.base)
        } else {
            format!("{}.{prop}", self.base)
        }
    }

    /// Records an error at `prop` (a path inside the object, `""` for the
    /// object itself).
    pub fn error(&mut self, prop: &str, rule: &'static str, message: impl Into<String>) {
        let path = self.path(prop);
        self.errors.push(ObjectError { object_id: self.object_id.clone(), path, rule, message: message.into() });
    }

    /// Records a warning at `prop`.
    pub fn warn(&mut self, prop: &str, rule: &'static str, message: impl Into<String>) {
        let path = self.path(prop);
        self.warnings.push(ObjectError { object_id: self.object_id.clone(), path, rule, message: message.into() });
    }

    /// Whether any error was recorded.
    pub fn failed(&self) -> bool {
        !self.errors.is_empty()
    }

    /// Checks that each of `keys` is present.
    pub fn require(&mut self, map: &Map<String, Value>, keys: &[&str]) {
        for key in keys {
            if !has_member(map, key) {
                self.error(key, "required-property", format!("required property '{key}' is missing"));
            }
        }
    }

    /// Checks that at least one of `keys` is present.
    pub fn require_one_of(&mut self, map: &Map<String, Value>, keys: &[&str]) {
        if !keys.iter().any(|k| has_member(map, k)) {
            self.error("", "required-property", format!("at least one of {} is required", keys.join(", ")));
        }
    }

    /// A string property; an error when present and not a string.
    pub fn string<'m>(&mut self, map: &'m Map<String, Value>, key: &str) -> Option<&'m str> {
        match member(map, key)? {
            Value::String(s) => Some(s),
            other => {
                self.error(key, "property-type", format!("'{key}' must be a string, not {}", json_kind(other)));
                None
            }
        }
    }

    /// A boolean property.
    pub fn boolean(&mut self, map: &Map<String, Value>, key: &str) -> Option<bool> {
        match member(map, key)? {
            Value::Bool(b) => Some(*b),
            other => {
                self.error(key, "property-type", format!("'{key}' must be a boolean, not {}", json_kind(other)));
                None
            }
        }
    }

    /// An integer property within `min..=max`.
    pub fn integer(&mut self, map: &Map<String, Value>, key: &str, min: i64, max: i64) -> Option<i64> {
        let v = member(map, key)?;
        let Some(i) = v.as_i64() else {
            self.error(key, "property-type", format!("'{key}' must be an integer, not {}", json_kind(v)));
            return None;
        };
        if i < min || i > max {
            self.error(key, "range", format!("'{key}' must be between {min} and {max}, not {i}"));
            return None;
        }
        Some(i)
    }

    /// A number property (integer or float).
    pub fn number(&mut self, map: &Map<String, Value>, key: &str) -> Option<f64> {
        let v = member(map, key)?;
        let n = v.as_f64();
        if n.is_none() {
            self.error(key, "property-type", format!("'{key}' must be a number, not {}", json_kind(v)));
        }
        n
    }

    /// A timestamp property.
    pub fn timestamp(&mut self, map: &Map<String, Value>, key: &str) -> Option<Timestamp> {
        let s = self.string(map, key)?;
        match Timestamp::parse(s) {
            Ok(t) => Some(t),
            Err(e) => {
                self.error(key, "timestamp-format", format!("'{key}': {e}"));
                None
            }
        }
    }

    /// A non-empty list property; returns its items.
    pub fn list<'m>(&mut self, map: &'m Map<String, Value>, key: &str) -> Option<&'m [Value]> {
        match member(map, key)? {
            Value::Array(items) if items.is_empty() => {
                self.error(key, "empty-list", format!("'{key}' is an empty list; STIX prohibits empty lists (§2.12)"));
                None
            }
            Value::Array(items) => Some(items),
            other => {
                self.error(key, "property-type", format!("'{key}' must be a list, not {}", json_kind(other)));
                None
            }
        }
    }

    /// A non-empty list of strings.
    pub fn string_list<'m>(&mut self, map: &'m Map<String, Value>, key: &str) -> Vec<&'m str> {
        let mut out = Vec::new();
        let Some(items) = self.list(map, key) else { return out };
        for (i, item) in items.iter().enumerate() {
            match item {
                Value::String(s) => out.push(s.as_str()),
                other => self.error(
                    &format!("{key}[{i}]"),
                    "property-type",
                    format!("'{key}' items must be strings, not {}", json_kind(other)),
                ),
            }
        }
        out
    }

    /// An object (dictionary) property.
    pub fn object<'m>(&mut self, map: &'m Map<String, Value>, key: &str) -> Option<&'m Map<String, Value>> {
        match member(map, key)? {
            Value::Object(m) => Some(m),
            other => {
                self.error(key, "property-type", format!("'{key}' must be an object, not {}", json_kind(other)));
                None
            }
        }
    }

    /// Checks one identifier value at `path`; `types` limits the allowed
    /// object types (empty = any).
    pub fn id_value(&mut self, path: &str, value: &Value, types: &[&str]) -> Option<StixId> {
        let Value::String(s) = value else {
            self.error(path, "property-type", format!("'{path}' must be an identifier string, not {}", json_kind(value)));
            return None;
        };
        match StixId::parse(s) {
            Ok(id) => {
                if !types.is_empty() && !types.contains(&id.object_type()) {
                    self.error(
                        path,
                        "reference-type",
                        format!("'{path}' must refer to {}, not to a {}", types.join(" or "), id.object_type()),
                    );
                    return None;
                }
                Some(id)
            }
            Err(e) => {
                self.error(path, "id-format", format!("'{path}': {e}"));
                None
            }
        }
    }

    /// A single reference property (`*_ref`).
    pub fn id_ref(&mut self, map: &Map<String, Value>, key: &str, types: &[&str]) -> Option<StixId> {
        let v = member(map, key)?;
        self.id_value(key, v, types)
    }

    /// A list of references (`*_refs`).
    pub fn id_refs(&mut self, map: &Map<String, Value>, key: &str, types: &[&str]) -> Vec<StixId> {
        let mut out = Vec::new();
        let Some(items) = self.list(map, key) else { return out };
        let mut path = String::new();
        for (i, item) in items.iter().enumerate() {
            if let Some(id) = self.id_value(item_path(&mut path, key, i), item, types) {
                out.push(id);
            }
        }
        out
    }

    /// A value from a closed enumeration: anything else is an error.
    pub fn enumeration(&mut self, map: &Map<String, Value>, key: &str, allowed: &[&str]) -> Option<String> {
        let s = self.string(map, key)?;
        if !allowed.contains(&s) {
            self.error(key, "enumeration", format!("'{key}' must be one of {}, not '{s}'", allowed.join(", ")));
            return None;
        }
        Some(s.to_owned())
    }

    /// A value from an open vocabulary: anything else is a warning.
    pub fn open_vocab(&mut self, map: &Map<String, Value>, key: &str, vocab: &[&str]) {
        let Some(v) = member(map, key) else { return };
        let values: Vec<&str> = match v {
            Value::String(s) => vec![s.as_str()],
            Value::Array(_) => self.string_list(map, key),
            other => {
                self.error(key, "property-type", format!("'{key}' must be a string, not {}", json_kind(other)));
                return;
            }
        };
        for s in values {
            if !vocab.contains(&s) {
                self.warn(key, "open-vocabulary", format!("'{s}' is not in the suggested vocabulary for '{key}'"));
            }
        }
    }

    /// A STIX type-name property (e.g. `relationship_type`-like names).
    pub fn type_name(&mut self, map: &Map<String, Value>, key: &str) -> Option<String> {
        let s = self.string(map, key)?;
        if !is_valid_type_name(s) {
            self.error(key, "type-name", format!("'{key}' value '{s}' is not a valid STIX type name"));
            return None;
        }
        Some(s.to_owned())
    }
}

/// `base[i]`, the path of a list item, written into `buf` (cleared
/// first). Every item of a list is checked but its path is read only when
/// something is wrong: a buffer kept over the list spares a `format!` and
/// an allocation per item (6% of the import's parsing thread before).
pub(crate) fn item_path<'b>(buf: &'b mut String, base: &str, i: usize) -> &'b str {
    buf.clear();
    buf.push_str(base);
    buf.push('[');
    push_decimal(buf, i as u64);
    buf.push(']');
    buf
}

/// Appends `n` to `out` in decimal digits, without the `format!`
/// machinery (paths are made once or more per object: bench/RESULTS.md,
/// Import, session 27).
pub(crate) fn push_decimal(out: &mut String, n: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    let mut rest = n;
    loop {
        at -= 1;
        digits[at] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    for d in &digits[at..] {
        out.push(char::from(*d));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn item_paths_name_the_list_and_the_index() {
        let mut buf = String::from("left over");
        assert_eq!(item_path(&mut buf, "object_refs", 0), "object_refs[0]");
        assert_eq!(item_path(&mut buf, "object_refs", 7), "object_refs[7]");
        assert_eq!(item_path(&mut buf, "x.kill_chain_phases", 10), "x.kill_chain_phases[10]");
        assert_eq!(item_path(&mut buf, "a", 120_045), "a[120045]");
        assert_eq!(item_path(&mut buf, "a", usize::MAX), format!("a[{}]", usize::MAX));
    }
}
