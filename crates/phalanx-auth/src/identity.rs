//! Organisations and users as an administrator enters them: checks that
//! name the offending field, the STIX `identity` object of an
//! organisation, and registration.
//!
//! # The organisation's STIX encoding
//!
//! An organisation is stored twice under one id (`identity--<uuid>`): as a
//! registry record (what the read rule uses) and as a STIX 2.1 `identity`
//! object (`identity_class` `organization`) in the object store, labelled
//! TLP:GREEN, UNCLASSIFIED, so that it can be exported and referred to by
//! `created_by_ref`. Its Phalanx attributes travel in a property extension,
//! [`ORGANISATION_EXTENSION_ID`], whose extension-definition (with a JSON
//! schema, [`organisation_extension_definition`]) is stored beside it:
//!
//! ```json
//! "extensions": {
//!   "extension-definition--b218af75-6998-4a5a-a33a-3e844bc990cf": {
//!     "extension_type": "property-extension",
//!     "country": "LTU",
//!     "memberships": ["EU", "NATO"],
//!     "parent_ref": "identity--…",
//!     "kind": "national-authority"
//!   }
//! }
//! ```
//!
//! `country`, `parent_ref` and an empty `memberships` are omitted (STIX prohibits empty lists); `memberships` is sorted.

use phalanx_labels::{
    EXTENSION_DEFINITION_CREATED, Label, NOBODY, PHALANX_IDENTITY_ID, Policy, Rank, Tlp,
    is_identity_id,
};
use phalanx_model::{StixId, StixObject, Timestamp};
use phalanx_store::{
    NewVersion, OrganisationRecord, Registry, Role, Store, StoreError, UserRecord,
};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::fmt;

/// The id of the Phalanx organisation property extension.
pub const ORGANISATION_EXTENSION_ID: &str =
    "extension-definition--b218af75-6998-4a5a-a33a-3e844bc990cf";

/// The organisation kinds a node knows.
pub const ORGANISATION_KINDS: &[&str] = &[
    "national-authority",
    "national-csirt",
    "sectoral-csirt",
    "government",
    "military",
    "law-enforcement",
    "eu-body",
    "nato-body",
    "partner",
    "isac",
    "private-sector",
    "academia",
    "node-operator",
    "other",
];

/// The kind of an organisation registered without `--kind`.
pub const DEFAULT_KIND: &str = "other";

/// Shortest password accepted, in characters.
pub const MIN_PASSWORD_CHARS: usize = 12;
/// Longest password accepted, in bytes.
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// ISO 3166-1 alpha-3 codes (the 249 officially assigned), plus `XKX`
/// (Kosovo, the user-assigned code the EU and NATO use).
pub const ISO_3166_ALPHA3: &[&str] = &[
    "ABW", "AFG", "AGO", "AIA", "ALA", "ALB", "AND", "ARE", "ARG", "ARM", "ASM", "ATA", "ATF",
    "ATG", "AUS", "AUT", "AZE", "BDI", "BEL", "BEN", "BES", "BFA", "BGD", "BGR", "BHR", "BHS",
    "BIH", "BLM", "BLR", "BLZ", "BMU", "BOL", "BRA", "BRB", "BRN", "BTN", "BVT", "BWA", "CAF",
    "CAN", "CCK", "CHE", "CHL", "CHN", "CIV", "CMR", "COD", "COG", "COK", "COL", "COM", "CPV",
    "CRI", "CUB", "CUW", "CXR", "CYM", "CYP", "CZE", "DEU", "DJI", "DMA", "DNK", "DOM", "DZA",
    "ECU", "EGY", "ERI", "ESH", "ESP", "EST", "ETH", "FIN", "FJI", "FLK", "FRA", "FRO", "FSM",
    "GAB", "GBR", "GEO", "GGY", "GHA", "GIB", "GIN", "GLP", "GMB", "GNB", "GNQ", "GRC", "GRD",
    "GRL", "GTM", "GUF", "GUM", "GUY", "HKG", "HMD", "HND", "HRV", "HTI", "HUN", "IDN", "IMN",
    "IND", "IOT", "IRL", "IRN", "IRQ", "ISL", "ISR", "ITA", "JAM", "JEY", "JOR", "JPN", "KAZ",
    "KEN", "KGZ", "KHM", "KIR", "KNA", "KOR", "KWT", "LAO", "LBN", "LBR", "LBY", "LCA", "LIE",
    "LKA", "LSO", "LTU", "LUX", "LVA", "MAC", "MAF", "MAR", "MCO", "MDA", "MDG", "MDV", "MEX",
    "MHL", "MKD", "MLI", "MLT", "MMR", "MNE", "MNG", "MNP", "MOZ", "MRT", "MSR", "MTQ", "MUS",
    "MWI", "MYS", "MYT", "NAM", "NCL", "NER", "NFK", "NGA", "NIC", "NIU", "NLD", "NOR", "NPL",
    "NRU", "NZL", "OMN", "PAK", "PAN", "PCN", "PER", "PHL", "PLW", "PNG", "POL", "PRI", "PRK",
    "PRT", "PRY", "PSE", "PYF", "QAT", "REU", "ROU", "RUS", "RWA", "SAU", "SDN", "SEN", "SGP",
    "SGS", "SHN", "SJM", "SLB", "SLE", "SLV", "SMR", "SOM", "SPM", "SRB", "SSD", "STP", "SUR",
    "SVK", "SVN", "SWE", "SWZ", "SXM", "SYC", "SYR", "TCA", "TCD", "TGO", "THA", "TJK", "TKL",
    "TKM", "TLS", "TON", "TTO", "TUN", "TUR", "TUV", "TWN", "TZA", "UGA", "UKR", "UMI", "URY",
    "USA", "UZB", "VAT", "VCT", "VEN", "VGB", "VIR", "VNM", "VUT", "WLF", "WSM", "XKX", "YEM",
    "ZAF", "ZMB", "ZWE",
];

/// Whether `code` is an ISO 3166 alpha-3 code (upper case) this node knows.
pub fn is_country(code: &str) -> bool {
    ISO_3166_ALPHA3.binary_search(&code).is_ok()
}

/// An input refused, naming its field (`country`, `member-of`, `parent`,
/// `kind`, `name`, `org`, `role`, `clearance`, `briefed`, `caveat`,
/// `password`). The CLI shows the field as a flag: `--country: ...`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InputError {
    /// The field (the CLI flag without its dashes).
    pub field: &'static str,
    /// What is wrong, lower case.
    pub message: String,
}

impl InputError {
    fn new(field: &'static str, message: impl Into<String>) -> Self {
        InputError {
            field,
            message: message.into(),
        }
    }
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

impl std::error::Error for InputError {}

/// Why registering an organisation or a user failed.
#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    /// An input was refused; nothing was written.
    #[error(transparent)]
    Input(#[from] InputError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A token-like value: not empty, at most 256 bytes, no whitespace, control
/// characters, `,` or `|` (the rules of label tokens).
fn check_token(field: &'static str, value: &str) -> Result<(), InputError> {
    if value.is_empty() {
        return Err(InputError::new(field, "must not be empty"));
    }
    if value.len() > 256 {
        return Err(InputError::new(
            field,
            format!("'{}…' is longer than 256 bytes", short(value)),
        ));
    }
    if value
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || c == ',' || c == '|')
    {
        return Err(InputError::new(
            field,
            format!(
                "'{}' must not contain whitespace, control characters, ',' or '|'",
                short(value)
            ),
        ));
    }
    Ok(())
}

/// The first 64 characters of `s`, control characters shown as `?`.
fn short(s: &str) -> String {
    crate::audit_text(s, 64)
}

/// Checks an organisation's display name: 1..200 characters, no control
/// characters, not an `identity--` id (ids and names are both accepted
/// where an organisation is named). Returns it trimmed.
pub fn check_org_name(name: &str) -> Result<String, InputError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(InputError::new("name", "must not be empty"));
    }
    if name.chars().count() > 200 {
        return Err(InputError::new("name", "is longer than 200 characters"));
    }
    if name.chars().any(char::is_control) {
        return Err(InputError::new(
            "name",
            "must not contain control characters",
        ));
    }
    if name.starts_with("identity--") {
        return Err(InputError::new(
            "name",
            format!("'{}' looks like an id; give a display name", short(name)),
        ));
    }
    Ok(name.to_owned())
}

/// Parses a country: an ISO 3166 alpha-3 code, any case; returns it upper case.
pub fn parse_country(code: &str) -> Result<String, InputError> {
    let upper = code.trim().to_ascii_uppercase();
    if upper.len() == 3 && is_country(&upper) {
        Ok(upper)
    } else {
        Err(InputError::new(
            "country",
            format!(
                "'{}' is not an ISO 3166 alpha-3 code (e.g. LTU, DEU)",
                short(code)
            ),
        ))
    }
}

/// Parses a membership: `EU` or `NATO` (any case), or a community the node
/// defines (a token, kept as given). A country code, an `identity--` id or
/// `NOBODY` is refused: they already mean something in `releasable_to`.
pub fn parse_membership(value: &str) -> Result<String, InputError> {
    let value = value.trim();
    let upper = value.to_ascii_uppercase();
    if upper == "EU" || upper == "NATO" {
        return Ok(upper);
    }
    check_token("member-of", value)?;
    if is_country(&upper) {
        return Err(InputError::new(
            "member-of",
            format!("'{value}' is a country code; give the organisation's country with --country"),
        ));
    }
    if value.starts_with("identity--") || upper == NOBODY || upper == "UNCLASSIFIED" {
        return Err(InputError::new(
            "member-of",
            format!("'{}' cannot name a community", short(value)),
        ));
    }
    Ok(value.to_owned())
}

/// Parses an organisation kind, one of [`ORGANISATION_KINDS`] (any case,
/// `_` or space for `-`).
pub fn parse_kind(kind: &str) -> Result<String, InputError> {
    let norm = kind.trim().to_ascii_lowercase().replace(['_', ' '], "-");
    match ORGANISATION_KINDS.iter().find(|k| **k == norm) {
        Some(k) => Ok((*k).to_owned()),
        None => Err(InputError::new(
            "kind",
            format!(
                "'{}' is not a kind: expected one of {}",
                short(kind),
                ORGANISATION_KINDS.join(", ")
            ),
        )),
    }
}

/// Parses a role: viewer, analyst, responder, coordinator, org-admin, node-admin.
pub fn parse_role(role: &str) -> Result<Role, InputError> {
    role.trim()
        .to_ascii_lowercase()
        .parse::<Role>()
        .map_err(|e| InputError::new("role", e))
}

/// Parses a clearance: UNCLASSIFIED, RESTRICTED, CONFIDENTIAL, SECRET or
/// TOP_SECRET, any case (`TOP SECRET`, `top-secret` too).
pub fn parse_clearance(level: &str) -> Result<Rank, InputError> {
    let norm = level.trim().to_ascii_uppercase().replace([' ', '-'], "_");
    norm.parse::<Rank>().map_err(|_| {
        InputError::new(
            "clearance",
            format!(
                "'{}' is not a clearance: expected UNCLASSIFIED, RESTRICTED, CONFIDENTIAL, SECRET or TOP_SECRET",
                short(level)
            ),
        )
    })
}

/// Parses a briefing: `EU`, `NATO` or `NATIONAL:<alpha-3>`, any case.
pub fn parse_briefing(policy: &str) -> Result<Policy, InputError> {
    let upper = policy.trim().to_ascii_uppercase();
    let ok = match upper.strip_prefix("NATIONAL:") {
        Some(c) => is_country(c),
        None => upper == "EU" || upper == "NATO",
    };
    match upper.parse::<Policy>() {
        Ok(p) if ok => Ok(p),
        _ => Err(InputError::new(
            "briefed",
            format!(
                "'{}' is not a policy to be briefed for: expected EU, NATO or NATIONAL:XXX (ISO 3166 alpha-3)",
                short(policy)
            ),
        )),
    }
}

/// Checks a caveat (a label token, kept exactly as given: caveats match
/// case-sensitively).
pub fn parse_caveat(caveat: &str) -> Result<String, InputError> {
    check_token("caveat", caveat)?;
    Ok(caveat.to_owned())
}

/// Checks a user name: 1..64 characters of ASCII letters, digits, `.`,
/// `_`, `-` and `@`, starting with a letter or digit.
pub fn check_user_name(name: &str) -> Result<(), InputError> {
    let valid = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'@'))
        && name.as_bytes()[0].is_ascii_alphanumeric();
    if valid && !name.starts_with("user--") {
        Ok(())
    } else {
        Err(InputError::new(
            "name",
            format!(
                "'{}' is not a user name: 1 to 64 ASCII letters, digits, '.', '_', '-' or '@', starting with a letter or digit",
                short(name)
            ),
        ))
    }
}

/// Checks a password: at least [`MIN_PASSWORD_CHARS`] characters, at most
/// [`MAX_PASSWORD_BYTES`] bytes.
pub fn check_password(password: &str) -> Result<(), InputError> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(InputError::new(
            "password",
            format!("is shorter than {MIN_PASSWORD_CHARS} characters"),
        ));
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(InputError::new(
            "password",
            format!("is longer than {MAX_PASSWORD_BYTES} bytes"),
        ));
    }
    Ok(())
}

/// The organisation named `name_or_id` (its id, or its name in any case);
/// refused with an error on `field` when there is none.
pub fn find_organisation<R: Registry + ?Sized>(
    registry: &R,
    field: &'static str,
    name_or_id: &str,
) -> Result<OrganisationRecord, RegisterError> {
    match registry.find_organisation(name_or_id.trim())? {
        Some(o) => Ok(o),
        None => Err(InputError::new(
            field,
            format!(
                "no organisation named '{}' or with that id (see `phalanx org list`)",
                short(name_or_id)
            ),
        )
        .into()),
    }
}

/// What an administrator gives for a new organisation.
#[derive(Clone, Debug, Default)]
pub struct OrganisationInput<'a> {
    /// Display name.
    pub name: &'a str,
    /// Country, ISO 3166 alpha-3.
    pub country: Option<&'a str>,
    /// Memberships: `EU`, `NATO`, communities.
    pub member_of: &'a [String],
    /// Parent organisation, by name or id.
    pub parent: Option<&'a str>,
    /// Kind, one of [`ORGANISATION_KINDS`].
    pub kind: Option<&'a str>,
}

/// Checks everything given for a new organisation against the registry
/// (unique name, existing parent) and builds its record with a new id.
/// Writes nothing.
pub fn organisation_record<R: Registry + ?Sized>(
    registry: &R,
    input: &OrganisationInput<'_>,
) -> Result<OrganisationRecord, RegisterError> {
    let name = check_org_name(input.name)?;
    let country = input.country.map(parse_country).transpose()?;
    let memberships = input
        .member_of
        .iter()
        .map(|m| parse_membership(m))
        .collect::<Result<BTreeSet<_>, _>>()?;
    let kind = input
        .kind
        .map(parse_kind)
        .transpose()?
        .unwrap_or_else(|| DEFAULT_KIND.to_owned());
    if let Some(existing) = registry.find_organisation(&name)? {
        return Err(InputError::new(
            "name",
            format!(
                "an organisation named '{}' already exists ({})",
                existing.name, existing.org.id
            ),
        )
        .into());
    }
    let parent = match input.parent {
        Some(p) => Some(find_organisation(registry, "parent", p)?.org.id),
        None => None,
    };
    let mut org = phalanx_labels::Organisation::new(StixId::new_v4("identity").to_string());
    org.country = country;
    org.memberships = memberships;
    org.parent = parent;
    Ok(OrganisationRecord {
        org,
        name,
        kind,
        created: Timestamp::now(3),
    })
}

/// The STIX `identity` object of an organisation (see the module
/// documentation), created by `created_by` and marked TLP:GREEN.
pub fn organisation_identity(record: &OrganisationRecord, created_by: Option<&str>) -> Value {
    let mut ext = serde_json::Map::new();
    ext.insert("extension_type".into(), json!("property-extension"));
    if let Some(c) = &record.org.country {
        ext.insert("country".into(), json!(c));
    }
    // STIX prohibits empty lists: no memberships leaves the key out.
    if !record.org.memberships.is_empty() {
        ext.insert("memberships".into(), json!(record.org.memberships));
    }
    if let Some(p) = &record.org.parent {
        ext.insert("parent_ref".into(), json!(p));
    }
    ext.insert("kind".into(), json!(record.kind));
    let created = record.created.with_digits(3).to_string();
    let mut object = json!({
        "type": "identity",
        "spec_version": "2.1",
        "id": record.org.id,
        "created": created,
        "modified": created,
        "name": record.name,
        "identity_class": "organization",
        "object_marking_refs": [Tlp::Green.marking_id()],
        "extensions": { ORGANISATION_EXTENSION_ID: Value::Object(ext) }
    });
    if let (Some(by), Value::Object(map)) = (created_by, &mut object) {
        map.insert("created_by_ref".into(), json!(by));
    }
    object
}

/// The JSON schema of the organisation extension's content.
pub fn organisation_extension_schema() -> Value {
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Phalanx organisation",
        "description": "What the Phalanx read rule knows of an organisation of the federation: its country, the groups it is a member of, its parent organisation (a national CSIRT is the parent of its constituents, the clients of TLP:AMBER) and its kind.",
        "type": "object",
        "properties": {
            "extension_type": { "const": "property-extension" },
            "country": { "type": "string", "pattern": "^[A-Z]{3}$" },
            "memberships": {
                "type": "array", "uniqueItems": true, "minItems": 1,
                "items": { "type": "string", "minLength": 1, "maxLength": 256, "pattern": "^[^\\s,|]+$" }
            },
            "parent_ref": { "type": "string", "pattern": "^identity--[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$" },
            "kind": { "enum": ORGANISATION_KINDS }
        },
        "required": ["extension_type", "kind"],
        "additionalProperties": false
    })
}

/// The extension-definition of the organisation property extension.
pub fn organisation_extension_definition() -> Value {
    json!({
        "type": "extension-definition",
        "spec_version": "2.1",
        "id": ORGANISATION_EXTENSION_ID,
        "created_by_ref": PHALANX_IDENTITY_ID,
        "created": EXTENSION_DEFINITION_CREATED,
        "modified": EXTENSION_DEFINITION_CREATED,
        "name": "Phalanx organisation",
        "description": "Country, memberships, parent organisation and kind of an organisation of a Phalanx federation, on its identity object.",
        "schema": organisation_extension_schema().to_string(),
        "version": "1.0.0",
        "extension_types": ["property-extension"]
    })
}

fn parse(value: Value) -> Result<StixObject, StoreError> {
    StixObject::from_value(value, "$")
        .map(|p| p.object)
        .map_err(|e| StoreError::Corrupt {
            what: "generated organisation identity".into(),
            message: e.to_string(),
        })
}

/// Registers a checked organisation (see [`organisation_record`]): in one
/// write transaction its STIX identity (TLP:GREEN, UNCLASSIFIED,
/// originator and `created_by_ref` `originator`, origin `origin`), the
/// extension definition if the store lacks it, and an `org-created` audit
/// entry by `by`; then the registry record under the same id.
pub fn register_organisation<S: Store + ?Sized>(
    store: &S,
    record: &OrganisationRecord,
    originator: &str,
    by: &str,
    origin: &str,
) -> Result<(), RegisterError> {
    if !is_identity_id(originator) {
        return Err(InputError::new(
            "originator",
            format!("'{}' is not an identity id", short(originator)),
        )
        .into());
    }
    let identity = parse(organisation_identity(record, Some(originator)))?;
    let identity_json = identity.to_json_string();
    let green = Label::unclassified(Tlp::Green).with_originator(Some(originator.to_owned()));
    let mut txn = store.begin()?;
    if txn.versions_of(ORGANISATION_EXTENSION_ID)?.is_empty() {
        let def = parse(organisation_extension_definition())?;
        let json = def.to_json_string();
        let clear = Label::unclassified(Tlp::Clear).with_originator(Some(originator.to_owned()));
        txn.put(NewVersion {
            object: &def,
            json: &json,
            label: &clear,
            origin: "builtin",
        })?;
    }
    txn.put(NewVersion {
        object: &identity,
        json: &identity_json,
        label: &green,
        origin,
    })?;
    txn.audit(
        by,
        "org-created",
        &record.org.id,
        &json!({
            "name": record.name,
            "country": record.org.country,
            "memberships": record.org.memberships,
            "parent": record.org.parent,
            "kind": record.kind,
        }),
    )?;
    txn.commit()?;
    store.put_organisation(record)?;
    Ok(())
}

/// What an administrator gives for a new user.
#[derive(Clone, Debug, Default)]
pub struct UserInput<'a> {
    /// The user's organisation, by name or id.
    pub org: &'a str,
    /// Login name.
    pub name: &'a str,
    /// Role (default viewer).
    pub role: Option<&'a str>,
    /// Clearance (default UNCLASSIFIED).
    pub clearance: Option<&'a str>,
    /// Policies briefed for.
    pub briefed: &'a [String],
    /// Caveats held.
    pub caveats: &'a [String],
}

/// Checks everything given for a new user against the registry (existing
/// organisation, unique name) and builds its record with a new id and no
/// password. Writes nothing.
pub fn user_record<R: Registry + ?Sized>(
    registry: &R,
    input: &UserInput<'_>,
) -> Result<UserRecord, RegisterError> {
    check_user_name(input.name)?;
    let role = input
        .role
        .map(parse_role)
        .transpose()?
        .unwrap_or(Role::Viewer);
    let clearance = input
        .clearance
        .map(parse_clearance)
        .transpose()?
        .unwrap_or(Rank::Unclassified);
    let briefed = input
        .briefed
        .iter()
        .map(|b| parse_briefing(b))
        .collect::<Result<BTreeSet<_>, _>>()?;
    let caveats = input
        .caveats
        .iter()
        .map(|c| parse_caveat(c))
        .collect::<Result<BTreeSet<_>, _>>()?;
    let org = find_organisation(registry, "org", input.org)?;
    if registry.users()?.iter().any(|u| u.name == input.name) {
        return Err(InputError::new(
            "name",
            format!("a user named '{}' already exists", input.name),
        )
        .into());
    }
    Ok(UserRecord {
        id: format!("user--{}", uuid::Uuid::new_v4()),
        name: input.name.to_owned(),
        org_id: org.org.id,
        role,
        clearance,
        briefed,
        caveats,
        password_hash: None,
        created: Timestamp::now(3),
        disabled: false,
    })
}

/// Stores a checked user and audits `user-created` by `by` (the password
/// hash is never written to the log).
pub fn register_user<R: Registry + ?Sized>(
    registry: &R,
    user: &UserRecord,
    by: &str,
) -> Result<(), StoreError> {
    registry.put_user(user)?;
    registry.audit(
        by,
        "user-created",
        &user.name,
        &json!({
            "id": user.id,
            "organisation": user.org_id,
            "role": user.role.as_str(),
            "clearance": user.clearance.as_str(),
            "briefed": user.briefed.iter().map(|p| p.to_string()).collect::<Vec<_>>(),
            "caveats": user.caveats,
            "password": user.password_hash.is_some(),
        }),
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::fixture;
    use phalanx_store::VersionFilter;

    #[test]
    fn the_country_list_is_sorted_and_complete() {
        assert_eq!(ISO_3166_ALPHA3.len(), 250, "249 ISO codes and XKX");
        assert!(
            ISO_3166_ALPHA3.windows(2).all(|w| w[0] < w[1]),
            "sorted, no duplicates"
        );
        assert!(ISO_3166_ALPHA3.iter().all(|c| phalanx_labels::is_alpha3(c)));
        for c in [
            "LTU", "EST", "LVA", "DEU", "FRA", "USA", "GBR", "UKR", "XKX",
        ] {
            assert!(is_country(c), "{c}");
        }
    }

    #[test]
    fn inputs_are_checked_and_errors_name_the_field() {
        assert_eq!(parse_country("ltu").unwrap(), "LTU");
        let e = parse_country("LT").unwrap_err();
        assert_eq!(
            e.to_string(),
            "country: 'LT' is not an ISO 3166 alpha-3 code (e.g. LTU, DEU)"
        );
        assert!(parse_country("XXX").is_err());
        assert_eq!(parse_membership("eu").unwrap(), "EU");
        assert_eq!(parse_membership("Baltic-CERTs").unwrap(), "Baltic-CERTs");
        for bad in [
            "LTU",
            "",
            "a b",
            "x,y",
            "NOBODY",
            "identity--6d1bb8a3-4ad4-4a8d-9a63-7a1a6bd0f2ad",
        ] {
            assert_eq!(
                parse_membership(bad).unwrap_err().field,
                "member-of",
                "{bad}"
            );
        }
        assert_eq!(parse_kind("ISAC").unwrap(), "isac");
        assert_eq!(parse_kind("EU body").unwrap(), "eu-body");
        assert_eq!(parse_kind("bank").unwrap_err().field, "kind");
        assert_eq!(parse_role("Org-Admin").unwrap(), Role::OrgAdmin);
        assert_eq!(parse_role("root").unwrap_err().field, "role");
        assert_eq!(parse_clearance("secret").unwrap(), Rank::Secret);
        assert_eq!(parse_clearance("Top Secret").unwrap(), Rank::TopSecret);
        assert_eq!(parse_clearance("top_secret").unwrap(), Rank::TopSecret);
        assert_eq!(parse_clearance("COSMIC").unwrap_err().field, "clearance");
        assert_eq!(parse_briefing("nato").unwrap(), Policy::Nato);
        assert_eq!(
            parse_briefing("national:ltu").unwrap(),
            Policy::National("LTU".into())
        );
        for bad in ["UNCLASSIFIED", "NATIONAL:XX", "NATIONAL:QQQ", "UN"] {
            assert_eq!(parse_briefing(bad).unwrap_err().field, "briefed", "{bad}");
        }
        assert_eq!(parse_caveat("ATOMAL").unwrap(), "ATOMAL");
        assert_eq!(parse_caveat("A|B").unwrap_err().field, "caveat");
        assert!(check_user_name("alice.b@cert-lt").is_ok());
        for bad in ["", "-x", "a b", "user--1", &"a".repeat(65)] {
            assert_eq!(check_user_name(bad).unwrap_err().field, "name", "{bad}");
        }
        assert!(check_org_name("  CERT-LT ").is_ok());
        assert!(check_org_name("identity--x").is_err());
        assert!(check_password("short").is_err());
        assert!(check_password("long enough password").is_ok());
    }

    #[test]
    fn an_organisation_is_stored_as_a_stix_identity_under_the_registry_id() {
        let f = fixture();
        let members = vec!["EU".to_owned(), "nato".to_owned()];
        let input = OrganisationInput {
            name: "CERT-LT",
            country: Some("LTU"),
            member_of: &members,
            parent: Some(&f.org_id),
            kind: Some("national-csirt"),
        };
        let record = organisation_record(&f.store, &input).unwrap();
        register_organisation(&f.store, &record, &f.org_id, "user:admin", "local:admin").unwrap();
        let found = f.store.find_organisation("cert-lt").unwrap().unwrap();
        assert_eq!(found, record);
        assert_eq!(found.org.parent.as_deref(), Some(f.org_id.as_str()));
        // The STIX identity, readable by a reader of another organisation (TLP:GREEN).
        let stored = f
            .store
            .get(&f.actor.subject, &record.org.id, &VersionFilter::Last)
            .unwrap();
        assert_eq!(stored.len(), 1);
        let v: Value = serde_json::from_str(&stored[0].json).unwrap();
        assert_eq!(v["identity_class"], "organization");
        assert_eq!(v["name"], "CERT-LT");
        let ext = &v["extensions"][ORGANISATION_EXTENSION_ID];
        assert_eq!(ext["country"], "LTU");
        assert_eq!(ext["memberships"], json!(["EU", "NATO"]));
        assert_eq!(ext["parent_ref"], json!(f.org_id));
        assert_eq!(ext["kind"], "national-csirt");
        assert_eq!(stored[0].label.tlp, Some(Tlp::Green));
        assert!(
            !f.store
                .get(
                    &f.actor.subject,
                    ORGANISATION_EXTENSION_ID,
                    &VersionFilter::Last
                )
                .unwrap()
                .is_empty()
        );
        let audit = f.store.audit_entries(0, usize::MAX).unwrap();
        assert!(
            audit
                .iter()
                .any(|e| e.action == "org-created" && e.target == record.org.id)
        );

        // A second one with the same name, in another case, is refused.
        let again = OrganisationInput {
            name: "cert-LT",
            ..Default::default()
        };
        let err = organisation_record(&f.store, &again).unwrap_err();
        assert!(
            matches!(err, RegisterError::Input(InputError { field: "name", .. })),
            "{err}"
        );
        let orphan = OrganisationInput {
            name: "X",
            parent: Some("nope"),
            ..Default::default()
        };
        let err = organisation_record(&f.store, &orphan).unwrap_err();
        assert!(
            matches!(
                err,
                RegisterError::Input(InputError {
                    field: "parent",
                    ..
                })
            ),
            "{err}"
        );
    }

    #[test]
    fn users_are_checked_against_the_registry() {
        let f = fixture();
        let briefed = vec!["EU".to_owned()];
        let input = UserInput {
            org: "Test org",
            name: "bob",
            clearance: Some("secret"),
            briefed: &briefed,
            ..Default::default()
        };
        let user = user_record(&f.store, &input).unwrap();
        assert_eq!(
            (user.org_id.as_str(), user.role, user.clearance),
            (f.org_id.as_str(), Role::Viewer, Rank::Secret)
        );
        register_user(&f.store, &user, "cli").unwrap();
        let err = user_record(&f.store, &input).unwrap_err();
        assert!(
            matches!(err, RegisterError::Input(InputError { field: "name", .. })),
            "{err}"
        );
        let missing = UserInput {
            org: "Nowhere",
            name: "carol",
            ..Default::default()
        };
        let err = user_record(&f.store, &missing).unwrap_err();
        assert!(
            matches!(err, RegisterError::Input(InputError { field: "org", .. })),
            "{err}"
        );
    }
}
