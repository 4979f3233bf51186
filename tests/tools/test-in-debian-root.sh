#!/bin/sh
# make test's second pass: the whole ctest suite again inside a Debian root of another release
# (default trixie, Debian 13), so that this Debian 12 machine catches what breaks only there
# (GCC 14, OpenSSL 3.5, Prosody 13, slixmpp 1.10, ...).
#
#   test-in-debian-root.sh [SUITE]
#
# 1. the root (tests/tools/debian-root.sh ensure: mmdebstrap once, cached);
# 2. a copy of this checkout's files (tracked and untracked, not ignored) in /src/turnpike
#    inside it; its build directory stays between runs, and ccache's cache is kept in
#    $TURNPIKE_ROOT_CACHE/ccache-SUITE, so a rerun rebuilds only what changed;
# 3. `make test-deps` inside, in the host's network (apt and npm);
# 4. `make build` and ctest inside, in a network namespace with only loopback up, as on the
#    host but without the build.* variant builds (Release, MinSizeRel, clang, dpkg-buildflags:
#    the host runs them; inside they would add 10+ minutes) and without the sanitizer pass
#    (the host runs it on the same code).
# Exit status: ctest's. Each step prints its time.
set -eu

suite=${1:-trixie}
here=$(cd "$(dirname "$0")/../.." && pwd)
tool="$here/tests/tools/debian-root.sh"
cache=${TURNPIKE_ROOT_CACHE:-/var/cache/turnpike-tests/roots}
jobs=${JOBS:-$(nproc)}

step() { echo "== Debian $suite root: $*"; }
elapsed() { echo "   ($(( $(date +%s) - $1 )) s)"; }

t0=$(date +%s)
root=$("$tool" ensure "$suite")
release=$(cat "$root/etc/debian_version")
step "Debian $release in $root"

# The checkout's files: what git lists (tracked, and untracked but not ignored), so that the
# run sees uncommitted work too; files gone from the list are removed from the copy. build/,
# the npm modules and the fetched Node.js stay.
t=$(date +%s)
dst="$root/src/turnpike"
mkdir -p "$dst"
list=$(mktemp)
trap 'rm -f "$list"' EXIT
(cd "$here" && git ls-files -co --exclude-standard -z) > "$list"
(cd "$here" && tar --null -T "$list" -cf - ) | (cd "$dst" && tar -xf - --no-same-owner)
(cd "$dst" && find . -path ./build -prune -o -path ./tests/browser/node_modules -prune -o \
    -path ./tests/browser/.runtime -prune -o -type f -print0 | sed -z 's|^\./||') |
  sort -z > "$list.have"
sort -z "$list" > "$list.want"
comm -z -23 "$list.have" "$list.want" | (cd "$dst" && xargs -0 -r rm -f)
rm -f "$list.have" "$list.want"
step "source copied to /src/turnpike"; elapsed "$t"

t=$(date +%s)
step "make test-deps (host network)"
"$tool" run --net host "$suite" -- sh -c 'cd /src/turnpike && make -s test-deps'
elapsed "$t"

mkdir -p "$cache/ccache-$suite"
t=$(date +%s)
step "make build and ctest (own network namespace, loopback only)"
set +e
"$tool" run --net none --bind "$cache/ccache-$suite:/root/.cache/ccache" "$suite" -- sh -c "
  set -e
  cd /src/turnpike
  export CMAKE_C_COMPILER_LAUNCHER=ccache CMAKE_CXX_COMPILER_LAUNCHER=ccache
  make -s build JOBS=$jobs
  cd build
  ctest --output-on-failure --timeout 900 -j $jobs -E '^build\\.(Release|MinSizeRel|clang|dpkg-buildflags)\$'
"
rc=$?
set -e
elapsed "$t"
if [ "$rc" = 0 ]; then
  step "PASSED (Debian $release, $(( $(date +%s) - t0 )) s in all)"
else
  step "FAILED (ctest exit $rc)"
fi
exit "$rc"
