#!/usr/bin/env python3
"""Per-thread CPU of one command, read from /proc while it runs.

    python3 bench/import/threads.py BIN --data DIR import CORPUS

Runs the command (its standard output discarded), reads utime + stime of
each of its threads from /proc/<pid>/task/<tid>/stat every 0.2 s, and at
the end prints each thread's last reading (name, thread id, CPU seconds),
then the wall time, the sum and the exit status. An import names its
threads `phalanx` (ingest), `phalanx-parse` and `phalanx-sql` (the SQL
worker), so this shows which one bounds the wall time: the benchmark's
`/usr/bin/time` gives only the process's sum. CPU a thread spends after
the last reading (at most 0.2 s) is not counted. Linux only.
"""
import os
import subprocess
import sys
import time


def main() -> int:
    if len(sys.argv) < 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    tick = os.sysconf("SC_CLK_TCK")
    start = time.monotonic()
    child = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL)
    last = {}
    while child.poll() is None:
        try:
            tids = os.listdir(f"/proc/{child.pid}/task")
        except FileNotFoundError:
            tids = []
        for tid in tids:
            try:
                with open(f"/proc/{child.pid}/task/{tid}/stat") as f:
                    stat = f.read()
            except (FileNotFoundError, ProcessLookupError):
                continue
            # The name is in parentheses and may hold spaces; the fields
            # after it start with the state (field 3): utime is field 14.
            name = stat[stat.index("(") + 1 : stat.rindex(")")]
            fields = stat[stat.rindex(")") + 2 :].split()
            last[(tid, name)] = (int(fields[11]) + int(fields[12])) / tick
        time.sleep(0.2)
    wall = time.monotonic() - start
    for (tid, name), cpu in sorted(last.items(), key=lambda kv: -kv[1]):
        if cpu >= 0.05:
            print(f"{name:20s} {tid:>8s} {cpu:7.2f}")
    print(f"wall {wall:.2f} total {sum(last.values()):.2f} rc {child.returncode}")
    return 0 if child.returncode == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
