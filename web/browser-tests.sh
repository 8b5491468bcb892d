#!/usr/bin/env bash
# Browser tests of the web UI: builds the phalanx binary, installs Debian's
# Chromium and the npm packages (web/install-browser.sh), then runs
# web/tests/*.test.mjs with node's test runner. Screenshots are written to
# target/screenshots/. PHALANX_BIN overrides the binary.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/.." && pwd)"
"$here/install-browser.sh"
if [ -z "${PHALANX_BIN:-}" ]; then
    (cd "$repo" && cargo build -q -p phalanx)
    PHALANX_BIN="${CARGO_TARGET_DIR:-$repo/target}/debug/phalanx"
fi
export PHALANX_BIN
cd "$repo"
node --test --test-concurrency=1 web/tests/
