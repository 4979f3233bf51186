"""Real browsers through turnpike: two headless Debian Chromium instances open a WebRTC data channel
with iceTransportPolicy "relay" and only turnpike as ICE server, exchange messages both ways, and
getStats() must show relay <-> relay as the selected pair. One browser ("bob") can run in a network
namespace whose firewall drops all UDP (lib/netns.py): behind it, the only way to the other browser
is TURN over TCP or TLS.

    test_browser_webrtc.py CASE [CASE ...]        (ctest: integration.browser_webrtc.CASE)

CASES below says what each case does. The daemon always listens on 127.0.0.1 and on the root-side
veth address of the namespace (UDP/TCP port P, TLS port T with a throwaway CA's certificate whose
subjectAltName holds both addresses); every browser's HOME has an NSS db trusting that CA.

Which cases run is decided in tests/integration/CMakeLists.txt (BROWSER_WEBRTC_CASES): "tls"
(turns:) and "tcp" (turn:?transport=tcp) with bob behind the UDP-dropping firewall are the
through-any-firewall proof; "mux" is turns: on the port shared with the web server
(mux-listening-port) while both browsers load a page from the web backend through that port; "udp" runs both browsers outside it; "udp-blocked" proves the
namespaced browser cannot get through over UDP, and "tls-trust" proves the certificate and NSS
set-up that turns: needs.

The browsers' credentials come as a Jitsi Meet client gets them: alice and bob log in to a real
Prosody (mod_turnpike, reading the relay's own config) with a real XMPP client and ask for
<services xmlns='urn:xmpp:extdisco:2'/>.

TURNPIKE_BROWSER_SERVER=coturn runs the relay cases against coturn's turnserver (Debian package
coturn, which has TCP and TLS) instead, with the same ports, certificate and secret, and without
the checks that read turnpike's log: it shows that the tcp and tls cases themselves are sound.
"""
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import prosody, xmpp_client, browsers, harness, netns, tls_certs  # noqa: E402

# case: (bob in the namespace?, alice's URL, bob's URL, expected relayProtocol of alice and bob).
# {lo} is 127.0.0.1, {veth} the root-side veth address; {port} the UDP/TCP port, {tls} the TLS port.
CASES = {
    # Today: both browsers in the root namespace over UDP; bob uses the veth address, so the relay
    # pairs an allocation on 127.0.0.1 with one on the veth address, as it will behind the firewall.
    "udp": (False, "turn:{lo}:{port}?transport=udp", "turn:{veth}:{port}?transport=udp", ("udp", "udp")),
    # Negative control: the namespaced browser must get no relay candidate over UDP.
    "udp-blocked": (True, "turn:{lo}:{port}?transport=udp", "turn:{veth}:{port}?transport=udp", None),
    # Once the daemon has a TCP listener: TURN over TCP through the firewall.
    "tcp": (True, "turn:{lo}:{port}?transport=tcp", "turn:{veth}:{port}?transport=tcp", ("tcp", "tcp")),
    # Once the daemon has a TLS listener: turns: through the firewall, certificate verified.
    "tls": (True, "turns:{lo}:{tls}?transport=tcp", "turns:{veth}:{tls}?transport=tcp", ("tls", "tls")),
    # Port 443 shared with the web server (mux-listening-port): turns: on the shared port through
    # the firewall, while each browser loads a page from the web backend through that same port.
    "mux": (True, "turns:{lo}:{mux}?transport=tcp", "turns:{veth}:{mux}?transport=tcp", ("tls", "tls")),
}
# Not a relay case: Chromium (in the namespace, over TCP to the veth address) accepts the throwaway
# CA's certificate for an IP literal when its HOME's NSS db trusts the CA, and refuses it otherwise.
TLS_TRUST = "tls-trust"
REFERENCE = os.environ.get("TURNPIKE_BROWSER_SERVER", "turnpike") == "coturn"


class CoturnReference(harness.Process):
    """coturn's turnserver configured like turnpike in start_server() below; credentials are still minted by
    turnpike-admin from a turnpike config holding the same secret."""

    def __init__(self, workdir, ns, pki, tls_port):
        harness.require("turnserver")
        self.port = harness.free_port()
        secret = secrets.token_hex(16)
        self.config_path = os.path.join(workdir, "credentials.conf")
        with open(self.config_path, "w") as f:
            f.write("realm=test.local\nuse-auth-secret\nstatic-auth-secret=%s\n" % secret)
        low, high = harness.relay_port_range()
        super().__init__([
            "turnserver", "-n", "--no-cli", "--no-dtls", "--log-file=stdout", "--simple-log", "--verbose",
            "-L", "127.0.0.1", "-L", ns.host_ip, "--listening-port=%d" % self.port,
            "--tls-listening-port=%d" % tls_port, "--cert", pki.server_cert, "--pkey", pki.server_key,
            "--use-auth-secret", "--static-auth-secret=" + secret, "--realm=test.local",
            "--min-port=%d" % low, "--max-port=%d" % high, "--allow-loopback-peers",
            "--allowed-peer-ip=%s-%s" % (ns.network[0], ns.network[-1])], os.path.join(workdir, "coturn.log"))
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", tls_port), timeout=1).close()
                return
            except OSError:
                if not self.alive():
                    break
                time.sleep(0.1)
        raise RuntimeError("turnserver did not start:\n" + self.log())


def admin_credential(server, user):
    """A TURN REST credential minted by turnpike-admin (for the coturn reference run only)."""
    out = subprocess.run([harness.ADMIN, "credentials", "-c", server.config_path, "--user", user,
                          "--ttl", "600", "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, check=True).stdout
    return json.loads(out)


def xmpp_credentials(test, server, users):
    """TURN credentials as a Jitsi Meet client gets them: each user logs in to a real Prosody
    (mod_turnpike reading the relay's own config) with a real XMPP client and asks
    <services xmlns='urn:xmpp:extdisco:2'/>, as lib-jitsi-meet does; the credentials come inline.
    Returns {user: {"username", "password"}}."""
    prosody.require_tools()
    p = test.track(prosody.Prosody(test.workdir, {"localhost": {"turnpike_config": server.config_path,
                                                                 "turnpike_host": "127.0.0.1"}},
                                   users=[(u, "localhost", u + "-pw") for u in users]))
    p.wait_ready()
    out = {}
    for user in users:
        reply = xmpp_client.query(p.port, "%s@localhost" % user, user + "-pw",
                                  [prosody.get("<services xmlns='%s'/>" % prosody.EXTDISCO_2)])[0]
        test.assertEqual(reply.type, "result", reply)
        turn = [s for s in reply.services() if s.get("type") in ("turn", "turns") and s.get("password")]
        test.assertTrue(turn, reply)
        test.assertTrue(turn[0]["username"].endswith(":%s@localhost" % user), turn[0])
        out[user] = {"username": turn[0]["username"], "password": turn[0]["password"]}
    return out


class BrowserWebRtc(harness.TestCase):
    """Each test gets its own namespace (deleted by a cleanup registered as soon as it exists, so
    also when setUp fails later), CA and daemon; tearDown stops the daemon before the cleanup
    deletes the namespace whose veth address it listens on."""

    def setUp(self):
        super().setUp()
        browsers.require_browser_stack()
        self.ns = netns.UdpBlockedNamespace().__enter__()
        self.addCleanup(self.ns.delete)
        self.pki = tls_certs.ThrowawayPki(self.workdir, ["127.0.0.1", self.ns.host_ip])

    def start_web_backend(self):
        """The web server behind the shared port: an HTTPS server with the same throwaway CA's
        certificate (the browsers check it: the shared port passes TLS through untouched)."""
        port = harness.free_port()
        backend = os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib", "web_backend.py")
        web = self.track(harness.Process([sys.executable, "-u", backend, str(port), self.pki.server_cert, self.pki.server_key],
                                         os.path.join(self.workdir, "web-backend.log")))
        harness.wait_until(lambda: socket.socket().connect_ex(("127.0.0.1", port)) == 0, what="the web backend")
        return web, port

    def start_server(self, extra=()):
        self.tls_port = harness.free_port()
        if REFERENCE:
            return self.track(CoturnReference(self.workdir, self.ns, self.pki, self.tls_port))
        return self.turnpike(list(extra) + [
            "listening-ip=" + self.ns.host_ip,  # reachable from inside the namespace
            "tls-listening-port=%d" % self.tls_port,
            "cert=" + self.pki.server_cert, "pkey=" + self.pki.server_key,
            "use-auth-secret", "static-auth-secret=" + secrets.token_hex(16),
            # The browsers' relayed addresses are peers of each other: 127.0.0.1 and the veth /30.
            "allow-loopback-peers", "allowed-peer-ip=" + str(self.ns.network),
            "verbose",
        ])

    def assert_listening(self, host, port, what):
        """A clear failure, before any browser starts, when the daemon lacks the listener."""
        try:
            socket.create_connection((host, port), timeout=2).close()
        except OSError as e:
            self.fail("nothing accepts TCP on %s:%d (%s): the daemon has no %s listener yet; "
                      "this case needs the TCP/TLS transports (%s)" % (host, port, e, what, __file__))

    def relay_case(self, case):
        bob_in_ns, alice_url, bob_url, expected = CASES[case]
        extra, mux_port, web = [], None, None
        if case == "mux":
            web, backend_port = self.start_web_backend()
            mux_port = harness.free_port()
            extra = ["mux-listening-port=%d" % mux_port, "mux-web-backend=127.0.0.1:%d" % backend_port]
        server = self.start_server(extra)
        fill = dict(lo="127.0.0.1", veth=self.ns.host_ip, port=server.port, tls=self.tls_port, mux=mux_port)
        alice_url, bob_url = alice_url.format(**fill), bob_url.format(**fill)
        for url in (alice_url, bob_url):
            if url.endswith("transport=tcp"):
                host, port = url.split(":", 1)[1].split("?")[0].rsplit(":", 1)
                self.assert_listening(host, int(port), "TLS" if url.startswith("turns:") else "TCP")

        creds = ({u: admin_credential(server, u) for u in ("alice", "bob")} if REFERENCE
                 else xmpp_credentials(self, server, ["alice", "bob"]))

        def ice(url, user):
            c = creds[user]
            return [{"urls": [url], "username": c["username"], "credential": c["password"]}]

        bob = {"name": "bob", "home": self.pki.browser_home("bob"), "ice_servers": ice(bob_url, "bob"),
               "netns": self.ns.name if bob_in_ns else None}
        alice = {"name": "alice", "home": self.pki.browser_home("alice"), "ice_servers": ice(alice_url, "alice")}
        if case == "mux":
            alice["https_during"] = "https://127.0.0.1:%d/" % mux_port
            bob["https_during"] = "https://%s:%d/" % (self.ns.host_ip, mux_port)
        if expected is None:
            # Chromium gives a silent TURN server up only after ~40 s (ICE error 701); a relay
            # candidate over loopback or the veth takes well under a second, so 5 s tells.
            bob["gather_timeout_ms"] = 5000
        r = browsers.run_driver(self.workdir, [alice, bob], timeout_s=40)
        print("%s: %s" % (case, json.dumps(r.ms)), flush=True)
        log = server.log()

        if expected is None:
            # Behind the firewall, UDP TURN must fail: alice allocates, bob gets nothing.
            self.assertFalse(r.ok, r)
            self.assertRegex(r.error or "", r"^bob gathered no relay candidate in \d+ ms$", r)
            self.assertTrue(r.browsers["alice"]["candidates"], r)
            if not REFERENCE:
                self.assertIn(":alice@localhost> realm=", log)
                self.assertNotIn(":bob@localhost>", log)
                self.assertNotIn(self.ns.inner_ip, log)
            return

        self.assertTrue(r.ok, r)
        relays = {"alice": "127.0.0.1", "bob": self.ns.host_ip}  # the relay uses the address reached
        for (me, other), proto in zip((("alice", "bob"), ("bob", "alice")), expected):
            b = r.browsers[me]
            sel = b["selected"]
            self.assertEqual((sel["local"]["candidateType"], sel["remote"]["candidateType"]), ("relay", "relay"), r)
            self.assertEqual(sel["local"]["relayProtocol"], proto, r)
            if not REFERENCE:  # coturn does not always relay on the address the client reached
                self.assertEqual(sel["local"]["address"], relays[me], r)
                self.assertEqual(sel["remote"]["address"], relays[other], r)
            self.assertEqual(b["received"], 11, r)  # 10 short messages and one of 48 KiB
            print("%s: selected %s relay %s:%s <-> relay %s:%s (relayProtocol %s)" % (
                me, sel["local"]["protocol"], sel["local"]["address"], sel["local"]["port"],
                sel["remote"]["address"], sel["remote"]["port"], sel["local"]["relayProtocol"]), flush=True)

        if case == "mux":
            # Both pages came from the web backend, through the port the TURN sessions used.
            for me in ("alice", "bob"):
                page = r.browsers[me].get("https_during", {})
                self.assertEqual(page.get("status"), 200, r)
                self.assertIn("web-backend", page.get("body", ""), r)
            self.assertGreaterEqual(web.log().count("served "), 2, web.log())  # (and maybe a favicon)
        if REFERENCE:
            return
        # The daemon's view: allocations for alice and bob only, each from where it should come
        # (bob's from inside the namespace when he is in it) and relayed on the address reached.
        where = {"alice": ("127.0.0.1", "127.0.0.1"),
                 "bob": (self.ns.inner_ip if bob_in_ns else self.ns.host_ip, self.ns.host_ip)}
        allocations = [line for line in log.splitlines() if " allocated: " in line]
        for user, (client, relayed) in where.items():
            mine = [a for a in allocations if ":%s@localhost>" % user in a]
            self.assertTrue(mine, log)
            for a in mine:
                self.assertIn(" client=%s:" % client, a, log)
                self.assertIn(" relayed=%s:" % relayed, a, log)
        self.assertEqual(len(allocations), sum(1 for a in allocations if re.search(r":(alice|bob)@localhost> ", a)), log)

    def tls_trust_case(self):
        # One s_server per browser: s_server serves one connection at a time, and a browser
        # that keeps its connection alive would otherwise leave the next one waiting until
        # its own page load times out (seen in CI as carol's timeout instead of a cert error).
        servers = {}
        for name, host in (("alice", "127.0.0.1"), ("bob", self.ns.host_ip), ("carol", self.ns.host_ip)):
            port = harness.free_port()
            servers[name] = "https://%s:%d/" % (host, port)
            p = self.track(harness.Process(["openssl", "s_server", "-accept", "%s:%d" % (host, port), "-www",
                                            "-cert", self.pki.server_cert, "-key", self.pki.server_key],
                                           os.path.join(self.workdir, "s_server-%s.log" % name)))
            p.wait_for_log("ACCEPT")
        untrusting = os.path.join(self.workdir, "home-untrusting")  # a HOME with no NSS db at all
        os.makedirs(untrusting)
        r = browsers.run_driver(self.workdir, [
            {"name": "alice", "home": self.pki.browser_home("alice"), "https_probe": servers["alice"]},
            {"name": "bob", "home": self.pki.browser_home("bob"), "https_probe": servers["bob"],
             "netns": self.ns.name},
            {"name": "carol", "home": untrusting, "https_probe": servers["carol"], "netns": self.ns.name},
        ], webrtc=False, timeout_s=30)
        print("tls-trust: %s" % json.dumps({n: b.get("https_probe") for n, b in r.browsers.items()}), flush=True)
        self.assertTrue(r.ok, r)
        self.assertEqual(r.browsers["alice"]["https_probe"].get("status"), 200, r)
        self.assertEqual(r.browsers["bob"]["https_probe"].get("status"), 200, r)
        self.assertIn("ERR_CERT_AUTHORITY_INVALID", r.browsers["carol"]["https_probe"].get("error", ""), r)


def add_case(case):
    if case == TLS_TRUST:
        setattr(BrowserWebRtc, "test_tls_trust", lambda self: self.tls_trust_case())
    elif case in CASES:
        setattr(BrowserWebRtc, "test_" + case.replace("-", "_"), lambda self: self.relay_case(case))
    else:
        sys.exit("unknown case %r; cases: %s" % (case, " ".join(list(CASES) + [TLS_TRUST])))


if __name__ == "__main__":
    cases = [a for a in sys.argv[1:] if not a.startswith("-")]
    if not cases:
        sys.exit("usage: %s CASE [CASE ...]   cases: %s" % (sys.argv[0], " ".join(list(CASES) + [TLS_TRUST])))
    reason = netns.can_create()
    if reason:
        harness.skip_file(reason)
    for c in cases:
        add_case(c)
    # ctest and Ctrl-C: unwind, so the namespace and every process are cleaned up.
    signal.signal(signal.SIGTERM, lambda sig, _: sys.exit(128 + sig))
    sys.argv = sys.argv[:1] + [a for a in sys.argv[1:] if a.startswith("-")]
    harness.main()
