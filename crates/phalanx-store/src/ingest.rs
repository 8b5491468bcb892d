//! Ingest: the write rules between a validated object and the store.
//!
//! For each object, in input order: its label is computed from its
//! markings (spec §6, with the writer's defaults for unmarked objects), its
//! originator decided, a derived object (relationship, sighting, note,
//! opinion, report, grouping) raised to the least upper bound of what it
//! refers to, and the write refused when the writer could not read the
//! result, when a registered organisation other than the writer's created
//! it, or when a new version comes from anyone but the originator (spec
//! §4). Every loosening of a label is a release decision in the audit log.
//! The backend only stores; it never decides.

use crate::registry::Actor;
use crate::{NewVersion, PutOutcome, Store, StoreError, WriteTxn};
use phalanx_labels::{
    Label, LabelDefaults, Organisation, PeerScope, may_release_to_peer, LabelError, MarkingDefinitionRef, MarkingKind, Tlp, can_write, explain_read, is_loosening,
    label_from_object, label_marking_definition, label_marking_id, lub, parse_marking_definition, tlp_from_marking_id,
};
use phalanx_model::check::{has_member, member};
use phalanx_model::{ObjectErrors, ParsedObject, StixObject, Timestamp};
use serde_json::{Map, Value};
use std::collections::{HashMap, HashSet};
use std::rc::Rc;

/// A fast hasher (randomly seeded) for the maps keyed by object ids,
/// marking lists, labels and organisation ids: they see one or two lookups
/// per object written.
type FastState = foldhash::fast::RandomState;

/// Types whose label is raised to cover the objects they refer to.
pub const DERIVED_TYPES: &[&str] = &["relationship", "sighting", "note", "opinion", "report", "grouping"];

/// How a write is made.
#[derive(Clone, Debug)]
pub struct IngestOptions {
    /// TLP and label given to objects that carry none.
    pub defaults: LabelDefaults,
    /// The writer gave `defaults` itself: unmarked objects then carry them
    /// as explicit markings. Otherwise they take the node defaults
    /// implicitly and are stored as given.
    pub explicit_defaults: bool,
    /// Recorded as each version's origin (`local:<user>`, `peer:<name>`).
    pub origin: String,
    /// The objects arrive signed by their originators (federation): an
    /// object created by another registered organisation is accepted.
    pub signed_by_originator: bool,
}

/// An object that was not stored, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// Where it was in the input.
    pub path: String,
    /// Its id, when it had one.
    pub id: Option<String>,
    /// Why it was refused.
    pub reason: String,
}

/// A label that was raised to cover what the object refers to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Raise {
    /// The object.
    pub id: String,
    /// Its label as given (TLP and marking, see `raise_name`).
    pub from: String,
    /// The label it was stored with.
    pub to: String,
}

/// What one ingest did.
#[derive(Clone, Debug, Default)]
pub struct IngestReport {
    /// New versions stored.
    pub stored: u64,
    /// Versions already stored with the same content.
    pub unchanged: u64,
    /// Objects refused, with reasons.
    pub refused: Vec<Refusal>,
    /// Labels raised (spec §4).
    pub raised: Vec<Raise>,
    /// Warnings (kept objects with problems), as text.
    pub warnings: Vec<String>,
    /// The `date_added` of each unversioned object (SCOs, marking
    /// definitions) stored, by id, when asked for with
    /// [`Ingest::record_unversioned_added`]: TAXII reports it as their version.
    pub unversioned_added: Vec<(String, Timestamp)>,
    /// Each new version stored, for an ingest of objects from a peer
    /// ([`Ingest::from_peer`]): their signatures are stored with them.
    pub stored_versions: Vec<StoredVersion>,
}

/// A new version stored by an ingest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredVersion {
    /// The object id.
    pub id: String,
    /// The version's sort key (`modified`/`created`, 9 digits), `""` when unversioned.
    pub version: String,
    /// Its `seq` (`date_added` in µs since the epoch).
    pub seq: i64,
}

impl IngestReport {
    /// Every object accounted for: stored + unchanged + refused.
    pub fn total(&self) -> u64 {
        self.stored + self.unchanged + self.refused.len() as u64
    }
}

/// Writes objects for one actor through one write transaction.
pub struct Ingest<'a> {
    actor: &'a Actor,
    options: IngestOptions,
    /// Known marking definitions: stored, and met earlier in this input.
    markings: HashMap<String, MarkingKind>,
    registered: HashSet<String, FastState>,
    /// Labels of objects written by this ingest, for derived objects: an
    /// index into `written_labels` (a large input has few distinct labels
    /// and many objects).
    written: HashMap<Box<str>, u32, FastState>,
    written_labels: Vec<Rc<Label>>,
    written_label_index: HashMap<Label, u32, FastState>,
    last_written_label: Option<u32>,
    /// Objects whose markings are defined later in the input, with their signer.
    pending: Vec<(String, ParsedObject, Option<String>)>,
    /// The link to the peer node the objects come from (see
    /// [`Ingest::from_peer`]), and the reach of each signer through it.
    peer_link: Option<PeerScope>,
    signer_reach: HashMap<String, PeerScope>,
    /// The signer of the object being written (see [`Ingest::signed_object`]).
    signer: Option<String>,
    /// The label of each `object_marking_refs` list met (by its key, see
    /// [`marking_refs_key`]), as an index into `cached_labels`.
    label_cache: HashMap<String, u32, FastState>,
    cached_labels: Vec<CachedLabel>,
    /// The key of the object being written in `label_cache`, kept to reuse
    /// its allocation.
    refs_key: String,
    report: IngestReport,
    /// SHA-256 over the ids and versions stored (`id|version\n` each),
    /// for the audit digest, and the first of them.
    stored_digest: sha2::Sha256,
    first_stored: Option<String>,
    /// The `id|version` line of the version stored last (a buffer kept
    /// between objects).
    digest_line: String,
    record_unversioned: bool,
    /// Objects written, kept for [`Ingest::take_spent`] when it is on.
    spent: Option<Vec<StixObject>>,
    /// The label rule's answers for labels met before.
    memo: LabelMemo,
}

/// Where an object's label (before its originator) came from.
enum Found {
    /// `cached_labels[i]`.
    Cached(u32),
    /// Computed now; kept at `cached_labels[i]` when it may be cached.
    Computed(Label, Option<u32>),
}

/// A label computed from a list of markings, with the written label it
/// became for each originator met (an index into
/// [`Ingest::written_labels`]), so that an object whose markings and
/// originator were met before takes its label without building,
/// comparing or dropping one.
struct CachedLabel {
    /// The label of the markings, without originator.
    markings: Label,
    /// (originator, index in the written labels), searched in order: an
    /// input has few originators per marking list.
    by_originator: Vec<(String, u32)>,
}

/// The label rule's answers for the labels one ingest meets again and
/// again (a large input has a few dozen distinct ones): the rule functions
/// validate their labels on each call, about a third of the ingest
/// thread's instructions in a 20k-object import before this memo.
/// The actor and the link are fixed for an ingest, so a label (and a
/// signer) decide each answer. The answers for the label an object is
/// written with are kept by its index in [`Ingest::written_labels`], so
/// that a run of objects under one label compares it once instead of
/// hashing and comparing it per question.
#[derive(Default)]
struct LabelMemo {
    /// `can_read(actor, label)`.
    readable: HashMap<Label, bool, FastState>,
    /// `can_write(actor, label)`, by written-label index.
    writable: Vec<Option<bool>>,
    /// `lub(a, b)`, by `a` then `b`.
    joined: HashMap<Label, HashMap<Label, Result<Label, String>, FastState>, FastState>,
    /// `may_release_to_peer(signer's reach, label)`, by signer then
    /// written-label index.
    crossing: HashMap<String, Vec<Option<bool>>, FastState>,
}

/// The answer kept at `index` of `answers`, or `ask`'s, kept there.
fn kept_answer(answers: &mut Vec<Option<bool>>, index: u32, ask: impl FnOnce() -> bool) -> bool {
    let at = index as usize;
    if answers.len() <= at {
        answers.resize(at + 1, None);
    }
    match answers[at] {
        Some(answer) => answer,
        None => {
            let answer = ask();
            answers[at] = Some(answer);
            answer
        }
    }
}

impl LabelMemo {
    fn can_read(&mut self, subject: &phalanx_labels::Subject, label: &Label) -> bool {
        if let Some(answer) = self.readable.get(label) {
            return *answer;
        }
        let answer = phalanx_labels::can_read(subject, label);
        self.readable.insert(label.clone(), answer);
        answer
    }

    /// `can_write(subject, label)`; `index` is the label's in the written labels.
    fn can_write(&mut self, subject: &phalanx_labels::Subject, index: u32, label: &Label) -> bool {
        kept_answer(&mut self.writable, index, || can_write(subject, label))
    }

    fn lub(&mut self, a: &Label, b: &Label) -> Result<Label, String> {
        if let Some(answer) = self.joined.get(a).and_then(|by_b| by_b.get(b)) {
            return answer.clone();
        }
        let answer = lub(a, b).map_err(|e| e.to_string());
        self.joined.entry(a.clone()).or_default().insert(b.clone(), answer.clone());
        answer
    }

    /// `may_release_to_peer(reach, label)` for `signer`; `index` is the
    /// label's in the written labels.
    fn crosses(&mut self, signer: &str, reach: &PeerScope, index: u32, label: &Label) -> bool {
        let answers = match self.crossing.get_mut(signer) {
            Some(answers) => answers,
            None => self.crossing.entry(signer.to_owned()).or_default(),
        };
        kept_answer(answers, index, || may_release_to_peer(reach, label))
    }
}

/// A label as a raise reports it: its TLP too, since a lub often raises
/// only that (`TLP:GREEN UNCLASSIFIED -> TLP:AMBER UNCLASSIFIED`).
fn raise_name(label: &Label) -> String {
    match label.tlp {
        Some(tlp) => format!("TLP:{} {}", tlp.as_str().to_uppercase(), label.display_name(None)),
        None => label.display_name(None),
    }
}

/// An object's `object_marking_refs` (validated ids, so every item is a
/// string).
fn marking_refs_of(object: &StixObject) -> Vec<String> {
    match member(object.map(), "object_marking_refs") {
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).map(str::to_owned).collect(),
        _ => Vec::new(),
    }
}

/// Writes the label cache's key of an object's markings into `key`: its
/// `object_marking_refs` in order. False when the label cannot be cached
/// (granular markings, refs that are not strings).
fn marking_refs_key(map: &Map<String, Value>, key: &mut String) -> bool {
    key.clear();
    if has_member(map, "granular_markings") {
        return false;
    }
    match member(map, "object_marking_refs") {
        None => true,
        Some(Value::Array(items)) => {
            for item in items {
                let Some(item) = item.as_str() else { return false };
                key.push_str(item);
                key.push(',');
            }
            true
        }
        Some(_) => false,
    }
}

impl<'a> Ingest<'a> {
    /// Prepares an ingest for `actor`, loading the stored marking
    /// definitions and registered organisations.
    pub fn new(store: &dyn Store, actor: &'a Actor, options: IngestOptions) -> Result<Self, StoreError> {
        let mut markings = HashMap::new();
        for def in store.marking_definitions()? {
            let id = def.get("id").and_then(Value::as_str).unwrap_or_default().to_owned();
            if let Ok(kind) = parse_marking_definition(&def) {
                markings.insert(id, kind);
            }
        }
        let registered = store.organisations()?.into_iter().map(|o| o.org.id).collect();
        Ok(Ingest {
            actor,
            options,
            markings,
            registered,
            written: HashMap::default(),
            written_labels: Vec::new(),
            written_label_index: HashMap::default(),
            last_written_label: None,
            pending: Vec::new(),
            peer_link: None,
            signer_reach: HashMap::new(),
            signer: None,
            label_cache: HashMap::default(),
            cached_labels: Vec::new(),
            refs_key: String::new(),
            report: IngestReport::default(),
            stored_digest: sha2::Digest::new(),
            first_stored: None,
            digest_line: String::new(),
            record_unversioned: false,
            spent: None,
            memo: LabelMemo::default(),
        })
    }

    /// Keeps each object written instead of dropping it, until
    /// [`Ingest::take_spent`]: a pipeline hands them back to the thread
    /// that parsed them, since the allocator frees memory on the thread
    /// that made it much faster than on another.
    pub fn keep_spent(&mut self) {
        self.spent = Some(Vec::new());
    }

    /// The objects kept since the last call (see [`Ingest::keep_spent`]).
    pub fn take_spent(&mut self) -> Vec<StixObject> {
        self.spent.as_mut().map(std::mem::take).unwrap_or_default()
    }

    /// Keeps the `date_added` of every unversioned object stored in
    /// [`IngestReport::unversioned_added`] (off by default: a large import
    /// would hold them all).
    pub fn record_unversioned_added(&mut self) {
        self.record_unversioned = true;
    }

    /// Makes this an ingest of objects received from a peer node over a
    /// link with `link`'s ceiling, accredited policies and exercises (its
    /// `serves` is ignored): a signed object whose label could not have
    /// been released over that link is refused (spec §5, checked again on
    /// receipt).
    pub fn from_peer(mut self, link: PeerScope) -> Self {
        self.peer_link = Some(link);
        self
    }

    /// Writes one object received from a peer node, signed by the
    /// organisation `signer` (the caller verified the signature against
    /// the signer's known key and that the peer serves the signer). The
    /// signer is the originator: an object whose `created_by_ref` names
    /// another registered organisation is refused. The object is stored
    /// exactly as signed (its label is not raised here: the originator's
    /// node did that before signing), and only if its label fits the link
    /// given to [`Ingest::from_peer`].
    pub fn signed_object(&mut self, txn: &mut dyn WriteTxn, path: &str, parsed: ParsedObject, signer: &str) -> Result<(), StoreError> {
        self.signer = Some(signer.to_owned());
        let result = self.write(txn, path, parsed, false);
        self.signer = None;
        result
    }

    /// The organisation that originates what is being written: the signer
    /// of a signed object, else the writer's.
    fn writing_org(&self) -> String {
        self.signer.clone().unwrap_or_else(|| self.actor.org_id().to_owned())
    }

    /// Whether a signed object's `label` fits the peer link.
    fn within_link(&mut self, signer: &str, index: u32, label: &Label) -> bool {
        let Some(link) = &self.peer_link else { return false };
        let reach = self.signer_reach.entry(signer.to_owned()).or_insert_with(|| PeerScope {
            serves: vec![Organisation::new(signer)],
            accredited: link.accredited.clone(),
            ceiling: link.ceiling,
            exercises: link.exercises.clone(),
        });
        self.memo.crosses(signer, reach, index, label)
    }

    /// The index of `label` in `written_labels`, added when new. Runs of
    /// objects share a label: the last one is compared first.
    fn intern(&mut self, label: &Label) -> u32 {
        let last = self.last_written_label.filter(|i| *self.written_labels[*i as usize] == *label);
        let index = match last.or_else(|| self.written_label_index.get(label).copied()) {
            Some(i) => i,
            None => {
                let i = self.written_labels.len() as u32;
                self.written_labels.push(Rc::new(label.clone()));
                self.written_label_index.insert(label.clone(), i);
                i
            }
        };
        self.last_written_label = Some(index);
        index
    }

    /// A hint that about `objects` objects follow (see
    /// [`crate::pipeline::objects_expected_in`]): the table of the ids
    /// written is sized once instead of growing as they come.
    pub fn reserve(&mut self, objects: usize) {
        self.written.reserve(objects);
    }

    /// Records an object that could not be parsed or validated.
    pub fn refuse_invalid(&mut self, path: &str, errors: &ObjectErrors) {
        let id = errors.first().and_then(|e| e.object_id.clone());
        self.report.refused.push(Refusal { path: path.to_owned(), id, reason: errors.to_string() });
    }

    /// Records an object refused before parsing (e.g. too large).
    pub fn refuse(&mut self, path: &str, reason: String) {
        self.report.refused.push(Refusal { path: path.to_owned(), id: None, reason });
    }

    /// Writes one validated object.
    pub fn object(&mut self, txn: &mut dyn WriteTxn, path: &str, parsed: ParsedObject) -> Result<(), StoreError> {
        self.write(txn, path, parsed, false)
    }

    fn write(&mut self, txn: &mut dyn WriteTxn, path: &str, parsed: ParsedObject, last_try: bool) -> Result<(), StoreError> {
        for w in &parsed.warnings {
            if self.report.warnings.len() < 10_000 {
                self.report.warnings.push(w.to_string());
            }
        }
        let object = parsed.object;
        let id = object.id().to_string();
        let refuse = |report: &mut IngestReport, reason: String| {
            report.refused.push(Refusal { path: path.to_owned(), id: Some(id.clone()), reason });
        };

        // Marking definitions are public metadata: every node needs them to
        // compute labels. They carry their own content, never a label.
        if object.object_type() == "marking-definition" {
            let kind = match parse_marking_definition(&object.to_value()) {
                Ok(kind) => kind,
                Err(e) => {
                    refuse(&mut self.report, e.to_string());
                    return Ok(());
                }
            };
            self.markings.insert(id.clone(), kind);
            let label = Label::unclassified(Tlp::Clear).with_originator(Some(self.writing_org()));
            let json = object.json_text();
            return self.put(txn, path, &object, &json, &label);
        }

        // The label from the object's markings.
        let keyed = marking_refs_key(object.map(), &mut self.refs_key);
        let cached = if keyed { self.label_cache.get(self.refs_key.as_str()).copied() } else { None };
        // `new_refs`: the object's `object_marking_refs` when this write
        // changes them (added defaults, a carried label).
        let (mut new_refs, found) = match cached {
            Some(at) => (None, Found::Cached(at)),
            _ => {
                let resolve = |mid: &str| self.markings.get(mid).cloned().map(MarkingDefinitionRef::Kind);
                match label_from_object(object.map(), &resolve, &self.options.defaults) {
                    Ok(found) => {
                        let mut new_refs = None;
                        let mut cached = None;
                        if !found.added_markings.is_empty() && self.options.explicit_defaults {
                            let mut refs = marking_refs_of(&object);
                            for added in &found.added_markings {
                                if !refs.contains(added) {
                                    refs.push(added.clone());
                                }
                            }
                            for added in &found.added_markings {
                                if tlp_from_marking_id(added).is_none() && !self.markings.contains_key(added) {
                                    self.store_label_marking(txn, &found.label)?;
                                }
                            }
                            new_refs = Some(refs);
                        } else if keyed {
                            let at = self.cached_labels.len() as u32;
                            self.cached_labels.push(CachedLabel { markings: found.label.clone(), by_originator: Vec::new() });
                            self.label_cache.insert(self.refs_key.clone(), at);
                            cached = Some(at);
                        }
                        (new_refs, Found::Computed(found.label, cached))
                    }
                    Err(LabelError::UnresolvedMarking { .. }) if !last_try => {
                        let parsed = ParsedObject { object, warnings: Vec::new(), id_computed: false };
                        self.pending.push((path.to_owned(), parsed, self.signer.clone()));
                        return Ok(());
                    }
                    Err(e) => {
                        refuse(&mut self.report, e.to_string());
                        return Ok(());
                    }
                }
            }
        };

        // Originator: the signer of a signed object; else a registered
        // created_by_ref, else the writer's organisation.
        let originator = match (object.created_by_ref(), self.signer.clone()) {
            (Some(creator), Some(signer)) if self.registered.contains(creator) && creator != signer => {
                refuse(
                    &mut self.report,
                    format!("created_by_ref names {creator}, but the object is signed by {signer}: only the creator signs its objects"),
                );
                return Ok(());
            }
            (_, Some(signer)) => signer,
            (creator, None) => match creator {
            Some(creator) if self.registered.contains(creator) => {
                if creator != self.actor.org_id() && !self.options.signed_by_originator {
                    refuse(
                        &mut self.report,
                        format!(
                            "created_by_ref names {creator}, another organisation registered in the federation; \
                             its objects are accepted only when they arrive signed by it through the federation"
                        ),
                    );
                    return Ok(());
                }
                creator.to_owned()
            }
            _ => self.actor.org_id().to_owned(),
            },
        };
        // Derived objects cover what they refer to (a signed object was
        // raised by its originator's node before it was signed).
        let derived = self.signer.is_none() && DERIVED_TYPES.contains(&object.object_type());
        let known = match found {
            Found::Cached(at) if !derived => {
                self.cached_labels[at as usize].by_originator.iter().find(|(o, _)| *o == originator).map(|(_, i)| *i)
            }
            _ => None,
        };
        let index = match known {
            Some(index) => index,
            None => {
                let (label, cached) = match found {
                    Found::Cached(at) => (self.cached_labels[at as usize].markings.clone(), Some(at)),
                    Found::Computed(label, cached) => (label, cached),
                };
                let mut label = label.with_originator(Some(originator.clone()));
                if derived {
                    match self.raise_derived(txn, &object, &id, label, &mut new_refs)? {
                        Ok(raised) => label = raised,
                        Err(reason) => {
                            refuse(&mut self.report, reason);
                            return Ok(());
                        }
                    }
                }
                let index = self.intern(&label);
                if let (Some(at), false) = (cached, derived) {
                    self.cached_labels[at as usize].by_originator.push((originator.clone(), index));
                }
                index
            }
        };
        // Shared with `written_labels`: checked and stored without a copy.
        let label = Rc::clone(&self.written_labels[index as usize]);
        let label: &Label = &label;

        // A signed object comes only over a link its label may cross.
        if let Some(signer) = self.signer.clone() {
            if !self.within_link(&signer, index, label) {
                refuse(
                    &mut self.report,
                    format!("its label ({}) may not cross the link to this peer (spec §5)", label.display_name(None)),
                );
                return Ok(());
            }
        // Nobody writes above their own reach.
        } else if !self.memo.can_write(&self.actor.subject, index, label) {
            let why = explain_read(&self.actor.subject, label).err().map(|d| d.to_string()).unwrap_or_default();
            refuse(&mut self.report, format!("its label ({}) is above the writer's reach: {why}", label.display_name(None)));
            return Ok(());
        }

        // Versions: only the originator makes new ones; revocation is final.
        let existing = txn.versions_of(&id)?;
        if let Some(latest) = existing.first() {
            let version_key = object.version().map(|t| t.sort_key()).unwrap_or_default();
            let is_new = !existing.iter().any(|v| v.version_key == version_key);
            if is_new {
                if latest.label.originator.as_deref() != Some(originator.as_str()) {
                    refuse(
                        &mut self.report,
                        format!(
                            "only the originator organisation ({}) may make a new version of this object",
                            latest.label.originator.as_deref().unwrap_or("unknown")
                        ),
                    );
                    return Ok(());
                }
                if latest.revoked && version_key > latest.version_key {
                    refuse(&mut self.report, "the object is revoked: revocation is permanent and no later version is accepted".into());
                    return Ok(());
                }
                if version_key > latest.version_key && is_loosening(&latest.label, label) {
                    txn.audit(
                        &self.actor.audit_name(),
                        "release",
                        &id,
                        &serde_json::json!({
                            "from": latest.label.display_name(None),
                            "to": label.display_name(None),
                            "from_label": latest.label,
                            "to_label": label,
                            "version": object.version().map(|t| t.to_string()),
                        }),
                    )?;
                }
            }
        }

        // Only the markings changed: they alone are validated again.
        let object = match new_refs {
            Some(refs) => match object.with_marking_refs(refs, path) {
                Ok(o) => o,
                Err(e) => {
                    refuse(&mut self.report, format!("after adding its markings the object is invalid: {e}"));
                    return Ok(());
                }
            },
            None => object,
        };
        self.written.insert(id.as_str().into(), index);
        let result = {
            let json = object.json_text();
            self.put(txn, path, &object, &json, label)
        };
        if let Some(spent) = self.spent.as_mut() {
            spent.push(object);
        }
        result
    }

    /// Raises a derived object's `label` to cover the labels of the objects
    /// it refers to that the writer can read (spec §4). When it was
    /// raised, the markings (`new_refs`) carry the new label and the raise
    /// is reported. The inner `Err` says why the object cannot be stored.
    fn raise_derived(
        &mut self,
        txn: &mut dyn WriteTxn,
        object: &StixObject,
        id: &str,
        mut label: Label,
        new_refs: &mut Option<Vec<String>>,
    ) -> Result<Result<Label, String>, StoreError> {
        let given = label.clone();
        for reference in object.references() {
            let referred = match self.written.get(reference) {
                Some(i) => Some(Label::clone(&self.written_labels[*i as usize])),
                None => txn.latest_label(reference)?,
            };
            let Some(mut referred) = referred else { continue };
            if !self.memo.can_read(&self.actor.subject, &referred) {
                continue;
            }
            referred.originator = label.originator.clone();
            match self.memo.lub(&label, &referred) {
                Ok(l) => label = l,
                Err(e) => return Ok(Err(format!("cannot combine its label with that of {reference}: {e}"))),
            }
        }
        if label != given {
            let current = new_refs.take().unwrap_or_else(|| marking_refs_of(object));
            *new_refs = Some(self.carry_label(txn, &current, &label)?);
            self.report.raised.push(Raise { id: id.to_owned(), from: raise_name(&given), to: raise_name(&label) });
        }
        Ok(Ok(label))
    }

    /// Rewrites an object's markings so that it carries `label` explicitly,
    /// storing the label's marking definition when it is new.
    fn carry_label(&mut self, txn: &mut dyn WriteTxn, current: &[String], label: &Label) -> Result<Vec<String>, StoreError> {
        let mut refs = Vec::with_capacity(current.len() + 2);
        for item in current {
            let keep = match self.markings.get(item) {
                Some(MarkingKind::Tlp(_)) | Some(MarkingKind::PhalanxLabel(_)) => false,
                Some(_) => true,
                None => tlp_from_marking_id(item).is_none(),
            };
            if keep {
                refs.push(item.clone());
            }
        }
        if let Some(tlp) = label.tlp {
            refs.push(tlp.marking_id().to_owned());
        }
        if label.marking() != phalanx_labels::LabelMarking::unclassified() {
            self.store_label_marking(txn, label)?;
            refs.push(label_marking_id(label));
        }
        Ok(refs)
    }

    /// Stores the Phalanx marking definition of `label` unless known.
    fn store_label_marking(&mut self, txn: &mut dyn WriteTxn, label: &Label) -> Result<(), StoreError> {
        let mid = label_marking_id(label);
        if self.markings.contains_key(&mid) {
            return Ok(());
        }
        let def = label_marking_definition(label);
        let parsed = StixObject::from_value(def.clone(), "$").map_err(|e| StoreError::Corrupt {
            what: format!("generated marking definition {mid}"),
            message: e.to_string(),
        })?;
        if let Ok(kind) = parse_marking_definition(&def) {
            self.markings.insert(mid, kind);
        }
        let json = parsed.object.to_json_string();
        let public = Label::unclassified(Tlp::Clear).with_originator(Some(self.actor.org_id().to_owned()));
        match txn.put(NewVersion { object: &parsed.object, json: &json, label: &public, origin: &self.options.origin }) {
            Ok(_) | Err(StoreError::Conflict { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    fn put(&mut self, txn: &mut dyn WriteTxn, path: &str, object: &StixObject, json: &str, label: &Label) -> Result<(), StoreError> {
        let version = NewVersion { object, json, label, origin: &self.options.origin };
        match txn.put(version) {
            Ok(PutOutcome::Stored { date_added }) => {
                self.report.stored += 1;
                if self.peer_link.is_some() {
                    let version = object.version().map(|t| t.sort_key()).unwrap_or_default();
                    let seq = date_added.unix_micros();
                    self.report.stored_versions.push(StoredVersion { id: object.id().to_string(), version, seq });
                }
                if self.record_unversioned && object.version().is_none() {
                    self.report.unversioned_added.push((object.id().to_string(), date_added));
                }
                use sha2::Digest;
                use std::fmt::Write;
                let key = &mut self.digest_line;
                key.clear();
                key.push_str(object.id().as_str());
                key.push('|');
                if let Some(version) = object.version() {
                    let _ = write!(key, "{version}");
                }
                self.stored_digest.update(key.as_bytes());
                self.stored_digest.update(b"\n");
                if self.first_stored.is_none() {
                    self.first_stored = Some(key.clone());
                }
            }
            Ok(PutOutcome::Unchanged) => self.report.unchanged += 1,
            Err(e @ StoreError::Conflict { .. }) => self.report.refused.push(Refusal {
                path: path.to_owned(),
                id: Some(object.id().to_string()),
                reason: e.to_string(),
            }),
            Err(e) => return Err(e),
        }
        Ok(())
    }

    /// Writes the objects that waited for marking definitions, audits the
    /// write, and returns the report. Commit the transaction afterwards.
    pub fn finish(mut self, txn: &mut dyn WriteTxn) -> Result<IngestReport, StoreError> {
        let pending = std::mem::take(&mut self.pending);
        for (path, parsed, signer) in pending {
            self.signer = signer;
            self.write(txn, &path, parsed, true)?;
        }
        self.signer = None;
        if self.report.stored > 0 {
            use sha2::Digest;
            let digest = crate::registry::hex(&std::mem::take(&mut self.stored_digest).finalize());
            let first = self.first_stored.take().unwrap_or_default();
            txn.audit(
                &self.actor.audit_name(),
                "write",
                &if self.report.stored == 1 { first } else { format!("{} objects", self.report.stored) },
                &serde_json::json!({
                    "stored": self.report.stored,
                    "unchanged": self.report.unchanged,
                    "refused": self.report.refused.len(),
                    "origin": self.options.origin,
                    "versions_sha256": digest,
                }),
            )?;
        }
        Ok(self.report)
    }
}
