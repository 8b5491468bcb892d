//! `phalanx export --format suricata|zeek-intel|csv`: the indicators a
//! user may read, as sensor input.
//!
//! Indicators are read through the store under the user's read rule
//! (reads of RESTRICTED and above audited, path `export`), newest version
//! of each, revoked ones left out; expired ones (`valid_until` passed),
//! non-STIX patterns and patterns that are not a list of values
//! (`phalanx_matcher::sensor::indicator_iocs` says why) are skipped and
//! counted. **PAP:** Suricata rules with `--suricata-action drop` or
//! `reject` block traffic, an active action: indicators with PAP:RED or
//! PAP:AMBER never go into them (PAP:GREEN, PAP:CLEAR and no PAP do).
//! `alert` rules, Zeek Intel files and CSV only detect or list, and carry
//! every readable indicator.

use crate::Finished;
use phalanx_matcher::sensor::{
    CSV_HEADER, IndicatorMeta, SidAllocator, SuricataAction, ZEEK_INTEL_HEADER, csv_rows, indicator_iocs, pap_allows_blocking, suricata_rules,
    zeek_intel_lines,
};
use phalanx_model::Timestamp;
use phalanx_store::{Actor, Query, SqliteStore, Store, VersionFilter};
use serde_json::Value;
use std::io::Write;

/// A sensor format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SensorFormat {
    /// Suricata rules with this action.
    Suricata(SuricataAction),
    /// A Zeek Intel framework file.
    ZeekIntel,
    /// CSV, one row per value.
    Csv,
}

#[derive(Default)]
struct Counts {
    indicators: u64,
    entries: u64,
    expired: u64,
    not_values: u64,
    withheld_by_pap: u64,
    values_skipped: u64,
}

/// Writes the readable indicators of `query` (its types are replaced by
/// `indicator`) in `format` to `out`.
pub fn write(store: &SqliteStore, actor: &Actor, mut query: Query, format: SensorFormat, out: &mut dyn Write) -> anyhow::Result<Finished> {
    query.types = vec!["indicator".into()];
    query.versions = VersionFilter::Last;
    query.exclude_revoked = true;
    let now = Timestamp::now(6).unix_micros();
    let mut sids = SidAllocator::default();
    let mut counts = Counts::default();
    let mut notes: Vec<String> = Vec::new();
    match format {
        SensorFormat::Suricata(action) => {
            writeln!(out, "# Phalanx indicators as Suricata rules ({} rules), exported {}", action.as_str(), Timestamp::now(0))?;
            if action.is_active_blocking() {
                writeln!(out, "# Active blocking: indicators with PAP:RED or PAP:AMBER are left out.")?;
            }
        }
        SensorFormat::ZeekIntel => out.write_all(ZEEK_INTEL_HEADER.as_bytes())?,
        SensorFormat::Csv => out.write_all(CSV_HEADER.as_bytes())?,
    }
    let mut text = String::new();
    loop {
        let page = store.query(&actor.subject, &query)?;
        phalanx_auth::audit_reads(store, actor, &page.objects, "export")?;
        for object in &page.objects {
            let Ok(v) = phalanx_model::strict::parse_text(&object.json) else { continue };
            counts.indicators += 1;
            let s = |k: &str| v.get(k).and_then(Value::as_str);
            if s("pattern_type").is_some_and(|t| t != "stix") {
                counts.not_values += 1;
                continue;
            }
            if s("valid_until").and_then(|t| Timestamp::parse(t).ok()).is_some_and(|t| t.unix_micros() <= now) {
                counts.expired += 1;
                continue;
            }
            let pap = object.label.pap.map(|p| p.as_str()).unwrap_or_default();
            if let SensorFormat::Suricata(action) = format {
                if action.is_active_blocking() && !pap_allows_blocking(pap) {
                    counts.withheld_by_pap += 1;
                    continue;
                }
            }
            let subdomains = v.get("x_phalanx_match_subdomains").and_then(Value::as_bool).unwrap_or(false);
            let iocs = match indicator_iocs(s("pattern").unwrap_or_default(), subdomains) {
                Ok(iocs) => iocs,
                Err(why) => {
                    counts.not_values += 1;
                    if notes.len() < 10 {
                        notes.push(format!("{}: {why}", object.id));
                    }
                    continue;
                }
            };
            let label = object.label.display_name(None);
            let modified = s("modified").and_then(|t| Timestamp::parse(t).ok()).map_or(0, |t| t.unix_secs());
            let meta = IndicatorMeta {
                id: &object.id,
                name: s("name").unwrap_or(&object.id),
                modified_secs: modified,
                valid_until: s("valid_until"),
                tlp: object.label.tlp.map(|t| t.as_str()).unwrap_or_default(),
                pap,
                label: &label,
            };
            text.clear();
            let (written, skipped) = match format {
                SensorFormat::Suricata(action) => suricata_rules(&meta, &iocs, action, &mut sids, &mut text),
                SensorFormat::ZeekIntel => zeek_intel_lines(&meta, &iocs, &mut text),
                SensorFormat::Csv => (csv_rows(&meta, &iocs, &mut text), Vec::new()),
            };
            counts.entries += written;
            counts.values_skipped += skipped.len() as u64;
            for why in skipped {
                if notes.len() < 10 {
                    notes.push(format!("{}: {why}", object.id));
                }
            }
            out.write_all(text.as_bytes())?;
        }
        match page.next {
            Some(next) if page.more => query.after = Some(next),
            _ => break,
        }
    }
    out.flush()?;
    for n in &notes {
        eprintln!("phalanx export: skipped {n}");
    }
    eprintln!(
        "exported {} entries from {} indicators ({} expired, {} not a list of values, {} withheld by PAP from active blocking, {} values without a form in this format{})",
        counts.entries,
        counts.indicators,
        counts.expired,
        counts.not_values,
        counts.withheld_by_pap,
        counts.values_skipped,
        if sids.collisions > 0 { format!(", {} sid collisions moved to the next free sid", sids.collisions) } else { String::new() }
    );
    Ok(Finished::Ok)
}
