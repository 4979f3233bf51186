#!/bin/sh
# Installs the Debian packages given as arguments that are not installed yet. Needs root (or
# sudo). Daemons that a package starts on install (coturn on 3478) are stopped again when this
# script installed them, so they cannot take the ports turnpike and its tests use.
set -eu
missing=""
for p in "$@"; do
  dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

echo "installing Debian packages:$missing"
SUDO=""
if [ "$(id -u)" != 0 ]; then
  command -v sudo >/dev/null || { echo "need root or sudo to install:$missing" >&2; exit 1; }
  SUDO=sudo
fi
export DEBIAN_FRONTEND=noninteractive
# Install without starting services (policy-rc.d 101 = "action forbidden"), then leave things
# as they were.
policy=/usr/sbin/policy-rc.d
created_policy=no
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
  $SUDO chmod 755 "$policy"
  created_policy=yes
fi
cleanup() { [ "$created_policy" = yes ] && $SUDO rm -f "$policy"; return 0; }
trap cleanup EXIT
# shellcheck disable=SC2086
if ! $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null; then
  $SUDO apt-get update -qq
  # shellcheck disable=SC2086
  $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
if [ -d /run/systemd/system ]; then
  for svc in coturn prosody nginx; do
    case " $missing " in *" $svc "*) $SUDO systemctl disable --now "$svc" >/dev/null 2>&1 || true ;; esac
  done
fi
