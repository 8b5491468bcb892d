//! Reads differential-test cases from standard input, one JSON object a line:
//! `{"pattern": "<STIX pattern>", "objects": [<observed-data and SCOs>]}`,
//! and prints one verdict line per case: `true`, `false` or `error <message>`.
//!
//! Used by `interop/matcher/differential.py`:
//! `cargo run -q -p phalanx-matcher --example match_cases < cases.jsonl`

use std::io::{self, BufRead, Write};

fn verdict(line: &str) -> Result<bool, String> {
    let case: serde_json::Value = serde_json::from_str(line).map_err(|e| format!("case is not json: {e}"))?;
    let pattern = case.get("pattern").and_then(|p| p.as_str()).ok_or("case has no pattern")?;
    let objects = case.get("objects").and_then(|o| o.as_array()).ok_or("case has no objects")?;
    let pattern = phalanx_pattern::parse(pattern).map_err(|e| format!("pattern: {e}"))?;
    let observations = phalanx_matcher::eval::observations_from_objects(objects).map_err(|e| e.to_string())?;
    phalanx_matcher::eval::matches(&pattern, &observations).map_err(|e| e.to_string())
}

fn main() -> io::Result<()> {
    let stdin = io::stdin();
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    for line in stdin.lock().lines() {
        let line = line?;
        match verdict(&line) {
            Ok(v) => writeln!(out, "{v}")?,
            Err(e) => writeln!(out, "error {}", e.replace('\n', " "))?,
        }
    }
    out.flush()
}
