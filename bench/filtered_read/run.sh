#!/usr/bin/env bash
# Filtered-read benchmark (issue "Organisations, users, authentication, the
# read rule on every path", performance target):
#
#   "A filtered read must cost at most 1.5 times the same unfiltered read.
#    1,000,000 objects under 50 different labels, a listing of 100 per page,
#    and a full-text query, for a user who may read about 10% of them."
#
#   bench/filtered_read/run.sh [--objects N] [--reps R] [--runs K] [--rebuild] [--no-append]
#
# 1. builds crates/phalanx-store/examples/filtered_read.rs in release mode
#    (CARGO_TARGET_DIR is honoured);
# 2. the example builds bench/out/filtered_read (N objects, default
#    1,000,000, 50 labels, one write transaction through the Store API) or
#    reuses it when it holds N objects;
# 3. runs the measurement K times (default 3): a page of 100 from a random
#    cursor and the first 100 of a full-text query, R repetitions each
#    (default 300), for a reader of all 50 labels (the unfiltered baseline)
#    and one of 5 labels (10%); each run prints medians, p99s, the ratio of
#    the medians and PASS/FAIL against 1.5;
# 4. appends the runs to bench/RESULTS.md under "## Filtered read" (append
#    only: the file is shared with other benchmarks).
#
# Exit status: 0 every run met the target, 1 a run missed it, 2 the
# benchmark could not run. bench/out/ is git-ignored.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
objects=1000000
reps=300
runs=3
rebuild=0
append=1
while [[ $# -gt 0 ]]; do
    case "$1" in
        --objects) objects="$2"; shift 2 ;;
        --reps) reps="$2"; shift 2 ;;
        --runs) runs="$2"; shift 2 ;;
        --rebuild) rebuild=1; shift ;;
        --no-append) append=0; shift ;;
        -h|--help) sed -n '2,27p' "$0"; exit 0 ;;
        *) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
for v in "$objects" "$reps" "$runs"; do
    [[ "$v" =~ ^[0-9]+$ && "$v" -gt 0 ]] || { echo "run.sh: --objects, --reps and --runs take positive integers" >&2; exit 2; }
done

target_dir="${CARGO_TARGET_DIR:-$root/target}"
bin="$target_dir/release/examples/filtered_read"
data="$root/bench/out/filtered_read"
mkdir -p "$root/bench/out"

echo "run.sh: building the example (release) in $target_dir" >&2
(cd "$root" && CARGO_TARGET_DIR="$target_dir" timeout 3600 cargo build --release -q -p phalanx-store --example filtered_read) || exit 2

results=()
status=0
for ((i = 1; i <= runs; i++)); do
    args=(--dir "$data" --objects "$objects" --reps "$reps")
    [[ $i -eq 1 && $rebuild -eq 1 ]] && args+=(--rebuild)
    set +e
    out="$(cd "$root" && timeout 3600 "$bin" "${args[@]}")"
    rc=$?
    set -e
    echo "$out"
    case $rc in
        0) ;;
        1) status=1 ;;
        *) echo "run.sh: the example failed (exit $rc)" >&2; exit 2 ;;
    esac
    results+=("$out")
done

verdict=PASS
[[ $status -eq 0 ]] || verdict=FAIL
echo "filtered read, $runs runs: $verdict"

if [[ $append -eq 1 ]]; then
    commit="$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)"
    {
        echo
        echo "## Filtered read (bench/filtered_read/run.sh)"
        echo
        echo "$(date -u +%Y-%m-%dT%H:%M:%SZ), commit $commit, $(nproc) cores, $objects objects, 50 labels, $reps repetitions a measurement, $runs runs: **$verdict** (target: median of the 10% reader <= 1.5 x median of the all-labels reader)"
        echo
        echo '```'
        for r in "${results[@]}"; do echo "$r"; done
        echo '```'
    } >> "$root/bench/RESULTS.md"
    echo "run.sh: appended to bench/RESULTS.md" >&2
fi
exit $status
