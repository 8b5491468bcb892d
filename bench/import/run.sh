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
# 5. runs `phalanx init` + `phalanx import` on a fresh data directory
#    (bench/out/data-import) under /usr/bin/time -v;
# 6. runs the OASIS stix2.parse anchor (bench/stix2_parse_anchor.py) on the
#    first --sample objects of the same corpus (default 50,000: stix2.parse
#    runs at about 3k objects/s), the first half just before the import and
#    the second half just after it, so that a machine whose speed drifts
#    during the run moves both sides of the ratio alike; the anchor's rate
#    is the sample over the two halves' seconds;
# 7. prints the machine, objects, seconds, objects/s, user+sys CPU
#    seconds, peak RSS, the anchor rate, the ratio, and PASS/FAIL per
#    target.
#
# Which of the import's threads bounds its wall time: bench/import/threads.py.
# Which of two builds imports faster on a drifting machine: bench/import/pairs.py.
#
# Targets: >= 100,000 objects/s end to end; >= 20x the stix2.parse rate;
# peak RSS < 1 GiB. Exit status: 0 all targets met, 1 a target missed,
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
data="$out/data-import"
rm -rf "$data"
timeout 60 "$bin" --data "$data" init >/dev/null
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
set +e
timeout 1800 /usr/bin/time -v -o "$out/import.time" "$bin" --data "$data" import "$corpus" > "$out/import.log" 2> "$out/import.err"
rc=$?
set -e
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
if [[ $rc -ne 0 ]]; then
    log "error: phalanx import exited $rc"; tail -5 "$out/import.err" >&2; tail -5 "$out/import.log" >&2; exit 2
fi
total_line=$(grep '^total:' "$out/import.log" | tail -1)
stored=$(sed -E 's/^total: stored ([0-9]+).*/\1/' <<< "$total_line")
[[ "$stored" -eq "$count" ]] || { log "error: stored $stored of $count objects ($total_line)"; exit 2; }

wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {n=split($2,a,":"); s=0; for(i=1;i<=n;i++) s=s*60+a[i]; print s}' "$out/import.time")
user=$(awk -F': ' '/User time/ {print $2}' "$out/import.time")
sys=$(awk -F': ' '/System time/ {print $2}' "$out/import.time")
rss_kb=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$out/import.time")
data_mib=$(du -sm "$data" | cut -f1)
[[ $keep -eq 1 ]] || rm -rf "$data"

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
python3 - "$count" "$wall" "$user" "$sys" "$rss_kb" "$data_mib" "${anchor_rate:-}" "$sample" "${anchor_secs:-}" "${anchor_cpu:-}" "$load_before" "$load_after" "$cpu_model" "$(nproc)" "$calibration" "${anchor_halves:-}" "$bin" <<'PY'
import sys
count, wall, user, sys_, rss_kb, data_mib = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5]), sys.argv[6]
anchor = float(sys.argv[7]) if sys.argv[7] else None
sample, asecs, acpu, lb, la = sys.argv[8], sys.argv[9], sys.argv[10], sys.argv[11], sys.argv[12]
cpu_model, cores, calibration, halves, binary = sys.argv[13], sys.argv[14], sys.argv[15], sys.argv[16], sys.argv[17]
rate = count / wall if wall > 0 else 0.0
cpu = user + sys_
rss_mib = rss_kb / 1024
ok = True
def verdict(cond):
    global ok
    ok = ok and cond
    return "PASS" if cond else "FAIL"
print(f"machine            {cpu_model}, {cores} cores; fixed CPU task (python3 sum(range(30M))) {calibration} s")
print(f"binary             {binary}")
print(f"objects            {count}")
print(f"seconds (wall)     {wall:.2f}")
print(f"objects/s          {rate:,.0f}")
print(f"cpu seconds        {cpu:.2f} (user {user:.2f} + sys {sys_:.2f}); {count / cpu if cpu else 0:,.0f} objects per cpu-second")
print(f"peak RSS MiB       {rss_mib:.0f}")
print(f"data dir MiB       {data_mib}")
print(f"load average       before {lb}, after {la} (2 cores)")
if anchor is not None:
    ratio = rate / anchor if anchor else 0.0
    print(f"anchor             stix2.parse on the first {sample} objects: {asecs} s ({halves}), cpu {acpu} s, {anchor:,.0f} objects/s")
    print(f"ratio ours/anchor  {ratio:.1f}x")
print(f"target >= 100,000 objects/s: {verdict(rate >= 100_000)} ({rate:,.0f})")
if anchor is not None:
    print(f"target >= 20x stix2.parse:   {verdict(ratio >= 20)} ({ratio:.1f}x)")
else:
    print("target >= 20x stix2.parse:   SKIPPED (--no-anchor)")
print(f"target peak RSS < 1 GiB:     {verdict(rss_mib < 1024)} ({rss_mib:.0f} MiB)")
sys.exit(0 if ok else 1)
PY
