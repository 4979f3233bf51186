#!/bin/sh
# Installs the npm packages of DIR exactly as DIR/package-lock.json pins them (`npm ci`). Used for
# tests/browser (playwright-core). No install scripts run: playwright-core needs none, and nothing
# may download a browser; the browser is Debian's chromium (TEST_DEPS in the Makefile).
# Node.js >= 20 and npm come with the machine (Debian 12's own nodejs 18 is too old for
# playwright-core).
set -eu
dir=$1
need="the browser test needs Node.js >= 20 with npm"
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "$need; neither node nor npm is on PATH" >&2
  exit 1
fi
major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$major" -lt 20 ]; then
  echo "$need; this node is $(node --version)" >&2
  exit 1
fi
echo "installing npm packages of $dir (npm ci)"
cd "$dir"
npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
