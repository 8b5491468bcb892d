//! Type-specific rules: required properties, property types and
//! vocabularies of each STIX 2.1 object type.

use crate::check::Checker;
use serde_json::{Map, Value};

/// Checks the properties specific to `object_type`.
pub(crate) fn check_type(object_type: &str, map: &Map<String, Value>, c: &mut Checker) {
    match object_type {
        "indicator" => {
            c.require(map, &["pattern", "pattern_type", "valid_from"]);
            c.timestamp(map, "valid_from");
            c.timestamp(map, "valid_until");
            if let (Some("stix"), Some(pattern)) =
                (map.get("pattern_type").and_then(Value::as_str), map.get("pattern").and_then(Value::as_str))
            {
                if let Err(e) = crate::pattern_check(pattern) {
                    c.error("pattern", "pattern-syntax", format!("invalid stix pattern: {e}"));
                }
            }
        }
        "malware" => {
            c.require(map, &["is_family"]);
            if c.boolean(map, "is_family") == Some(true) {
                c.require(map, &["name"]);
            }
        }
        "malware-analysis" => {
            c.require(map, &["product"]);
            c.require_one_of(map, &["result", "analysis_sco_refs"]);
        }
        "report" => c.require(map, &["name", "published", "object_refs"]),
        "grouping" => c.require(map, &["context", "object_refs"]),
        "note" => c.require(map, &["content", "object_refs"]),
        "opinion" => c.require(map, &["opinion", "object_refs"]),
        "observed-data" => c.require(map, &["first_observed", "last_observed", "number_observed"]),
        "location" => {
            if !map.contains_key("region") && !map.contains_key("country") {
                c.require(map, &["latitude", "longitude"]);
            }
        }
        "relationship" => c.require(map, &["relationship_type", "source_ref", "target_ref"]),
        "sighting" => c.require(map, &["sighting_of_ref"]),
        "extension-definition" => c.require(map, &["name", "schema", "version", "extension_types", "created_by_ref"]),
        "attack-pattern" | "campaign" | "course-of-action" | "identity" | "incident" | "infrastructure"
        | "intrusion-set" | "threat-actor" | "tool" | "vulnerability" => c.require(map, &["name"]),
        _ => {}
    }
}
