"""jitsi-meet-turnpike on a Jitsi Meet host: the switch-over from coturn, in a Debian 12 root.

The host (lib/jitsi_standins.py: stand-ins for jitsi-meet-web-config, jitsi-meet-prosody and
jitsi-meet-turnserver, TURN parts as Jitsi's scripts have them, each cut named there) is set up
as Jitsi's installer leaves it, with a videobridge's config directory (jitsi-videobridge2 itself
is cut) and a self-signed certificate whose key is 0600 root:root. coturn runs (from its unit,
as user turnserver) and relays for a real XMPP client's credentials (SASL ANONYMOUS, as the web
client logs in; XEP-0215 to the domain, as lib-jitsi-meet asks).

Then `apt-get install ./jitsi-meet-turnpike ./turnpike ...`: no question is asked (a debconf
front end that would show one), coturn is removed and its prerm's stop reaches the running
daemon (lib/debian_root.py's policy-rc.d does what systemd would), turnpike takes 3478 and 5349
with the very secret Prosody had, Prosody (restarted, as the postinst asks) answers through
mod_turnpike, and the credentials relay with turnutils_uclient over udp and over turns: on 5349
with zero loss, to the videobridge's private address. coturn-le-update.sh with a renewed
certificate: a new TLS handshake gets the new certificate while a client relaying across it
loses nothing. Removing jitsi-meet-turnpike puts Prosody's config and the script back; purging
it leaves no debconf entry of its own.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from lib import debian_root, jitsi_standins  # noqa: E402
from lib.debian_root import DebianRoot  # noqa: E402
import test_debian_packages as pkgs  # noqa: E402

DOMAIN = "meet.example.test"
SERVER = "10.99.0.1"
PEER = "10.99.0.2"   # the videobridge, on this host's private address
PEER_PORT = 3480
XMPP_CLIENT = os.path.join(HERE, "..", "integration", "lib", "xmpp_client.py")
EXTDISCO = "urn:xmpp:extdisco:2"


def run(argv, **kw):
    return subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw)


class JitsiHost(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.version = pkgs.build_debs()
        cls.workdir = debian_root.tempdir()
        cls.standins = jitsi_standins.build(os.path.join(cls.workdir, "standins"))

    def test_switch_over(self):
        with DebianRoot("bookworm", self.workdir) as root:
            self.root = root
            root.stop_on_prerm_policy()
            os.makedirs(root.path("/var/tmp/debs"))
            for f in self.standins:
                shutil.copy(f, root.path("/var/tmp/debs/"))
            for f in os.listdir(pkgs.DEBS):
                if f.endswith(".deb") and "dbgsym" not in f:
                    shutil.copy(os.path.join(pkgs.DEBS, f), root.path("/var/tmp/debs/"))
            # What Jitsi's installer asks, answered beforehand (as `apt install jitsi-meet` would).
            root.sh("debconf-set-selections", input=(
                "jitsi-meet-web-config jitsi-videobridge/jvb-hostname string %s\n"
                "jitsi-meet-web-config jitsi-meet/cert-choice select Generate a new self-signed certificate\n" % DOMAIN))
            root.apt_install(*("/var/tmp/debs/%s_%s_all.deb" % (n, jitsi_standins.VERSION)
                               for n in ("jitsi-meet-web-config", "jitsi-meet-prosody", "jitsi-meet-turnserver")))
            os.makedirs(root.path("/etc/jitsi/videobridge"))
            self.assertEqual(root.sh("stat -c '%a %U' /etc/jitsi/meet/" + DOMAIN + ".key").stdout.strip(), "600 root")
            jitsi_secret = re.search(r'external_service_secret = "([A-Za-z0-9]{16})"',
                                     root.read("/etc/prosody/conf.avail/%s.cfg.lua" % DOMAIN)).group(1)
            self.assertIn("static-auth-secret=" + jitsi_secret, root.read("/etc/turnserver.conf"))

            peer = subprocess.Popen(root.ns(["turnutils_peer", "-L", PEER, "-p", str(PEER_PORT)]),
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            daemons = []
            try:
                coturn = root.start_unit("coturn.service")
                daemons.append(coturn)
                prosody = root.start_unit("prosody.service")
                daemons.append(prosody)
                self.wait_port("udp", 3478, coturn)
                self.wait_port("tcp", 5222, prosody)

                # -- coturn relays for Jitsi's credentials ------------------------------------
                services = self.services()
                turn = [s for s in services if s["type"] == "turn" and s.get("transport", "udp") == "udp"][0]
                r = self.uclient(turn, ["-m", "2", "-n", "50", "-l", "200", "-z", "5"])
                self.assertEqual((r["sent"], r["received"], r["lost"]), (100, 100, 0), r["output"][-2000:])

                # -- the switch-over -------------------------------------------------------------
                ours = ["jitsi-meet-turnpike_%s_all.deb" % self.version, "turnpike_%s_amd64.deb" % self.version,
                        "lua-turnpike_%s_amd64.deb" % self.version, "prosody-mod-turnpike_%s_all.deb" % self.version]
                # The teletype front end would print any question it asks (and read no answer).
                out = root.sh("cd /var/tmp/debs && DEBIAN_FRONTEND=teletype apt-get install -y -o Dpkg::Use-Pty=0 " +
                              " ".join("./" + d for d in ours)).stdout
                print(out[-2500:], flush=True)
                self.assertNotRegex(out, r"(?m)^Configuring [a-z0-9.+-]+\s*\n-{5,}", "debconf asked a question")
                self.assertIn("not-installed", root.sh("dpkg-query -W -f='${db:Status-Status}' coturn || true").stdout + "not-installed")
                self.assertNotIn("ii", root.sh("dpkg -l coturn jitsi-meet-turnserver 2>/dev/null | grep '^ii' || true").stdout)
                coturn.wait(timeout=15)  # coturn's prerm stopped it
                # jitsi-meet-web-config and jitsi-meet-prosody stay.
                root.sh("dpkg -s jitsi-meet-web-config jitsi-meet-prosody >/dev/null")

                conf = root.read("/etc/turnpike/turnpike.conf")
                self.assertIn("static-auth-secret=" + jitsi_secret + "\n", conf)
                self.assertIn("allowed-peer-ip=" + PEER, conf)
                self.assertEqual(root.sh("stat -c '%a %U %G' /etc/turnpike/turnpike.conf").stdout.strip(), "640 root turnpike")
                self.assertEqual(root.sh("stat -c '%a %G' /etc/turnpike/certs/" + DOMAIN + ".key").stdout.strip(), "640 turnpike")
                cfg = root.read("/etc/prosody/conf.avail/%s.cfg.lua" % DOMAIN)
                self.assertIn('Include "/etc/prosody/jitsi-meet-turnpike.cfg.lua"', cfg)

                # The postinsts' `invoke-rc.d turnpike|prosody restart`, done as systemd would.
                turnpike = root.start_unit("turnpike.service")
                daemons.append(turnpike)
                self.wait_port("udp", 3478, turnpike)
                self.wait_port("tcp", 5349, turnpike)
                pkgs.Packages.stop(None, prosody)
                prosody = root.start_unit("prosody.service", "prosody-2.log")
                daemons.append(prosody)
                self.wait_port("tcp", 5222, prosody)

                services, jid = self.services(with_jid=True)
                kinds = sorted((s["type"], s.get("transport", ""), s["port"]) for s in services)
                self.assertIn(("turns", "tcp", "5349"), kinds)
                self.assertIn(("turn", "udp", "3478"), kinds)
                turn = [s for s in services if s["type"] == "turn" and s.get("transport") == "udp"][0]
                turns = [s for s in services if s["type"] == "turns"][0]
                self.assertTrue(turn["username"].endswith(":" + jid.split("/")[0]), (turn, jid))
                r = self.uclient(turn, ["-m", "2", "-n", "100", "-l", "200", "-z", "5"])
                self.assertEqual((r["sent"], r["received"], r["lost"]), (200, 200, 0), r["output"][-2000:])
                r = self.uclient(turns, ["-t", "-S", "-m", "2", "-n", "100", "-l", "200", "-z", "5"], port=5349)
                self.assertEqual((r["sent"], r["received"], r["lost"]), (200, 200, 0), r["output"][-2000:])

                # -- certificate renewal (acme.sh's reloadcmd) ------------------------------------
                old_fp = self.served_fingerprint()
                root.sh("openssl req -new -newkey rsa:2048 -nodes -x509 -days 90 -subj /CN=%s "
                        "-keyout /etc/jitsi/meet/%s.key -out /etc/jitsi/meet/%s.crt 2>/dev/null; chmod 600 /etc/jitsi/meet/%s.key"
                        % (DOMAIN, DOMAIN, DOMAIN, DOMAIN))
                new_fp = root.sh("openssl x509 -noout -fingerprint -sha256 -in /etc/jitsi/meet/%s.crt" % DOMAIN).stdout.strip()
                self.assertNotEqual(old_fp, new_fp)
                held = subprocess.Popen(root.ns(self.uclient_argv(turn, ["-m", "1", "-n", "300", "-l", "100", "-z", "20"])),
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
                time.sleep(2)
                out = root.sh("/usr/share/jitsi-meet/scripts/coturn-le-update.sh " + DOMAIN).stdout
                self.assertIn("certificate for " + DOMAIN, out)
                deadline = time.time() + 10
                while self.served_fingerprint() != new_fp and time.time() < deadline:
                    time.sleep(0.2)
                self.assertEqual(self.served_fingerprint(), new_fp, "turnpike still serves the old certificate")
                r = pkgs.Packages.parse(None, held.communicate(timeout=60)[0])
                # uclient counts both of its allocations' datagrams: 2 x 300.
                self.assertEqual((r["sent"], r["received"], r["lost"]), (600, 600, 0), r["output"][-2000:])
                self.assertTrue(turnpike.poll() is None, "turnpike was restarted, not reloaded")
            finally:
                peer.terminate()
                peer.wait()
                for d in daemons:
                    if d.poll() is None:
                        d.terminate()
                        d.wait(timeout=15)

            # -- remove, purge -----------------------------------------------------------------
            root.sh("apt-get remove -y jitsi-meet-turnpike")
            cfg = root.read("/etc/prosody/conf.avail/%s.cfg.lua" % DOMAIN)
            self.assertNotIn("jitsi-meet-turnpike", cfg)
            self.assertFalse(os.path.exists(root.path("/etc/prosody/jitsi-meet-turnpike.cfg.lua")))
            self.assertIn("service coturn restart", root.read("/usr/share/jitsi-meet/scripts/coturn-le-update.sh"))
            root.sh("apt-get purge -y jitsi-meet-turnpike")
            self.assertEqual(root.sh("dpkg-divert --list | grep -c jitsi-meet-turnpike || true").stdout.strip(), "0")
            self.assertNotIn("jitsi-meet-turnpike", root.sh("debconf-show --listowners").stdout)

    # -- helpers -----------------------------------------------------------------------------
    def services(self, with_jid=False):
        """XEP-0215 services, asked as lib-jitsi-meet asks, by an anonymous client."""
        job = {"port": 5222, "jid": DOMAIN, "password": "", "component": False,
               "requests": [{"xml": "<services xmlns='%s'/>" % EXTDISCO, "type": "get", "to": DOMAIN}]}
        p = subprocess.run(self.root.ns(["/usr/bin/python3", XMPP_CLIENT]), input=json.dumps(job), timeout=60,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            answer = json.loads(p.stdout)
        except ValueError:
            raise AssertionError("the XMPP client failed: %s%s\n%s" % (p.stdout, p.stderr[-2000:], self.logs()))
        self.assertFalse(answer.get("error"), p.stderr[-2000:] + self.logs())
        reply = answer["replies"][0]
        self.assertEqual(reply["type"], "result", reply)
        services = [dict(re.findall(r"(\w+)=['\"]([^'\"]*)['\"]", s)) for s in re.findall(r"<service [^>]*>", reply["xml"])]
        self.assertTrue(services, reply)
        return (services, answer.get("jid") or "") if with_jid else services

    def uclient_argv(self, service, extra, port=3478):
        return ["turnutils_uclient", "-p", str(port), "-u", service["username"], "-w", service["password"],
                "-e", PEER, "-r", str(PEER_PORT), "-X"] + extra + [SERVER]

    def uclient(self, service, extra, port=3478):
        r = run(self.root.ns(self.uclient_argv(service, extra, port)), timeout=120)
        return pkgs.Packages.parse(None, r.stdout)

    def served_fingerprint(self):
        p = run(self.root.ns(["sh", "-c", "openssl s_client -connect %s:5349 -servername %s </dev/null 2>/dev/null"
                                          " | openssl x509 -noout -fingerprint -sha256" % (SERVER, DOMAIN)]), timeout=20)
        return p.stdout.strip()

    def wait_port(self, proto, port, daemon, timeout=20):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if daemon.poll() is not None:
                raise AssertionError("a daemon exited (%s):\n%s" % (daemon.returncode, self.logs()))
            if re.search(r":%d\s" % port, run(self.root.ns(["ss", "-ln" + proto[0]])).stdout):
                return
            time.sleep(0.2)
        raise AssertionError("nothing listens on %s %d:\n%s" % (proto, port, self.logs()))

    def logs(self):
        text = ""
        for f in sorted(os.listdir(self.workdir)):
            if f.endswith(".log") and not f.startswith("root-"):
                with open(os.path.join(self.workdir, f)) as fh:
                    text += "== %s\n%s\n" % (f, fh.read()[-2500:])
        return text


def main():
    if os.geteuid() != 0:
        pkgs.skip("the packaging tests need root (chroot, network namespaces, mounts), as CI runs them")
    debian_root.reexec_in_mount_namespace()
    unittest.main(verbosity=2)


if __name__ == "__main__":
    main()
