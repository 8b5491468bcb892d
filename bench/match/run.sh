#!/usr/bin/env bash
# Benchmark of `phalanx match` (issue 6): 1,000,000 indicators (half IPv4, half domain
# names) against 2,000,000 Zeek dns-style JSON events (~580 MB), both made by the seeded
# bench/match/gen.py into a temporary directory; ripgrep (`rg -F -c -f iocs.txt`, from
# Debian) on the same file in the same run. Prints events/s, the ratio to ripgrep, peak RSS
# and the compile time of the 1M indicators.
#
# Usage: bench/match/run.sh            (env: BENCH_DIR=DIR reuses/keeps a generated corpus,
#                                       INDICATORS=N EVENTS=N for a smaller run,
#                                       PHALANX_BIN=PATH to skip the release build)
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)

command -v rg >/dev/null || { apt-get update -qq && apt-get install -y -qq ripgrep >/dev/null; }
[ -x /usr/bin/time ] || { apt-get update -qq && apt-get install -y -qq time >/dev/null; }

if [ -n "${PHALANX_BIN:-}" ]; then
    bin="$PHALANX_BIN"   # an already built release binary
else
    cargo build --release --locked -p phalanx >&2
    bin="${CARGO_TARGET_DIR:-$root/target}/release/phalanx"
fi

indicators=${INDICATORS:-1000000}
events=${EVENTS:-2000000}
dir=${BENCH_DIR:-$(mktemp -d)}
if [ -z "${BENCH_DIR:-}" ]; then trap 'rm -rf "$dir"' EXIT; fi
stamp="$dir/.corpus-$indicators-$events"
if [ ! -f "$stamp" ]; then
    echo "== generating $indicators indicators and $events events in $dir (seeded)" >&2
    python3 bench/match/gen.py "$dir" --indicators "$indicators" --events "$events"
    touch "$stamp"
fi
size_mb=$(( $(stat -c %s "$dir/dns.json") / 1000000 ))
expected=$(cat "$dir/expected-matches.txt")
echo "corpus: $indicators indicators, $events events, $size_mb MB, $expected events carrying an indicator"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), load $(cut -d' ' -f1-3 /proc/loadavg)"
cat "$dir/dns.json" > /dev/null   # page cache warm for both tools

# 1. compile only (empty telemetry)
: > "$dir/empty.json"
/usr/bin/time -v "$bin" match --indicators "$dir/indicators.jsonl" --format zeek "$dir/empty.json" \
    > /dev/null 2> "$dir/compile.err"
compile_s=$(sed -n 's/^compiled .* in \([0-9.]*\) s.*/\1/p' "$dir/compile.err")
compile_rss=$(awk '/Maximum resident/ {printf "%.0f", $6/1024}' "$dir/compile.err")

# 2. phalanx match
/usr/bin/time -v "$bin" match --indicators "$dir/indicators.jsonl" --format zeek "$dir/dns.json" \
    > "$dir/matches.jsonl" 2> "$dir/match.err"
wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {n=split($2,t,":"); s=0; for(i=1;i<=n;i++) s=s*60+t[i]; print s}' "$dir/match.err")
rss=$(awk '/Maximum resident/ {printf "%.0f", $6/1024}' "$dir/match.err")
scan_s=$(sed -n 's/^matched .* in \([0-9.]*\) s .*/\1/p' "$dir/match.err")
found=$(wc -l < "$dir/matches.jsonl")

# 3. ripgrep on the same file
/usr/bin/time -v rg -F -c -f "$dir/iocs.txt" "$dir/dns.json" > "$dir/rg.out" 2> "$dir/rg.err" || true
rg_wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {n=split($2,t,":"); s=0; for(i=1;i<=n;i++) s=s*60+t[i]; print s}' "$dir/rg.err")
rg_rss=$(awk '/Maximum resident/ {printf "%.0f", $6/1024}' "$dir/rg.err")

python3 - "$events" "$wall" "$scan_s" "$rg_wall" "$rss" "$rg_rss" "$compile_s" "$compile_rss" "$found" "$expected" "$(cat "$dir/rg.out")" <<'PY'
import sys
ev, wall, scan, rg, rss, rg_rss, comp, comp_rss, found, exp, rg_count = sys.argv[1:]
ev = int(ev); wall = float(wall); scan = float(scan); rg = float(rg)
print("phalanx match: %.2f s wall (compile %.2f s + scan %.2f s): %.0f events/s end to end, %.0f events/s scanning; peak RSS %s MiB" % (wall, float(comp), scan, ev / wall, ev / scan, rss))
print("  matches: %s match records for %s events carrying an indicator (%s)" % (found, exp, "field-exact: equal" if found == exp else "DIFFERENT"))
print("ripgrep -F -c -f iocs.txt: %.2f s wall, %.0f events/s, peak RSS %s MiB, %s matching lines (substring)" % (rg, ev / rg, rg_rss, rg_count))
print("ratio (ripgrep wall / phalanx wall, end to end): %.1fx" % (rg / wall))
print("compile 1M indicators: %.2f s (peak RSS of a compile-only run %s MiB)" % (float(comp), comp_rss))
PY
