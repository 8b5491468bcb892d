//! The label model of spec §1: policies, ranks, TLP, PAP and the label itself.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::LabelError;

/// The reserved `releasable_to` token that no organisation matches.
///
/// [`lub`](crate::lub) produces `releasable_to = ["NOBODY"]` when the
/// intersection of two releasability lists is empty: an empty list would
/// mean "the policy's default community" and widen access, so the result
/// names a token that matches nobody instead. Only the originator (through
/// its own exemption in rule 2) can then read the object. `NOBODY` must
/// stand alone in a list, and is refused with TLP `amber`, `amber+strict`
/// and `red`, where an empty list already means "the originator alone".
pub const NOBODY: &str = "NOBODY";

/// Longest token (releasable_to entry, caveat, exercise id) accepted, in bytes.
pub const MAX_TOKEN_LEN: usize = 256;

/// Whose classification scheme applies to a label (spec §1).
///
/// Written as `UNCLASSIFIED`, `EU`, `NATO` or `NATIONAL:<alpha-3>` (e.g.
/// `NATIONAL:LTU`), both by [`Display`](fmt::Display)/[`FromStr`] and serde.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Policy {
    /// No classification scheme: rank 0 only.
    Unclassified,
    /// The EU classification scheme (EUCI): ranks 1..4.
    Eu,
    /// The NATO classification scheme: ranks 0..4 (0 = NATO UNCLASSIFIED).
    Nato,
    /// A national scheme; holds the ISO 3166 alpha-3 code, uppercase.
    National(String),
}

impl Policy {
    /// The token whose matching organisations form this policy's default
    /// community (spec §1): `EU`, `NATO`, the country code, or `None` for
    /// `UNCLASSIFIED`, whose default community is every organisation.
    pub fn default_community_token(&self) -> Option<&str> {
        match self {
            Policy::Unclassified => None,
            Policy::Eu => Some("EU"),
            Policy::Nato => Some("NATO"),
            Policy::National(c) => Some(c.as_str()),
        }
    }

    /// Whether `rank` is a valid classification under this policy.
    pub fn allows(&self, rank: Rank) -> bool {
        match self {
            Policy::Unclassified => rank == Rank::Unclassified,
            Policy::Nato => true,
            Policy::Eu | Policy::National(_) => rank > Rank::Unclassified,
        }
    }
}

/// Whether `s` is an ISO 3166 alpha-3 shaped code: three ASCII uppercase letters.
pub fn is_alpha3(s: &str) -> bool {
    s.len() == 3 && s.bytes().all(|b| b.is_ascii_uppercase())
}

impl fmt::Display for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Policy::Unclassified => f.write_str("UNCLASSIFIED"),
            Policy::Eu => f.write_str("EU"),
            Policy::Nato => f.write_str("NATO"),
            Policy::National(c) => write!(f, "NATIONAL:{c}"),
        }
    }
}

impl FromStr for Policy {
    type Err = LabelError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "UNCLASSIFIED" => Ok(Policy::Unclassified),
            "EU" => Ok(Policy::Eu),
            "NATO" => Ok(Policy::Nato),
            _ => match s.strip_prefix("NATIONAL:") {
                Some(c) if is_alpha3(c) => Ok(Policy::National(c.to_string())),
                _ => Err(LabelError::InvalidPolicy {
                    value: s.to_string(),
                }),
            },
        }
    }
}

/// A classification rank, 0..4 (spec §1). Ordered from lowest to highest.
///
/// Written as `UNCLASSIFIED`, `RESTRICTED`, `CONFIDENTIAL`, `SECRET`,
/// `TOP_SECRET`; [`Rank::from_u8`] and `as u8` convert to and from numbers.
/// The default is the lowest rank, `UNCLASSIFIED`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
#[repr(u8)]
pub enum Rank {
    /// Rank 0.
    #[default]
    Unclassified = 0,
    /// Rank 1.
    Restricted = 1,
    /// Rank 2.
    Confidential = 2,
    /// Rank 3.
    Secret = 3,
    /// Rank 4.
    TopSecret = 4,
}

impl Rank {
    /// All ranks, lowest first.
    pub const ALL: [Rank; 5] = [
        Rank::Unclassified,
        Rank::Restricted,
        Rank::Confidential,
        Rank::Secret,
        Rank::TopSecret,
    ];

    /// The rank with number `n` (0..4), or `None`.
    pub fn from_u8(n: u8) -> Option<Rank> {
        Rank::ALL.get(usize::from(n)).copied()
    }

    /// The rank name: `UNCLASSIFIED`, `RESTRICTED`, `CONFIDENTIAL`, `SECRET`, `TOP_SECRET`.
    pub fn as_str(self) -> &'static str {
        match self {
            Rank::Unclassified => "UNCLASSIFIED",
            Rank::Restricted => "RESTRICTED",
            Rank::Confidential => "CONFIDENTIAL",
            Rank::Secret => "SECRET",
            Rank::TopSecret => "TOP_SECRET",
        }
    }
}

impl fmt::Display for Rank {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Rank {
    type Err = LabelError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Rank::ALL
            .iter()
            .copied()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| LabelError::InvalidRank {
                value: s.to_string(),
            })
    }
}

/// A FIRST TLP 2.0 level. Ordered by restrictiveness:
/// `clear < green < amber < amber+strict < red`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Tlp {
    /// TLP:CLEAR (TLP 1.0 WHITE): public.
    Clear,
    /// TLP:GREEN: the community.
    Green,
    /// TLP:AMBER: the recipient organisations and their clients.
    Amber,
    /// TLP:AMBER+STRICT: the recipient organisations only.
    AmberStrict,
    /// TLP:RED: the named recipients only.
    Red,
}

impl Tlp {
    /// All levels, least restrictive first.
    pub const ALL: [Tlp; 5] = [
        Tlp::Clear,
        Tlp::Green,
        Tlp::Amber,
        Tlp::AmberStrict,
        Tlp::Red,
    ];

    /// The TLP 2.0 level text: `clear`, `green`, `amber`, `amber+strict`, `red`.
    pub fn as_str(self) -> &'static str {
        match self {
            Tlp::Clear => "clear",
            Tlp::Green => "green",
            Tlp::Amber => "amber",
            Tlp::AmberStrict => "amber+strict",
            Tlp::Red => "red",
        }
    }

    /// Whether an empty `releasable_to` means "the originator alone" under
    /// this level (spec §3 rule 4: `amber`, `amber+strict`, `red`).
    pub fn restricts_empty_releasability(self) -> bool {
        matches!(self, Tlp::Amber | Tlp::AmberStrict | Tlp::Red)
    }
}

impl fmt::Display for Tlp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Tlp {
    type Err = LabelError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Tlp::ALL
            .iter()
            .copied()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| LabelError::InvalidTlp {
                value: s.to_string(),
            })
    }
}

/// A PAP (Permissible Actions Protocol) level. Ordered by restrictiveness:
/// `clear < green < amber < red`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Pap {
    /// PAP:CLEAR.
    Clear,
    /// PAP:GREEN.
    Green,
    /// PAP:AMBER.
    Amber,
    /// PAP:RED.
    Red,
}

impl Pap {
    /// All levels, least restrictive first.
    pub const ALL: [Pap; 4] = [Pap::Clear, Pap::Green, Pap::Amber, Pap::Red];

    /// The level text: `clear`, `green`, `amber`, `red`.
    pub fn as_str(self) -> &'static str {
        match self {
            Pap::Clear => "clear",
            Pap::Green => "green",
            Pap::Amber => "amber",
            Pap::Red => "red",
        }
    }
}

impl fmt::Display for Pap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Pap {
    type Err = LabelError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Pap::ALL
            .iter()
            .copied()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| LabelError::InvalidPap {
                value: s.to_string(),
            })
    }
}

/// Serde as the `Display`/`FromStr` text, for the small enums above.
macro_rules! serde_via_str {
    ($($t:ty),*) => {$(
        impl Serialize for $t {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }
        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    )*};
}
serde_via_str!(Policy, Rank, Tlp, Pap);

/// National display names of ranks, from the node's configuration
/// (spec §1): country code → rank → display name, e.g. `DEU` →
/// `RESTRICTED` → `VS-NUR FÜR DEN DIENSTGEBRAUCH`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct NationalNames(pub BTreeMap<String, BTreeMap<Rank, String>>);

impl NationalNames {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the display name of `rank` under `NATIONAL:<country>`.
    pub fn insert(&mut self, country: &str, rank: Rank, name: &str) {
        self.0
            .entry(country.to_string())
            .or_default()
            .insert(rank, name.to_string());
    }

    /// The configured display name of `rank` under `NATIONAL:<country>`, if any.
    pub fn get(&self, country: &str, rank: Rank) -> Option<&str> {
        self.0.get(country)?.get(&rank).map(String::as_str)
    }
}

/// The display name of `rank` under `policy` (spec §1).
///
/// EU ranks 1..4: `RESTREINT UE/EU RESTRICTED`, `CONFIDENTIEL UE/EU
/// CONFIDENTIAL`, `SECRET UE/EU SECRET`, `TRES SECRET UE/EU TOP SECRET`.
/// NATO: `NATO UNCLASSIFIED`, `NATO RESTRICTED`, `NATO CONFIDENTIAL`,
/// `NATO SECRET`, `COSMIC TOP SECRET`. `NATIONAL:X`: the configured name from
/// `national_names`, else the rank name. `UNCLASSIFIED`: `UNCLASSIFIED`.
/// A pair that is not valid (e.g. EU rank 0) shows the plain rank name.
pub fn display_name(policy: &Policy, rank: Rank, national_names: Option<&NationalNames>) -> String {
    let fixed = match (policy, rank) {
        (Policy::Eu, Rank::Restricted) => "RESTREINT UE/EU RESTRICTED",
        (Policy::Eu, Rank::Confidential) => "CONFIDENTIEL UE/EU CONFIDENTIAL",
        (Policy::Eu, Rank::Secret) => "SECRET UE/EU SECRET",
        (Policy::Eu, Rank::TopSecret) => "TRES SECRET UE/EU TOP SECRET",
        (Policy::Nato, Rank::Unclassified) => "NATO UNCLASSIFIED",
        (Policy::Nato, Rank::Restricted) => "NATO RESTRICTED",
        (Policy::Nato, Rank::Confidential) => "NATO CONFIDENTIAL",
        (Policy::Nato, Rank::Secret) => "NATO SECRET",
        (Policy::Nato, Rank::TopSecret) => "COSMIC TOP SECRET",
        (Policy::National(c), r) => {
            return national_names
                .and_then(|n| n.get(c, r))
                .unwrap_or(r.as_str())
                .to_string();
        }
        (_, r) => r.as_str(),
    };
    fixed.to_string()
}

/// The marking part of a label: everything the Phalanx label
/// marking-definition carries (spec §6), i.e. a [`Label`] without TLP and
/// originator.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LabelMarking {
    /// Whose classification scheme applies.
    pub policy: Policy,
    /// The rank under that policy.
    pub classification: Rank,
    /// Who the originator allows it to reach; empty = the policy's default community.
    #[serde(default)]
    pub releasable_to: BTreeSet<String>,
    /// Need-to-know compartments; a reader must hold every one.
    #[serde(default)]
    pub caveats: BTreeSet<String>,
    /// Permissible actions.
    #[serde(default)]
    pub pap: Option<Pap>,
    /// Exercise id; `None` = real-world data.
    #[serde(default)]
    pub exercise: Option<String>,
}

impl LabelMarking {
    /// UNCLASSIFIED, releasable to everyone, no caveats, no PAP, real world:
    /// the marking of an object that carries no Phalanx label (spec §6).
    pub fn unclassified() -> Self {
        LabelMarking {
            policy: Policy::Unclassified,
            classification: Rank::Unclassified,
            releasable_to: BTreeSet::new(),
            caveats: BTreeSet::new(),
            pap: None,
            exercise: None,
        }
    }

    /// Checks the policy/rank pair and every token (see [`Label::validate`]).
    pub fn validate(&self) -> Result<(), LabelError> {
        if !self.policy.allows(self.classification) {
            return Err(LabelError::InvalidPolicyRank {
                policy: self.policy.clone(),
                classification: self.classification,
            });
        }
        if let Policy::National(c) = &self.policy
            && !is_alpha3(c)
        {
            return Err(LabelError::InvalidPolicy {
                value: self.policy.to_string(),
            });
        }
        for t in &self.releasable_to {
            check_token("releasable_to", t)?;
            if t.starts_with("identity--") && !is_identity_id(t) {
                return Err(LabelError::InvalidToken {
                    field: "releasable_to",
                    token: t.clone(),
                    reason: "is not a valid identity id (identity--<lowercase uuid>)",
                });
            }
        }
        if self.releasable_to.contains(NOBODY) && self.releasable_to.len() > 1 {
            return Err(LabelError::InvalidToken {
                field: "releasable_to",
                token: NOBODY.to_string(),
                reason: "must stand alone (it is the reserved token that no organisation matches)",
            });
        }
        for c in &self.caveats {
            check_token("caveats", c)?;
        }
        if let Some(e) = &self.exercise {
            check_token("exercise", e)?;
        }
        Ok(())
    }

    /// The canonical form (spec §6):
    /// `policy|classification|sorted releasable_to joined by ,|sorted caveats joined by ,|pap|exercise`,
    /// absent values as empty strings. Unambiguous only for a valid marking
    /// (tokens contain no `,` or `|`).
    pub fn canonical_form(&self) -> String {
        // BTreeSet iterates in byte order: the sort the spec asks for.
        let rel: Vec<&str> = self.releasable_to.iter().map(String::as_str).collect();
        let cav: Vec<&str> = self.caveats.iter().map(String::as_str).collect();
        format!(
            "{}|{}|{}|{}|{}|{}",
            self.policy,
            self.classification,
            rel.join(","),
            cav.join(","),
            self.pap.map(Pap::as_str).unwrap_or(""),
            self.exercise.as_deref().unwrap_or("")
        )
    }

    /// A human display of the marking, used as the marking-definition name:
    /// `[EXERCISE <id> ]<classification>[ <caveats>][ REL TO <tokens>]`,
    /// e.g. `NATO SECRET REL TO EU`. A national classification is preceded
    /// by its country code (`DEU VS-NUR FÜR DEN DIENSTGEBRAUCH`, `LTU
    /// RESTRICTED`), so the name says whose scheme applies.
    pub fn display_name(&self, national_names: Option<&NationalNames>) -> String {
        let mut s = String::new();
        if let Some(e) = &self.exercise {
            s.push_str("EXERCISE ");
            s.push_str(e);
            s.push(' ');
        }
        if let Policy::National(c) = &self.policy {
            s.push_str(c);
            s.push(' ');
        }
        s.push_str(&display_name(
            &self.policy,
            self.classification,
            national_names,
        ));
        for c in &self.caveats {
            s.push(' ');
            s.push_str(c);
        }
        if !self.releasable_to.is_empty() {
            s.push_str(" REL TO ");
            let rel: Vec<&str> = self.releasable_to.iter().map(String::as_str).collect();
            s.push_str(&rel.join(", "));
        }
        s
    }
}

/// Checks one token: not empty, at most [`MAX_TOKEN_LEN`] bytes, no
/// whitespace, no control characters, no `,` or `|` (the separators of the
/// canonical form).
pub(crate) fn check_token(field: &'static str, t: &str) -> Result<(), LabelError> {
    let reason = if t.is_empty() {
        Some("must not be empty")
    } else if t.len() > MAX_TOKEN_LEN {
        Some("is longer than 256 bytes")
    } else if t
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || c == ',' || c == '|')
    {
        Some("must not contain whitespace, control characters, `,` or `|`")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(LabelError::InvalidToken {
            field,
            token: t.to_string(),
            reason,
        }),
        None => Ok(()),
    }
}

/// Whether `s` is `identity--` followed by a hyphenated lowercase UUID.
pub fn is_identity_id(s: &str) -> bool {
    s.strip_prefix("identity--").is_some_and(|u| {
        u.len() == 36 && uuid::Uuid::try_parse(u).is_ok_and(|p| p.hyphenated().to_string() == u)
    })
}

/// One object's security label (spec §1).
///
/// Sets are `BTreeSet`s, so equal labels compare, hash and serialise equally
/// whatever order their lists came in. A `Label` is plain data: build it,
/// then call [`Label::validate`]. Everything that decides access
/// ([`can_read`](crate::can_read), [`lub`](crate::lub)) refuses an invalid
/// label rather than guess.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Label {
    /// Whose classification scheme applies.
    pub policy: Policy,
    /// The rank under that policy.
    pub classification: Rank,
    /// Who the originator allows it to reach; empty = the policy's default community.
    #[serde(default)]
    pub releasable_to: BTreeSet<String>,
    /// Need-to-know compartments; a reader must hold every one.
    #[serde(default)]
    pub caveats: BTreeSet<String>,
    /// TLP 2.0 level. `None` ("no TLP") reads like `clear`/`green` for
    /// organisations but is not public (anonymous readers need `clear`).
    #[serde(default)]
    pub tlp: Option<Tlp>,
    /// PAP level.
    #[serde(default)]
    pub pap: Option<Pap>,
    /// Exercise id; `None` = real-world data.
    #[serde(default)]
    pub exercise: Option<String>,
    /// `identity--<uuid>` of the organisation that answers for the object.
    #[serde(default)]
    pub originator: Option<String>,
}

impl Label {
    /// An UNCLASSIFIED, real-world label with no releasability limit, no
    /// caveats, no PAP and no originator, under TLP `tlp`.
    pub fn unclassified(tlp: Tlp) -> Self {
        Label::from_marking(LabelMarking::unclassified(), Some(tlp), None)
    }

    /// Builds a label from its marking part, a TLP and an originator.
    pub fn from_marking(
        marking: LabelMarking,
        tlp: Option<Tlp>,
        originator: Option<String>,
    ) -> Self {
        let LabelMarking {
            policy,
            classification,
            releasable_to,
            caveats,
            pap,
            exercise,
        } = marking;
        Label {
            policy,
            classification,
            releasable_to,
            caveats,
            tlp,
            pap,
            exercise,
            originator,
        }
    }

    /// The marking part (everything but TLP and originator).
    pub fn marking(&self) -> LabelMarking {
        LabelMarking {
            policy: self.policy.clone(),
            classification: self.classification,
            releasable_to: self.releasable_to.clone(),
            caveats: self.caveats.clone(),
            pap: self.pap,
            exercise: self.exercise.clone(),
        }
    }

    /// The same label with another originator.
    pub fn with_originator(mut self, originator: Option<String>) -> Self {
        self.originator = originator;
        self
    }

    /// Refuses an invalid label with an error naming the field:
    /// an invalid policy/rank pair (spec §1: `UNCLASSIFIED` rank 0 only,
    /// `NATO` 0..4, `EU` and `NATIONAL:X` 1..4), a national code that is not
    /// three uppercase letters, a malformed token (empty, longer than 256
    /// bytes, whitespace, control characters, `,` or `|`), an `identity--`
    /// token or originator that is not `identity--<lowercase uuid>`, and
    /// [`NOBODY`] that is not alone or is combined with TLP `amber`,
    /// `amber+strict` or `red`.
    pub fn validate(&self) -> Result<(), LabelError> {
        self.marking().validate()?;
        if self.releasable_to.contains(NOBODY)
            && self.tlp.is_some_and(Tlp::restricts_empty_releasability)
        {
            return Err(LabelError::InvalidToken {
                field: "releasable_to",
                token: NOBODY.to_string(),
                reason: "is not used with tlp amber, amber+strict or red (there an empty releasable_to already means the originator alone)",
            });
        }
        if let Some(o) = &self.originator
            && !is_identity_id(o)
        {
            return Err(LabelError::InvalidToken {
                field: "originator",
                token: o.clone(),
                reason: "is not a valid identity id (identity--<lowercase uuid>)",
            });
        }
        Ok(())
    }

    /// A stable canonical text of everything the read rule looks at: the
    /// marking canonical form, then `|tlp|originator` (absent = empty), e.g.
    /// `NATO|SECRET|EU||amber||amber+strict|identity--…`. Two labels with
    /// the same key are read by exactly the same subjects, so the store can
    /// use it to deduplicate access classes.
    pub fn access_key(&self) -> String {
        format!(
            "{}|{}|{}",
            self.marking().canonical_form(),
            self.tlp.map(Tlp::as_str).unwrap_or(""),
            self.originator.as_deref().unwrap_or("")
        )
    }

    /// The human display of the label's marking part (see
    /// [`LabelMarking::display_name`]), without TLP.
    pub fn display_name(&self, national_names: Option<&NationalNames>) -> String {
        self.marking().display_name(national_names)
    }
}
