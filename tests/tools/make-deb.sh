#!/bin/sh
# make-deb.sh [OUTDIR [VERSION]]: builds the Debian packages of this tree (debian/) with
# dpkg-buildpackage in a copy of the tracked files under OUTDIR/src, and leaves the .deb files
# (and the .buildinfo/.changes) in OUTDIR (default build/deb). VERSION replaces the changelog's
# version in the copy (the packaging tests build a lower one to upgrade from).
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
out=$(mkdir -p "${1:-$top/build/deb}" && cd "${1:-$top/build/deb}" && pwd)
version=${2:-}
src=$out/src/turnpike

rm -rf "$out/src"
mkdir -p "$src"
# The tracked files (git add a new one) as they are in the work tree, uncommitted edits included;
# never a build directory, wherever it is.
# Outside a git checkout (an unpacked tarball), everything but build directories.
if git -C "$top" rev-parse --git-dir >/dev/null 2>&1; then
	(cd "$top" && git ls-files -z --cached | xargs -0 cp -P --parents -t "$src" 2>/dev/null || true)
else
	(cd "$top" && tar --exclude='./build*' --exclude=./.git --exclude=node_modules -cf - .) | tar -C "$src" -xf -
fi
if [ -n "$version" ]; then
	sed -i "1s/(.*)/($version)/" "$src/debian/changelog"
fi
rm -f "$out"/*.deb "$out"/*.buildinfo "$out"/*.changes
# ccache when the caller set it up (the developers' builds do), else the compilers as they are.
(cd "$src" && DEB_BUILD_OPTIONS="nocheck parallel=${JOBS:-$(nproc)}" \
	dpkg-buildpackage -b -us -uc --no-sign >"$out/build.log" 2>&1) || {
	tail -n 60 "$out/build.log" >&2
	echo "make-deb.sh: dpkg-buildpackage failed; the whole log is $out/build.log" >&2
	exit 1
}
mv "$out"/src/*.deb "$out"/src/*.buildinfo "$out"/src/*.changes "$out"/ 2>/dev/null || true
ls "$out"/*.deb
