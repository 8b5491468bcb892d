/*!
Security labels for Phalanx: the label model, its STIX 2.1 encoding, the
least upper bound, and the one read rule.

This crate implements the contract `shared/spec/security-labels.md`. It is
pure: no I/O, no clock, no global state, no dependency on other Phalanx
crates. Every access decision on every path (REST, TAXII, search, export,
streams, release to peers) is meant to go through [`can_read`] /
[`may_release_to_peer`], so that there is exactly one rule.

# Overview

* [`Label`] (spec §1) is plain data: a [`Policy`], a [`Rank`], the
  `releasable_to` tokens, caveats, an optional [`Tlp`] and [`Pap`], an
  optional exercise and the originator. [`Label::validate`] refuses invalid
  policy/rank pairs and malformed tokens. [`LabelMarking`] is the part of a
  label that the Phalanx marking definition carries (everything but TLP and
  originator).
* [`Subject`] (spec §2) is who is reading: [`Subject::Anonymous`] for public
  feeds, or [`Subject::User`] with a [`Reader`] (its [`Organisation`],
  clearance, briefings, caveats and request context). There is no admin
  subject: no role bypasses the rule.
* [`can_read`] is the read rule (spec §3, rules 1–5) as one pure function;
  [`explain_read`] gives the first failing rule as a [`DenyReason`], and
  `can_read` is defined as `explain_read(..).is_ok()`. An invalid label is
  readable by nobody.
* [`lub`] (spec §4) combines labels so that whoever reads the result reads
  each part; [`is_loosening`] says whether a label change is a release
  decision. See the [`lattice`] module for where the spec's literal wording
  would widen access and what this crate does instead.
* [`may_release_to_peer`] (spec §5) decides what goes to a [`PeerScope`].
* The [`stix`] module (spec §6) computes canonical forms and ids
  ([`label_marking_id`]), builds marking definitions
  ([`label_marking_definition`], [`tlp_marking_definition`]) and the
  extension definition ([`extension_definition`]), and reads an object's
  label from its markings ([`label_from_object`]).

# Example

```
use phalanx_labels::*;
use std::collections::BTreeSet;

let label: Label = Label {
    policy: Policy::Nato,
    classification: Rank::Secret,
    releasable_to: BTreeSet::from(["EU".to_string()]),
    caveats: BTreeSet::new(),
    tlp: Some(Tlp::Amber),
    pap: Some(Pap::Amber),
    exercise: None,
    originator: None,
};
label.validate().unwrap();
assert_eq!(label_canonical_form(&label), "NATO|SECRET|EU||amber|");
assert_eq!(
    label_marking_id(&label),
    "marking-definition--4fb0d4c5-a754-5cd8-a2c2-13e50e40ff02"
);

let mut org = Organisation::new("identity--6d1bb8a3-4ad4-4a8d-9a63-7a1a6bd0f2ad");
org.memberships.insert("EU".into());
let mut reader = Reader::new(org);
reader.clearance = Rank::Secret;
reader.briefed.insert(Policy::Nato);
assert!(can_read(&Subject::User(reader.clone()), &label));

reader.briefed.clear();
assert_eq!(explain_read(&Subject::User(reader), &label).unwrap_err().rule(), 1);
```

# Judgement calls on the spec

* **Default community.** An organisation is in a policy's default
  community exactly when it matches the policy's token (`EU`, `NATO`, the
  country code `X` of `NATIONAL:X`); `UNCLASSIFIED`'s default community is
  every organisation. So an empty list under policy P and the list `[P's
  token]` have the same audience under TLP below `amber`.
* **lub** keeps the safety invariant above rather than the literal wording
  where they differ (empty lists, disjoint lists, `amber` clients, the
  originator): see [`lattice`]. Two different policies other than
  `UNCLASSIFIED` never combine (NATO UNCLASSIFIED is NATO).
* **"No TLP"** reads like `clear` for organisations but is not public;
  in lub order it sits between `clear` and `green`.
* **[`NOBODY`]** is a reserved `releasable_to` token that matches no
  organisation, produced by lub for disjoint releasability.
* **Marking ids are checked**: a Phalanx label marking definition whose id
  is not the one its content gives is refused.
*/

pub mod error;
pub mod lattice;
pub mod model;
pub mod rule;
pub mod stix;
pub mod subject;

pub use error::{LabelError, LubError};
pub use lattice::{is_loosening, lub};
pub use model::{
    Label, LabelMarking, MAX_TOKEN_LEN, NOBODY, NationalNames, Pap, Policy, Rank, Tlp,
    display_name, is_alpha3, is_identity_id,
};
pub use rule::{DenyReason, PeerScope, can_read, can_write, explain_read, may_release_to_peer};
pub use stix::{
    EXTENSION_DEFINITION_CREATED, EXTENSION_VERSION, LABEL_ID_NAMESPACE, LABEL_MARKING_CREATED,
    LabelDefaults, MarkingDefinitionRef, MarkingKind, ObjectLabel, PHALANX_IDENTITY_ID,
    PHALANX_LABEL_EXTENSION_ID, TLP1_AMBER, TLP1_GREEN, TLP1_RED, TLP1_WHITE, TLP2_AMBER,
    TLP2_AMBER_STRICT, TLP2_CLEAR, TLP2_CREATED, TLP2_EXTENSION_ID, TLP2_GREEN, TLP2_RED,
    apply_added_markings, extension_definition, label_canonical_form, label_extension_schema,
    label_from_object, label_marking_definition, label_marking_id, marking_definitions_in,
    parse_marking_definition, phalanx_identity, tlp_from_marking_id, tlp_marking_definition,
};
pub use subject::{Organisation, Reader, Subject};
