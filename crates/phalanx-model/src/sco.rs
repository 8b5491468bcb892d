//! Deterministic SCO identifiers (STIX 2.1 §2.9): UUIDv5 in the STIX
//! namespace over the JCS form of the ID-contributing properties.

use crate::id::StixId;
use crate::jcs::canonicalize;
use serde_json::{Map, Value};
use uuid::Uuid;

/// The namespace of deterministic SCO ids.
pub const SCO_NAMESPACE: Uuid = Uuid::from_u128(0x00abedb4_aa42_466c_9c01_fed23315a9b7);

/// The ID-contributing properties of each SCO type (§6). `process` has
/// none: its ids are always UUIDv4.
pub fn contributing_properties(object_type: &str) -> Option<&'static [&'static str]> {
    Some(match object_type {
        "artifact" => &["hashes", "payload_bin"],
        "autonomous-system" => &["number"],
        "directory" => &["path"],
        "domain-name" | "email-addr" | "ipv4-addr" | "ipv6-addr" | "mac-addr" | "url" => &["value"],
        "email-message" => &["from_ref", "subject", "body"],
        "file" => &["hashes", "name", "extensions", "parent_directory_ref"],
        "mutex" => &["name"],
        "network-traffic" => &[
            "start",
            "end",
            "src_ref",
            "dst_ref",
            "src_port",
            "dst_port",
            "protocols",
            "extensions",
        ],
        "software" => &["name", "cpe", "swid", "vendor", "version"],
        "user-account" => &["account_type", "user_id", "account_login"],
        "windows-registry-key" => &["key", "values"],
        "x509-certificate" => &["hashes", "serial_number"],
        _ => return None,
    })
}

/// One hash, chosen in the order MD5, SHA-1, SHA-256, SHA-512, else the
/// first one given (as OASIS python-stix2 does).
fn choose_one_hash(hashes: &Map<String, Value>) -> Option<(String, Value)> {
    for name in ["MD5", "SHA-1", "SHA-256", "SHA-512"] {
        if let Some(v) = hashes.get(name) {
            return Some((name.to_owned(), v.clone()));
        }
    }
    hashes.iter().next().map(|(k, v)| (k.clone(), v.clone()))
}

/// The deterministic id of an SCO, or `None` when the type has no
/// contributing properties or the object has none of them (then a UUIDv4
/// is right).
pub fn deterministic_id(object_type: &str, map: &Map<String, Value>) -> Option<StixId> {
    let props = contributing_properties(object_type)?;
    let mut contributing = Map::new();
    for prop in props {
        let Some(value) = map.get(*prop) else { continue };
        if *prop == "hashes" {
            if let Some((k, v)) = value.as_object().and_then(choose_one_hash) {
                let mut one = Map::new();
                one.insert(k, v);
                contributing.insert("hashes".into(), Value::Object(one));
            }
            continue;
        }
        contributing.insert((*prop).to_owned(), value.clone());
    }
    if contributing.is_empty() {
        return None;
    }
    let name = canonicalize(&Value::Object(contributing));
    Some(StixId::new(object_type, Uuid::new_v5(&SCO_NAMESPACE, name.as_bytes())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn id_of(ty: &str, v: Value) -> String {
        deterministic_id(ty, v.as_object().unwrap()).unwrap().to_string()
    }

    #[test]
    fn vectors_checked_against_python_stix2() {
        assert_eq!(
            id_of("ipv4-addr", json!({"value": "198.51.100.7"})),
            "ipv4-addr--12592121-be4c-5a93-a813-5a5af16e50db"
        );
        assert_eq!(
            id_of(
                "file",
                json!({"hashes": {"SHA-256": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "MD5": "d41d8cd98f00b204e9800998ecf8427e"}, "name": "foo.exe"})
            ),
            "file--51d0535d-dfbb-5909-b066-8ee329783353"
        );
        assert_eq!(
            id_of("email-addr", json!({"value": "jöhn@example.com"})),
            "email-addr--1910b314-af26-5215-971c-b7047face420"
        );
    }

    #[test]
    fn process_has_no_deterministic_id() {
        assert!(deterministic_id("process", json!({"pid": 4}).as_object().unwrap()).is_none());
        assert!(deterministic_id("file", json!({"size": 4}).as_object().unwrap()).is_none());
    }
}
