//! The STIX 2.1 object types and the family each belongs to.

/// The family of a STIX object type, which decides its common properties
/// and how it is versioned.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Family {
    /// STIX Domain Object (§4): versioned by `modified`.
    Sdo,
    /// STIX Relationship Object (§5): versioned by `modified`.
    Sro,
    /// STIX Cyber-observable Object (§6): not versioned.
    Sco,
    /// `marking-definition` (§7.2): never versioned, identified by `created`.
    MarkingDefinition,
    /// `language-content` (§7.1): versioned like an SDO.
    LanguageContent,
    /// `extension-definition` (§7.3): versioned like an SDO.
    ExtensionDefinition,
    /// A custom or extension-defined type that carries `created` and
    /// `modified`, treated like an SDO.
    CustomVersioned,
    /// A custom or extension-defined type without `created`/`modified`,
    /// treated like an SCO.
    CustomUnversioned,
}

impl Family {
    /// Whether objects of this family are versioned by `modified`.
    pub fn is_versioned(self) -> bool {
        matches!(
            self,
            Family::Sdo
                | Family::Sro
                | Family::LanguageContent
                | Family::ExtensionDefinition
                | Family::CustomVersioned
        )
    }
}

/// The 19 STIX Domain Object types.
pub const SDO_TYPES: &[&str] = &[
    "attack-pattern",
    "campaign",
    "course-of-action",
    "grouping",
    "identity",
    "incident",
    "indicator",
    "infrastructure",
    "intrusion-set",
    "location",
    "malware",
    "malware-analysis",
    "note",
    "observed-data",
    "opinion",
    "report",
    "threat-actor",
    "tool",
    "vulnerability",
];

/// The 2 STIX Relationship Object types.
pub const SRO_TYPES: &[&str] = &["relationship", "sighting"];

/// The 18 STIX Cyber-observable Object types.
pub const SCO_TYPES: &[&str] = &[
    "artifact",
    "autonomous-system",
    "directory",
    "domain-name",
    "email-addr",
    "email-message",
    "file",
    "ipv4-addr",
    "ipv6-addr",
    "mac-addr",
    "mutex",
    "network-traffic",
    "process",
    "software",
    "url",
    "user-account",
    "windows-registry-key",
    "x509-certificate",
];

/// The family of a type defined by STIX 2.1, or `None` for a custom type.
pub fn builtin_family(object_type: &str) -> Option<Family> {
    if SDO_TYPES.contains(&object_type) {
        Some(Family::Sdo)
    } else if SRO_TYPES.contains(&object_type) {
        Some(Family::Sro)
    } else if SCO_TYPES.contains(&object_type) {
        Some(Family::Sco)
    } else {
        match object_type {
            "marking-definition" => Some(Family::MarkingDefinition),
            "language-content" => Some(Family::LanguageContent),
            "extension-definition" => Some(Family::ExtensionDefinition),
            _ => None,
        }
    }
}
