#!/bin/bash
# Builds coturn's newest release (4.17.1, the strongest peer: recvmmsg on by default) from the
# tarball in /work/shared/anchors (or $COTURN_TARBALL) into a cache outside the repository, and
# prints the path of its turnserver. Nothing of coturn's code is committed; the build is redone
# only when the tarball changes. Usage: tests/bench/build-coturn.sh [--print]
# Environment: COTURN_TARBALL, TURNPIKE_BENCH_CACHE (default ~/.cache/turnpike-bench).
set -euo pipefail
tarball=${COTURN_TARBALL:-/work/shared/anchors/coturn-4.17.1.tar.gz}
cache=${TURNPIKE_BENCH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/turnpike-bench}
if [[ ! -r $tarball ]]; then
  echo "build-coturn.sh: $tarball not found; set COTURN_TARBALL to coturn's release tarball" >&2
  exit 2
fi
name=$(basename "$tarball" .tar.gz)
sum=$(sha256sum "$tarball" | cut -c1-16)
dir=$cache/$name-$sum
bin=$dir/build/bin/turnserver
if [[ -x $bin ]]; then
  echo "$bin"
  exit 0
fi
mkdir -p "$cache"
rm -rf "$dir"
mkdir -p "$dir"
tar xzf "$tarball" -C "$dir" --strip-components=1
# Release build with coturn's own defaults, no MySQL; SQLite (libsqlite3-dev, a build dependency
# of turnpike), libevent, OpenSSL and libmicrohttpd (its Prometheus exporter; BENCH_DEPS).
cmake -S "$dir" -B "$dir/build" -DCMAKE_BUILD_TYPE=Release -DWITH_MYSQL=OFF >"$dir/cmake.log" 2>&1 ||
  { tail -30 "$dir/cmake.log" >&2; exit 1; }
cmake --build "$dir/build" -j "${JOBS:-2}" --target turnserver >"$dir/build.log" 2>&1 ||
  { tail -30 "$dir/build.log" >&2; exit 1; }
[[ -x $bin ]] || bin=$(find "$dir/build" -name turnserver -type f -perm -u+x | head -1)
[[ -x $bin ]] || { echo "build-coturn.sh: no turnserver binary in $dir/build" >&2; exit 1; }
echo "$bin"
