#!/usr/bin/env bash
# Web UI benchmark (issue 8): dashboard server time with OBJECTS objects
# (bench/gen_corpus.py) and INCIDENTS incidents (gen_incidents.py) in the
# store, target < 300 ms; object and incident pages, target < 100 ms.
#
#   OBJECTS=1000000 INCIDENTS=10000 bench/dashboard/run.sh
#
# Builds phalanx (release; CARGO_TARGET_DIR is honoured), makes the node
# once under bench/out/dashboard (kept for later runs), serves it on a free
# loopback port and runs measure.py for a SECRET and a RESTRICTED user.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
objects="${OBJECTS:-1000000}"
incidents="${INCIDENTS:-10000}"
out="$root/bench/out/dashboard"
data="$out/node-$objects-$incidents"
target_dir="${CARGO_TARGET_DIR:-$root/target}"
bin="$target_dir/release/phalanx"
log() { echo "run.sh: $*" >&2; }
mkdir -p "$out"
log "building phalanx (release) in $target_dir"
(cd "$root" && timeout 3600 cargo build --release -q -p phalanx)
if [[ ! -f "$data/.bench-ready" ]]; then
    rm -rf "$data"
    org="$("$bin" --data "$data" init --org-name CERT-LT --country LTU --member-of EU,NATO | grep -o 'identity--[0-9a-f-]*' | head -1)"
    echo "bench-secret-password" | "$bin" --data "$data" user add --org CERT-LT --name bench-secret --role analyst --clearance SECRET --briefed EU,NATO --password-stdin >/dev/null
    echo "bench-restricted-password" | "$bin" --data "$data" user add --org CERT-LT --name bench-restricted --role analyst --clearance RESTRICTED --briefed EU,NATO --password-stdin >/dev/null
    corpus="$out/corpus-$objects.jsonl"
    [[ -f "$corpus" ]] || python3 "$root/bench/gen_corpus.py" --count "$objects" --format jsonl --out "$corpus"
    log "importing $objects objects"
    /usr/bin/time -f "run.sh: import %e s, %M KiB" "$bin" --data "$data" import --default-tlp green "$corpus" >/dev/null
    python3 "$here/gen_incidents.py" --org "$org" --count "$incidents" > "$out/incidents-$incidents.jsonl"
    log "importing $incidents incidents"
    "$bin" --data "$data" import --as bench-secret "$out/incidents-$incidents.jsonl" >/dev/null
    touch "$data/.bench-ready"
fi
log "node: $("$bin" --data "$data" stats --as bench-secret | tr '\n' ' ' | cut -c1-200)"
PHALANX_RATE_LIMIT_PER_SEC=0 "$bin" --data "$data" serve --listen 127.0.0.1:0 > "$out/serve.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 1 600); do
    url="$(grep -o 'http://[0-9.:]*' "$out/serve.log" | head -1 || true)"
    [[ -n "$url" ]] && break
    sleep 0.1
done
[[ -n "$url" ]] || { cat "$out/serve.log"; exit 1; }
echo "dashboard benchmark: $objects objects + $incidents incidents, commit $(cd "$root" && git rev-parse --short HEAD)"
python3 "$here/measure.py" --base "$url" --user bench-secret --password bench-secret-password
python3 "$here/measure.py" --base "$url" --user bench-restricted --password bench-restricted-password
