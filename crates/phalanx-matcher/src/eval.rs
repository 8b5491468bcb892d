//! The STIX 2.1 pattern evaluator for `observed-data`, with the semantics of
//! OASIS `stix2-matcher` 3.0.0 (checked by `interop/matcher/differential.py`).
//!
//! An observation expression is evaluated as the reference does it: each
//! `observed-data` with `number_observed = n` gives `n` *instances*; a
//! *binding* is a set of instances; `[a]` binds one instance whose objects
//! satisfy `a`, `AND` and `FOLLOWEDBY` join disjoint bindings (`FOLLOWEDBY`
//! also needs the latest `first_observed` on the left to be at or before the
//! earliest `last_observed` on the right), `OR` keeps either side,
//! `REPEATS n` joins `n` pairwise disjoint bindings, `WITHIN` and
//! `START/STOP` filter bindings by their time intervals. The pattern matches
//! when at least one binding is left.
//!
//! Deliberate differences are listed in `interop/matcher/DIFFERENCES.md`
//! (regular-expression dialect, Unicode normalisation, caps on bindings).

use phalanx_pattern::{Comparison, ComparisonExpr, Literal, ObservationExpr, Operator, PathStep, Pattern, Qualifier};
use serde_json::Value;
use std::collections::{BTreeSet, HashMap};

/// Most bindings one sub-expression may produce; past it the rest are
/// dropped (a pathological pattern could otherwise take exponential time).
pub const MAX_BINDINGS: usize = 20_000;
/// Most instances taken from one `observed-data` (its `number_observed`,
/// capped); only `REPEATS` counts above this would notice.
pub const MAX_INSTANCES: u32 = 256;

/// Why a pattern could not be evaluated (the reference raises an exception
/// in each of these cases).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EvalError {
    /// The observed data is not usable: a missing or wrong property.
    #[error("observed-data {id}: {message}")]
    ObservedData {
        /// The `observed-data` id (or `?`).
        id: String,
        /// What is wrong, naming the property.
        message: String,
    },
    /// A value met during evaluation cannot be compared as the pattern asks.
    #[error("pattern evaluation: {0}")]
    Value(String),
}

/// One `observed-data` object with the objects it references.
#[derive(Debug, Clone)]
pub struct Observation {
    /// `first_observed`, in microseconds since the Unix epoch.
    pub first_observed: i64,
    /// `last_observed`, in microseconds since the Unix epoch.
    pub last_observed: i64,
    /// `number_observed` (at least 1).
    pub number_observed: u32,
    /// The `observed-data` itself followed by the objects of its
    /// `object_refs` (each has an `id`).
    pub objects: Vec<Value>,
}

/// Reads the `observed-data` objects of a STIX 2.1 object list (a bundle's
/// `objects`), each with the SCOs its `object_refs` name.
pub fn observations_from_objects(objects: &[Value]) -> Result<Vec<Observation>, EvalError> {
    let mut by_id: HashMap<&str, &Value> = HashMap::new();
    for o in objects {
        if o.get("type").and_then(Value::as_str) != Some("observed-data") {
            if let Some(id) = o.get("id").and_then(Value::as_str) {
                by_id.insert(id, o);
            }
        }
    }
    let mut out = Vec::new();
    for o in objects.iter().filter(|o| o.get("type").and_then(Value::as_str) == Some("observed-data")) {
        let id = o.get("id").and_then(Value::as_str).unwrap_or("?").to_owned();
        let bad = |message: &str| EvalError::ObservedData { id: id.clone(), message: message.to_owned() };
        let number = o.get("number_observed").and_then(Value::as_u64).filter(|&n| n >= 1).ok_or_else(|| bad("number_observed must be an integer >= 1"))?;
        let first = o.get("first_observed").and_then(Value::as_str).and_then(timestamp_micros).ok_or_else(|| bad("first_observed is not a timestamp"))?;
        let last = o.get("last_observed").and_then(Value::as_str).and_then(timestamp_micros).ok_or_else(|| bad("last_observed is not a timestamp"))?;
        if last < first {
            return Err(bad("last_observed is before first_observed"));
        }
        let refs = o.get("object_refs").and_then(Value::as_array).ok_or_else(|| bad("object_refs is missing"))?;
        let mut objs = vec![o.clone()];
        for r in refs {
            if let Some(found) = r.as_str().and_then(|r| by_id.get(r)) {
                objs.push((*found).clone());
            }
        }
        out.push(Observation {
            first_observed: first,
            last_observed: last,
            number_observed: u32::try_from(number).unwrap_or(u32::MAX),
            objects: objs,
        });
    }
    Ok(out)
}

/// A STIX timestamp in microseconds since the Unix epoch (sub-microsecond
/// digits are cut, as the reference does).
pub fn timestamp_micros(text: &str) -> Option<i64> {
    phalanx_model::Timestamp::parse(text).ok().map(|t| t.unix_micros())
}

/// Whether `pattern` matches `observations`.
pub fn matches(pattern: &Pattern, observations: &[Observation]) -> Result<bool, EvalError> {
    let timeline = Timeline {
        intervals: observations.iter().map(|o| (o.first_observed, o.last_observed)).collect(),
        counts: observations.iter().map(|o| o.number_observed).collect(),
    };
    let mut leaf = |_: usize, cmp: &ComparisonExpr| -> Result<Vec<usize>, EvalError> {
        let mut hit = Vec::new();
        for (i, obs) in observations.iter().enumerate() {
            if !comparison_roots(cmp, obs)?.is_empty() {
                hit.push(i);
            }
        }
        Ok(hit)
    };
    Ok(!bindings(&pattern.expr, &timeline, &mut leaf, &mut 0)?.is_empty())
}

/// The time intervals and instance counts of the observations an
/// observation expression is evaluated over.
#[derive(Debug, Clone, Default)]
pub struct Timeline {
    /// `(first_observed, last_observed)` of each observation, microseconds.
    pub intervals: Vec<(i64, i64)>,
    /// `number_observed` of each observation.
    pub counts: Vec<u32>,
}

/// A set of instances (`observation index << 32 | instance number`), sorted.
type Binding = Vec<u64>;

fn disjoint(a: &Binding, b: &Binding) -> bool {
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Equal => return false,
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
        }
    }
    true
}

fn union(a: &Binding, b: &Binding) -> Binding {
    let mut v: Binding = a.iter().chain(b).copied().collect();
    v.sort_unstable();
    v
}

fn obs_of(instance: u64) -> usize {
    (instance >> 32) as usize
}

/// Evaluates an observation expression to its bindings. `leaf(k, cmp)`
/// answers which observations satisfy the `k`-th `[...]` (counted left to
/// right from `*next_leaf`). Public so that the streaming matcher can run
/// multi-observation patterns over events it has kept.
pub fn bindings(
    expr: &ObservationExpr,
    timeline: &Timeline,
    leaf: &mut dyn FnMut(usize, &ComparisonExpr) -> Result<Vec<usize>, EvalError>,
    next_leaf: &mut usize,
) -> Result<Vec<Binding>, EvalError> {
    match expr {
        ObservationExpr::Observation { comparison, qualifiers } => {
            let k = *next_leaf;
            *next_leaf += 1;
            let mut out = Vec::new();
            for obs in leaf(k, comparison)? {
                let n = timeline.counts.get(obs).copied().unwrap_or(1).min(MAX_INSTANCES);
                for i in 0..n {
                    out.push(vec![((obs as u64) << 32) | u64::from(i)]);
                }
            }
            qualify(out, qualifiers, timeline)
        }
        ObservationExpr::Grouped { expr, qualifiers } => {
            let inner = bindings(expr, timeline, leaf, next_leaf)?;
            qualify(inner, qualifiers, timeline)
        }
        ObservationExpr::Or(items) => {
            let mut out = Vec::new();
            for item in items {
                out.extend(bindings(item, timeline, leaf, next_leaf)?);
            }
            out.truncate(MAX_BINDINGS);
            Ok(out)
        }
        ObservationExpr::And(items) | ObservationExpr::FollowedBy(items) => {
            let followed = matches!(expr, ObservationExpr::FollowedBy(_));
            let mut acc: Option<Vec<Binding>> = None;
            for item in items {
                let rhs = bindings(item, timeline, leaf, next_leaf)?;
                acc = Some(match acc {
                    None => rhs,
                    Some(lhs) => {
                        let mut joined = BTreeSet::new();
                        'outer: for l in &lhs {
                            for r in &rhs {
                                if !disjoint(l, r) {
                                    continue;
                                }
                                if followed {
                                    let latest_first = l.iter().map(|&i| timeline.intervals[obs_of(i)].0).max();
                                    let earliest_last = r.iter().map(|&i| timeline.intervals[obs_of(i)].1).min();
                                    if latest_first > earliest_last {
                                        continue;
                                    }
                                }
                                joined.insert(union(l, r));
                                if joined.len() >= MAX_BINDINGS {
                                    break 'outer;
                                }
                            }
                        }
                        joined.into_iter().collect()
                    }
                });
            }
            Ok(acc.unwrap_or_default())
        }
    }
}

fn qualify(mut items: Vec<Binding>, qualifiers: &[Qualifier], timeline: &Timeline) -> Result<Vec<Binding>, EvalError> {
    for q in qualifiers {
        items = match q {
            Qualifier::Repeats(n) => repeats(&items, *n),
            Qualifier::Within(secs) => {
                if *secs <= 0.0 {
                    return Err(EvalError::Value(format!("WITHIN {secs} SECONDS: the duration must be positive")));
                }
                let micros = (secs * 1e6).round() as i64;
                items.into_iter().filter(|b| within(b, micros, timeline)).collect()
            }
            Qualifier::StartStop { start, stop } => {
                let start = timestamp_micros(start).ok_or_else(|| EvalError::Value(format!("START t'{start}' is not a timestamp")))?;
                let stop = timestamp_micros(stop).ok_or_else(|| EvalError::Value(format!("STOP t'{stop}' is not a timestamp")))?;
                if start >= stop {
                    Vec::new()
                } else {
                    items.into_iter().filter(|b| b.iter().all(|&i| starts_inside(start, stop, timeline.intervals[obs_of(i)]))).collect()
                }
            }
        };
    }
    Ok(items)
}

/// `START`/`STOP`: the observation's interval overlaps `[start, stop)`
/// (touching `start` counts, touching only `stop` does not).
fn starts_inside(start: i64, stop: i64, (first, last): (i64, i64)) -> bool {
    if stop == first {
        return false;
    }
    last == start || (first <= stop && start <= last)
}

/// `WITHIN`: some window of `micros` starting at the earliest
/// `last_observed` overlaps every interval (touching counts).
fn within(b: &Binding, micros: i64, timeline: &Timeline) -> bool {
    let Some(earliest_last) = b.iter().map(|&i| timeline.intervals[obs_of(i)].1).min() else { return false };
    let end = earliest_last.saturating_add(micros);
    b.iter().all(|&i| {
        let (first, last) = timeline.intervals[obs_of(i)];
        first <= end && earliest_last <= last
    })
}

/// `REPEATS n`: unions of `n` pairwise disjoint bindings.
fn repeats(items: &[Binding], n: u64) -> Vec<Binding> {
    if n <= 1 {
        return items.to_vec();
    }
    let mut out = BTreeSet::new();
    let mut chosen: Vec<usize> = Vec::new();
    fn walk(items: &[Binding], n: usize, start: usize, chosen: &mut Vec<usize>, out: &mut BTreeSet<Binding>, budget: &mut usize) {
        if *budget == 0 {
            return;
        }
        *budget -= 1;
        if chosen.len() == n {
            let mut b: Binding = chosen.iter().flat_map(|&i| items[i].iter().copied()).collect();
            b.sort_unstable();
            out.insert(b);
            return;
        }
        for i in start..items.len() {
            if chosen.iter().all(|&c| disjoint(&items[c], &items[i])) {
                chosen.push(i);
                walk(items, n, i + 1, chosen, out, budget);
                chosen.pop();
                if out.len() >= MAX_BINDINGS {
                    return;
                }
            }
        }
    }
    let n = usize::try_from(n).unwrap_or(usize::MAX);
    if n > items.len() {
        return Vec::new();
    }
    let mut budget = MAX_BINDINGS * 50;
    walk(items, n, 0, &mut chosen, &mut out, &mut budget);
    out.into_iter().collect()
}

/// A value met while walking an object path.
#[derive(Debug, Clone)]
enum Pv<'a> {
    Json(&'a Value),
    Bytes(Vec<u8>),
    /// The objects a `*_refs` list points at (behaves as a list).
    Objects(Vec<&'a Value>),
}

/// The ids of the root objects of `obs` that satisfy `expr` (empty: none).
pub fn comparison_roots<'a>(expr: &ComparisonExpr, obs: &'a Observation) -> Result<BTreeSet<&'a str>, EvalError> {
    match expr {
        ComparisonExpr::Comparison(c) => comparison_test(c, obs),
        ComparisonExpr::And(items) => {
            let mut acc: Option<BTreeSet<&'a str>> = None;
            for item in items {
                let roots = comparison_roots(item, obs)?;
                acc = Some(match acc {
                    None => roots,
                    Some(a) => a.intersection(&roots).copied().collect(),
                });
            }
            Ok(acc.unwrap_or_default())
        }
        ComparisonExpr::Or(items) => {
            let mut acc = BTreeSet::new();
            for item in items {
                acc.extend(comparison_roots(item, obs)?);
            }
            Ok(acc)
        }
    }
}

/// Object types that are not cyber-observables: a pattern naming one never
/// matches (as in the reference).
const NOT_OBSERVABLE: &[&str] = &[
    "attack-pattern", "bundle", "campaign", "course-of-action", "extension-definition", "grouping", "identity",
    "incident", "indicator", "infrastructure", "intrusion-set", "language-content", "location", "malware",
    "malware-analysis", "marking-definition", "note", "observed-data", "opinion", "relationship", "report",
    "threat-actor", "tool", "sighting", "vulnerability",
];

fn comparison_test<'a>(c: &Comparison, obs: &'a Observation) -> Result<BTreeSet<&'a str>, EvalError> {
    let mut roots = BTreeSet::new();
    if NOT_OBSERVABLE.contains(&c.path.object_type.as_str()) {
        return Ok(roots);
    }
    // Objects by id; a later object with the same id replaces an earlier one.
    let mut by_id: Vec<(&'a str, &'a Value)> = Vec::new();
    for o in &obs.objects {
        let Some(id) = o.get("id").and_then(Value::as_str) else {
            return Err(EvalError::Value("an object of an observed-data has no id".into()));
        };
        match by_id.iter_mut().find(|(i, _)| *i == id) {
            Some(slot) => slot.1 = o,
            None => by_id.push((id, o)),
        }
    }
    let pred = Predicate::new(c)?;
    for (id, o) in by_id {
        if o.get("type").and_then(Value::as_str) != Some(c.path.object_type.as_str()) {
            continue;
        }
        let mut values = vec![Pv::Json(o)];
        for step in &c.path.steps {
            values = take_step(values, step, obs)?;
            if values.is_empty() {
                break;
            }
        }
        for v in &values {
            if pred.test(v)? {
                roots.insert(id);
                break;
            }
        }
    }
    Ok(roots)
}

fn deref<'a>(obs: &'a Observation, r: &Value, name: &str) -> Result<Vec<&'a Value>, EvalError> {
    let Some(r) = r.as_str() else {
        return Err(EvalError::Value(format!("a value of reference property '{name}' is not a string")));
    };
    Ok(obs.objects.iter().filter(|o| o.get("id").and_then(Value::as_str) == Some(r)).collect())
}

fn take_step<'a>(values: Vec<Pv<'a>>, step: &PathStep, obs: &'a Observation) -> Result<Vec<Pv<'a>>, EvalError> {
    let mut out = Vec::new();
    match step {
        PathStep::Property(name) => {
            for v in values {
                let Pv::Json(Value::Object(map)) = v else { continue };
                let Some(val) = map.get(name.as_str()) else { continue };
                let stepped = if name.ends_with("_hex") {
                    let text = val.as_str().ok_or_else(|| EvalError::Value(format!("'{name}' is not a string")))?;
                    Pv::Bytes(crate::normalize::hex_hash(text).filter(|_| !text.contains(':')).or_else(|| text.is_empty().then(Vec::new)).ok_or_else(|| EvalError::Value(format!("'{name}' is not hexadecimal")))?)
                } else if name.ends_with("_bin") {
                    let text = val.as_str().ok_or_else(|| EvalError::Value(format!("'{name}' is not a string")))?;
                    Pv::Bytes(base64_decode(text).ok_or_else(|| EvalError::Value(format!("'{name}' is not base64")))?)
                } else {
                    Pv::Json(val)
                };
                if name.ends_with("_ref") {
                    let Pv::Json(r) = &stepped else { continue };
                    out.extend(deref(obs, r, name)?.into_iter().map(Pv::Json));
                } else if name.ends_with("_refs") {
                    let Pv::Json(list) = &stepped else { continue };
                    let Some(list) = list.as_array() else {
                        return Err(EvalError::Value(format!("the value of reference list property '{name}' is not a list")));
                    };
                    let mut objs = Vec::new();
                    for r in list {
                        objs.extend(deref(obs, r, name)?);
                    }
                    if !objs.is_empty() {
                        out.push(Pv::Objects(objs));
                    }
                } else {
                    out.push(stepped);
                }
            }
        }
        PathStep::Index(n) => {
            let n = usize::try_from(*n).unwrap_or(usize::MAX);
            for v in values {
                match v {
                    Pv::Json(Value::Array(a)) => out.extend(a.get(n).map(Pv::Json)),
                    Pv::Objects(objs) => out.extend(objs.get(n).map(|o| Pv::Json(*o))),
                    _ => {}
                }
            }
        }
        PathStep::AnyIndex => {
            for v in values {
                match v {
                    Pv::Json(Value::Array(a)) => out.extend(a.iter().map(Pv::Json)),
                    Pv::Objects(objs) => out.extend(objs.into_iter().map(Pv::Json)),
                    _ => {}
                }
            }
        }
    }
    Ok(out)
}

fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut acc = 0u32;
    let mut bits = 0;
    let body = text.trim_end_matches('=');
    if text.len() % 4 != 0 || text.len() - body.len() > 2 {
        return None;
    }
    for c in body.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Some(out)
}

/// A value as the reference's Python sees it, for comparisons.
#[derive(Debug, Clone, PartialEq)]
enum Py<'a> {
    Int(i128),
    Float(f64),
    Bool(bool),
    Str(&'a str),
    Bytes(&'a [u8]),
    Time(i64),
    Other,
}

fn py<'a>(v: &'a Pv<'_>) -> Py<'a> {
    match v {
        Pv::Json(Value::String(s)) => Py::Str(s),
        Pv::Json(Value::Bool(b)) => Py::Bool(*b),
        Pv::Json(Value::Number(n)) => {
            if let Some(i) = n.as_i64() {
                Py::Int(i128::from(i))
            } else if let Some(u) = n.as_u64() {
                Py::Int(i128::from(u))
            } else {
                Py::Float(n.as_f64().unwrap_or(f64::NAN))
            }
        }
        Pv::Bytes(b) => Py::Bytes(b),
        _ => Py::Other,
    }
}

fn lit_py(l: &Literal) -> Result<Py<'_>, EvalError> {
    Ok(match l {
        Literal::String(s) => Py::Str(s),
        Literal::Int(i) => Py::Int(i128::from(*i)),
        Literal::Float(f) => Py::Float(*f),
        Literal::Bool(b) => Py::Bool(*b),
        Literal::Hex(b) | Literal::Binary(b) => Py::Bytes(b),
        Literal::Timestamp(t) => Py::Time(timestamp_micros(t).ok_or_else(|| EvalError::Value(format!("t'{t}' is not a timestamp")))?),
        Literal::Set(_) => Py::Other,
    })
}

/// A string as Latin-1 bytes, if every code point is below 256.
fn latin1(s: &str) -> Option<Vec<u8>> {
    s.chars().map(|c| u8::try_from(u32::from(c)).ok()).collect()
}

/// Python's `==` across the types the reference compares (`None` when the
/// pair of types is not comparable, which the reference treats as unequal).
fn py_eq(a: &Py<'_>, b: &Py<'_>) -> Option<bool> {
    Some(match (a, b) {
        (Py::Int(x), Py::Int(y)) => x == y,
        (Py::Int(x), Py::Float(y)) | (Py::Float(y), Py::Int(x)) => (*x as f64) == *y,
        (Py::Float(x), Py::Float(y)) => x == y,
        (Py::Bytes(x), Py::Bytes(y)) => x == y,
        (Py::Bytes(x), Py::Str(s)) | (Py::Str(s), Py::Bytes(x)) => latin1(s).is_some_and(|l| l.as_slice() == *x),
        (Py::Str(x), Py::Str(y)) => x == y,
        (Py::Bool(x), Py::Bool(y)) => x == y,
        (Py::Time(x), Py::Time(y)) => x == y,
        _ => return None,
    })
}

/// Python's ordering across the types the reference orders: `None` when
/// not comparable, `Some(None)` when the comparison fails (a string with a
/// code point over 255 against bytes).
fn py_cmp(value: &Py<'_>, lit: &Py<'_>) -> Option<Option<std::cmp::Ordering>> {
    use std::cmp::Ordering;
    let f = |x: f64, y: f64| x.partial_cmp(&y).or(Some(Ordering::Equal));
    Some(match (value, lit) {
        (Py::Int(x), Py::Int(y)) => Some(x.cmp(y)),
        (Py::Int(x), Py::Float(y)) => f(*x as f64, *y),
        (Py::Float(x), Py::Int(y)) => f(*x, *y as f64),
        (Py::Float(x), Py::Float(y)) => f(*x, *y),
        (Py::Bytes(x), Py::Bytes(y)) => Some(x.cmp(y)),
        (Py::Bytes(x), Py::Str(s)) => latin1(s).map(|l| (*x).cmp(l.as_slice())),
        (Py::Str(s), Py::Bytes(y)) => latin1(s).map(|l| l.as_slice().cmp(*y)),
        (Py::Str(x), Py::Str(y)) => Some(x.cmp(y)),
        (Py::Time(x), Py::Time(y)) => Some(x.cmp(y)),
        _ => return None,
    })
}

/// Python set membership: numbers (and booleans) compare by value.
fn py_set_eq(a: &Py<'_>, b: &Py<'_>) -> bool {
    let num = |p: &Py<'_>| match p {
        Py::Int(i) => Some(*i as f64),
        Py::Float(f) => Some(*f),
        Py::Bool(b) => Some(f64::from(u8::from(*b))),
        _ => None,
    };
    match (num(a), num(b)) {
        (Some(x), Some(y)) => x == y,
        _ => match (a, b) {
            (Py::Str(x), Py::Str(y)) => x == y,
            (Py::Bytes(x), Py::Bytes(y)) => x == y,
            (Py::Time(x), Py::Time(y)) => x == y,
            _ => false,
        },
    }
}

enum Test<'p> {
    Eq(Py<'p>),
    Order(Py<'p>),
    Set(Vec<Py<'p>>),
    Like(regex::Regex),
    Matches(regex::Regex),
    Subset(&'p str),
    Superset(&'p str),
    Exists,
}

struct Predicate<'p> {
    c: &'p Comparison,
    test: Test<'p>,
}

impl<'p> Predicate<'p> {
    fn new(c: &'p Comparison) -> Result<Self, EvalError> {
        let lit = c.value.as_ref();
        let string = |what: &str| match lit {
            Some(Literal::String(s)) => Ok(s.as_str()),
            _ => Err(EvalError::Value(format!("{what} needs a string"))),
        };
        let test = match c.op {
            Operator::Eq | Operator::Neq => Test::Eq(lit_py(lit.ok_or_else(|| EvalError::Value("= needs a value".into()))?)?),
            Operator::Gt | Operator::Lt | Operator::Ge | Operator::Le => Test::Order(lit_py(lit.ok_or_else(|| EvalError::Value("ordering needs a value".into()))?)?),
            Operator::In => {
                let Some(Literal::Set(items)) = lit else { return Err(EvalError::Value("IN needs a set".into())) };
                let mut set = Vec::new();
                for item in items {
                    set.push(lit_py(item)?);
                }
                let numeric = |p: &Py<'_>| matches!(p, Py::Int(_) | Py::Float(_));
                let homogeneous = set.windows(2).all(|w| std::mem::discriminant(&w[0]) == std::mem::discriminant(&w[1])) || set.iter().all(numeric);
                if !homogeneous {
                    return Err(EvalError::Value("a set mixes types".into()));
                }
                Test::Set(set)
            }
            Operator::Like => Test::Like(like_regex(string("LIKE")?)?),
            Operator::Matches => Test::Matches(
                regex::Regex::new(string("MATCHES")?).map_err(|e| EvalError::Value(format!("MATCHES: not a supported regular expression: {e}")))?,
            ),
            Operator::IsSubset => Test::Subset(string("ISSUBSET")?),
            Operator::IsSuperset => Test::Superset(string("ISSUPERSET")?),
            Operator::Exists => Test::Exists,
        };
        Ok(Predicate { c, test })
    }

    fn test(&self, v: &Pv<'_>) -> Result<bool, EvalError> {
        let value = py(v);
        let negate = |r: bool| r != self.c.negated;
        Ok(match &self.test {
            Test::Exists => negate(true),
            Test::Eq(lit) => {
                let value = time_if(lit, value)?;
                let r = py_eq(&value, lit).unwrap_or(false);
                negate(if self.c.op == Operator::Neq { !r } else { r })
            }
            Test::Order(lit) => {
                let value = time_if(lit, value)?;
                let Some(ord) = py_cmp(&value, lit) else { return Ok(false) };
                let r = match ord {
                    None => false,
                    Some(o) => match self.c.op {
                        Operator::Lt => o.is_lt(),
                        Operator::Gt => o.is_gt(),
                        Operator::Le => o.is_le(),
                        _ => o.is_ge(),
                    },
                };
                negate(r)
            }
            Test::Set(set) => {
                let value = match set.first() {
                    Some(first) => time_if(first, value)?,
                    None => value,
                };
                negate(set.iter().any(|s| py_set_eq(&value, s)))
            }
            Test::Like(re) => {
                let r = match (&value, v) {
                    (Py::Str(s), _) => re.is_match(s),
                    (Py::Bytes(b), _) => match std::str::from_utf8(b) {
                        Ok(s) => re.is_match(s),
                        Err(_) => return Err(EvalError::Value("LIKE on bytes that are not UTF-8".into())),
                    },
                    _ => false,
                };
                negate(r)
            }
            Test::Matches(re) => {
                let r = match &value {
                    Py::Str(s) => re.is_match(s),
                    Py::Bytes(b) => std::str::from_utf8(b).is_ok_and(|s| re.is_match(s)),
                    _ => false,
                };
                negate(r)
            }
            Test::Subset(net) => negate(match value {
                Py::Str(s) => ip_in_subnet(s, net)?,
                _ => false,
            }),
            Test::Superset(addr) => negate(match value {
                Py::Str(s) => ip_in_subnet(addr, s)?,
                _ => false,
            }),
        })
    }
}

/// A JSON string compared with a timestamp literal is read as a timestamp.
fn time_if<'a>(lit: &Py<'_>, value: Py<'a>) -> Result<Py<'a>, EvalError> {
    match (lit, &value) {
        (Py::Time(_), Py::Str(s)) => Ok(Py::Time(timestamp_micros(s).ok_or_else(|| EvalError::Value(format!("'{s}' is not a timestamp")))?)),
        _ => Ok(value),
    }
}

/// LIKE as a regular expression: `%` any run, `_` one character, anchored
/// (Python's `$` also matches before one final newline).
fn like_regex(like: &str) -> Result<regex::Regex, EvalError> {
    let mut re = String::from("^(?:");
    for c in like.chars() {
        match c {
            '%' => re.push_str(".*"),
            '_' => re.push('.'),
            c => re.push_str(&regex::escape(&c.to_string())),
        }
    }
    re.push_str(")\n?\\z");
    regex::Regex::new(&re).map_err(|e| EvalError::Value(format!("LIKE '{like}': {e}")))
}

/// IPv4 address or block `inner` inside block `outer` (both IPv4; `outer`
/// must carry a prefix length 1..=32), as the reference computes it.
fn ip_in_subnet(inner: &str, outer: &str) -> Result<bool, EvalError> {
    let block = |s: &str, need_len: bool| -> Result<(u32, u32), EvalError> {
        let bad = || EvalError::Value(format!("'{s}' is not an IPv4 address or CIDR block"));
        let (addr, len) = match s.split_once('/') {
            Some((a, l)) => {
                if l.is_empty() || !l.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(bad());
                }
                let l: u32 = l.parse().map_err(|_| bad())?;
                if !(1..=32).contains(&l) {
                    return Err(bad());
                }
                (a, l)
            }
            None if need_len => return Err(bad()),
            None => (s, 32),
        };
        let ip: std::net::Ipv4Addr = addr.parse().map_err(|_| bad())?;
        Ok((u32::from(ip), len))
    };
    let (inner_ip, inner_len) = block(inner, false)?;
    let (outer_ip, outer_len) = block(outer, true)?;
    if outer_len > inner_len {
        return Ok(false);
    }
    let mask = u32::MAX << (32 - outer_len);
    Ok(inner_ip & mask == outer_ip & mask)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn od(id: &str, first: &str, last: &str, n: u32, refs: &[&str]) -> Value {
        json!({"type": "observed-data", "id": id, "first_observed": first, "last_observed": last, "number_observed": n, "object_refs": refs})
    }

    fn run(pattern: &str, objects: &[Value]) -> bool {
        let p = phalanx_pattern::parse(pattern).expect("pattern parses");
        matches(&p, &observations_from_objects(objects).expect("observations")).expect("evaluates")
    }

    fn sample() -> Vec<Value> {
        vec![
            json!({"type": "ipv4-addr", "id": "ipv4-addr--1", "value": "10.0.0.5"}),
            json!({"type": "domain-name", "id": "domain-name--1", "value": "evil.example", "resolves_to_refs": ["ipv4-addr--1"]}),
            json!({"type": "network-traffic", "id": "network-traffic--1", "dst_ref": "ipv4-addr--1", "dst_port": 443, "protocols": ["tcp", "tls"]}),
            od("observed-data--1", "2020-01-01T00:00:00Z", "2020-01-01T00:00:10Z", 1, &["ipv4-addr--1", "domain-name--1", "network-traffic--1"]),
            json!({"type": "file", "id": "file--1", "hashes": {"SHA-256": "aa"}, "name": "a.exe", "size": 10}),
            od("observed-data--2", "2020-01-01T00:05:00Z", "2020-01-01T00:05:00Z", 2, &["file--1"]),
        ]
    }

    #[test]
    fn comparisons_follow_references_lists_and_negation() {
        let s = sample();
        assert!(run("[ipv4-addr:value ISSUBSET '10.0.0.0/8']", &s));
        assert!(!run("[ipv4-addr:value ISSUBSET '11.0.0.0/8']", &s));
        assert!(run("[network-traffic:dst_ref.value = '10.0.0.5' AND network-traffic:dst_port = 443]", &s));
        assert!(run("[network-traffic:protocols[*] = 'tls']", &s));
        assert!(!run("[network-traffic:protocols[0] = 'tls']", &s));
        assert!(run("[domain-name:resolves_to_refs[*].value = '10.0.0.5']", &s));
        assert!(run("[domain-name:value LIKE '%.example']", &s));
        assert!(run("[domain-name:value MATCHES '^ev.l\\\\.']", &s));
        assert!(run("[file:size NOT > 20]", &s));
        assert!(!run("[file:name > 5]", &s), "string against int is not ordered");
        assert!(!run("[file:name NOT > 5]", &s), "not comparable stays false under NOT");
        assert!(run("[file:name != 5]", &s));
        assert!(run("[file:size IN (10.0, 11)]", &s));
        assert!(!run("[ipv4-addr:value = '10.0.0.5' AND domain-name:value = 'evil.example']", &s), "one root object");
        assert!(run("[indicator:name = 'x'] OR [file:name = 'a.exe']", &s));
        assert!(!run("[indicator:name = 'x']", &s));
    }

    #[test]
    fn observation_operators_bind_distinct_instances_in_time() {
        let s = sample();
        assert!(run("[ipv4-addr:value = '10.0.0.5'] AND [file:name = 'a.exe']", &s));
        assert!(run("[ipv4-addr:value = '10.0.0.5'] FOLLOWEDBY [file:name = 'a.exe']", &s));
        assert!(!run("[file:name = 'a.exe'] FOLLOWEDBY [ipv4-addr:value = '10.0.0.5']", &s));
        assert!(run("[file:name = 'a.exe'] REPEATS 2 TIMES", &s), "number_observed 2 gives two instances");
        assert!(!run("[file:name = 'a.exe'] REPEATS 3 TIMES", &s));
        assert!(!run("[ipv4-addr:value = '10.0.0.5'] AND [ipv4-addr:value = '10.0.0.5']", &s), "one instance");
        assert!(run("([ipv4-addr:value = '10.0.0.5'] AND [file:name = 'a.exe']) WITHIN 300 SECONDS", &s));
        assert!(!run("([ipv4-addr:value = '10.0.0.5'] AND [file:name = 'a.exe']) WITHIN 200 SECONDS", &s));
        assert!(run("[file:name = 'a.exe'] START t'2020-01-01T00:05:00Z' STOP t'2020-01-01T00:06:00Z'", &s));
        assert!(!run("[file:name = 'a.exe'] START t'2020-01-01T00:04:00Z' STOP t'2020-01-01T00:05:00Z'", &s));
    }

    #[test]
    fn bad_observed_data_is_an_error_naming_the_property() {
        let e = observations_from_objects(&[json!({"type": "observed-data", "id": "observed-data--x", "number_observed": 0})]).unwrap_err();
        assert!(e.to_string().contains("number_observed"), "{e}");
    }
}
