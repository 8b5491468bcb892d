#!/usr/bin/env python3
"""Per-thread CPU of one command, read from /proc while it runs.

    python3 bench/import/threads.py [--timeline] BIN --data DIR import CORPUS

Runs the command (its standard output discarded), reads utime + stime of
each of its threads from /proc/<pid>/task/<tid>/stat every 0.2 s, and at
the end prints each thread's last reading (name, thread id, CPU seconds),
then the wall time, the sum and the exit status. An import names its
threads `phalanx` (ingest), `phalanx-parse` and `phalanx-sql` (the SQL
worker), so this shows which one bounds the wall time: the benchmark's
`/usr/bin/time` gives only the process's sum. CPU a thread spends after
the last reading (at most 0.2 s) is not counted. Linux only.

With --timeline it reads every 0.1 s instead and first prints a line per
reading: the time since the start and each thread's share of a core in
that step (100% = one core busy). A step where the SQL worker falls well
under 100% while the others also idle is a stall of the whole pipeline
(session 21 found the id tables' growth that way).
"""
import os
import subprocess
import sys
import time


def read_threads(pid, tick):
    """{(tid, name): cpu seconds} of every thread of `pid` now."""
    out = {}
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except FileNotFoundError:
        return out
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                stat = f.read()
        except (FileNotFoundError, ProcessLookupError):
            continue
        # The name is in parentheses and may hold spaces; the fields
        # after it start with the state (field 3): utime is field 14.
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        out[(tid, name)] = (int(fields[11]) + int(fields[12])) / tick
    return out


def main() -> int:
    args = sys.argv[1:]
    timeline = bool(args) and args[0] == "--timeline"
    if timeline:
        args = args[1:]
    if not args:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    step = 0.1 if timeline else 0.2
    tick = os.sysconf("SC_CLK_TCK")
    start = time.monotonic()
    child = subprocess.Popen(args, stdout=subprocess.DEVNULL)
    last = {}
    while child.poll() is None:
        now = read_threads(child.pid, tick)
        if timeline and now:
            shares = " ".join(
                f"{name}={(cpu - last.get((tid, name), 0.0)) / step * 100:4.0f}%"
                for (tid, name), cpu in sorted(now.items(), key=lambda kv: kv[0][1])
            )
            print(f"{time.monotonic() - start:6.1f} {shares}")
        last.update(now)
        time.sleep(step)
    wall = time.monotonic() - start
    for (tid, name), cpu in sorted(last.items(), key=lambda kv: -kv[1]):
        if cpu >= 0.05:
            print(f"{name:20s} {tid:>8s} {cpu:7.2f}")
    print(f"wall {wall:.2f} total {sum(last.values()):.2f} rc {child.returncode}")
    return 0 if child.returncode == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
