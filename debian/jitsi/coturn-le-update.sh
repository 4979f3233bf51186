#!/bin/sh
# /usr/share/jitsi-meet/scripts/coturn-le-update.sh DOMAIN, as installed by jitsi-meet-turnpike
# (jitsi-meet-web's own script is diverted to coturn-le-update.sh.coturn). Jitsi's Let's Encrypt
# renewal (acme.sh --reloadcmd) calls it after writing /etc/jitsi/meet/DOMAIN.crt and .key.
# The pair is copied where the turnpike user can read it, then turnpike reloads (SIGHUP): new TLS
# handshakes get the new certificate, relayed calls go on. Jitsi's script restarted coturn.
set -e

DOMAIN=$1
if [ -z "$DOMAIN" ]; then
	echo "You need to pass the domain as parameter." >&2
	exit 10
fi
exec /usr/share/jitsi-meet-turnpike/install-cert "$DOMAIN" \
	"/etc/jitsi/meet/$DOMAIN.crt" "/etc/jitsi/meet/$DOMAIN.key"
