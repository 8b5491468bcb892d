#!/usr/bin/env python3
"""Alternating imports of two builds, to compare them on a drifting machine.

    python3 bench/import/pairs.py [--rounds N] [--a-args ARGS] [--b-args ARGS] BIN_A BIN_B CORPUS

Each round imports CORPUS once with BIN_A and once with BIN_B (the order
swapped every round), each into a fresh data directory under bench/out/,
with `PHALANX_LOG=phalanx_store=debug` so that the commit's debug line
says where its tail went. Prints one line per import: the build, wall
seconds, user and system CPU seconds, and the commit line's bodies_sync_ms,
worker_ms and sqlite_commit_ms; then each build's median wall time. This
machine's speed drifts by 10-30% within minutes (bench/RESULTS.md), so
only pairs run side by side say which build is faster. `--a-args` and
`--b-args` add arguments to one side's `import` (`--b-args=--exclusive`
compares the two ways of importing with one build). Linux only.
"""
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import time

import two_builds

FIELDS = ("bodies_sync_ms", "worker_ms", "sqlite_commit_ms")


def import_once(binary, extra, corpus, data):
    """(wall s, user s, sys s, {field: ms}) of one import into a fresh `data`."""
    shutil.rmtree(data, ignore_errors=True)
    subprocess.run([binary, "--data", data, "init"], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    env = dict(os.environ, PHALANX_LOG="phalanx_store=debug")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    run = subprocess.run([binary, "--data", data, "import", *extra, corpus], env=env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wall = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if run.returncode != 0:
        sys.exit(f"pairs.py: {binary} import failed ({run.returncode}): {run.stderr[-2000:]}")
    tail = {}
    for line in re.sub(r"\x1b\[[0-9;]*m", "", run.stderr).splitlines():
        if "write transaction committed" in line:
            for field in FIELDS:
                m = re.search(field + r"=(\d+)", line)
                if m:
                    tail[field] = int(m.group(1))
    shutil.rmtree(data, ignore_errors=True)
    return wall, after.ru_utime - before.ru_utime, after.ru_stime - before.ru_stime, tail


def main():
    args = two_builds.arguments(__doc__, rounds=True)
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "out")
    os.makedirs(out, exist_ok=True)
    data = os.path.join(out, "data-pairs")
    walls = {"A": [], "B": []}
    for round_ in range(args.rounds):
        order = [("A", args.a, args.a_args.split()), ("B", args.b, args.b_args.split())]
        if round_ % 2 == 1:
            order.reverse()
        for name, binary, extra in order:
            wall, user, sys_, tail = import_once(binary, extra, args.corpus, data)
            walls[name].append(wall)
            fields = " ".join(f"{k}={tail.get(k, '?')}" for k in FIELDS)
            print(f"round {round_ + 1} {name} wall {wall:6.2f} s user {user:6.2f} sys {sys_:5.2f} {fields}", flush=True)
    for name in ("A", "B"):
        print(f"{name} median wall {statistics.median(walls[name]):.2f} s over {len(walls[name])}")


if __name__ == "__main__":
    main()
