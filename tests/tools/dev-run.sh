#!/bin/bash
# `make run`: a development turnpike on 127.0.0.1:3478 with a random secret, plus coturn's echo
# peer on 127.0.0.1:3480, and the turnutils_uclient line that relays through them.
set -euo pipefail
build=${1:-build}
bin="$build/bin"
dev="$build/dev"
conf="$dev/turnpike.conf"
mkdir -p "$dev"
if [ ! -f "$conf" ]; then
  secret=$("$bin/turnpike-admin" secret generate)
  cat > "$conf" <<CONF
# Development config written by \`make run\`. Delete it to get a new secret.
listening-ip=127.0.0.1
listening-port=3478
realm=turnpike.dev
use-auth-secret
static-auth-secret=$secret
# The try-it peer below is on 127.0.0.1; loopback peers are refused unless this is set.
allow-loopback-peers
min-port=49152
max-port=65535
ledger=$(realpath "$dev")/ledger.db
verbose
CONF
  chmod 600 "$conf"
fi

peer_pid=""
if command -v turnutils_peer >/dev/null; then
  turnutils_peer -L 127.0.0.1 -p 3480 >/dev/null 2>&1 &
  peer_pid=$!
fi
cleanup() { [ -n "$peer_pid" ] && kill "$peer_pid" 2>/dev/null || true; }
trap cleanup EXIT INT TERM

cred=$("$bin/turnpike-admin" credentials -c "$conf" --user dev --ttl 86400)
user=$(sed -n 's/^username: //p' <<<"$cred")
pass=$(sed -n 's/^password: //p' <<<"$cred")
cat <<MSG

turnpike development server, config $conf
A credential valid for 24 hours:
$cred

Try it (in another terminal; the echo peer on 127.0.0.1:3480 is already running):
  turnutils_uclient -u '$user' -w '$pass' -e 127.0.0.1 -r 3480 -p 3478 -n 100 -m 2 -c -X 127.0.0.1

What happened, from another terminal:
  $bin/turnpike-admin sessions -c $conf
  $bin/turnpike-admin refusals -c $conf

Stop with Ctrl-C.

MSG
"$bin/turnpike" -c "$conf"
