"""Stand-ins for Jitsi Meet's Debian packages, built by the packaging test with dpkg-deb.

Written from what Jitsi's published maintainer scripts and templates (jitsi/jitsi-meet: debian/,
doc/debian/, resources/coturn-le-update.sh) do for TURN; those parts behave as Jitsi's do, the
rest is cut, and every cut is named here:

jitsi-meet-web-config
  kept: the debconf questions jitsi-videobridge/jvb-hostname and jitsi-meet/cert-choice,
  cert-path-key, cert-path-crt (preseeded by the test, as an installer would); the self-signed
  pair /etc/jitsi/meet/DOMAIN.crt|.key made with openssl, the key 0600 root:root.
  cut: the nginx/apache site, config.js, interface_config.js, the Let's Encrypt installer.
  Also carries /usr/share/jitsi-meet/scripts/coturn-le-update.sh, which really belongs to
  jitsi-meet-web (cut: the web application itself): acts only on a marked /etc/turnserver.conf,
  copies the pair to /etc/coturn/certs, rewrites cert=/pkey=, and ends with `service coturn
  restart` under `set -e`.
jitsi-meet-prosody
  kept: the 16-character alphanumeric jitsi-meet-prosody/turn-secret made when debconf has
  none; /etc/prosody/conf.avail/DOMAIN.cfg.lua linked from conf.d, with plugin_paths set
  globally, external_service_secret and Jitsi's three external_services items (stun, turn udp
  3478, turns tcp 5349, secret = true, ttl 86400, algorithm "turn"), and the domain's VirtualHost
  enabling "external_services" with c2s_require_encryption = false.
  cut: every other module and component (MUCs, lobby, breakout rooms, speaker stats, focus and
  jvb users, auth.DOMAIN), Prosody's own certificates, jitsi-anonymous authentication (Prosody's
  own "anonymous", which is what jitsi-anonymous wraps), Jitsi's prosody-plugins directory.
jitsi-meet-turnserver
  kept: Depends coturn; moves an unmarked /etc/turnserver.conf to .bak and writes the marked one
  (use-auth-secret, the debconf secret, realm, cert/pkey under /etc/jitsi/meet, 3478 and
  5349), `invoke-rc.d coturn restart`; postrm purge removes /etc/turnserver.conf.
  cut: the check for an nginx site (no nginx here), the public address from dig (no DNS in
  tests), the nginx stream multiplexer on 443 and the config.js edit.
"""
import os
import subprocess

VERSION = "1.0.8000-1"


def _build(out, name, control, files, scripts):
    tree = os.path.join(out, name + "-tree")
    os.makedirs(os.path.join(tree, "DEBIAN"))
    with open(os.path.join(tree, "DEBIAN", "control"), "w") as f:
        f.write("Package: %s\nVersion: %s\nArchitecture: all\nMaintainer: turnpike tests <tests@localhost>\n%s"
                "Description: stand-in for Jitsi Meet's %s (turnpike's packaging test)\n" % (name, VERSION, control, name))
    for path, (mode, text) in files.items():
        full = os.path.join(tree, path.lstrip("/"))
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "w") as f:
            f.write(text)
        os.chmod(full, mode)
    for script, text in scripts.items():
        full = os.path.join(tree, "DEBIAN", script)
        with open(full, "w") as f:
            f.write(text)
        os.chmod(full, 0o644 if script == "templates" else 0o755)
    deb = os.path.join(out, "%s_%s_all.deb" % (name, VERSION))
    subprocess.run(["dpkg-deb", "-b", "--root-owner-group", tree, deb], check=True, stdout=subprocess.DEVNULL)
    return deb


WEB_CONFIG_TEMPLATES = """Template: jitsi-videobridge/jvb-hostname
Type: string
Description: The domain of the current installation

Template: jitsi-meet/cert-choice
Type: select
Choices: Let's Encrypt certificates, I want to use my own certificate, Generate a new self-signed certificate
Description: SSL certificate

Template: jitsi-meet/cert-path-key
Type: string
Description: Full local server path to the SSL key file

Template: jitsi-meet/cert-path-crt
Type: string
Description: Full local server path to the SSL certificate file
"""

WEB_CONFIG_POSTINST = """#!/bin/sh
set -e
if [ "$1" = configure ]; then
    . /usr/share/debconf/confmodule
    db_get jitsi-videobridge/jvb-hostname
    DOMAIN=$(echo "$RET" | xargs)
    db_get jitsi-meet/cert-choice
    if [ "$RET" = "Generate a new self-signed certificate" ] && [ ! -f /etc/jitsi/meet/$DOMAIN.key ]; then
        mkdir -p /etc/jitsi/meet
        openssl req -new -newkey rsa:2048 -nodes -x509 -days 3650 -subj "/CN=$DOMAIN" \\
            -addext "subjectAltName=DNS:$DOMAIN" -keyout /etc/jitsi/meet/$DOMAIN.key -out /etc/jitsi/meet/$DOMAIN.crt 2>/dev/null
        chmod 600 /etc/jitsi/meet/$DOMAIN.key
    fi
    db_stop
fi
"""

COTURN_LE_UPDATE = """#!/bin/sh
set -e
DOMAIN=$1
if [ -z "$DOMAIN" ] ; then
  echo "You need to pass the domain as parameter."
  exit 10;
fi
COTURN_CERT_DIR="/etc/coturn/certs"
TURN_CONFIG="/etc/turnserver.conf"
if [ -f $TURN_CONFIG ] && grep -q "jitsi-meet coturn config" "$TURN_CONFIG" ; then
    mkdir -p $COTURN_CERT_DIR
    chown turnserver:turnserver $COTURN_CERT_DIR
    chmod 700 $COTURN_CERT_DIR
    umask 077
    cp "/etc/jitsi/meet/${DOMAIN}.crt" "$COTURN_CERT_DIR/${DOMAIN}.fullchain.pem"
    cp "/etc/jitsi/meet/${DOMAIN}.key" "$COTURN_CERT_DIR/${DOMAIN}.privkey.pem"
    chown turnserver "$COTURN_CERT_DIR/${DOMAIN}.fullchain.pem" "$COTURN_CERT_DIR/${DOMAIN}.privkey.pem"
    chmod 400 "$COTURN_CERT_DIR/${DOMAIN}.fullchain.pem" "$COTURN_CERT_DIR/${DOMAIN}.privkey.pem"
    sed -i "/^cert/c\\\\cert=/etc/coturn/certs/${DOMAIN}.fullchain.pem" $TURN_CONFIG
    sed -i "/^pkey/c\\\\pkey=/etc/coturn/certs/${DOMAIN}.privkey.pem" $TURN_CONFIG
    service coturn restart
fi
"""

PROSODY_TEMPLATES = """Template: jitsi-meet-prosody/turn-secret
Type: string
Description: The turn server secret
"""

PROSODY_POSTINST = """#!/bin/sh
set -e
if [ "$1" = configure ]; then
    . /usr/share/debconf/confmodule
    db_get jitsi-videobridge/jvb-hostname
    DOMAIN=$(echo "$RET" | xargs)
    db_get jitsi-meet-prosody/turn-secret
    if [ -z "$RET" ]; then
        TURN_SECRET=$(tr -dc 'a-zA-Z0-9' </dev/urandom | head -c 16)
        db_set jitsi-meet-prosody/turn-secret "$TURN_SECRET"
    else
        TURN_SECRET="$RET"
    fi
    CFG=/etc/prosody/conf.avail/$DOMAIN.cfg.lua
    if [ ! -f $CFG ]; then
        mkdir -p /etc/prosody/conf.avail /etc/prosody/conf.d
        sed -e "s/jitmeet.example.com/$DOMAIN/g" -e "s/__turnSecret__/$TURN_SECRET/g" \\
            /usr/share/jitsi-meet-prosody/prosody.cfg.lua-jvb.example > $CFG
        ln -sf $CFG /etc/prosody/conf.d/$DOMAIN.cfg.lua
    fi
    db_stop
fi
"""

PROSODY_CFG = """plugin_paths = { "/usr/share/jitsi-meet/prosody-plugins/" }

external_service_secret = "__turnSecret__";
external_services = {
     { type = "stun", host = "jitmeet.example.com", port = 3478 },
     { type = "turn", host = "jitmeet.example.com", port = 3478, transport = "udp", secret = true, ttl = 86400, algorithm = "turn" },
     { type = "turns", host = "jitmeet.example.com", port = 5349, transport = "tcp", secret = true, ttl = 86400, algorithm = "turn" }
};

VirtualHost "jitmeet.example.com"
    authentication = "anonymous"
    modules_enabled = {
        "ping";
        "external_services";
    }
    c2s_require_encryption = false
"""

TURNSERVER_POSTINST = """#!/bin/bash
set -e
if [ "$1" = configure ]; then
    . /usr/share/debconf/confmodule
    db_get jitsi-videobridge/jvb-hostname
    JVB_HOSTNAME=$(echo "$RET" | xargs)
    db_set jitsi-meet-turnserver/jvb-hostname "$JVB_HOSTNAME"
    db_get jitsi-meet-prosody/turn-secret
    TURN_SECRET="$RET"
    TURN_CONFIG=/etc/turnserver.conf
    if [[ -f $TURN_CONFIG ]] && ! grep -q "jitsi-meet coturn config" "$TURN_CONFIG" ; then
        mv $TURN_CONFIG $TURN_CONFIG.bak
    fi
    if [[ ! -f $TURN_CONFIG ]]; then
        cp /usr/share/jitsi-meet-turnserver/turnserver.conf $TURN_CONFIG
        sed -i "s/jitsi-meet.example.com/$JVB_HOSTNAME/g" $TURN_CONFIG
        sed -i "s/__turnSecret__/$TURN_SECRET/g" $TURN_CONFIG
        invoke-rc.d coturn restart || true
    fi
    db_stop
fi
"""

TURNSERVER_CONF = """# jitsi-meet coturn config. Do not modify this line
use-auth-secret
keep-address-family
static-auth-secret=__turnSecret__
realm=jitsi-meet.example.com
cert=/etc/jitsi/meet/jitsi-meet.example.com.crt
pkey=/etc/jitsi/meet/jitsi-meet.example.com.key
no-multicast-peers
no-cli
no-tcp-relay
listening-port=3478
tls-listening-port=5349
"""

TURNSERVER_TEMPLATES = """Template: jitsi-meet-turnserver/jvb-hostname
Type: string
Description: for internal use
"""

TURNSERVER_POSTRM = """#!/bin/sh
set -e
if [ "$1" = purge ]; then
    rm -rf /etc/turnserver.conf
    . /usr/share/debconf/confmodule
    db_purge
fi
"""


def build(out):
    """The three stand-ins as .deb files in `out`."""
    os.makedirs(out, exist_ok=True)
    return [
        _build(out, "jitsi-meet-web-config", "Depends: openssl, debconf\n",
               {"/usr/share/jitsi-meet/scripts/coturn-le-update.sh": (0o755, COTURN_LE_UPDATE)},
               {"templates": WEB_CONFIG_TEMPLATES, "postinst": WEB_CONFIG_POSTINST}),
        _build(out, "jitsi-meet-prosody", "Depends: prosody, debconf\n",
               {"/usr/share/jitsi-meet-prosody/prosody.cfg.lua-jvb.example": (0o644, PROSODY_CFG)},
               {"templates": PROSODY_TEMPLATES, "postinst": PROSODY_POSTINST}),
        _build(out, "jitsi-meet-turnserver", "Pre-Depends: jitsi-meet-web-config\nDepends: jitsi-meet-prosody, coturn\n",
               {"/usr/share/jitsi-meet-turnserver/turnserver.conf": (0o644, TURNSERVER_CONF)},
               {"templates": TURNSERVER_TEMPLATES, "postinst": TURNSERVER_POSTINST, "postrm": TURNSERVER_POSTRM}),
    ]
