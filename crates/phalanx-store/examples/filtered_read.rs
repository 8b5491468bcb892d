//! Benchmark: a filtered read must cost at most 1.5 times the same
//! unfiltered read.
//!
//! Builds (or reuses) a store of N objects (default 1,000,000) under 50
//! different labels, written through the `Store` API in one transaction,
//! then times two reads for two readers:
//!
//! * a listing page of 100 objects (ascending `date_added`, from a random
//!   cursor), and
//! * a full-text query (first page of 100 for a word that about 1% of the
//!   objects carry);
//!
//! for (a) a reader who may read all 50 labels (the unfiltered baseline)
//! and (b) a reader who may read 5 of them (about 10% of the objects). It
//! prints the median and p99 of each, the ratio (b)/(a) of the medians, and
//! PASS or FAIL against 1.5.
//!
//! Usage: `cargo run --release -p phalanx-store --example filtered_read --
//! [--dir DIR] [--objects N] [--reps R] [--rebuild]`.

use phalanx_labels::{Label, Organisation, Pap, Policy, Rank, Reader, Subject, Tlp};
use phalanx_model::StixObject;
use phalanx_store::{Cursor, NewVersion, Query, SqliteStore, Store};
use serde_json::json;
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::{Duration, Instant};

const LABELS: usize = 50;
const WORDS: u64 = 100;
const TARGET: f64 = 1.5;
const ORIGINATOR: &str = "identity--0b7e6c1a-6a1e-4c55-9a0a-3b0f0d1e2c3d";

struct Args {
    dir: PathBuf,
    objects: u64,
    reps: usize,
    rebuild: bool,
}

fn args() -> Result<Args, String> {
    let mut a = Args { dir: PathBuf::from("bench/out/filtered_read"), objects: 1_000_000, reps: 300, rebuild: false };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag}: a value is needed"));
        match flag.as_str() {
            "--dir" => a.dir = PathBuf::from(value()?),
            "--objects" => a.objects = value()?.parse().map_err(|e| format!("--objects: {e}"))?,
            "--reps" => a.reps = value()?.parse().map_err(|e| format!("--reps: {e}"))?,
            "--rebuild" => a.rebuild = true,
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(a)
}

/// Deterministic pseudo-random numbers (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

/// Label `j` of the 50: releasable to community `C<j>`, with a mix of
/// policies, ranks, TLP levels and caveats.
fn label(j: usize) -> Label {
    let (policy, rank, tlp) = match j % 5 {
        0 => (Policy::Unclassified, Rank::Unclassified, Tlp::Green),
        1 => (Policy::Eu, Rank::Restricted, Tlp::Amber),
        2 => (Policy::Nato, Rank::Confidential, Tlp::Green),
        3 => (Policy::Eu, Rank::Secret, Tlp::AmberStrict),
        _ => (Policy::Nato, Rank::Unclassified, Tlp::Clear),
    };
    Label {
        policy,
        classification: rank,
        releasable_to: BTreeSet::from([format!("C{j:02}")]),
        caveats: if j % 10 == 9 { BTreeSet::from(["ATOMAL".to_string()]) } else { BTreeSet::new() },
        tlp: Some(tlp),
        pap: Some(Pap::Amber),
        exercise: None,
        originator: Some(ORIGINATOR.to_owned()),
    }
}

/// A reader cleared for everything, member of communities `C00..C<n-1>`.
fn reader(org: &str, communities: usize) -> Subject {
    let mut o = Organisation::new(org);
    o.country = Some("LTU".into());
    o.memberships = (0..communities).map(|j| format!("C{j:02}")).collect();
    let mut r = Reader::new(o);
    r.clearance = Rank::TopSecret;
    r.briefed = BTreeSet::from([Policy::Eu, Policy::Nato]);
    r.caveats = BTreeSet::from(["ATOMAL".to_string()]);
    Subject::User(r)
}

fn build(store: &SqliteStore, n: u64) -> Result<(), Box<dyn std::error::Error>> {
    let labels: Vec<Label> = (0..LABELS).map(label).collect();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let started = Instant::now();
    let mut txn = store.begin()?;
    for i in 0..n {
        let r = rng.next();
        let j = (r % LABELS as u64) as usize;
        let word = (r >> 20) % WORDS;
        let other = (r >> 40) % 1000;
        let value = json!({
            "type": "indicator",
            "spec_version": "2.1",
            "id": format!("indicator--{:08x}-0000-4000-8000-{:012x}", i >> 16, i),
            "created": "2026-01-01T00:00:00.000Z",
            "modified": "2026-01-01T00:00:00.000Z",
            "name": format!("campaign t{word:03} infrastructure k{other:03}"),
            "description": format!("seeded object {i} for the filtered read benchmark"),
            "pattern": format!("[ipv4-addr:value = '10.{}.{}.{}']", (i >> 16) & 255, (i >> 8) & 255, i & 255),
            "pattern_type": "stix",
            "valid_from": "2026-01-01T00:00:00Z"
        });
        let object = StixObject::from_value(value, "$").map_err(|e| e.to_string())?.object;
        let text = object.to_json_string();
        txn.put(NewVersion { object: &object, json: &text, label: &labels[j], origin: "bench" })?;
        if (i + 1) % 100_000 == 0 {
            eprintln!("  {} objects, {:.0} s", i + 1, started.elapsed().as_secs_f64());
        }
    }
    txn.commit()?;
    store.set_setting("bench_filtered_read_objects", &n.to_string())?;
    eprintln!("built {n} objects in {:.1} s", started.elapsed().as_secs_f64());
    Ok(())
}

struct Timing {
    median: Duration,
    p99: Duration,
    rows: f64,
}

fn time(reps: usize, mut f: impl FnMut(usize) -> usize) -> Timing {
    for i in 0..reps.min(20) {
        f(i); // warm the cache
    }
    let mut samples = Vec::with_capacity(reps);
    let mut rows = 0usize;
    for i in 0..reps {
        let t = Instant::now();
        rows += f(i);
        samples.push(t.elapsed());
    }
    samples.sort();
    let at = |q: f64| samples[((samples.len() as f64 - 1.0) * q).round() as usize];
    Timing { median: at(0.5), p99: at(0.99), rows: rows as f64 / reps as f64 }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn main() {
    if let Err(e) = run() {
        eprintln!("filtered_read: error: {e}");
        std::process::exit(2);
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let a = args()?;
    if a.rebuild && a.dir.exists() {
        std::fs::remove_dir_all(&a.dir)?;
    }
    let store = SqliteStore::open(&a.dir)?;
    let have: u64 = store.setting("bench_filtered_read_objects")?.and_then(|s| s.parse().ok()).unwrap_or(0);
    if have != a.objects {
        if have != 0 {
            drop(store);
            std::fs::remove_dir_all(&a.dir)?;
            return run_rebuilt(a);
        }
        eprintln!("building {} objects under {LABELS} labels in {}", a.objects, a.dir.display());
        build(&store, a.objects)?;
    } else {
        eprintln!("reusing {} objects in {}", a.objects, a.dir.display());
    }
    measure(&store, &a)
}

fn run_rebuilt(mut a: Args) -> Result<(), Box<dyn std::error::Error>> {
    a.rebuild = false;
    let store = SqliteStore::open(&a.dir)?;
    eprintln!("building {} objects under {LABELS} labels in {}", a.objects, a.dir.display());
    build(&store, a.objects)?;
    measure(&store, &a)
}

fn measure(store: &SqliteStore, a: &Args) -> Result<(), Box<dyn std::error::Error>> {
    let all = reader("identity--1c4a2b3d-0000-4000-8000-00000000000a", LABELS);
    let tenth = reader("identity--1c4a2b3d-0000-4000-8000-00000000000b", LABELS / 10);
    let total = store.count(&all, &Query::default())?;
    let share = store.count(&tenth, &Query::default())? as f64 / total as f64;
    // The cursor range: date_added (µs) of the first and last objects.
    let first = store.query(&all, &Query { limit: 1, ..Query::default() })?.objects[0].seq;
    let last = store.query(&all, &Query { limit: 1, order: phalanx_store::Order::AddedDescending, ..Query::default() })?.objects[0].seq;
    println!("objects: {total}, labels: {LABELS}, filtered reader reads {:.1}%", share * 100.0);

    let mut results = Vec::new();
    for (name, which) in [("page of 100", 0), ("full-text, first 100", 1)] {
        let run = |subject: &Subject| -> Result<Timing, String> {
            let mut err = None;
            let t = time(a.reps, |i| {
                let mut rng = Rng(0x1234_5678 + i as u64);
                let q = if which == 0 {
                    let span = (last - first).max(1) as u64;
                    let cursor = first + (rng.next() % span) as i64;
                    Query { limit: 100, after: Some(Cursor(cursor)), ..Query::default() }
                } else {
                    let word = rng.next() % WORDS;
                    Query { limit: 100, text: Some(format!("t{word:03}")), ..Query::default() }
                };
                match store.query(subject, &q) {
                    Ok(p) => p.objects.len(),
                    Err(e) => {
                        err = Some(e.to_string());
                        0
                    }
                }
            });
            match err {
                Some(e) => Err(e),
                None => Ok(t),
            }
        };
        let base = run(&all)?;
        let filtered = run(&tenth)?;
        let ratio = ms(filtered.median) / ms(base.median);
        let ratio99 = ms(filtered.p99) / ms(base.p99);
        println!(
            "{name}: all labels median {:.3} ms p99 {:.3} ms ({:.0} rows); 10% reader median {:.3} ms p99 {:.3} ms ({:.0} rows); ratio {:.2} (p99 {:.2}) {}",
            ms(base.median),
            ms(base.p99),
            base.rows,
            ms(filtered.median),
            ms(filtered.p99),
            filtered.rows,
            ratio,
            ratio99,
            if ratio <= TARGET { "PASS" } else { "FAIL" }
        );
        results.push(ratio <= TARGET);
    }
    let pass = results.iter().all(|r| *r);
    println!("target: filtered/unfiltered median <= {TARGET}: {}", if pass { "PASS" } else { "FAIL" });
    if !pass {
        std::process::exit(1);
    }
    Ok(())
}
