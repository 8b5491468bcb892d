#!/usr/bin/env bash
# Federation benchmark (issue 5): p99 latency from POST on node A to
# readable on node C through hub B at a steady 1,000 objects/s, and the
# catch-up rate of a new node on 1,000,000 objects against a local
# `phalanx import` of the same objects (the anchor). See run.py.
#
#   bench/federation/run.sh [run.py options: --rate N --duration S --catchup-objects N --skip-latency --skip-catchup]
#
# Builds phalanx (release; CARGO_TARGET_DIR is honoured), runs run.py and
# appends its output to bench/RESULTS.md under "## Federation". Exit
# status as run.py's (0: both targets met, 1: not met).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
target_dir="${CARGO_TARGET_DIR:-$root/target}"
echo "run.sh: building phalanx (release) in $target_dir" >&2
(cd "$root" && CARGO_TARGET_DIR="$target_dir" timeout 3600 cargo build --release -q -p phalanx)

set +e
out="$(python3 "$here/run.py" --phalanx "${PHALANX_BIN:-$target_dir/release/phalanx}" "$@")"
rc=$?
set -e
echo "$out"
if [[ $rc -le 1 ]]; then
    {
        echo
        echo "### Federation run $(date -u +%Y-%m-%dT%H:%M:%SZ) ($(nproc) cores, commit $(cd "$root" && git rev-parse --short HEAD))"
        echo
        echo "Command: \`bench/federation/run.sh $*\`"
        echo
        echo '```'
        echo "$out"
        echo '```'
    } >> "$root/bench/RESULTS.md"
fi
exit $rc
