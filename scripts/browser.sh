#!/usr/bin/env bash
# The browser tests' tools (crates/cli/tests/e2e/browser.rs): Debian's Chromium, Node.js, and the
# pinned packages of crates/cli/tests/browser (playwright-core drives the system Chromium; axe-core
# checks accessibility). `--install` installs what is missing; it is what .ci/run calls.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "${1:-}" = "--install" ] || { echo "usage: scripts/browser.sh --install" >&2; exit 2; }
need=()
command -v chromium >/dev/null || need+=(chromium fonts-dejavu-core)
command -v node >/dev/null || need+=(nodejs)
command -v npm >/dev/null || need+=(npm)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing ${need[*]}"
  apt-get update -qq && apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
chromium --version
node --version
( cd crates/cli/tests/browser && npm ci --no-audit --no-fund --silent )
