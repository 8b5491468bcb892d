#!/usr/bin/env bash
# Installs what the browser tests need: Debian's headless Chromium and the
# npm packages of web/ (playwright-core drives Chromium; htmx, uPlot and
# world-atlas are the dashboard's assets). Idempotent; needs root for apt.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
if ! command -v chromium >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq chromium fonts-dejavu-core >/dev/null
fi
cd "$here"
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules ]; then
    npm ci --no-audit --no-fund --loglevel=error
fi
chromium --version
