#!/usr/bin/env bash
# Create <repo>/.venv-interop and install the pinned third-party STIX/TAXII/MISP
# tools from interop/requirements.txt into it.
#
# Idempotent: a stamp file inside the venv records the SHA-256 of
# requirements.txt plus the Python version. When the stamp matches and the
# top-level packages are importable at the pinned versions, nothing is done.
#
# Usage: interop/install.sh [--force]
# Env:   PYTHON (default python3), INTEROP_VENV (default <repo>/.venv-interop)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
req="$here/requirements.txt"
venv="${INTEROP_VENV:-$root/.venv-interop}"
python="${PYTHON:-python3}"
stamp="$venv/.phalanx-interop-stamp"
force=0
[[ "${1:-}" == "--force" ]] && force=1

log() { echo "interop/install.sh: $*"; }

command -v "$python" >/dev/null || { log "error: $python not found"; exit 1; }
[[ -f "$req" ]] || { log "error: $req missing"; exit 1; }

# One install at a time: two runs at once on one venv once left a package's
# metadata half-written (NOTES.md, session 2).
exec 9>"$venv.lock"
flock 9

pyver="$("$python" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])')"
reqhash="$(sha256sum "$req" | cut -d' ' -f1)"
want="requirements-sha256=$reqhash python=$pyver"

# Checks, inside the venv, that every `name==version` line of requirements.txt
# is installed at exactly that version.
verify() {
    "$venv/bin/python" - "$req" <<'PY'
import sys
from importlib.metadata import version, PackageNotFoundError
bad = []
for line in open(sys.argv[1], encoding="utf-8"):
    line = line.split("#", 1)[0].strip()
    if "==" not in line:
        continue
    name, want = (s.strip() for s in line.split("==", 1))
    try:
        have = version(name)
    except PackageNotFoundError:
        have = None
    if have != want:
        bad.append(f"{name}: want {want}, have {have}")
if bad:
    print("\n".join(bad))
    sys.exit(1)
PY
}

if [[ $force -eq 0 && -x "$venv/bin/python" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
    if verify >/dev/null 2>&1; then
        log "up to date: $venv ($want); nothing to do"
        exit 0
    fi
    log "stamp matches but installed versions differ; reinstalling"
fi

if [[ ! -x "$venv/bin/python" ]]; then
    log "creating venv $venv with $python $pyver"
    "$python" -m venv "$venv"
else
    log "reusing venv $venv"
fi

rm -f "$stamp"
log "installing pinned packages from ${req#"$root/"}"
"$venv/bin/python" -m pip install --disable-pip-version-check --no-input -q -r "$req"

log "checking dependency consistency (pip check)"
"$venv/bin/python" -m pip check
if ! out="$(verify)"; then
    log "error: installed versions do not match the pins:"
    echo "$out"
    exit 1
fi

echo "$want" > "$stamp"
log "installed:"
"$venv/bin/python" - "$req" <<'PY'
import sys
from importlib.metadata import version
for line in open(sys.argv[1], encoding="utf-8"):
    line = line.strip()
    if not line:
        break  # the top-level pins come first, before the first blank line after them
    if line.startswith("#") or "==" not in line:
        continue
    name = line.split("==", 1)[0].strip()
    print(f"  {name}=={version(name)}")
PY
log "done: $venv ($want)"
