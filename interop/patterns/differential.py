#!/usr/bin/env python3
"""Differential test: phalanx-pattern against the OASIS validator stix2-patterns 2.1.2.

For every pattern in corpus.txt (one per line, '#' lines are comments) it compares
  - the reference verdict: stix2patterns.validator.run_validator(p, stix_version="2.1") returns
    no error (an exception raised by the validator counts as a refusal), with
  - our verdict: the `check_patterns --strict` example of crates/phalanx-pattern
    (`ok` or `err <pos> <msg>` per line).

Patterns listed in ```known-difference blocks of DIFFERENCES.md are deliberate differences:
they must differ (else the entry is stale and fails). Every other pattern must agree.
Prints each mismatch and ends with a line `N passed, M failed`; exits 1 on any failure.

Usage (from anywhere; needs cargo and the interop venv, see README.md):
  .venv-interop/bin/python interop/patterns/differential.py [--corpus FILE] [--bin PATH] [-v]
"""

import argparse
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def read_corpus(path):
    with open(path, "rb") as f:
        raw = f.read().decode("utf-8")
    # Split on '\n' only: str.splitlines() would also split on \x0b, \x85, \u2028, ...
    return [line for line in raw.split("\n") if line and not line.startswith("#")]


def read_known_differences(path):
    """Patterns inside ```known-difference fenced blocks of DIFFERENCES.md."""
    known = set()
    inside = False
    with open(path, "rb") as f:
        for line in f.read().decode("utf-8").split("\n"):
            if not inside and line.strip() == "```known-difference":
                inside = True
            elif inside and line.strip() == "```":
                inside = False
            elif inside and line:
                known.add(line)
    return known


def reference_verdicts(patterns):
    from stix2patterns.validator import run_validator

    out = []
    for p in patterns:
        try:
            errors = run_validator(p, stix_version="2.1")
        except Exception as e:  # the validator crashes on a few inputs; it does not accept them
            errors = ["exception %s: %s" % (type(e).__name__, e)]
        out.append((not errors, "; ".join(errors)))
    return out


def our_verdicts(patterns, binary):
    if binary:
        cmd = [binary, "--strict"]
    else:
        cmd = ["cargo", "run", "--quiet", "--package", "phalanx-pattern",
               "--example", "check_patterns", "--", "--strict"]
    data = "".join(p + "\n" for p in patterns).encode("utf-8")
    proc = subprocess.run(cmd, input=data, stdout=subprocess.PIPE, cwd=ROOT, check=True)
    lines = proc.stdout.decode("utf-8").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if len(lines) != len(patterns):
        sys.exit("check_patterns printed %d lines for %d patterns" % (len(lines), len(patterns)))
    out = []
    for line in lines:
        if line == "ok":
            out.append((True, ""))
        elif re.match(r"^err \d+ ", line):
            out.append((False, line[4:]))
        else:
            sys.exit("unexpected check_patterns output: %r" % line)
    return out


def verdict_word(accepted):
    return "accepts" if accepted else "refuses"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", default=os.path.join(HERE, "corpus.txt"))
    ap.add_argument("--differences", default=os.path.join(HERE, "DIFFERENCES.md"))
    ap.add_argument("--bin", help="path to a built check_patterns (default: cargo run)")
    ap.add_argument("-v", "--verbose", action="store_true", help="print every verdict")
    args = ap.parse_args()

    patterns = read_corpus(args.corpus)
    known = read_known_differences(args.differences)
    theirs = reference_verdicts(patterns)
    ours = our_verdicts(patterns, args.bin)

    passed = failed = documented = accepted = 0
    for p, (t_ok, t_msg), (o_ok, o_msg) in zip(patterns, theirs, ours):
        accepted += t_ok
        same = t_ok == o_ok
        if p in known:
            if same:
                failed += 1
                print("STALE known difference (both %s): %r" % (verdict_word(o_ok), p))
            else:
                passed += 1
                documented += 1
                if args.verbose:
                    print("documented difference: %r\n  stix2-patterns %s %s\n  phalanx %s %s"
                          % (p, verdict_word(t_ok), t_msg, verdict_word(o_ok), o_msg))
        elif same:
            passed += 1
            if args.verbose:
                print("agree (%s): %r" % (verdict_word(o_ok), p))
        else:
            failed += 1
            print("MISMATCH: %r\n  stix2-patterns %s %s\n  phalanx        %s %s"
                  % (p, verdict_word(t_ok), t_msg, verdict_word(o_ok), o_msg))

    missing = sorted(known - set(patterns))
    for p in missing:
        failed += 1
        print("known difference not in the corpus: %r" % p)

    print("corpus: %d patterns, %d accepted and %d refused by stix2-patterns; "
          "%d documented differences behaved as documented"
          % (len(patterns), accepted, len(patterns) - accepted, documented))
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
