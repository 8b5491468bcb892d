//! Reads STIX patterns from standard input, one per line, and prints one verdict line per
//! pattern: `ok`, or `err <byte offset> <message>`.
//!
//! Lines end at `\n` only (a `\r` stays part of the pattern). Lines that are not UTF-8 get
//! `err 0 ...`. With `--strict` the patterns go through `parse_strict` (hash values checked, the
//! verdict to compare with the OASIS validator); without it, through `parse`.
//!
//! Used by `interop/patterns/differential.py`:
//! `cargo run -q -p phalanx-pattern --example check_patterns -- --strict < corpus.txt`

use std::io::{self, BufRead, Write};

fn main() -> io::Result<()> {
    let strict = match std::env::args().nth(1).as_deref() {
        None => false,
        Some("--strict") => true,
        Some(other) => {
            eprintln!(
                "usage: check_patterns [--strict] < patterns.txt (unknown argument {other:?})"
            );
            std::process::exit(2);
        }
    };
    let stdin = io::stdin();
    let mut input = stdin.lock();
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    let mut line = Vec::new();
    loop {
        line.clear();
        if input.read_until(b'\n', &mut line)? == 0 {
            break;
        }
        if line.last() == Some(&b'\n') {
            line.pop();
        }
        let verdict = match std::str::from_utf8(&line) {
            Err(e) => Err((0, format!("input line is not utf-8: {e}"))),
            Ok(text) => {
                let parsed = if strict {
                    phalanx_pattern::parse_strict(text)
                } else {
                    phalanx_pattern::parse(text)
                };
                parsed.map(|_| ()).map_err(|e| (e.position, e.message))
            }
        };
        match verdict {
            Ok(()) => writeln!(out, "ok")?,
            Err((pos, msg)) => writeln!(out, "err {pos} {}", msg.replace('\n', " "))?,
        }
    }
    out.flush()
}
