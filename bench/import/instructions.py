#!/usr/bin/env python3
"""Instructions each thread of an import executes, for two builds.

    python3 bench/import/instructions.py [--a-args ARGS] [--b-args ARGS] BIN_A BIN_B CORPUS

Imports CORPUS once with each build, each into a fresh data directory
under bench/out/, under valgrind's callgrind (`--separate-threads=yes`),
both at once (one per core: callgrind counts instructions, not seconds,
so the two runs do not disturb each other's counts). Prints, for each of
the import's threads (main: the ingest and the commit; parse; sql: the
SQL worker), A's and B's instruction counts and B's change, then the
totals. The same build, corpus and arguments give nearly the same counts
whatever else the machine is doing: the SQL worker's moved by up to 0.8%
between runs of one build (how often it finds no work waiting, and so
flushes its derived rows early, depends on timing), the other threads'
by 0.2%; on a machine whose speed drifts by 10-30% within minutes
(bench/RESULTS.md), that tells changes that wall times cannot. Cache
misses and waits are not counted: a change that moves them needs
pairs.py as well.

Take a corpus of about 100,000 objects (callgrind runs about 50 times
slower than the build alone: some 3 minutes for 100k):

    python3 bench/gen_corpus.py --count 100000 --seed 42 --format jsonl \\
        --out bench/out/corpus-100000.jsonl

`--a-args` and `--b-args` add arguments to one side's `import`, split at
spaces (`--a-args=--exclusive --b-args=--exclusive`). Needs valgrind.
"""
import os
import re
import shutil
import subprocess
import sys

import two_builds

# The function that runs on each named thread, as callgrind names it.
THREAD_FUNCTIONS = (("parse", "phalanx_store::pipeline::parse_input"), ("sql", "phalanx_store::sqlite::write_row_with"))


def thread_name(path):
    """Which of the import's threads a callgrind output file (one per
    thread) is of: `main` for thread 1, else by the functions it ran."""
    with open(path, errors="replace") as f:
        text = f.read()
    if re.search(r"^thread: 1$", text, re.M):
        return "main"
    for name, function in THREAD_FUNCTIONS:
        if function in text:
            return name
    return "other"


def totals(path):
    """The instructions counted in a callgrind output file."""
    with open(path, errors="replace") as f:
        for line in f:
            if line.startswith("totals:") or line.startswith("summary:"):
                return int(line.split()[1])
    sys.exit(f"instructions.py: no totals in {path}")


def start(binary, extra, corpus, work):
    """Starts one import under callgrind in a fresh `work` directory."""
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    data = os.path.join(work, "data")
    subprocess.run([binary, "--data", data, "init"], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    command = [
        "valgrind", "--tool=callgrind", "--separate-threads=yes",
        f"--callgrind-out-file={os.path.join(work, 'callgrind.out')}",
        binary, "--data", data, "import", *extra, corpus,
    ]
    log = open(os.path.join(work, "valgrind.log"), "w")
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=log), log


def counts(work):
    """{thread name: instructions} of one finished run."""
    by_thread = {}
    for name in sorted(os.listdir(work)):
        if name.startswith("callgrind.out-"):
            path = os.path.join(work, name)
            thread = thread_name(path)
            by_thread[thread] = by_thread.get(thread, 0) + totals(path)
    if not by_thread:
        sys.exit(f"instructions.py: no callgrind output in {work} (see {work}/valgrind.log)")
    return by_thread


def main():
    args = two_builds.arguments(__doc__)
    if shutil.which("valgrind") is None:
        sys.exit("instructions.py: valgrind is not installed")
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "out")
    runs = []
    for side, binary, extra in (("a", args.a, args.a_args.split()), ("b", args.b, args.b_args.split())):
        work = os.path.join(out, f"instructions-{side}")
        runs.append((work, *start(binary, extra, args.corpus, work)))
    for work, process, log in runs:
        code = process.wait()
        log.close()
        if code != 0:
            sys.exit(f"instructions.py: the import in {work} failed ({code}); see {work}/valgrind.log")
    a, b = counts(runs[0][0]), counts(runs[1][0])
    print(f"{'thread':8s} {'A':>16s} {'B':>16s} {'B/A':>8s}")
    for thread in sorted(set(a) | set(b), key=lambda t: ("main", "parse", "sql", "other").index(t)):
        x, y = a.get(thread, 0), b.get(thread, 0)
        ratio = f"{100 * (y - x) / x:+.2f}%" if x else "-"
        print(f"{thread:8s} {x:16,d} {y:16,d} {ratio:>8s}")
    x, y = sum(a.values()), sum(b.values())
    print(f"{'total':8s} {x:16,d} {y:16,d} {100 * (y - x) / x:+.2f}%")
    for work, _, _ in runs:
        shutil.rmtree(os.path.join(work, "data"), ignore_errors=True)


if __name__ == "__main__":
    main()
