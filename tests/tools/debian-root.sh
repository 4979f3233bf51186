#!/bin/sh
# Debian roots for tests: make test's Debian 13 pass (tests/tools/test-in-debian-root.sh) and the
# package tests that install .debs into a Debian 12 or 13 system.
#
#   debian-root.sh path SUITE       the root's directory (it may not exist yet)
#   debian-root.sh ensure SUITE     creates the root if absent and prints its directory
#   debian-root.sh run [--net host|none] [--bind SRC:DST]... SUITE -- COMMAND [ARG...]
#                                   runs COMMAND as root inside the root
#
# SUITE is a Debian code name (bookworm, trixie). A root is made once with mmdebstrap
# (--variant=apt, plus make, ca-certificates, git, iproute2) from the Debian archive this
# machine's apt uses, and kept in $TURNPIKE_ROOT_CACHE (default /var/cache/turnpike-tests/roots).
# It is built in a temporary directory and renamed when complete, so an interrupted creation
# leaves nothing half made. The host's own CA certificates (/usr/local/share/ca-certificates)
# are copied in and trusted, so that curl, apt and npm inside work where the host's do.
#
# `run` works in a private mount namespace (nothing it mounts is seen outside or outlives it):
# the root is bind-mounted onto itself (`ip netns exec` runs `mount --make-rslave /`, which fails
# on a plain directory), /proc, /sys and /dev are mounted, each --bind is mounted at DST inside.
# --net none (the default) runs COMMAND in a network namespace of its own with only loopback up,
# so nothing a test starts can reach the network; --net host shares the host's network (for
# installing packages) and copies /etc/resolv.conf in. The environment is reset to PATH, HOME,
# LANG, TERM and NODE_EXTRA_CA_CERTS (Node.js ignores the system trust store without it), plus
# every TURNPIKE_* variable.
set -eu

CACHE=${TURNPIKE_ROOT_CACHE:-/var/cache/turnpike-tests/roots}
INCLUDE=make,ca-certificates,git,iproute2

die() { echo "debian-root.sh: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root (it makes a root file system and mounts in it)"

# The Debian archive the host's apt uses (deb822 .sources first, then sources.list), and its
# security archive; deb.debian.org when none is found.
host_archive() {
  want=$1  # "main" or "security"
  for f in /etc/apt/sources.list.d/*.sources /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -r "$f" ] || continue
    case "$f" in
      *.sources)
        uris=$(awk '/^URIs:/ {for (i = 2; i <= NF; i++) print $i}' "$f") ;;
      *)
        uris=$(awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { print $i; break } }' "$f") ;;
    esac
    for u in $uris; do
      case "$want:$u" in
        security:*debian-security*) echo "$u"; return ;;
        main:*debian-security*) ;;
        main:*/debian|main:*/debian/) echo "${u%/}"; return ;;
      esac
    done
  done
  if [ "$want" = security ]; then echo http://deb.debian.org/debian-security; else echo http://deb.debian.org/debian; fi
}

root_path() {
  case "$1" in
    ''|*/*|.*) die "not a suite name: '$1'" ;;
  esac
  echo "$CACHE/$1"
}

ensure() {
  suite=$1
  root=$(root_path "$suite")
  if [ -e "$root/.turnpike-root-complete" ]; then
    echo "$root"
    return
  fi
  command -v mmdebstrap >/dev/null || die "mmdebstrap is not installed (make test-deps installs it)"
  mkdir -p "$CACHE"
  main=$(host_archive main)
  security=$(host_archive security)
  tmp="$CACHE/.$suite.tmp.$$"
  rm -rf "$tmp"
  echo "debian-root.sh: creating a Debian $suite root in $root from $main (once; kept for later runs)" >&2
  started=$(date +%s)
  # The package lists are kept (--skip=cleanup/apt/lists): apt-get install works at once.
  if ! mmdebstrap --quiet --variant=apt --skip=cleanup/apt/lists --include="$INCLUDE" "$suite" "$tmp" \
      "deb $main $suite main" "deb $main $suite-updates main" \
      "deb $security $suite-security main" >&2; then
    rm -rf "$tmp"
    die "mmdebstrap $suite failed"
  fi
  # The host's own CAs (a TLS-intercepting proxy's, for instance), trusted inside too.
  if ls /usr/local/share/ca-certificates/*.crt >/dev/null 2>&1; then
    mkdir -p "$tmp/usr/local/share/ca-certificates"
    cp /usr/local/share/ca-certificates/*.crt "$tmp/usr/local/share/ca-certificates/"
    chroot "$tmp" update-ca-certificates >/dev/null 2>&1 || { rm -rf "$tmp"; die "update-ca-certificates failed in the $suite root"; }
  fi
  # Services are started by tests, never by package installation.
  printf '#!/bin/sh\nexit 101\n' > "$tmp/usr/sbin/policy-rc.d"
  chmod 755 "$tmp/usr/sbin/policy-rc.d"
  date -u +%FT%TZ > "$tmp/.turnpike-root-complete"
  rm -rf "$root"
  mv "$tmp" "$root"
  echo "debian-root.sh: $suite root ready in $(( $(date +%s) - started )) s" >&2
  echo "$root"
}

run() {
  net=none
  binds=""
  while [ $# -gt 0 ]; do
    case "$1" in
      --net) net=$2; shift 2 ;;
      --bind) binds="$binds $2"; shift 2 ;;
      --) shift; break ;;
      -*) die "unknown option $1" ;;
      *) suite=$1; shift ;;
    esac
  done
  [ -n "${suite:-}" ] || die "run: no suite"
  [ $# -gt 0 ] || die "run: no command"
  case "$net" in host|none) ;; *) die "--net host or none, not '$net'" ;; esac
  root=$(ensure "$suite")
  if [ "$net" = host ]; then cp -L /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true; fi
  # Variables passed in: the fixed set, and TURNPIKE_*.
  envfile=$(mktemp)
  trap 'rm -f "$envfile"' EXIT
  env | grep -E '^TURNPIKE_[A-Za-z0-9_]*=' > "$envfile" || true
  unshare_net=""
  [ "$net" = none ] && unshare_net=--net
  # shellcheck disable=SC2086
  unshare --mount --propagation private $unshare_net -- sh -eu -c '
    root=$1; net=$2; binds=$3; envfile=$4; shift 4
    [ "$net" = none ] && ip link set lo up
    mount --bind "$root" "$root"
    mount -t proc proc "$root/proc"
    mount --rbind /sys "$root/sys"
    mount --rbind /dev "$root/dev"
    for b in $binds; do
      src=${b%%:*}; dst=${b#*:}
      mkdir -p "$root$dst"
      mount --bind "$src" "$root$dst"
    done
    exec chroot "$root" /usr/bin/env -i \
      PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
      TERM="${TERM:-dumb}" NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt \
      $(cat "$envfile") "$@"
  ' debian-root "$root" "$net" "$binds" "$envfile" "$@"
}

[ $# -ge 1 ] || die "usage: debian-root.sh path|ensure SUITE, or run [--net host|none] [--bind SRC:DST]... SUITE -- COMMAND..."
cmd=$1
shift
case "$cmd" in
  path) root_path "$1" ;;
  ensure) ensure "$1" ;;
  run) run "$@" ;;
  *) die "unknown command '$cmd'" ;;
esac
