#!/bin/bash
# The executable playwright-core starts instead of /usr/bin/chromium (executablePath), for two
# reasons:
#  - Chromium honours only the LAST --disable-features switch, and playwright-core passes its own
#    list before ours. Merging every --disable-features into one keeps both playwright's list and
#    ours (WebRtcHideLocalIpsWithMdns: no mDNS multicast), whatever playwright's version.
#  - With TURNPIKE_NETNS set, the browser runs inside that network namespace. `ip netns exec` and
#    Debian's /usr/bin/chromium both exec, so the pid playwright knows stays the browser's, and the
#    DevTools pipe (fds 3 and 4) is inherited.
set -euo pipefail
features=""
args=()
for a in "$@"; do
  case "$a" in
    --disable-features=*) features="${features:+$features,}${a#--disable-features=}" ;;
    *) args+=("$a") ;;
  esac
done
[ -n "$features" ] && args+=("--disable-features=$features")
chromium=${TURNPIKE_CHROMIUM:-/usr/bin/chromium}
if [ -n "${TURNPIKE_NETNS:-}" ]; then
  exec ip netns exec "$TURNPIKE_NETNS" "$chromium" "${args[@]}"
fi
exec "$chromium" "${args[@]}"
