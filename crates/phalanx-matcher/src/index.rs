//! Indicator compilation and the compiled matcher.
//!
//! Every indicator pattern and observable (SCO) becomes *leaves*: a typed
//! key (IP as an integer, CIDR block, normalised domain or domain suffix,
//! canonical URL, e-mail address, hash bytes, port) in a hash map, or a
//! regular expression scanned over one kind of field. A *simple* rule (one
//! observation that is an OR of such tests, no qualifiers) matches as soon
//! as one of its keys is seen. Any other pattern is *complex*: its keys only
//! make the event a candidate, and the observation is then checked in full
//! by the evaluator ([`crate::eval`]) on the event's objects; patterns of
//! several observations (AND, FOLLOWEDBY, WITHIN, REPEATS across events) are
//! completed by [`crate::stream::Sequencer`] in event order.

use crate::allowlist::AllowList;
use crate::eval::{self, Observation};
use crate::lite::Lite;
use crate::normalize;
use crate::telemetry::{Field, Kind};
use phalanx_pattern::{Comparison, ComparisonExpr, Literal, ObservationExpr, Operator, PathStep, Pattern};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::net::IpAddr;

type Map<K, V> = HashMap<K, V, foldhash::fast::FixedState>;

/// Why an object could not be compiled (it is skipped; the count is kept).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{id}: {message}")]
pub struct CompileError {
    /// The object's id (or `?`).
    pub id: String,
    /// What is wrong, naming the property.
    pub message: String,
}

/// One compiled indicator or observable: 32 bytes (a million rules are a
/// million fresh 32-byte slots, whose pages cost more than the writes).
#[derive(Debug)]
pub struct Rule {
    /// The STIX id of the indicator or SCO.
    pub id: RuleId,
    /// The parsed pattern of a complex rule; `None` for a simple one (one
    /// observation, an OR of exact tests: a key hit is a match on its own).
    pub pattern: Option<std::sync::Arc<Pattern>>,
}

const _: () = assert!(std::mem::size_of::<Rule>() == 32);

impl Rule {
    /// Whether a key hit is a match on its own.
    pub fn simple(&self) -> bool {
        self.pattern.is_none()
    }
}

/// The STIX id of a rule. An id `<type>--<uuid>` (a type of [`ID_TYPES`],
/// the UUID in lowercase 8-4-4-4-12 form) is kept as the type and the
/// UUID's bits, which writes back as the same text: no allocation per rule
/// (a million ids were a million allocations and 48 MB of fresh pages).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuleId {
    /// `<ID_TYPES[id_type]>--<uuid>`, the UUID as two halves.
    Uuid {
        /// Index into [`ID_TYPES`].
        id_type: u8,
        /// The UUID's high and low 64 bits.
        uuid: (u64, u64),
    },
    /// Any other id, as written.
    Text(Box<str>),
}

impl RuleId {
    /// The id of text `id`.
    pub fn new(id: &str) -> RuleId {
        match uuid_key(id) {
            Some((id_type, uuid)) => RuleId::Uuid { id_type, uuid },
            None => RuleId::Text(id.into()),
        }
    }

    fn key(&self) -> Option<(u8, (u64, u64))> {
        match self {
            RuleId::Uuid { id_type, uuid } => Some((*id_type, *uuid)),
            RuleId::Text(_) => None,
        }
    }
}

impl std::fmt::Display for RuleId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RuleId::Uuid { id_type, uuid: (hi, lo) } => {
                let v = (u128::from(*hi) << 64) | u128::from(*lo);
                let t = ID_TYPES.get(usize::from(*id_type)).copied().unwrap_or("?");
                write!(f, "{t}--{:08x}-{:04x}-{:04x}-{:04x}-{:012x}", v >> 96, (v >> 80) & 0xffff, (v >> 64) & 0xffff, (v >> 48) & 0xffff, v & 0xffff_ffff_ffff)
            }
            RuleId::Text(t) => f.write_str(t),
        }
    }
}

/// A leaf: which rule and which observation of it a key belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Leaf {
    /// Index into [`Matcher::rules`].
    pub rule: u32,
    /// Which observation (`[...]`, counted left to right) of the pattern.
    pub observation: u16,
}

/// The leaves of one key: one inline, several as an index into
/// [`Keyed::lists`]. Twelve bytes, so a map of IPv4 addresses takes 16 bytes
/// a bucket (32 with a `Vec` here): half the memory, and fewer cache misses
/// when looking up.
#[derive(Debug, Clone, Copy)]
enum Targets {
    One(Leaf),
    Many(u32),
}

const _: () = assert!(std::mem::size_of::<(u32, Targets)>() == 16);

/// A hash map from keys to their leaves.
#[derive(Debug)]
struct Keyed<K> {
    map: Map<K, Targets>,
    /// Leaves of keys with several.
    lists: Vec<Vec<Leaf>>,
}

impl<K> Default for Keyed<K> {
    fn default() -> Self {
        Keyed { map: Map::default(), lists: Vec::new() }
    }
}

impl<K: std::hash::Hash + Eq> Keyed<K> {
    fn add(&mut self, key: K, leaf: Leaf) {
        match self.map.entry(key) {
            Entry::Vacant(e) => drop(e.insert(Targets::One(leaf))),
            Entry::Occupied(mut e) => match *e.get() {
                Targets::One(l) if l == leaf => {}
                Targets::One(l) => {
                    e.insert(Targets::Many(self.lists.len() as u32));
                    self.lists.push(vec![l, leaf]);
                }
                Targets::Many(i) => {
                    let list = &mut self.lists[i as usize];
                    if !list.contains(&leaf) {
                        list.push(leaf);
                    }
                }
            },
        }
    }

    fn get<Q: std::hash::Hash + Eq + ?Sized>(&self, key: &Q) -> Option<&[Leaf]>
    where
        K: std::borrow::Borrow<Q>,
    {
        Some(match self.map.get(key)? {
            Targets::One(l) => std::slice::from_ref(l),
            Targets::Many(i) => &self.lists[*i as usize],
        })
    }

    fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    fn reserve(&mut self, additional: usize) {
        self.map.reserve(additional);
    }
}

/// A rule index that [`Matcher::remove_rules`] cut out.
const GONE: u32 = u32::MAX;

/// Puts staged keys of one map into it, sized for them first; leaves are
/// renumbered by `remap`, and those of rules cut out dropped.
fn insert_keyed<K: std::hash::Hash + Eq>(map: &mut Keyed<K>, keys: Vec<(K, Leaf)>, remap: Option<&[u32]>) {
    map.reserve(keys.len());
    for (key, mut leaf) in keys {
        if remap.is_none_or(|r| remap_leaf(&mut leaf, r)) {
            map.add(key, leaf);
        }
    }
}

/// Renumbers the leaf's rule by `remap`; `false` when its rule was cut out.
fn remap_leaf(leaf: &mut Leaf, remap: &[u32]) -> bool {
    leaf.rule = remap[leaf.rule as usize];
    leaf.rule != GONE
}

/// Staged keys from which [`Compiler::build`] fills the maps on two threads.
const PARALLEL_KEYS: usize = 1 << 16;

/// Hash algorithms the matcher indexes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum HashKind {
    Md5,
    Sha1,
    Sha256,
    X509Md5,
    X509Sha1,
    X509Sha256,
}

/// Options of a compilation.
#[derive(Debug, Clone)]
pub struct CompileOptions {
    /// "Now", in microseconds since the epoch: indicators whose
    /// `valid_until` is at or before it drop out.
    pub now_micros: i64,
}

impl Default for CompileOptions {
    fn default() -> Self {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_micros() as i64).unwrap_or(0);
        CompileOptions { now_micros: now }
    }
}

/// Counts of a compilation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CompileStats {
    /// Objects offered.
    pub objects: u64,
    /// Rules compiled (indicators and observables).
    pub rules: u64,
    /// Indicators past `valid_until`, dropped.
    pub expired: u64,
    /// Revoked objects, dropped.
    pub revoked: u64,
    /// Older versions replaced by a newer one of the same id.
    pub superseded: u64,
    /// Objects of other types, or indicators that are not STIX patterns.
    pub ignored: u64,
    /// Objects refused, with the reason (first 100 kept).
    pub errors: Vec<CompileError>,
    /// Number of refused objects.
    pub error_count: u64,
}

/// Collects indicators and observables, then builds a [`Matcher`].
///
/// Objects are read by [`Parsed::new`], which needs no compiler state (so
/// several threads may read), and kept by [`Compiler::add`] in input order:
/// the newest version of each id wins. The keys of a winning version go into
/// the matcher at once; the rules of versions that a newer one replaced are
/// cut out by [`Compiler::build`]. Rules keep the order in which their
/// versions came.
#[derive(Debug, Default)]
pub struct Compiler {
    /// Slots of ids `<type>--<lowercase uuid>` (a type of [`ID_TYPES`]), by
    /// UUID (as two halves: 24 bytes a bucket where `u128` takes 32).
    by_uuid: UuidSlots,
    /// Slots of other ids, and of those whose UUID an id of another type took first.
    by_text: Map<Box<str>, u32>,
    /// Per id, in order of first appearance: its newest version.
    slots: Vec<Slot>,
    /// The matcher being built, with a rule for every version that won so far.
    matcher: Matcher,
    /// Keys of those rules, put into the matcher's maps by `build`: IPv4
    /// addresses and domain names (the common keys, staged in 12 and 24
    /// bytes where a `KeySpec` takes 32: fresh pages cost), other
    /// addresses and blocks, and the others.
    ipv4_keys: Vec<(u32, Leaf)>,
    domain_keys: Vec<(Box<str>, Leaf)>,
    ip_keys: Vec<(KeySpec, Leaf)>,
    other_keys: Vec<(KeySpec, Leaf)>,
    /// Rules of versions that a newer version replaced.
    replaced: Vec<u32>,
    /// Patterns that cannot be compiled: slot, id and reason, refused by
    /// `build` if still the newest version of the slot.
    failed: Vec<(u32, RuleId, String)>,
    stats: CompileStats,
    options: CompileOptions,
}

/// Slots by UUID, in `k` maps by a hash of the UUID, `k` chosen when the
/// first room is made so that the maps' buckets are few: a hash map holds
/// at most 7/8 of its buckets, a power of two, so one map of a million ids
/// takes 2^21 buckets of 24 bytes (50 MB), five maps 5 × 2^18 (31 MB).
#[derive(Debug)]
struct UuidSlots {
    parts: Vec<Map<(u64, u64), u32>>,
}

impl Default for UuidSlots {
    fn default() -> Self {
        UuidSlots { parts: vec![Map::default()] }
    }
}

impl UuidSlots {
    /// Makes room for about `more` more ids.
    fn reserve(&mut self, more: usize) {
        let more = more.min(1 << 40);
        if self.parts.iter().all(|p| p.is_empty()) {
            // Buckets of `k` maps holding `more` between them, with room for an uneven split.
            let buckets = |k: usize| k * ((more / k + more / k / 16 + 64) * 8 / 7).next_power_of_two();
            let k = (1..=8).min_by_key(|&k| buckets(k)).unwrap_or(1);
            self.parts = (0..k).map(|_| Map::default()).collect();
        }
        let k = self.parts.len();
        for p in &mut self.parts {
            p.reserve(more / k + more / k / 16 + 64);
        }
    }

    /// The map of `uuid`.
    fn part(&mut self, uuid: (u64, u64)) -> &mut Map<(u64, u64), u32> {
        let h = (uuid.0 ^ uuid.1).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 32;
        let i = ((h * self.parts.len() as u64) >> 32) as usize;
        &mut self.parts[i]
    }
}

/// The newest version of one id.
#[derive(Debug, Clone, Copy)]
struct Slot {
    /// Its `modified` in microseconds; `i64::MIN` without one, older than any
    /// time (timestamps have four-digit years).
    modified: i64,
    /// The rule it is in force as, or [`DROPPED`] or [`FAILED`].
    state: u32,
    /// For a slot found by UUID: the index of its id's type in [`ID_TYPES`].
    id_type: u8,
}

/// [`Slot::state`] of a version that is revoked, expired or ignored: it only hides older versions.
const DROPPED: u32 = u32::MAX;
/// [`Slot::state`] of a version whose pattern cannot be compiled (the last
/// entry for the slot in `Compiler::failed`).
const FAILED: u32 = u32::MAX - 1;

/// One object read for a [`Compiler`]: what [`Compiler::add`] needs to keep
/// or count it.
#[derive(Debug)]
pub struct Parsed(Object);

#[derive(Debug)]
enum Object {
    /// Not JSON of the shape of a STIX object: refused under `?`.
    Unreadable(String),
    /// Refused under `?` (no id).
    NoId(String),
    /// A type the matcher does not use.
    Ignored,
    /// A version of an indicator or observable.
    /// A version of an indicator or observable: what it becomes if it is
    /// the newest, or why it is refused then.
    Version { id: RuleId, modified: i64, outcome: Result<Outcome, String> },
}

/// What a version becomes if it is the newest.
#[derive(Debug)]
enum Outcome {
    Revoked,
    Ignored,
    Expired,
    Key(KeySpec),
    Keys(Vec<KeySpec>),
    Pattern { pattern: Box<Pattern>, plan: Result<Plan, String> },
}

/// A typed key of the index.
#[derive(Debug, Clone)]
enum KeySpec {
    Ip(IpAddr, u8),
    Domain(Box<str>),
    DomainSuffix(Box<str>),
    Url(Box<str>),
    Email(Box<str>),
    Hash(HashKind, Box<[u8]>),
    Ssdeep(Box<str>),
    Port(bool, u16),
    Scan(Kind, Box<regex::Regex>),
}

const SCO_TYPES: &[&str] = &["ipv4-addr", "ipv6-addr", "domain-name", "url", "email-addr", "file", "x509-certificate"];

/// Id prefixes whose ids are keyed by UUID.
const ID_TYPES: &[&str] = &["indicator", "ipv4-addr", "ipv6-addr", "domain-name", "url", "email-addr", "file", "x509-certificate"];

/// The key of an id `<type>--<uuid>` with a type of [`ID_TYPES`] and the UUID
/// in lowercase 8-4-4-4-12 form: one id has one key and one key one id.
fn uuid_key(id: &str) -> Option<(u8, (u64, u64))> {
    let (prefix, uuid) = id.as_bytes().split_at_checked(id.len().checked_sub(38)?)?;
    let uuid = uuid.strip_prefix(b"--")?;
    let t = ID_TYPES.iter().position(|t| t.as_bytes() == prefix)?;
    if [8, 13, 18, 23].iter().any(|&i| uuid[i] != b'-') {
        return None;
    }
    let hi = (hex_u64(&uuid[..8])? << 32) | (hex_u64(&uuid[9..13])? << 16) | hex_u64(&uuid[14..18])?;
    let lo = (hex_u64(&uuid[19..23])? << 48) | hex_u64(&uuid[24..])?;
    Some((t as u8, (hi, lo)))
}

/// Up to 16 lowercase hex digits as a number.
fn hex_u64(digits: &[u8]) -> Option<u64> {
    let mut v = 0u64;
    for &c in digits {
        let d = match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            _ => return None,
        };
        v = (v << 4) | u64::from(d);
    }
    Some(v)
}

impl Parsed {
    /// Reads one STIX object given as JSON text. Indicators with a STIX
    /// pattern and the observables the matcher knows are read out (pattern
    /// parsed, keys normalised); anything else is noted for counting. Never
    /// panics on bad input.
    pub fn new(json: &[u8], options: &CompileOptions) -> Parsed {
        let lite = match Lite::read(json) {
            Ok(l) => l,
            Err(e) => return Parsed(Object::Unreadable(format!("not a stix object: {e}"))),
        };
        let is_indicator = lite.object_type == "indicator";
        if !is_indicator && !SCO_TYPES.contains(&lite.object_type.as_ref()) {
            return Parsed(Object::Ignored);
        }
        let Some(id) = lite.id.as_deref() else {
            return Parsed(Object::NoId(format!("{} without an id", lite.object_type)));
        };
        let modified = lite.modified.as_deref().and_then(eval::timestamp_micros).unwrap_or(i64::MIN);
        let outcome = if lite.revoked {
            Ok(Outcome::Revoked)
        } else if is_indicator {
            if lite.pattern_type.as_deref().is_some_and(|t| t != "stix") {
                Ok(Outcome::Ignored)
            } else if lite.valid_until.as_deref().and_then(eval::timestamp_micros).is_some_and(|t| t <= options.now_micros) {
                Ok(Outcome::Expired)
            } else {
                match lite.pattern.as_deref() {
                    None => Err("indicator without a pattern".into()),
                    Some(text) => match single_equality_keys(text, lite.x_phalanx_match_subdomains) {
                        Some(outcome) => Ok(outcome),
                        None => match phalanx_pattern::parse(text) {
                            Ok(p) => {
                                let plan = compile_pattern(&p, lite.x_phalanx_match_subdomains);
                                Ok(Outcome::Pattern { pattern: Box::new(p), plan })
                            }
                            Err(e) => Err(format!("pattern: {e}")),
                        },
                    },
                }
            }
        } else {
            observable_keys(&lite).map(Outcome::Keys)
        };
        Parsed(Object::Version { id: RuleId::new(id), modified, outcome })
    }

    /// Whether the text was not JSON of the shape of a STIX object (it is
    /// refused when added).
    pub fn is_unreadable(&self) -> bool {
        matches!(self.0, Object::Unreadable(_))
    }
}

fn refuse(stats: &mut CompileStats, id: &str, message: String) {
    stats.error_count += 1;
    if stats.errors.len() < 100 {
        stats.errors.push(CompileError { id: id.to_owned(), message });
    }
}

impl Compiler {
    /// A compiler with these options.
    pub fn new(options: CompileOptions) -> Compiler {
        Compiler { options, ..Compiler::default() }
    }

    /// The options, for [`Parsed::new`].
    pub fn options(&self) -> &CompileOptions {
        &self.options
    }

    /// Makes room for about `objects` more objects.
    pub fn reserve(&mut self, objects: usize) {
        self.by_uuid.reserve(objects);
        self.slots.reserve(objects);
        self.matcher.rules.reserve(objects);
        // Most objects have one key; the staging lists' pages are only
        // touched as they fill.
        self.ipv4_keys.reserve(objects);
        self.domain_keys.reserve(objects);
    }

    /// Offers one STIX object as JSON text: [`Parsed::new`] and [`Compiler::add`].
    pub fn add_json(&mut self, json: &[u8]) {
        let parsed = Parsed::new(json, &self.options);
        self.add(parsed);
    }

    /// Adds one object read by [`Parsed::new`] (objects in input order).
    /// The newest version of each id is kept (of equal ones, the first);
    /// revoked and expired versions hide older ones and drop out; anything
    /// else is counted and ignored. An object that cannot be read is counted
    /// as an error.
    pub fn add(&mut self, parsed: Parsed) {
        self.stats.objects += 1;
        let (id, modified, outcome) = match parsed.0 {
            Object::Unreadable(message) | Object::NoId(message) => return refuse(&mut self.stats, "?", message),
            Object::Ignored => {
                self.stats.ignored += 1;
                return;
            }
            Object::Version { id, modified, outcome } => (id, modified, outcome),
        };
        // One probe of the UUID map per object: the entry found, or the place kept for a new slot.
        let found = match id.key() {
            Some((t, uuid)) => match self.by_uuid.part(uuid).entry(uuid) {
                Entry::Occupied(e) if self.slots[*e.get() as usize].id_type == t => Ok(*e.get() as usize),
                // Its UUID is another type's: the id is in `by_text` if seen.
                Entry::Occupied(_) => self.by_text.get(id.to_string().as_str()).map(|&s| s as usize).ok_or(None),
                Entry::Vacant(e) => Err(Some((t, e))),
            },
            None => match &id {
                RuleId::Text(text) => self.by_text.get(text).map(|&s| s as usize).ok_or(None),
                RuleId::Uuid { .. } => Err(None),
            },
        };
        if let Ok(s) = found {
            self.stats.superseded += 1;
            if self.slots[s].modified >= modified {
                return;
            }
        }
        let outcome = match outcome {
            Ok(o) => o,
            Err(message) => return refuse(&mut self.stats, &id.to_string(), message),
        };
        let s = match found {
            Err(place) => {
                // A new slot (state set below).
                let s = self.slots.len();
                let id_type = match place {
                    Some((t, entry)) => {
                        entry.insert(s as u32);
                        t
                    }
                    None => {
                        self.by_text.insert(id.to_string().into(), s as u32);
                        u8::MAX
                    }
                };
                self.slots.push(Slot { modified, state: DROPPED, id_type });
                s
            }
            Ok(s) => {
                match self.slots[s].state {
                    DROPPED => {}
                    FAILED => {
                        // Its failure is no longer the newest version's.
                        if let Some(f) = self.failed.iter_mut().rev().find(|f| f.0 == s as u32) {
                            f.0 = u32::MAX;
                        }
                    }
                    old => self.replaced.push(old),
                }
                self.slots[s].modified = modified;
                s
            }
        };
        self.slots[s].state = match outcome {
            Outcome::Revoked => {
                self.stats.revoked += 1;
                DROPPED
            }
            Outcome::Ignored => {
                self.stats.ignored += 1;
                DROPPED
            }
            Outcome::Expired => {
                self.stats.expired += 1;
                DROPPED
            }
            Outcome::Key(key) => {
                let rule = self.push_rule(Rule { id, pattern: None });
                self.stage(key, Leaf { rule, observation: 0 });
                rule
            }
            Outcome::Keys(keys) => {
                let rule = self.push_rule(Rule { id, pattern: None });
                for key in keys {
                    self.stage(key, Leaf { rule, observation: 0 });
                }
                rule
            }
            Outcome::Pattern { pattern, plan: Ok(plan) } => {
                let rule = self.push_rule(Rule { id, pattern: if plan.simple { None } else { Some(std::sync::Arc::from(pattern)) } });
                for (obs, anchors) in plan.observations.into_iter().enumerate() {
                    let leaf = Leaf { rule, observation: obs as u16 };
                    match anchors {
                        Some(keys) => {
                            for key in keys {
                                self.stage(key, leaf);
                            }
                        }
                        None => self.matcher.unanchored.push(leaf),
                    }
                }
                rule
            }
            Outcome::Pattern { plan: Err(message), .. } => {
                self.failed.push((s as u32, id, message));
                FAILED
            }
        };
    }

    fn push_rule(&mut self, rule: Rule) -> u32 {
        self.matcher.rules.push(rule);
        self.matcher.rules.len() as u32 - 1
    }

    fn stage(&mut self, key: KeySpec, leaf: Leaf) {
        match key {
            KeySpec::Ip(IpAddr::V4(a), 32) => self.ipv4_keys.push((u32::from(a), leaf)),
            KeySpec::Domain(d) => self.domain_keys.push((d, leaf)),
            KeySpec::Ip(..) => self.ip_keys.push((key, leaf)),
            _ => self.other_keys.push((key, leaf)),
        }
    }

    /// Builds the matcher, with `allow` as its allow-list.
    pub fn build(self, allow: AllowList) -> (Matcher, CompileStats) {
        self.build_with(allow, PARALLEL_KEYS)
    }

    /// [`Compiler::build`], filling the maps on two threads from `parallel_keys` staged keys.
    fn build_with(mut self, allow: AllowList, parallel_keys: usize) -> (Matcher, CompileStats) {
        for (slot, id, message) in std::mem::take(&mut self.failed) {
            if slot != u32::MAX {
                refuse(&mut self.stats, &id.to_string(), message);
            }
        }
        // The id maps are done with: freed before the key maps are allocated, which can then take their pages.
        drop((self.by_uuid, self.by_text, self.slots));
        let mut m = self.matcher;
        let remap = m.remove_rules(&self.replaced);
        let (ipv4_keys, domain_keys, ip_keys, other_keys) = (self.ipv4_keys, self.domain_keys, self.ip_keys, self.other_keys);
        if ipv4_keys.len() + domain_keys.len() + ip_keys.len() + other_keys.len() >= parallel_keys {
            // Addresses on another thread, into maps of their own.
            let ips = std::thread::scope(|scope| {
                let ips = scope.spawn(|| {
                    let mut ips = Matcher::default();
                    insert_keyed(&mut ips.ipv4, ipv4_keys, remap.as_deref());
                    ips.insert_all(ip_keys, remap.as_deref());
                    ips
                });
                insert_keyed(&mut m.domains, domain_keys, remap.as_deref());
                m.insert_all(other_keys, remap.as_deref());
                ips.join()
            });
            let ips = ips.unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            (m.ipv4, m.ipv6, m.blocks4, m.blocks6) = (ips.ipv4, ips.ipv6, ips.blocks4, ips.blocks6);
        } else {
            insert_keyed(&mut m.ipv4, ipv4_keys, remap.as_deref());
            m.insert_all(ip_keys, remap.as_deref());
            insert_keyed(&mut m.domains, domain_keys, remap.as_deref());
            m.insert_all(other_keys, remap.as_deref());
        }
        m.allow = allow;
        self.stats.rules = m.rules.len() as u64;
        m.any_complex = m.rules.iter().any(|r| !r.simple());
        // A simple rule is one observation without qualifiers; a pattern of one such observation is not sequenced either.
        m.sequencing = m.rules.iter().any(|r| r.pattern.as_ref().is_some_and(|p| !matches!(&p.expr, ObservationExpr::Observation { qualifiers, .. } if qualifiers.is_empty())));
        (m, self.stats)
    }
}

/// The fast path for the commonest indicator, `[TYPE:value = 'literal']`
/// (no escapes, one comparison): the keys `leaf_keys` gives for the same
/// comparison, without running the parser. `None` sends the pattern to the
/// parser (anything else, or a literal the index cannot take).
fn single_equality_keys(text: &str, subdomains: bool) -> Option<Outcome> {
    let inner = text.strip_prefix('[')?.strip_suffix(']')?;
    let (path, rest) = inner.split_once(':')?;
    let rest = rest.strip_prefix("value")?.trim_start().strip_prefix('=')?.trim_start();
    let literal = rest.strip_prefix('\'')?.strip_suffix('\'')?;
    if literal.contains(['\'', '\\']) {
        return None;
    }
    // As `leaf_keys` on `TYPE:value = 'literal'`, where it gives keys.
    let key = match path {
        "ipv4-addr" | "ipv6-addr" => {
            let ip = normalize::ip(literal)?;
            KeySpec::Ip(ip, if ip.is_ipv4() { 32 } else { 128 })
        }
        "domain-name" => {
            let d: Box<str> = normalize::domain(literal)?.into();
            if subdomains {
                return Some(Outcome::Keys(vec![KeySpec::DomainSuffix(d.clone()), KeySpec::Domain(d)]));
            }
            KeySpec::Domain(d)
        }
        "url" => KeySpec::Url(normalize::url(literal)?.into()),
        "email-addr" => KeySpec::Email(normalize::email(literal)?.into()),
        _ => return None,
    };
    Some(Outcome::Key(key))
}

fn observable_keys(lite: &Lite<'_>) -> Result<Vec<KeySpec>, String> {
    let value = || lite.value.as_deref().ok_or_else(|| format!("{} without a value", lite.object_type));
    let mut keys = Vec::new();
    match lite.object_type.as_ref() {
        "ipv4-addr" | "ipv6-addr" => {
            let v = value()?;
            let (ip, len) = normalize::cidr(v).ok_or_else(|| format!("value '{v}' is not an ip address or cidr block"))?;
            keys.push(KeySpec::Ip(ip, len));
        }
        "domain-name" => {
            let v = value()?;
            let d: Box<str> = normalize::domain(v).ok_or_else(|| format!("value '{v}' is not a domain name"))?.into();
            if lite.x_phalanx_match_subdomains {
                keys.push(KeySpec::DomainSuffix(d.clone()));
            }
            keys.push(KeySpec::Domain(d));
        }
        "url" => {
            let v = value()?;
            keys.push(KeySpec::Url(normalize::url(v).ok_or_else(|| format!("value '{v}' is not a url"))?.into()));
        }
        "email-addr" => {
            let v = value()?;
            keys.push(KeySpec::Email(normalize::email(v).ok_or_else(|| format!("value '{v}' is not an e-mail address"))?.into()));
        }
        "file" | "x509-certificate" => {
            let x509 = lite.object_type == "x509-certificate";
            for (algo, v) in lite.hashes.iter().flatten() {
                if let Some(k) = hash_key(algo, v, x509) {
                    keys.push(k);
                }
            }
            if keys.is_empty() {
                return Err(format!("{} without a hash the matcher knows (MD5, SHA-1, SHA-256, SSDEEP)", lite.object_type));
            }
        }
        _ => {}
    }
    Ok(keys)
}

fn hash_key(algo: &str, value: &str, x509: bool) -> Option<KeySpec> {
    let kind = match (algo.to_ascii_uppercase().replace('_', "-").as_str(), x509) {
        ("MD5", false) => HashKind::Md5,
        ("SHA-1" | "SHA1", false) => HashKind::Sha1,
        ("SHA-256" | "SHA256", false) => HashKind::Sha256,
        ("MD5", true) => HashKind::X509Md5,
        ("SHA-1" | "SHA1", true) => HashKind::X509Sha1,
        ("SHA-256" | "SHA256", true) => HashKind::X509Sha256,
        ("SSDEEP", false) => return Some(KeySpec::Ssdeep(value.into())),
        _ => return None,
    };
    normalize::hex_hash(value).map(|b| KeySpec::Hash(kind, b.into()))
}

#[derive(Debug)]
struct Plan {
    simple: bool,
    /// Per observation: its anchor keys, or `None` when it must be checked on every event.
    observations: Vec<Option<Vec<KeySpec>>>,
}

fn compile_pattern(p: &Pattern, subdomains: bool) -> Result<Plan, String> {
    let mut comparisons = Vec::new();
    collect_observations(&p.expr, &mut comparisons);
    let single = matches!(&p.expr, ObservationExpr::Observation { qualifiers, .. } if qualifiers.is_empty());
    let mut simple = single;
    let mut observations = Vec::new();
    for c in &comparisons {
        let (keys, exact) = anchors(c, subdomains)?;
        simple &= exact && keys.is_some();
        observations.push(keys);
    }
    Ok(Plan { simple, observations })
}

fn collect_observations<'p>(e: &'p ObservationExpr, out: &mut Vec<&'p ComparisonExpr>) {
    match e {
        ObservationExpr::Observation { comparison, .. } => out.push(comparison),
        ObservationExpr::And(items) | ObservationExpr::Or(items) | ObservationExpr::FollowedBy(items) => {
            for i in items {
                collect_observations(i, out);
            }
        }
        ObservationExpr::Grouped { expr, .. } => collect_observations(expr, out),
    }
}

/// Keys that any event satisfying `c` must contain, and whether a key hit
/// alone decides `c` (an OR of exact tests).
#[allow(clippy::type_complexity)]
fn anchors(c: &ComparisonExpr, subdomains: bool) -> Result<(Option<Vec<KeySpec>>, bool), String> {
    match c {
        ComparisonExpr::Comparison(cmp) => Ok(match leaf_keys(cmp, subdomains)? {
            Some((keys, exact)) => (Some(keys), exact),
            None => (None, false),
        }),
        ComparisonExpr::Or(items) => {
            let mut all = Vec::new();
            let mut exact = true;
            for i in items {
                let (k, e) = anchors(i, subdomains)?;
                let Some(k) = k else { return Ok((None, false)) };
                all.extend(k);
                exact &= e;
            }
            Ok((Some(all), exact))
        }
        ComparisonExpr::And(items) => {
            for i in items {
                if let (Some(k), _) = anchors(i, subdomains)? {
                    return Ok((Some(k), false));
                }
            }
            Ok((None, false))
        }
    }
}

fn path_str(p: &phalanx_pattern::ObjectPath) -> String {
    let mut s = p.object_type.clone();
    s.push(':');
    for (i, step) in p.steps.iter().enumerate() {
        match step {
            PathStep::Property(n) => {
                if i > 0 {
                    s.push('.');
                }
                s.push_str(n);
            }
            PathStep::Index(n) => s.push_str(&format!("[{n}]")),
            PathStep::AnyIndex => s.push_str("[*]"),
        }
    }
    s
}

/// The keys of one comparison, if it is one the index can answer:
/// `(keys, exact)` where `exact` means a hit decides the comparison.
#[allow(clippy::type_complexity)]
fn leaf_keys(c: &Comparison, subdomains: bool) -> Result<Option<(Vec<KeySpec>, bool)>, String> {
    if c.negated || matches!(c.op, Operator::Neq | Operator::Exists | Operator::Gt | Operator::Lt | Operator::Ge | Operator::Le | Operator::IsSuperset) {
        return Ok(None);
    }
    let path = path_str(&c.path);
    // Paths an event field of one kind answers without direction.
    let (kind, exact_path): (Kind, bool) = match path.as_str() {
        "ipv4-addr:value" | "ipv6-addr:value" => (Kind::Ip, true),
        "network-traffic:src_ref.value" | "network-traffic:dst_ref.value" => (Kind::Ip, false),
        "domain-name:value" => (Kind::Domain, true),
        "url:value" => (Kind::Url, true),
        "email-addr:value" => (Kind::Email, true),
        "email-message:from_ref.value" | "email-message:sender_ref.value" | "email-message:to_refs[*].value" | "email-message:cc_refs[*].value" => (Kind::Email, false),
        "network-traffic:src_port" => (Kind::SrcPort, true),
        "network-traffic:dst_port" => (Kind::DstPort, true),
        p if p.starts_with("file:hashes.") => (Kind::Sha256, true),
        p if p.starts_with("x509-certificate:hashes.") => (Kind::X509Sha256, true),
        _ => return Ok(None),
    };
    let strings: Vec<&str> = match (&c.op, &c.value) {
        (Operator::Eq | Operator::Like | Operator::Matches | Operator::IsSubset, Some(Literal::String(s))) => vec![s.as_str()],
        (Operator::In, Some(Literal::Set(items))) => {
            let mut v = Vec::new();
            for i in items {
                match i {
                    Literal::String(s) => v.push(s.as_str()),
                    _ => return Ok(None),
                }
            }
            v
        }
        (Operator::Eq | Operator::In, Some(Literal::Int(port))) if matches!(kind, Kind::SrcPort | Kind::DstPort) => {
            let port = u16::try_from(*port).map_err(|_| format!("{path}: port {port} is out of range"))?;
            return Ok(Some((vec![KeySpec::Port(kind == Kind::SrcPort, port)], exact_path)));
        }
        _ => return Ok(None),
    };
    let mut keys = Vec::new();
    let mut exact = exact_path;
    for s in strings {
        let key = match (c.op, kind) {
            (Operator::Matches, _) => {
                exact = false; // the evaluator has the last word on regular expressions
                let re = regex::RegexBuilder::new(s).size_limit(1 << 20).build().map_err(|e| format!("{path} MATCHES '{s}': {e}"))?;
                KeySpec::Scan(kind, Box::new(re))
            }
            (Operator::Like, Kind::Domain) => match like_domain(s) {
                Some(k) => k,
                None => KeySpec::Scan(kind, Box::new(like_to_regex(s)?)),
            },
            (Operator::Like, _) => {
                exact = false;
                KeySpec::Scan(kind, Box::new(like_to_regex(s)?))
            }
            (Operator::IsSubset, Kind::Ip) => {
                let (ip, len) = normalize::cidr(s).ok_or_else(|| format!("{path} ISSUBSET '{s}': not a cidr block"))?;
                KeySpec::Ip(ip, len)
            }
            (Operator::IsSubset, _) => return Ok(None),
            (_, Kind::Ip) => {
                let Some(ip) = normalize::ip(s) else { return Ok(None) };
                KeySpec::Ip(ip, if ip.is_ipv4() { 32 } else { 128 })
            }
            (_, Kind::Domain) => {
                let d: Box<str> = normalize::domain(s).ok_or_else(|| format!("{path} = '{s}': not a domain name"))?.into();
                if subdomains {
                    keys.push(KeySpec::DomainSuffix(d.clone()));
                }
                KeySpec::Domain(d)
            }
            (_, Kind::Url) => KeySpec::Url(normalize::url(s).ok_or_else(|| format!("{path} = '{s}': not a url"))?.into()),
            (_, Kind::Email) => KeySpec::Email(normalize::email(s).ok_or_else(|| format!("{path} = '{s}': not an e-mail address"))?.into()),
            (_, Kind::Sha256) | (_, Kind::X509Sha256) => {
                let Some(PathStep::Property(algo)) = c.path.steps.get(1) else { return Ok(None) };
                match hash_key(algo, s, kind == Kind::X509Sha256) {
                    Some(k) => k,
                    None => return Ok(None),
                }
            }
            _ => return Ok(None),
        };
        keys.push(key);
    }
    Ok(Some((keys, exact)))
}

/// `LIKE 'example.com'` (exact) and `LIKE '%.example.com'` (subdomains) go
/// to the hash index; other LIKE patterns are scanned.
fn like_domain(s: &str) -> Option<KeySpec> {
    if let Some(rest) = s.strip_prefix("%.") {
        if !rest.contains(['%', '_']) {
            return normalize::domain(rest).map(|d| KeySpec::DomainSuffix(d.into()));
        }
    }
    if !s.contains(['%', '_']) {
        return normalize::domain(s).map(|d| KeySpec::Domain(d.into()));
    }
    None
}

fn like_to_regex(like: &str) -> Result<regex::Regex, String> {
    let mut re = String::from("^(?:");
    for c in like.chars() {
        match c {
            '%' => re.push_str(".*"),
            '_' => re.push('.'),
            c => re.push_str(&regex::escape(&c.to_string())),
        }
    }
    re.push_str(")$");
    regex::RegexBuilder::new(&re).case_insensitive(true).size_limit(1 << 20).build().map_err(|e| format!("LIKE '{like}': {e}"))
}

/// The compiled, immutable matcher. Cheap to share between threads.
#[derive(Debug, Default)]
pub struct Matcher {
    /// The compiled rules; [`Leaf::rule`] indexes this.
    pub rules: Vec<Rule>,
    ipv4: Keyed<u32>,
    ipv6: Keyed<u128>,
    /// CIDR blocks by prefix length (only the lengths in use).
    blocks4: Vec<(u8, Keyed<u32>)>,
    blocks6: Vec<(u8, Keyed<u128>)>,
    domains: Keyed<Box<str>>,
    domain_suffixes: Keyed<Box<str>>,
    urls: Keyed<Box<str>>,
    emails: Keyed<Box<str>>,
    hashes: Keyed<(HashKind, Box<[u8]>)>,
    ssdeep: Keyed<Box<str>>,
    ports: Keyed<(bool, u16)>,
    scans: Vec<(Kind, regex::Regex, Leaf)>,
    /// Observations with no key: checked on every event.
    unanchored: Vec<Leaf>,
    /// Values whose matches are suppressed.
    pub allow: AllowList,
    /// Whether some rule is complex (set by [`Compiler::build`]).
    any_complex: bool,
    /// Whether some rule spans several events (set by [`Compiler::build`]).
    sequencing: bool,
}

/// One hit of an event against a rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    /// The leaf that was hit.
    pub leaf: Leaf,
    /// The event field (its number in the field map) that matched, if any.
    pub field: Option<u16>,
    /// The matched value in normal form.
    pub value: String,
}

impl Matcher {
    /// Cuts the rules `gone` out, with their unanchored leaves; the others
    /// keep their order. Returns the new index of each old rule ([`GONE`]
    /// for those cut out), or `None` when none is.
    fn remove_rules(&mut self, gone: &[u32]) -> Option<Vec<u32>> {
        if gone.is_empty() {
            return None;
        }
        let mut remap = vec![0u32; self.rules.len()];
        for &g in gone {
            remap[g as usize] = GONE;
        }
        let mut next = 0u32;
        for r in &mut remap {
            if *r != GONE {
                *r = next;
                next += 1;
            }
        }
        let mut i = 0;
        self.rules.retain(|_| {
            i += 1;
            remap[i - 1] != GONE
        });
        self.unanchored.retain_mut(|leaf| remap_leaf(leaf, &remap));
        Some(remap)
    }

    /// Puts staged keys into the maps, sized for them first; leaves are
    /// renumbered by `remap`, and those of rules cut out dropped.
    fn insert_all(&mut self, keys: Vec<(KeySpec, Leaf)>, remap: Option<&[u32]>) {
        let mut counts = [0usize; 9];
        for (key, _) in &keys {
            let map = match key {
                KeySpec::Ip(IpAddr::V4(_), 32) => 0,
                KeySpec::Ip(IpAddr::V6(_), 128) => 1,
                KeySpec::Domain(_) => 2,
                KeySpec::DomainSuffix(_) => 3,
                KeySpec::Url(_) => 4,
                KeySpec::Email(_) => 5,
                KeySpec::Hash(..) => 6,
                KeySpec::Ssdeep(_) => 7,
                KeySpec::Port(..) => 8,
                KeySpec::Ip(..) | KeySpec::Scan(..) => continue,
            };
            counts[map] += 1;
        }
        let [ipv4, ipv6, domains, suffixes, urls, emails, hashes, ssdeep, ports] = counts;
        self.ipv4.reserve(ipv4);
        self.ipv6.reserve(ipv6);
        self.domains.reserve(domains);
        self.domain_suffixes.reserve(suffixes);
        self.urls.reserve(urls);
        self.emails.reserve(emails);
        self.hashes.reserve(hashes);
        self.ssdeep.reserve(ssdeep);
        self.ports.reserve(ports);
        for (key, mut leaf) in keys {
            if remap.is_none_or(|r| remap_leaf(&mut leaf, r)) {
                self.insert(key, leaf);
            }
        }
    }

    fn insert(&mut self, key: KeySpec, leaf: Leaf) {
        match key {
            KeySpec::Ip(IpAddr::V4(a), 32) => self.ipv4.add(u32::from(a), leaf),
            KeySpec::Ip(IpAddr::V6(a), 128) => self.ipv6.add(u128::from(a), leaf),
            KeySpec::Ip(IpAddr::V4(a), len) => {
                let map = match self.blocks4.iter_mut().find(|(l, _)| *l == len) {
                    Some((_, m)) => m,
                    None => {
                        self.blocks4.push((len, Keyed::default()));
                        self.blocks4.sort_by_key(|(l, _)| std::cmp::Reverse(*l));
                        &mut self.blocks4.iter_mut().find(|(l, _)| *l == len).expect("just pushed").1
                    }
                };
                map.add(u32::from(a), leaf);
            }
            KeySpec::Ip(IpAddr::V6(a), len) => {
                let map = match self.blocks6.iter_mut().find(|(l, _)| *l == len) {
                    Some((_, m)) => m,
                    None => {
                        self.blocks6.push((len, Keyed::default()));
                        &mut self.blocks6.last_mut().expect("just pushed").1
                    }
                };
                map.add(u128::from(a), leaf);
            }
            KeySpec::Domain(d) => self.domains.add(d, leaf),
            KeySpec::DomainSuffix(d) => self.domain_suffixes.add(d, leaf),
            KeySpec::Url(u) => self.urls.add(u, leaf),
            KeySpec::Email(e) => self.emails.add(e, leaf),
            KeySpec::Hash(k, b) => self.hashes.add((k, b), leaf),
            KeySpec::Ssdeep(s) => self.ssdeep.add(s, leaf),
            KeySpec::Port(src, p) => self.ports.add((src, p), leaf),
            KeySpec::Scan(kind, re) => self.scans.push((kind, *re, leaf)),
        }
    }

    /// Event kinds some rule can use (others need not be decoded).
    pub fn wants(&self, kind: Kind) -> bool {
        let scan = |k: Kind| self.scans.iter().any(|(s, _, _)| *s == k);
        let any_complex = self.any_complex;
        match kind {
            Kind::Ip => !self.ipv4.is_empty() || !self.ipv6.is_empty() || !self.blocks4.is_empty() || !self.blocks6.is_empty() || scan(Kind::Ip) || any_complex,
            Kind::Domain => !self.domains.is_empty() || !self.domain_suffixes.is_empty() || scan(Kind::Domain) || any_complex,
            Kind::DomainOrIp => self.wants(Kind::Ip) || self.wants(Kind::Domain),
            Kind::Url => !self.urls.is_empty() || scan(Kind::Url) || any_complex,
            Kind::Email => !self.emails.is_empty() || scan(Kind::Email) || any_complex,
            Kind::Md5 | Kind::Sha1 | Kind::Sha256 | Kind::X509Sha1 | Kind::X509Sha256 => !self.hashes.is_empty() || any_complex,
            Kind::Ssdeep => !self.ssdeep.is_empty() || any_complex,
            Kind::SrcPort | Kind::DstPort => !self.ports.is_empty() || any_complex,
            Kind::Protocol | Kind::Time => any_complex,
        }
    }

    /// Whether a pattern of several events is compiled (then event order and
    /// times matter).
    pub fn needs_sequencing(&self) -> bool {
        self.sequencing
    }

    /// Looks every field of one event up; pushes the key hits on `hits`.
    /// Allow-listed values are dropped here.
    pub fn lookup(&self, fields: &[Field<'_>], hits: &mut Vec<Hit>) {
        let start = hits.len();
        for f in fields {
            let field = Some(f.name);
            let mut push = |leaves: &[Leaf], value: &str| {
                for &leaf in leaves {
                    hits.push(Hit { leaf, field, value: value.to_owned() });
                }
            };
            match f.kind {
                Kind::Ip => drop(self.lookup_ip(&f.value, &mut push)),
                Kind::Domain => self.lookup_domain(&f.value, &mut push),
                Kind::DomainOrIp => {
                    if !self.lookup_ip(&f.value, &mut push) {
                        self.lookup_domain(&f.value, &mut push);
                    }
                }
                Kind::Url => {
                    if !self.urls.is_empty() {
                        if let Some(u) = normalize::url(&f.value) {
                            if let Some(t) = self.urls.get(u.as_str()) {
                                push(t, &u);
                            }
                        }
                    }
                }
                Kind::Email => {
                    if !self.emails.is_empty() {
                        if let Some(e) = normalize::email(&f.value) {
                            if let Some(t) = self.emails.get(e.as_str()) {
                                push(t, &e);
                            }
                        }
                    }
                }
                Kind::Md5 | Kind::Sha1 | Kind::Sha256 | Kind::X509Sha1 | Kind::X509Sha256 => {
                    if !self.hashes.is_empty() {
                        if let Some(bytes) = normalize::hex_hash(&f.value) {
                            let kind = match f.kind {
                                Kind::Md5 => HashKind::Md5,
                                Kind::Sha1 => HashKind::Sha1,
                                Kind::Sha256 => HashKind::Sha256,
                                Kind::X509Sha1 => HashKind::X509Sha1,
                                _ => HashKind::X509Sha256,
                            };
                            if let Some(t) = self.hashes.get(&(kind, bytes.into_boxed_slice())) {
                                push(t, &f.value.to_ascii_lowercase());
                            }
                        }
                    }
                }
                Kind::Ssdeep => {
                    if let Some(t) = self.ssdeep.get(f.value.as_ref()) {
                        push(t, &f.value);
                    }
                }
                Kind::SrcPort | Kind::DstPort => {
                    if let Ok(p) = f.value.parse::<u16>() {
                        if let Some(t) = self.ports.get(&(f.kind == Kind::SrcPort, p)) {
                            push(t, &f.value);
                        }
                    }
                }
                Kind::Protocol | Kind::Time => {}
            }
            for (kind, re, leaf) in &self.scans {
                let same = *kind == f.kind || (f.kind == Kind::DomainOrIp && matches!(kind, Kind::Domain | Kind::Ip));
                if same && re.is_match(&f.value) {
                    hits.push(Hit { leaf: *leaf, field, value: f.value.to_string() });
                }
            }
        }
        if !self.allow.is_empty() {
            let mut i = start;
            while i < hits.len() {
                if self.allow.allows(&hits[i].value) {
                    hits.swap_remove(i);
                } else {
                    i += 1;
                }
            }
        }
        for &leaf in &self.unanchored {
            hits.push(Hit { leaf, field: None, value: String::new() });
        }
    }

    /// Looks an address up; `false` when `text` is not an IP address.
    fn lookup_ip(&self, text: &str, push: &mut impl FnMut(&[Leaf], &str)) -> bool {
        let Some(ip) = normalize::ip(text) else { return false };
        match ip {
            IpAddr::V4(a) => {
                let bits = u32::from(a);
                if let Some(t) = self.ipv4.get(&bits) {
                    push(t, text);
                }
                for (len, map) in &self.blocks4 {
                    let m = if *len == 0 { 0 } else { u32::MAX << (32 - u32::from(*len)) };
                    if let Some(t) = map.get(&(bits & m)) {
                        push(t, text);
                    }
                }
            }
            IpAddr::V6(a) => {
                let bits = u128::from(a);
                if let Some(t) = self.ipv6.get(&bits) {
                    push(t, text);
                }
                for (len, map) in &self.blocks6 {
                    let m = if *len == 0 { 0 } else { u128::MAX << (128 - u32::from(*len)) };
                    if let Some(t) = map.get(&(bits & m)) {
                        push(t, text);
                    }
                }
            }
        }
        true
    }

    fn lookup_domain(&self, text: &str, push: &mut impl FnMut(&[Leaf], &str)) {
        if self.domains.is_empty() && self.domain_suffixes.is_empty() {
            return;
        }
        let Some(d) = normalize::domain(text) else { return };
        if let Some(t) = self.domains.get(d.as_ref()) {
            push(t, &d);
        }
        if !self.domain_suffixes.is_empty() {
            // Proper parents only: `%.example.com` does not match example.com itself.
            let mut rest: &str = &d;
            while let Some((_, parent)) = rest.split_once('.') {
                if let Some(t) = self.domain_suffixes.get(parent) {
                    push(t, &d);
                }
                rest = parent;
            }
        }
    }

    /// For a complex rule hit: whether observation `leaf.observation` of
    /// its pattern holds on the event's objects (`objects` from
    /// [`event_objects`]).
    pub fn confirm(&self, leaf: Leaf, event: &Observation) -> bool {
        let rule = &self.rules[leaf.rule as usize];
        let Some(pattern) = &rule.pattern else { return true };
        let mut comparisons = Vec::new();
        collect_observations(&pattern.expr, &mut comparisons);
        comparisons.get(usize::from(leaf.observation)).is_some_and(|c| eval::comparison_roots(c, event).is_ok_and(|r| !r.is_empty()))
    }
}

/// The STIX objects an event stands for, for the evaluator: one object per
/// address, domain, URL, e-mail address; one `file` with the event's
/// hashes; one `x509-certificate` per fingerprint; one `network-traffic`
/// joining source and destination (first `Ip` field is the source, the
/// second the destination), ports and protocol.
pub fn event_objects(fields: &[Field<'_>], time_micros: i64) -> Observation {
    let mut objects = vec![json!({"type": "observed-data", "id": "observed-data--event"})];
    let mut n = 0usize;
    let mut next_id = |t: &str| {
        n += 1;
        format!("{t}--{n}")
    };
    let mut ips = Vec::new();
    let mut file_hashes = serde_json::Map::new();
    let mut traffic = serde_json::Map::new();
    for f in fields {
        let v = f.value.as_ref();
        let kind = if f.kind == Kind::DomainOrIp {
            if normalize::ip(v).is_some() { Kind::Ip } else { Kind::Domain }
        } else {
            f.kind
        };
        match kind {
            Kind::Ip => {
                let t = if v.contains(':') { "ipv6-addr" } else { "ipv4-addr" };
                let id = next_id(t);
                ips.push(id.clone());
                objects.push(json!({"type": t, "id": id, "value": v}));
            }
            Kind::Domain => {
                let d = normalize::domain(v).map_or_else(|| v.to_owned(), |d| d.into_owned());
                objects.push(json!({"type": "domain-name", "id": next_id("domain-name"), "value": d}));
            }
            Kind::Url => {
                let u = normalize::url(v).unwrap_or_else(|| v.to_owned());
                objects.push(json!({"type": "url", "id": next_id("url"), "value": u}));
            }
            Kind::Email => {
                let e = normalize::email(v).unwrap_or_else(|| v.to_owned());
                objects.push(json!({"type": "email-addr", "id": next_id("email-addr"), "value": e}));
            }
            Kind::Md5 => drop(file_hashes.insert("MD5".into(), Value::String(v.to_ascii_lowercase()))),
            Kind::Sha1 => drop(file_hashes.insert("SHA-1".into(), Value::String(v.to_ascii_lowercase()))),
            Kind::Sha256 => drop(file_hashes.insert("SHA-256".into(), Value::String(v.to_ascii_lowercase()))),
            Kind::Ssdeep => drop(file_hashes.insert("SSDEEP".into(), Value::String(v.to_owned()))),
            Kind::X509Sha1 | Kind::X509Sha256 => {
                let algo = if kind == Kind::X509Sha1 { "SHA-1" } else { "SHA-256" };
                let hex = v.replace(':', "").to_ascii_lowercase();
                objects.push(json!({"type": "x509-certificate", "id": next_id("x509-certificate"), "hashes": {algo: hex}}));
            }
            Kind::SrcPort | Kind::DstPort => {
                if let Ok(p) = v.parse::<u64>() {
                    traffic.insert(if kind == Kind::SrcPort { "src_port" } else { "dst_port" }.into(), json!(p));
                }
            }
            Kind::Protocol => drop(traffic.insert("protocols".into(), json!([v.to_ascii_lowercase()]))),
            Kind::Time | Kind::DomainOrIp => {}
        }
    }
    if !file_hashes.is_empty() {
        objects.push(json!({"type": "file", "id": next_id("file"), "hashes": file_hashes}));
    }
    if !traffic.is_empty() || ips.len() >= 2 {
        if let Some(src) = ips.first() {
            traffic.insert("src_ref".into(), json!(src));
        }
        if let Some(dst) = ips.get(1) {
            traffic.insert("dst_ref".into(), json!(dst));
        }
        traffic.insert("type".into(), json!("network-traffic"));
        traffic.insert("id".into(), json!(next_id("network-traffic")));
        objects.push(Value::Object(traffic));
    }
    Observation { first_observed: time_micros, last_observed: time_micros, number_observed: 1, objects }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_ids_write_back_as_given() {
        for id in [
            "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
            "x509-certificate--00000000-0000-4000-8000-000000000000",
            "domain-name--ffffffff-ffff-ffff-ffff-ffffffffffff",
            "indicator--8E2E2D2B-17d4-4cbf-938f-98ee46b3cd3f",
            "indicator--8e2e2d2b17d4-4cbf-938f-98ee46b3cd3f-",
            "malware--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
            "indicator--1",
            "?",
        ] {
            assert_eq!(RuleId::new(id).to_string(), id);
        }
        assert!(matches!(RuleId::new("indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"), RuleId::Uuid { .. }));
        assert!(matches!(RuleId::new("indicator--8E2E2D2B-17d4-4cbf-938f-98ee46b3cd3f"), RuleId::Text(_)));
    }

    proptest::proptest! {
        /// The UUID key is the 128 bits of the 32 hex digits, and only a lowercase 8-4-4-4-12 UUID has one.
        #[test]
        fn uuid_keys_are_the_uuid_bits(t in 0usize..ID_TYPES.len(), bits: u128, text in "[0-9a-fA-F-]{36}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}") {
            let id = format!("{}--{}", ID_TYPES[t], uuid::Uuid::from_u128(bits).hyphenated());
            proptest::prop_assert_eq!(uuid_key(&id), Some((t as u8, ((bits >> 64) as u64, bits as u64))));
            let want = uuid::Uuid::try_parse(&text).ok().filter(|u| u.hyphenated().to_string() == text).map(|u| (t as u8, ((u.as_u128() >> 64) as u64, u.as_u128() as u64)));
            proptest::prop_assert_eq!(uuid_key(&format!("{}--{text}", ID_TYPES[t])), want, "{}", text);
        }
    }

    /// The newest version of each id wins: ids of two types sharing a UUID
    /// are two ids, a text id is one, and a refused version holds no place.
    #[test]
    fn the_newest_version_of_each_id_wins() {
        let u = "00000000-0000-4000-8000-00000000000a";
        let ind = |id: &str, modified: &str, pattern: &str| {
            format!(r#"{{"type":"indicator","id":"indicator--{id}","modified":"{modified}","pattern":"{pattern}","pattern_type":"stix"}}"#)
        };
        let ip = |value: &str| format!(r#"{{"type":"ipv4-addr","id":"ipv4-addr--{u}","value":"{value}"}}"#);
        let objects = [
            ind(u, "2025-01-01T00:00:00Z", "[ipv4-addr:value = '192.0.2.1']"),
            ip("192.0.2.2"),
            ind(u, "2025-02-01T00:00:00Z", "[ipv4-addr:value = '192.0.2.3']"),
            ip("192.0.2.4"),
            ind("1", "2025-01-01T00:00:00Z", "[ipv4-addr:value = '192.0.2.5']"),
            ind("1", "2025-02-01T00:00:00Z", "[ipv4-addr:value = '192.0.2.6']"),
            ind("b", "2025-01-01T00:00:00Z", "[network-traffic:dst_port = 70000]"),
            ind("b", "2025-02-01T00:00:00Z", "[ipv4-addr:value = '192.0.2.7']"),
            r#"{"type":"indicator","id":"indicator--c","modified":"2025-03-01T00:00:00Z"}"#.to_owned(),
            ind("c", "2025-01-01T00:00:00Z", "[ipv4-addr:value = '192.0.2.8']"),
        ];
        let compile = |room: Option<usize>| {
            let mut c = Compiler::new(CompileOptions { now_micros: 0 });
            if let Some(n) = room {
                c.reserve(n);
            }
            for o in &objects {
                c.add_json(o.as_bytes());
            }
            c.build(AllowList::default())
        };
        let (m, stats) = compile(None);
        assert_eq!((stats.rules, stats.superseded, stats.error_count), (5, 4, 1), "{stats:?}");
        // Room made first splits the UUID map in several; the result is the same.
        for room in [0, 3, 1000, 1 << 20] {
            let mut c = Compiler::new(CompileOptions { now_micros: 0 });
            c.reserve(room);
            assert!(room < 1000 || c.by_uuid.parts.len() > 1, "{room}: {}", c.by_uuid.parts.len());
            let (other, other_stats) = compile(Some(room));
            assert_eq!((format!("{other:?}"), other_stats), (format!("{m:?}"), stats.clone()), "{room}");
        }
        let mut matched = Vec::new();
        for n in 1..=8 {
            let mut hits = Vec::new();
            m.lookup(&[Field { name: 0, kind: Kind::Ip, value: format!("192.0.2.{n}").into() }], &mut hits);
            for h in hits {
                matched.push((n, m.rules[h.leaf.rule as usize].id.to_string()));
            }
        }
        let want: Vec<(i32, String)> =
            [(2, format!("ipv4-addr--{u}")), (3, format!("indicator--{u}")), (6, "indicator--1".into()), (7, "indicator--b".into()), (8, "indicator--c".into())].into();
        assert_eq!(matched, want);
    }

    /// The maps filled on one thread and on two, with the UUID map in one
    /// part or several, are the same, leaves renumbered alike.
    #[test]
    fn one_thread_and_two_build_the_same_maps() {
        let mut objects = Vec::new();
        for n in 0..300u32 {
            let pattern = match n % 6 {
                0 => format!("[ipv4-addr:value = '192.0.2.{}']", n % 200),
                1 => format!("[domain-name:value = 'd{}.example']", n % 50),
                2 => format!("[ipv4-addr:value ISSUBSET '10.{}.0.0/16']", n % 7),
                3 => format!("[ipv6-addr:value = '2001:db8::{n:x}'] OR [url:value = 'http://u{n}.example/']"),
                4 => format!("[domain-name:value = 'd{}.example'] AND [network-traffic:dst_port = {n}]", n % 9),
                _ => format!("[email-addr:value = 'a{n}@example.org']"),
            };
            // Every third id comes again later, newer: its first rule is cut out.
            let id = if n % 3 == 0 && n >= 150 { n - 150 } else { n };
            objects.push(format!(
                r#"{{"type":"indicator","id":"indicator--00000000-0000-4000-8000-{id:012}","modified":"2025-01-01T00:{:02}:00Z","pattern":"{pattern}","pattern_type":"stix"}}"#,
                n / 150
            ));
        }
        let build = |parallel_keys: usize, room: usize| {
            let mut c = Compiler::new(CompileOptions { now_micros: 0 });
            c.reserve(room);
            for o in &objects {
                c.add_json(o.as_bytes());
            }
            let (m, stats) = c.build_with(AllowList::default(), parallel_keys);
            (format!("{m:?}"), stats)
        };
        let one = build(usize::MAX, 0);
        assert!(one.1.superseded > 0 && one.1.error_count == 0, "{:?}", one.1);
        assert_eq!(build(0, 0), one);
        // With the UUID map split in several (room for more ids than come).
        assert_eq!(build(0, 1 << 20), one);
        assert_eq!(build(usize::MAX, 5000), one);
    }

    #[test]
    fn the_fast_path_gives_the_keys_the_parser_path_gives() {
        for (text, sub) in [
            ("[ipv4-addr:value = '192.0.2.1']", false),
            ("[ipv6-addr:value = '2001:DB8::1']", false),
            ("[domain-name:value = 'Evil.Example.']", true),
            ("[url:value = 'HTTP://a.example:80/x']", false),
            ("[email-addr:value='Bob@Example.org']", false),
        ] {
            let fast = match single_equality_keys(text, sub).expect("fast path taken") {
                Outcome::Key(k) => vec![k],
                Outcome::Keys(keys) => keys,
                other => panic!("{other:?}"),
            };
            let parsed = phalanx_pattern::parse(text).unwrap();
            let plan = compile_pattern(&parsed, sub).unwrap();
            assert!(plan.simple);
            let slow = plan.observations.into_iter().next().flatten().unwrap();
            assert_eq!(format!("{fast:?}"), format!("{slow:?}"), "{text}");
        }
        for text in ["[ipv4-addr:value = 'not an ip']", "[domain-name:value = 'a\\'b']", "[ipv4-addr:value = '1.2.3.4'] WITHIN 5 SECONDS", "[ipv4-addr:value = '1.2.3.4' OR ipv4-addr:value = '1.2.3.5']"] {
            assert!(single_equality_keys(text, false).is_none(), "{text}");
        }
    }
}
