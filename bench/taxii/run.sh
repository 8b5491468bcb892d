#!/usr/bin/env bash
# TAXII server benchmark (issue "HTTP node"): pages at 1M objects (p99),
# against nginx serving the same bytes, against OASIS medallion at 200
# objects, and TAXII POST of 10,000-object bundles. See run.py.
#
#   bench/taxii/run.sh [run.py options: --objects N --duration S --connections C --post-bundles K]
#
# Installs wrk and nginx from Debian when missing, builds phalanx
# (release; CARGO_TARGET_DIR is honoured), makes the interop venv (for
# medallion) when missing, runs run.py and appends its output to
# bench/RESULTS.md under "## TAXII server". Exit status as run.py's.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
log() { echo "run.sh: $*" >&2; }

missing=()
command -v wrk >/dev/null || missing+=(wrk)
command -v nginx >/dev/null || [[ -x /usr/sbin/nginx ]] || missing+=(nginx)
if [[ ${#missing[@]} -gt 0 ]]; then
    log "installing ${missing[*]} from Debian"
    sudo_cmd=""
    [[ $(id -u) -eq 0 ]] || sudo_cmd="sudo"
    $sudo_cmd apt-get update -qq && $sudo_cmd env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    # Debian starts the packaged nginx service: stop it, the benchmark runs its own.
    if [[ " ${missing[*]} " == *" nginx "* ]]; then
        $sudo_cmd service nginx stop >/dev/null 2>&1 || true
    fi
fi
if ! "$root/.venv-interop/bin/python" -c 'import medallion' >/dev/null 2>&1; then
    log "installing the interop venv"
    timeout 1800 bash "$root/interop/install.sh"
fi
target_dir="${CARGO_TARGET_DIR:-$root/target}"
log "building phalanx (release) in $target_dir"
(cd "$root" && CARGO_TARGET_DIR="$target_dir" timeout 3600 cargo build --release -q -p phalanx)

set +e
out="$(python3 "$here/run.py" --phalanx "$target_dir/release/phalanx" "$@")"
rc=$?
set -e
echo "$out"
if [[ $rc -le 1 ]]; then
    {
        echo
        echo "### TAXII server run $(date -u +%Y-%m-%dT%H:%M:%SZ) ($(nproc) cores)"
        echo
        echo "Command: \`bench/taxii/run.sh $*\`"
        echo
        echo '```'
        echo "$out"
        echo '```'
    } >> "$root/bench/RESULTS.md"
fi
exit $rc
