#!/usr/bin/env bash
# End-to-end import benchmark (issue "Node foundation", performance section).
#
#   bench/import/run.sh [--count N] [--sample N] [--no-anchor] [--keep-data] [--bin PATH]
#
# 1. installs the interop venv (interop/install.sh) when stix2 is missing;
# 2. builds `phalanx` in release mode (CARGO_TARGET_DIR is honoured), or,
#    with --bin, measures the binary given (bench/pgo/build.sh makes one);
# 3. generates bench/out/corpus-N.jsonl with the seeded generator
#    (bench/gen_corpus.py, seed 42, JSON lines) when it is absent;
# 4. notes the CPU model and times a fixed CPU task (a Python loop) so
#    that figures of different machines can be compared;
# 5. imports the corpus twice, each time into a fresh data directory
#    (bench/out/data-import-MODE) after `phalanx init`, under
#    /usr/bin/time -v: `phalanx import` (shared: readers and other
#    processes use the store meanwhile, through SQLite's WAL) and
#    `phalanx import --exclusive` (the initial load of a node: the process
#    has the data directory to itself and writes each database page once);
# 6. runs the OASIS stix2.parse anchor (bench/stix2_parse_anchor.py) on the
#    first --sample objects of the same corpus (default 50,000: stix2.parse
#    runs at about 3k objects/s), the first half just before the import and
#    the second half just after it, so that a machine whose speed drifts
#    during the run moves both sides of the ratio alike; the anchor's rate
#    is the sample over the two halves' seconds;
# 7. prints the machine, the anchor rate, and for each import its
#    seconds, objects/s, user+sys CPU seconds, peak RSS, the ratio, and
#    PASS/FAIL per target.
#
# Which of the import's threads bounds its wall time: bench/import/threads.py.
# Which of two builds imports faster on a drifting machine: bench/import/pairs.py.
# How many instructions each thread of two builds executes: bench/import/instructions.py.
#
# Targets: >= 100,000 objects/s end to end; >= 20x the stix2.parse rate;
# peak RSS < 1 GiB, checked for each import. Exit status: 0 all targets
# met by both imports, 1 a target missed by either,
# 2 the benchmark could not run. Every step has a time limit (timeout).
# Nothing here is committed: bench/out/ is git-ignored.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
count=1000000
sample=50000
anchor=1
keep=0
given_bin=""
while [[ $# -gt 0 ]]; do
    case "$1" in
        --count|--sample|--bin) [[ $# -ge 2 ]] || { echo "run.sh: $1 needs a value" >&2; exit 2; } ;;
    esac
    case "$1" in
        --count) count="$2"; shift 2 ;;
        --sample) sample="$2"; shift 2 ;;
        --no-anchor) anchor=0; shift ;;
        --keep-data) keep=1; shift ;;
        --bin) given_bin="$2"; shift 2 ;;
        -h|--help) sed -n '2,31p' "$0"; exit 0 ;;
        *) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
[[ "$count" =~ ^[0-9]+$ && "$count" -gt 0 ]] || { echo "run.sh: --count must be a positive integer" >&2; exit 2; }
[[ "$sample" =~ ^[0-9]+$ && "$sample" -gt 0 ]] || { echo "run.sh: --sample must be a positive integer" >&2; exit 2; }
(( sample > count )) && sample=$count
[[ $anchor -eq 0 || $sample -ge 2 ]] || { echo "run.sh: the anchor needs --sample of at least 2 (half before the import, half after)" >&2; exit 2; }

log() { echo "run.sh: $*" >&2; }
out="$root/bench/out"
mkdir -p "$out"
target_dir="${CARGO_TARGET_DIR:-$root/target}"
bin="$target_dir/release/phalanx"
if [[ -n "$given_bin" ]]; then
    [[ -f "$given_bin" && -x "$given_bin" ]] || { echo "run.sh: --bin $given_bin is not an executable file" >&2; exit 2; }
    bin="$(cd "$(dirname "$given_bin")" && pwd)/$(basename "$given_bin")"
fi

# 1. interop venv (for the anchor)
if [[ $anchor -eq 1 ]]; then
    if ! "$root/.venv-interop/bin/python" -c 'import stix2' >/dev/null 2>&1; then
        log "installing the interop venv"
        timeout 1800 bash "$root/interop/install.sh"
    fi
fi

# 2. build
if [[ -z "$given_bin" ]]; then
    log "building phalanx (release) in $target_dir"
    (cd "$root" && CARGO_TARGET_DIR="$target_dir" timeout 3600 cargo build --release -q -p phalanx)
fi

# 3. corpus
corpus="$out/corpus-$count.jsonl"
if [[ ! -s "$corpus" ]]; then
    log "generating $corpus"
    timeout 1800 python3 "$root/bench/gen_corpus.py" --count "$count" --seed 42 --format jsonl --out "$corpus.tmp"
    mv "$corpus.tmp" "$corpus"
fi
lines=$(wc -l < "$corpus")
[[ "$lines" -eq "$count" ]] || { log "error: $corpus has $lines lines, expected $count"; exit 2; }

# 4. the machine's state: its CPU, and a fixed CPU task timed just before
#    the anchor's first half and the import (its speed drifts by 10-30%
#    within a session, and machines differ by up to 3x between sessions;
#    see bench/RESULTS.md)
cpu_model=$(sed -nE 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
calibration=$(python3 -c 'import time; t = time.perf_counter(); sum(range(30_000_000)); print(f"{time.perf_counter() - t:.2f}")')

# The anchor, on objects [offset, offset + limit) of the corpus: sets
# anchor_secs_part and anchor_cpu_part.
run_anchor() {
    local offset="$1" limit="$2" out_text
    out_text=$(timeout 3600 "$root/.venv-interop/bin/python" "$root/bench/stix2_parse_anchor.py" \
        --offset "$offset" --limit "$limit" "$corpus" 2> "$out/anchor.err")
    anchor_secs_part=$(sed -nE 's/.*seconds=([0-9.]+).*/\1/p' <<< "$out_text" | tail -1)
    anchor_cpu_part=$(sed -nE 's/.*cpu_seconds=([0-9.]+).*/\1/p' "$out/anchor.err" | tail -1)
    [[ -n "$anchor_secs_part" && -n "$anchor_cpu_part" ]] || { log "error: the anchor printed no timing"; tail -5 "$out/anchor.err" >&2; exit 2; }
}
first_half=$(( sample / 2 ))
second_half=$(( sample - first_half ))

# 5. import on a fresh data directory, between the anchor's two halves
if [[ $anchor -eq 1 ]]; then
    log "running the stix2.parse anchor on objects 1-$first_half (before the import)"
    run_anchor 0 "$first_half"
    anchor_secs_before=$anchor_secs_part
    anchor_cpu_before=$anchor_cpu_part
fi
# One import of the corpus into a fresh data directory: `run_import MODE
# [ARGS...]` writes bench/out/import-MODE.{time,log,err} and sets
# data_mib_MODE.
run_import() {
    local mode="$1" rc data total_line stored
    shift
    data="$out/data-import-$mode"
    rm -rf "$data"
    timeout 60 "$bin" --data "$data" init >/dev/null
    log "importing (mode $mode)"
    set +e
    timeout 1800 /usr/bin/time -v -o "$out/import-$mode.time" "$bin" --data "$data" import "$@" "$corpus" \
        > "$out/import-$mode.log" 2> "$out/import-$mode.err"
    rc=$?
    set -e
    if [[ $rc -ne 0 ]]; then
        log "error: phalanx import ($mode) exited $rc"; tail -5 "$out/import-$mode.err" >&2; tail -5 "$out/import-$mode.log" >&2; exit 2
    fi
    total_line=$(grep '^total:' "$out/import-$mode.log" | tail -1)
    stored=$(sed -E 's/^total: stored ([0-9]+).*/\1/' <<< "$total_line")
    [[ "$stored" -eq "$count" ]] || { log "error: stored $stored of $count objects ($total_line)"; exit 2; }
    printf -v "data_mib_$mode" '%s' "$(du -sm "$data" | cut -f1)"
    [[ $keep -eq 1 ]] || rm -rf "$data"
}
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
run_import shared
run_import exclusive --exclusive
if grep -q 'not exclusive' "$out/import-exclusive.err"; then
    log "error: the exclusive import was written shared:"; grep 'not exclusive' "$out/import-exclusive.err" >&2; exit 2
fi
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

# 6. the anchor's second half, then its rate over both halves
anchor_rate=""
if [[ $anchor -eq 1 ]]; then
    log "running the stix2.parse anchor on objects $(( first_half + 1 ))-$sample (after the import)"
    run_anchor "$first_half" "$second_half"
    read -r anchor_secs anchor_cpu anchor_rate < <(python3 -c '
import sys
s1, c1, s2, c2, n = map(float, sys.argv[1:])
print(f"{s1 + s2:.3f} {c1 + c2:.3f} {n / (s1 + s2) if s1 + s2 > 0 else 0:.0f}")' \
        "$anchor_secs_before" "$anchor_cpu_before" "$anchor_secs_part" "$anchor_cpu_part" "$sample")
    anchor_halves="$anchor_secs_before s before, $anchor_secs_part s after"
fi

# 7. report
python3 - "$count" "$out" "$data_mib_shared" "$data_mib_exclusive" "${anchor_rate:-}" "$sample" "${anchor_secs:-}" "${anchor_cpu:-}" "$load_before" "$load_after" "$cpu_model" "$(nproc)" "$calibration" "${anchor_halves:-}" "$bin" <<'PY'
import sys
count, out = int(sys.argv[1]), sys.argv[2]
data_mib = {"shared": sys.argv[3], "exclusive": sys.argv[4]}
anchor = float(sys.argv[5]) if sys.argv[5] else None
sample, asecs, acpu, lb, la = sys.argv[6], sys.argv[7], sys.argv[8], sys.argv[9], sys.argv[10]
cpu_model, cores, calibration, halves, binary = sys.argv[11], sys.argv[12], sys.argv[13], sys.argv[14], sys.argv[15]

def time_fields(path):
    fields = {}
    for line in open(path):
        key, _, value = line.strip().partition(": ")
        fields[key] = value
    parts = [float(p) for p in fields["Elapsed (wall clock) time (h:mm:ss or m:ss)"].split(":")]
    wall = 0.0
    for p in parts:
        wall = wall * 60 + p
    return wall, float(fields["User time (seconds)"]), float(fields["System time (seconds)"]), int(fields["Maximum resident set size (kbytes)"])

ok = True
def verdict(cond):
    global ok
    ok = ok and cond
    return "PASS" if cond else "FAIL"
print(f"machine            {cpu_model}, {cores} cores; fixed CPU task (python3 sum(range(30M))) {calibration} s")
print(f"binary             {binary}")
print(f"objects            {count}")
print(f"load average       before {lb}, after {la} (2 cores)")
if anchor is not None:
    print(f"anchor             stix2.parse on the first {sample} objects: {asecs} s ({halves}), cpu {acpu} s, {anchor:,.0f} objects/s")
for mode, command in (("shared", "phalanx import"), ("exclusive", "phalanx import --exclusive")):
    wall, user, sys_, rss_kb = time_fields(f"{out}/import-{mode}.time")
    rate = count / wall if wall > 0 else 0.0
    cpu = user + sys_
    rss_mib = rss_kb / 1024
    print(f"== {mode} ({command})")
    print(f"seconds (wall)     {wall:.2f}")
    print(f"objects/s          {rate:,.0f}")
    print(f"cpu seconds        {cpu:.2f} (user {user:.2f} + sys {sys_:.2f}); {count / cpu if cpu else 0:,.0f} objects per cpu-second")
    print(f"peak RSS MiB       {rss_mib:.0f}")
    print(f"data dir MiB       {data_mib[mode]}")
    if anchor is not None:
        ratio = rate / anchor if anchor else 0.0
        print(f"ratio ours/anchor  {ratio:.1f}x")
    print(f"target >= 100,000 objects/s: {verdict(rate >= 100_000)} ({rate:,.0f})")
    if anchor is not None:
        print(f"target >= 20x stix2.parse:   {verdict(ratio >= 20)} ({ratio:.1f}x)")
    else:
        print("target >= 20x stix2.parse:   SKIPPED (--no-anchor)")
    print(f"target peak RSS < 1 GiB:     {verdict(rss_mib < 1024)} ({rss_mib:.0f} MiB)")
sys.exit(0 if ok else 1)
PY
