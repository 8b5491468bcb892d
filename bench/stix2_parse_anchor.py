#!/usr/bin/env python3
"""Anchor for the import benchmark: OASIS python-stix2 parsing the same corpus.

  stix2_parse_anchor.py [--offset K] [--limit N] CORPUS.jsonl

Reads the JSON-lines corpus made by bench/gen_corpus.py (one STIX object per
line) and runs `stix2.parse(line, allow_custom=True)` on every object, which
is what a Python importer built on the reference library does at minimum
(JSON decoding plus object construction and property checks). No other I/O:
the file is read into memory first and only the parse loop is timed.

The last line printed is:  objects=N seconds=S rate=R objects/s

Runs under <repo>/.venv-interop (interop/install.sh): when stix2 cannot be
imported and that venv exists, the script re-executes itself with it.
Measure on a slice (e.g. --limit 20000): python-stix2 is slow on 1,000,000.
--offset K skips the first K objects (bench/import/run.sh times one half
of its slice before the import and the other half after it).
"""
import argparse
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
VENV = os.path.join(os.path.dirname(HERE), ".venv-interop")
VENV_PY = os.path.join(VENV, "bin", "python")

try:
    import stix2
except ImportError:  # pragma: no cover - depends on the environment
    if os.path.exists(VENV_PY) and os.path.realpath(sys.prefix) != os.path.realpath(VENV) \
            and not os.environ.get("PHALANX_ANCHOR_REEXEC"):
        os.environ["PHALANX_ANCHOR_REEXEC"] = "1"
        os.execv(VENV_PY, [VENV_PY, os.path.abspath(__file__)] + sys.argv[1:])
    sys.stderr.write("stix2_parse_anchor.py: stix2 is not installed; run interop/install.sh\n")
    sys.exit(2)


def main(argv=None):
    ap = argparse.ArgumentParser(description="Time stix2.parse over a JSONL STIX corpus.")
    ap.add_argument("corpus", help="JSON-lines file from bench/gen_corpus.py ('-' for stdin)")
    ap.add_argument("--offset", type=int, default=0, help="skip the first K objects")
    ap.add_argument("--limit", type=int, default=0, help="parse only N objects (0 = all)")
    args = ap.parse_args(argv)
    if args.offset < 0 or args.limit < 0:
        ap.error("--offset and --limit must not be negative")

    fh = sys.stdin if args.corpus == "-" else open(args.corpus, encoding="utf-8")
    lines = []
    skipped = 0
    with fh:
        for line in fh:
            if line.strip():
                if skipped < args.offset:
                    skipped += 1
                    continue
                lines.append(line)
                if args.limit and len(lines) >= args.limit:
                    break

    parse = stix2.parse
    c0 = time.process_time()
    t0 = time.perf_counter()
    for line in lines:
        parse(line, allow_custom=True)
    dt = time.perf_counter() - t0
    cpu = time.process_time() - c0

    n = len(lines)
    # CPU time too: on a shared machine wall time includes waiting for a core
    print("stix2 %s, python %s, cpu_seconds=%.3f" % (stix2.__version__, sys.version.split()[0], cpu),
          file=sys.stderr)
    print("objects=%d seconds=%.3f rate=%.0f objects/s" % (n, dt, n / dt if dt > 0 else 0.0))
    return 0


if __name__ == "__main__":
    sys.exit(main())
