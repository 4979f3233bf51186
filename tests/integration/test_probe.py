"""turnpike-admin probe against the real daemon and a real Prosody: every transport works (udp,
tcp, tls, the port shared with a web server, and the URLs and credentials a real Prosody with
mod_turnpike hands out over XEP-0215), then each failure is produced for real and must be named
correctly: a wrong secret, an expired credential, an expired certificate and a wrong host name,
closed ports, UDP dropped by a firewall (a network namespace), a relayed address that is private
because external-ip is missing (a 1:1 NAT in namespaces), and an XEP-0215 answer without
credentials.

The probe sends nothing off the machine: every URL uses an IP literal or a name given with
--resolve, and the XMPP server is named with --xmpp-server, so no DNS query is made; where the
test is about names (A and AAAA, SRV), the probe runs with a real DNS server of the test's own
(lib/dns_server.py: dnsmasq on a loopback address, no upstream) as its only resolver.
"""
import base64
import hashlib
import hmac
import json
import os
import secrets
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import certs, dns_server, harness, nat_topology, netns, prosody  # noqa: E402


def rest_credential(secret, user, expires):
    """A TURN REST credential computed here, independently of turnpike's code."""
    username = "%d:%s" % (expires, user)
    return username, base64.b64encode(hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()).decode()


def run_probe(args, argv_prefix=(), timeout=120):
    """Runs `turnpike-admin probe ARGS --json`; returns (exit status, parsed report)."""
    p = subprocess.run(list(argv_prefix) + [harness.ADMIN, "probe"] + list(args) + ["--json"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=timeout)
    try:
        report = json.loads(p.stdout)
    except ValueError:
        raise AssertionError("probe printed no JSON (exit %d):\n%s\n%s" % (p.returncode, p.stdout, p.stderr))
    return p.returncode, report


def steps(url_report, address=0):
    return {s["step"]: s for s in url_report["addresses"][address]["steps"]}


def failed_step(url_report):
    if url_report["dns"]["status"] == "fail":
        return url_report["dns"]
    for a in url_report["addresses"]:
        for s in a["steps"]:
            if s["status"] == "fail":
                return s
    return None


class ProbeChecks:
    """Assertions shared by the test classes."""

    def assertWorks(self, report, url, relayed_over=None, packets=50):
        """The URL works, and every step a TURN URL has was done: the 401 challenge, the
        authenticated allocation, a second allocation, permissions, channels, 50 packets there
        and back through the relay, Refresh and deallocation."""
        u = self.url(report, url)
        self.assertTrue(u["works"], json.dumps(u, indent=1))
        self.assertEqual(u["verdict"], "works")
        s = steps(u)
        if not url.startswith("turn"):
            self.assertEqual(list(s)[-1], "binding", s)
            return u
        expected = ["allocate", "relayed address", "second allocation", "permission", "channel",
                    "round trip", "refresh", "deallocate"]
        self.assertEqual([n for n in s if n in expected], expected, list(s))
        self.assertTrue(s["allocate"]["details"]["challenge"].startswith("401"), s["allocate"])
        self.assertTrue(s["allocate"]["details"]["integrity_ok"], s["allocate"])
        trip = s["round trip"]["details"]
        self.assertEqual((trip["sent"], trip["arrived"], trip["returned"]), (packets,) * 3, s["round trip"])
        self.assertEqual(trip["loss_percent"], 0.0)
        self.assertGreater(trip["rtt_median_ms"], 0.0)
        if relayed_over:
            self.assertEqual(s["second allocation"]["details"]["transport"], relayed_over, s["second allocation"])
        self.assertEqual(s["deallocate"]["text"], "both allocations released")
        return u

    def assertFailsAt(self, report, url, step, *phrases):
        u = self.url(report, url)
        self.assertFalse(u["works"], json.dumps(u, indent=1))
        f = failed_step(u)
        self.assertIsNotNone(f, u)
        self.assertEqual(f["step"], step, json.dumps(u, indent=1))
        text = " ".join([f["text"]] + f["more"] + [f.get("advice", "")])
        for phrase in phrases:
            self.assertIn(phrase, text, json.dumps(f, indent=1))
        self.assertTrue(u["verdict"].startswith("fails at " + step), u["verdict"])
        return f

    def url(self, report, url):
        for u in report["urls"]:
            if u["url"] == url:
                return u
        self.fail("no report for %s in %s" % (url, [u["url"] for u in report["urls"]]))


class ProbeDaemon(ProbeChecks, certs.ServerCertificate, harness.TestCase):
    """The daemon on 127.0.0.1 over UDP, TCP, TLS (a throwaway CA's certificate for turn.test
    and 127.0.0.1) and the shared port with a web backend behind it."""

    SECRET = "probe-secret-" + secrets.token_hex(4)

    def start(self, extra=(), cert=None, key=None, **kw):
        self.tls_port = harness.free_port()
        return self.turnpike([
            "use-auth-secret", "static-auth-secret=" + self.SECRET,
            "tls-listening-port=%d" % self.tls_port, "cert=" + (cert or self.cert), "pkey=" + (key or self.key),
            # The probe's two allocations are each other's peers, on 127.0.0.1.
            "allow-loopback-peers",
        ] + list(extra), **kw)

    def test_every_transport_works(self):
        backend_port = self.web_backend(self.cert, self.key)
        mux = harness.free_port()
        t = self.start(["mux-listening-port=%d" % mux, "mux-web-backend=127.0.0.1:%d" % backend_port])
        urls = ["stun:127.0.0.1:%d" % t.port,
                "turn:127.0.0.1:%d?transport=udp" % t.port,
                "turn:127.0.0.1:%d?transport=tcp" % t.port,
                "turns:127.0.0.1:%d?transport=tcp" % self.tls_port,
                "turns:127.0.0.1:%d?transport=tcp" % mux]
        rc, report = run_probe(urls + ["--secret-from", t.config_path, "--ca", self.ca.cert])
        self.assertEqual(rc, 0, json.dumps(report, indent=1))
        self.assertTrue(report["ok"])
        self.assertWorks(report, urls[0])
        self.assertEqual(steps(self.url(report, urls[0]))["binding"]["details"]["behind_nat"], False)
        for url in urls[1:]:
            # UDP answers, so the second allocation of every URL is over UDP.
            self.assertWorks(report, url, relayed_over="udp")
        for url in urls[3:]:
            tls = steps(self.url(report, url))["tls"]["details"]
            self.assertTrue(tls["chain_verified"] and tls["name_matches"], tls)
            self.assertEqual(tls["alpn"], "")  # none offered, as browsers
            self.assertIn(tls["version"], ("TLSv1.2", "TLSv1.3"))
            self.assertIn("IP:127.0.0.1", tls["names"])
            self.assertGreater(tls["days_left"], 0)
        relayed = steps(self.url(report, urls[1]))["relayed address"]
        self.assertEqual(relayed["status"], "note")  # loopback, like the server's address
        self.assertEqual(relayed["details"]["scope"], "loopback")
        summary = report["summary"]
        self.assertTrue(summary[1].startswith("clients with UDP: yes, turn:127.0.0.1:%d?transport=udp works" % t.port), summary)
        self.assertTrue(summary[2].startswith("clients behind a TCP-only firewall: yes, "), summary)
        self.assertEqual(summary[-1], "every URL works")
        # The relay really carried the round trips: the ledger has the probe's sessions, with
        # the 50 packets each way of each TURN URL (the first allocation sends and receives 50).
        def ended():
            rows = [s for s in harness.admin_json("sessions", "--ledger", t.ledger_path)
                    if s["username"].endswith(":turnpike-probe") and s["ended_at"]]
            return rows if len(rows) >= 8 else None
        rows = harness.wait_until(ended, what="the probe's 8 sessions (2 per TURN URL) ended in the ledger")
        self.assertEqual(sorted({s["transport"] for s in rows}), ["tcp", "tls", "udp"])
        self.assertGreaterEqual(max(s["packets_from_client"] for s in rows), 50)
        # It relayed to nothing but its own allocations (relayed on 127.0.0.1), a bounded number
        # of packets: 50 for the round trip and the few that open the way.
        for s in rows:
            self.assertLessEqual({p["peer"] for p in s["peers"]}, {"127.0.0.1"}, s)
            self.assertLessEqual(sum(p["packets_to_peer"] for p in s["peers"]), 60, s)
        self.assertTrue(any(s["peers"] for s in rows), rows)
        # The text form says the same to a person.
        p = subprocess.run([harness.ADMIN, "probe", urls[3], "--secret-from", t.config_path, "--ca", self.ca.cert],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn("  verdict: works\n", p.stdout)
        self.assertIn("50 of 50 packets came back (0% loss)", p.stdout)
        self.assertIn("certificate verified", p.stdout)

    def test_a_name_given_with_resolve_is_checked_against_the_certificate(self):
        t = self.start()
        ok = "turns:turn.test:%d?transport=tcp" % self.tls_port
        wrong = "turns:other.test:%d?transport=tcp" % self.tls_port
        rc, report = run_probe([ok, wrong, "--secret-from", t.config_path, "--ca", self.ca.cert,
                                "--resolve", "turn.test:127.0.0.1", "--resolve", "other.test:127.0.0.1"])
        self.assertEqual(rc, 1)
        u = self.assertWorks(report, ok)
        self.assertEqual(u["dns"]["details"]["source"], "--resolve")
        self.assertEqual(steps(u)["tls"]["details"]["sni"], "turn.test")
        f = self.assertFailsAt(report, wrong, "tls", "refused the TLS handshake",
                               "certificate is for DNS:turn.test, DNS:web.test, IP:127.0.0.1, not other.test",
                               "use a certificate that names other.test")
        self.assertFalse(f["details"]["name_matches"])
        self.assertTrue(f["details"]["chain_verified"])
        # The system store does not know the throwaway CA: that is named too.
        rc, report = run_probe([ok, "--secret-from", t.config_path, "--resolve", "turn.test:127.0.0.1"])
        self.assertEqual(rc, 1)
        self.assertFailsAt(report, ok, "tls", "unable to get local issuer certificate", "the system store")
        # --insecure goes on, and still says what is wrong.
        rc, report = run_probe([wrong, "--secret-from", t.config_path, "--insecure",
                                "--resolve", "other.test:127.0.0.1"])
        self.assertEqual(rc, 0, json.dumps(report, indent=1))
        tls = steps(self.url(report, wrong))["tls"]
        self.assertEqual(tls["status"], "note")
        self.assertIn("not other.test (going on: --insecure)", tls["text"])

    def test_expired_certificate(self):
        now = int(time.time())
        cert, key, _ = self.ca.issue("expired", valid=(now - 30 * 86400, now - 3 * 86400 - 3600))
        t = self.start(cert=cert, key=key)
        url = "turns:127.0.0.1:%d?transport=tcp" % self.tls_port
        rc, report = run_probe([url, "--secret-from", t.config_path, "--ca", self.ca.cert])
        self.assertEqual(rc, 1)
        f = self.assertFailsAt(report, url, "tls", "refused the TLS handshake: certificate expired 3 days ago",
                               "renew the certificate")
        self.assertLess(f["details"]["days_left"], -2)
        self.assertIn("turns:127.0.0.1:%d?transport=tcp fails at tls: refused the TLS handshake: certificate "
                      "expired 3 days ago" % self.tls_port, " ".join(report["summary"]))
        # It sent nothing over it: no Allocate reached the relay from the probe.
        self.assertNotIn("allocate", steps(self.url(report, url)))

    def test_wrong_secret_is_named_by_the_relays_ledger(self):
        t = self.start()
        user, password = rest_credential("another-secret", "alice", int(time.time()) + 600)
        url = "turn:127.0.0.1:%d?transport=udp" % t.port
        # Without the ledger: the probe can only say the password does not match.
        rc, report = run_probe([url, "--user", user, "--password", password])
        self.assertEqual(rc, 1)
        self.assertFailsAt(report, url, "allocate", "refused: 401", "the password does not match")
        # On the relay host, with its config: the relay's own reason for this very attempt.
        rc, report = run_probe([url, "--user", user, "--password", password, "-c", t.config_path])
        self.assertEqual(rc, 1)
        f = self.assertFailsAt(report, url, "allocate", "the relay's ledger says: bad-integrity",
                               "matches no static-auth-secret", "another secret than the relay's static-auth-secret")
        self.assertEqual(f["details"]["code"], 401)
        self.assertEqual(f["details"]["ledger"]["reason"], "bad-integrity")

    def test_expired_credential(self):
        t = self.start()
        user, password = rest_credential(self.SECRET, "alice", int(time.time()) - 7200)
        url = "turn:127.0.0.1:%d?transport=tcp" % t.port
        rc, report = run_probe([url, "--user", user, "--password", password, "-c", t.config_path])
        self.assertEqual(rc, 1)
        f = self.assertFailsAt(report, url, "allocate", "401", "the relay's ledger says: expired-credential",
                               "credential expired", "issue a fresh credential")
        self.assertEqual(f["details"]["ledger"]["reason"], "expired-credential")
        # Without the ledger the probe reads the expiry from the username itself.
        rc, report = run_probe([url, "--user", user, "--password", password])
        self.assertFailsAt(report, url, "allocate", "the credential expired 2 hours ago")

    def test_quota_and_forbidden_peer_are_named_by_the_relays_ledger(self):
        # user-quota=1: the probe's second allocation (same user) is refused, 486 and the reason.
        t = self.turnpike(["use-auth-secret", "static-auth-secret=" + self.SECRET, "allow-loopback-peers",
                           "user-quota=1"], name="quota")
        url = "turn:127.0.0.1:%d?transport=udp" % t.port
        rc, report = run_probe([url, "--secret-from", t.config_path, "--packets", "5"])
        self.assertEqual(rc, 1)
        f = self.assertFailsAt(report, url, "second allocation", "refused: 486 Allocation Quota Reached",
                               "the relay's ledger says: quota (user-quota reached)", "raise user-quota")
        self.assertEqual((f["details"]["failed_step"], f["details"]["code"], f["details"]["ledger"]["reason"]),
                         ("allocate", 486, "quota"), f)
        # The default peer policy refuses loopback: the relay will not relay between its own
        # loopback relayed addresses, which is what remote peers would get too.
        t = self.turnpike(["use-auth-secret", "static-auth-secret=" + self.SECRET], name="peer-policy")
        url = "turn:127.0.0.1:%d?transport=udp" % t.port
        rc, report = run_probe([url, "--secret-from", t.config_path, "--packets", "5"])
        self.assertEqual(rc, 1)
        f = self.assertFailsAt(report, url, "permission", "CreatePermission for 127.0.0.1 refused: 403 Forbidden",
                               "the relay's ledger says: forbidden-peer (loopback)", "external-ip")
        self.assertEqual(f["details"]["ledger"]["reason"], "forbidden-peer")

    def test_closed_ports(self):
        t = self.start()
        closed = harness.free_port()
        urls = ["turn:127.0.0.1:%d?transport=udp" % closed, "turn:127.0.0.1:%d?transport=tcp" % closed,
                "turns:127.0.0.1:%d?transport=tcp" % closed]
        rc, report = run_probe(urls + ["--secret-from", t.config_path])
        self.assertEqual(rc, 1)
        self.assertFailsAt(report, urls[0], "first answer", "port unreachable (ICMP): nothing listens on 127.0.0.1:%d/udp" % closed)
        self.assertFailsAt(report, urls[1], "connect", "connection refused: nothing listens on 127.0.0.1:%d/tcp" % closed)
        self.assertFailsAt(report, urls[2], "connect", "connection refused")
        self.assertEqual(report["summary"][-1], "3 of 3 URLs fail")

    def test_names_from_dns_every_address(self):
        # A name with an IPv4 and an IPv6 address, from a real DNS server: each address is
        # tested on its own (a client may get either), over UDP and over TLS by name.
        if dns_server.cannot_run():
            self.skipTest(dns_server.cannot_run())
        t = self.start(["listening-ip=::1"])
        dns = self.track(dns_server.DnsServer(self.workdir, hosts=[("turn.test", ["127.0.0.1", "::1"])]))
        udp = "turn:turn.test:%d?transport=udp" % t.port
        tls = "turns:turn.test:%d?transport=tcp" % self.tls_port
        missing = "turn:nothere.test:%d?transport=udp" % t.port
        rc, report = run_probe([udp, tls, missing, "--secret-from", t.config_path, "--ca", self.ca.cert,
                                "--packets", "10"], argv_prefix=dns.wrap([]))
        self.assertEqual(rc, 1, json.dumps(report, indent=1))
        for url in (udp, tls):
            u = self.assertWorks(report, url, packets=10)
            d = u["dns"]
            self.assertEqual(d["details"]["source"], "dns")
            self.assertEqual(sorted(d["details"]["addresses"]), ["127.0.0.1", "::1"], d)
            self.assertIn("(1 IPv4, 1 IPv6)", d["text"])
            servers = sorted(a["server"] for a in u["addresses"])
            self.assertEqual(servers, sorted(["127.0.0.1:%d" % int(url.split(":")[2].split("?")[0]),
                                              "[::1]:%d" % int(url.split(":")[2].split("?")[0])]), u)
            self.assertTrue(all(a["works"] for a in u["addresses"]), json.dumps(u, indent=1))
            for i in range(2):
                self.assertEqual(steps(u, i)["round trip"]["details"]["arrived"], 10)
        self.assertEqual(steps(self.url(report, tls), 1)["tls"]["details"]["sni"], "turn.test")
        self.assertFailsAt(report, missing, "dns", "the name nothere.test does not exist in DNS",
                           "publish an A (and AAAA) record for nothere.test")
        asked = dns.queries()
        for q in (("A", "turn.test"), ("AAAA", "turn.test"), ("A", "nothere.test"), ("AAAA", "nothere.test")):
            self.assertIn(q, asked)
        # An IPv6 address that nothing listens on: that address fails, the other works, and the
        # URL does not count as working (some clients get the broken one).
        t2 = self.start(name="ipv4-only")
        url = "turn:turn.test:%d?transport=tcp" % t2.port
        rc, report = run_probe([url, "--secret-from", t2.config_path, "--packets", "5"],
                               argv_prefix=dns.wrap([]))
        self.assertEqual(rc, 1, json.dumps(report, indent=1))
        u = self.url(report, url)
        by_server = {a["server"]: a for a in u["addresses"]}
        self.assertTrue(by_server["127.0.0.1:%d" % t2.port]["works"], u)
        self.assertFalse(by_server["[::1]:%d" % t2.port]["works"], u)
        self.assertFailsAt(report, url, "connect", "connection refused: nothing listens on [::1]:%d/tcp" % t2.port)

    def test_usage_errors(self):
        for args, phrase in ((["http://x"], "unknown scheme"), ([], "give a URL"),
                             (["turn:127.0.0.1", "--user", "u"], "--user and --password go together"),
                             (["turn:127.0.0.1", "--resolve", "x"], "--resolve HOST:ADDRESS"),
                             (["--xmpp", "a@b"], "--password-file")):
            p = subprocess.run([harness.ADMIN, "probe"] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, timeout=10)
            self.assertEqual(p.returncode, 2, (args, p.stderr))
            self.assertIn(phrase, p.stderr)


class ProbeNetworks(ProbeChecks, harness.TestCase):
    """Firewalls and NAT, for real, in network namespaces (lib/netns.py, lib/nat_topology.py)."""

    SECRET = "probe-netns-secret"

    def setUp(self):
        super().setUp()
        reason = netns.can_create()
        if reason:
            self.skipTest(reason)

    def test_udp_dropped_by_a_firewall(self):
        ns = netns.UdpBlockedNamespace().__enter__()
        self.addCleanup(ns.delete)
        t = self.turnpike(["listening-ip=" + ns.host_ip, "use-auth-secret", "static-auth-secret=" + self.SECRET,
                           "allowed-peer-ip=" + str(ns.network)])
        udp = "turn:%s:%d?transport=udp" % (ns.host_ip, t.port)
        tcp = "turn:%s:%d?transport=tcp" % (ns.host_ip, t.port)
        rc, report = run_probe([udp, tcp, "--secret-from", t.config_path, "--timeout", "1.5"],
                               argv_prefix=ns.argv([]))
        self.assertEqual(rc, 1, json.dumps(report, indent=1))
        # The namespace's own firewall drops UDP on the way out: the kernel tells the sender.
        self.assertFailsAt(report, udp, "first answer",
                           "UDP to %s:%d is blocked by this machine's firewall" % (ns.host_ip, t.port),
                           "on networks that block UDP clients need turn:...?transport=tcp or turns:")
        # Over TCP it works, and the second allocation falls back to TCP too.
        u = self.assertWorks(report, tcp, relayed_over="tcp")
        self.assertIn("UDP to %s:%d got no answer earlier" % (ns.host_ip, t.port), steps(u)["second allocation"]["text"])
        summary = report["summary"]
        self.assertTrue(summary[0].startswith("clients with UDP: no, %s fails at first answer: UDP to" % udp), summary)
        self.assertEqual(summary[1], "clients behind a TCP-only firewall: yes, %s works" % tcp)

    def test_private_relayed_address_without_external_ip(self):
        topo = nat_topology.NatTopology().__enter__()
        self.addCleanup(topo.delete)
        port = 3478

        def relay(options, name):
            conf = os.path.join(self.workdir, name + ".conf")
            with open(conf, "w") as f:
                f.write("\n".join(["listening-ip=" + nat_topology.PRIVATE_IP, "listening-port=%d" % port,
                                   "min-port=40000", "max-port=40999", "relay-threads=1", "realm=nat.test",
                                   "use-auth-secret", "static-auth-secret=" + self.SECRET,
                                   "ledger=" + os.path.join(self.workdir, name + ".db")] + options) + "\n")
            p = self.track(harness.Process(topo.argv("relay", [harness.TURNPIKE, "-c", conf]),
                                           os.path.join(self.workdir, name + ".log")))
            p.wait_for_log("turnpike ready")
            return p, conf

        url = "turn:%s:%d?transport=udp" % (nat_topology.PUBLIC_IP, port)
        server, conf = relay([], "no-external-ip")
        rc, report = run_probe([url, "--secret-from", conf], argv_prefix=topo.argv("client", []))
        self.assertEqual(rc, 1, json.dumps(report, indent=1))
        f = self.assertFailsAt(report, url, "relayed address",
                               "%s:" % nat_topology.PRIVATE_IP, "is a private address: a remote user can never send to it",
                               "external-ip=%s/%s" % (nat_topology.PUBLIC_IP, nat_topology.PRIVATE_IP))
        self.assertEqual(f["details"]["scope"], "private")
        # The probe is not behind a NAT here (the relay is): its mapped address is its own.
        b = steps(self.url(report, url))["binding"]["details"]
        self.assertEqual((b["mapped"].split(":")[0], b["behind_nat"]), (nat_topology.CLIENT_IP, False))
        server.stop()
        # With the fix the probe suggested, the same URL works end to end (through the NAT's
        # hairpin: the two allocations reach each other at the public address).
        _, conf = relay(["external-ip=%s/%s" % (nat_topology.PUBLIC_IP, nat_topology.PRIVATE_IP)], "external-ip")
        rc, report = run_probe([url, "--secret-from", conf], argv_prefix=topo.argv("client", []))
        self.assertEqual(rc, 0, json.dumps(report, indent=1))
        u = self.assertWorks(report, url, relayed_over="udp")
        self.assertEqual(steps(u)["relayed address"]["details"]["scope"], "public")
        # From the relay host itself to its public address, the NAT rewrites the probe's address
        # (hairpin): the mapped address is the public one, and the probe says it is behind NAT.
        rc, report = run_probe([url, "--secret-from", conf, "--packets", "5"], argv_prefix=topo.argv("relay", []))
        self.assertEqual(rc, 0, json.dumps(report, indent=1))
        b = steps(self.url(report, url))["binding"]
        self.assertEqual((b["details"]["mapped"].split(":")[0], b["details"]["behind_nat"]),
                         (nat_topology.PUBLIC_IP, True), b)
        self.assertIn("behind NAT (this machine's address is %s)" % nat_topology.PRIVATE_IP, b["text"])
        # A firewall on the way (the NAT router) that drops the client's UDP silently: no answer
        # at all, while TCP still gets through (and the relay's own hairpin UDP is untouched).
        subprocess.run(topo.argv("nat", ["nft", "-f", "-"]), check=True, text=True, input=(
            "table inet turnpike_drop_udp {\n  chain forward {\n"
            "    type filter hook forward priority filter; policy accept;\n"
            "    ip saddr %s meta l4proto udp drop\n  }\n}\n" % nat_topology.CLIENT_IP))
        tcp = "turn:%s:%d?transport=tcp" % (nat_topology.PUBLIC_IP, port)
        rc, report = run_probe([url, tcp, "--secret-from", conf, "--timeout", "1.5"],
                               argv_prefix=topo.argv("client", []))
        self.assertEqual(rc, 1, json.dumps(report, indent=1))
        self.assertFailsAt(report, url, "first answer", "no answer from %s:%d/udp: no answer in 1.5 s"
                           % (nat_topology.PUBLIC_IP, port), "UDP to port %d does not get through" % port)
        self.assertWorks(report, tcp, relayed_over="tcp")


class ProbeThroughProsody(ProbeChecks, prosody.ProsodyTestCase):
    """A real Prosody with TLS (a throwaway CA's certificate for its hosts) and mod_turnpike
    reading the relay's config; the probe logs in with libstrophe and asks XEP-0215."""

    @classmethod
    def start(cls):
        cls.ca_dir = os.path.join(cls.workdir, "ca")
        os.makedirs(cls.ca_dir)
        cls.ca = certs.Ca(cls.ca_dir)
        cls.cert, cls.key, _ = cls.ca.issue("xmpp", common_name="localhost",
                                            sans=("DNS:localhost", "DNS:bare.localhost", "DNS:old.localhost",
                                                  "DNS:plain.localhost", "DNS:guest.localhost", "IP:127.0.0.1"))
        cls.secret = secrets.token_hex(16)
        cls.tls_port = harness.free_port()
        cls.relay = cls.start_turnpike(["use-auth-secret", "static-auth-secret=" + cls.secret,
                                        "tls-listening-port=%d" % cls.tls_port, "cert=" + cls.cert,
                                        "pkey=" + cls.key, "allow-loopback-peers"])
        ssl = {"certificate": cls.cert, "key": cls.key}
        cls.direct_tls_port = harness.free_port()
        base = {"turnpike_config": cls.relay.config_path, "turnpike_host": "127.0.0.1", "ssl": ssl}
        cls.server = cls.start_prosody(
            {"localhost": base,
             # An item without `secret`: sent bare, as Prosody 0.12 sends turns: without
             # algorithm = "turn".
             "bare.localhost": {"ssl": ssl, "external_services": [
                 {"type": "turn", "host": "127.0.0.1", "port": cls.relay.port, "transport": "udp"}]},
             # Jitsi's own module answers only urn:xmpp:extdisco:1 (plays it: a test module that
             # refuses :2 in front of mod_turnpike).
             "old.localhost": dict(base, modules_enabled=["turnpike_test_extdisco1_only"]),
             # A server that offers only PLAIN (over TLS), and a Jitsi guest domain.
             "plain.localhost": dict(base, disable_sasl_mechanisms=["SCRAM-SHA-1", "SCRAM-SHA-256"]),
             "guest.localhost": dict(base, authentication="anonymous")},
            users=[("alice", "localhost", "alice-pw"), ("bob", "bare.localhost", "bob-pw"),
                   ("carol", "old.localhost", "carol-pw"), ("dave", "plain.localhost", "dave-pw")],
            modules=("turnpike", "tls"),
            options={"modules_disabled": ["s2s", "offline"], "c2s_require_encryption": True,
                     "allow_unencrypted_plain_auth": False, "ssl": ssl,
                     "c2s_direct_tls_ports": [cls.direct_tls_port]})
        cls.password_file = os.path.join(cls.workdir, "password")

    def xmpp_probe(self, jid, password, extra=()):
        with open(self.password_file, "w") as f:
            f.write(password + "\n")
        return run_probe(["--xmpp", jid, "--password-file", self.password_file,
                          "--xmpp-server", "127.0.0.1:%d" % self.server.port] + list(extra))

    def xmpp_step(self, report, name):
        return {s["step"]: s for s in report["xmpp"]["steps"]}[name]

    def test_login_and_every_advertised_url_works(self):
        rc, report = self.xmpp_probe("alice@localhost", "alice-pw", ["--ca", self.ca.cert])
        self.assertEqual(rc, 0, json.dumps(report, indent=1))
        login = self.xmpp_step(report, "xmpp login")
        self.assertEqual(login["status"], "ok", login)
        self.assertEqual(login["details"]["tls"], "STARTTLS")
        self.assertTrue(login["details"]["mechanism"].startswith("SCRAM-SHA-"), login)
        self.assertIn("PLAIN", login["details"]["offered_mechanisms"])
        self.assertTrue(login["details"]["bound_jid"].startswith("alice@localhost/"), login)
        disco = self.xmpp_step(report, "xep-0215")
        self.assertEqual(disco["details"]["namespace"], "urn:xmpp:extdisco:2")
        urls = [u["url"] for u in report["urls"]]
        port, tls = self.relay.port, self.tls_port
        # As lib-jitsi-meet writes them: ?transport only when it is not udp.
        self.assertEqual(sorted(urls), sorted(["stun:127.0.0.1:%d" % port, "turn:127.0.0.1:%d" % port,
                                               "turn:127.0.0.1:%d?transport=tcp" % port,
                                               "turns:127.0.0.1:%d?transport=tcp" % tls]))
        for url in urls:
            u = self.assertWorks(report, url)
            if url.startswith("turn"):
                self.assertTrue(u["username"].endswith(":alice@localhost"), u["username"])
                self.assertEqual(u["source"], "XEP-0215 (urn:xmpp:extdisco:2)")
        self.assertIn("Jitsi Meet's bridge connection (lib-jitsi-meet uses only turn/turns with transport=tcp "
                      "there): yes", "\n".join(report["summary"]))

    def test_direct_tls(self):
        rc, report = run_probe(["--xmpp", "alice@localhost", "--password-file", self.write_password("alice-pw"),
                                "--xmpp-server", "127.0.0.1:%d" % self.direct_tls_port, "--xmpp-direct-tls",
                                "--ca", self.ca.cert, "--packets", "5"])
        self.assertEqual(rc, 0, json.dumps(report, indent=1))
        self.assertEqual(self.xmpp_step(report, "xmpp login")["details"]["tls"], "direct TLS")

    def test_xmpp_server_from_dns_srv(self):
        # No --xmpp-server: the server comes from SRV records (RFC 6120 §3.2.1, XEP-0368), from
        # a real DNS server that is the probe's only resolver. At equal priority direct TLS
        # (_xmpps-client) goes first; a domain with only _xmpp-client gets STARTTLS.
        if dns_server.cannot_run():
            self.skipTest(dns_server.cannot_run())
        dns = self.track(dns_server.DnsServer(self.workdir, hosts=[("xmpp.test", ["127.0.0.1"])], srv=[
            ("_xmpps-client._tcp.localhost", "xmpp.test", self.direct_tls_port, 10, 5),
            ("_xmpp-client._tcp.localhost", "xmpp.test", self.server.port, 10, 5),
            ("_xmpp-client._tcp.old.localhost", "xmpp.test", self.server.port, 0, 5)]))
        password = self.write_password("alice-pw")
        rc, report = run_probe(["--xmpp", "alice@localhost", "--password-file", password, "--ca", self.ca.cert,
                                "--packets", "5"], argv_prefix=dns.wrap([]))
        self.assertEqual(rc, 0, json.dumps(report, indent=1))
        where = self.xmpp_step(report, "xmpp server")
        self.assertEqual(where["text"], "xmpp.test:%d from DNS SRV _xmpps-client._tcp.localhost" % self.direct_tls_port)
        self.assertEqual(where["more"], ["xmpp.test is 127.0.0.1"])
        self.assertEqual(where["details"]["addresses"], ["127.0.0.1"])
        self.assertEqual(self.xmpp_step(report, "xmpp login")["details"]["tls"], "direct TLS")
        self.assertEqual(len(report["urls"]), 4)
        asked = dns.queries()
        for q in (("SRV", "_xmpps-client._tcp.localhost"), ("SRV", "_xmpp-client._tcp.localhost"), ("A", "xmpp.test")):
            self.assertIn(q, asked)
        rc, report = run_probe(["--xmpp", "carol@old.localhost", "--password-file", self.write_password("carol-pw"),
                                "--ca", self.ca.cert, "--packets", "5"], argv_prefix=dns.wrap([]))
        self.assertEqual(rc, 0, json.dumps(report, indent=1))
        self.assertEqual(self.xmpp_step(report, "xmpp server")["text"],
                         "xmpp.test:%d from DNS SRV _xmpp-client._tcp.old.localhost" % self.server.port)
        self.assertEqual(self.xmpp_step(report, "xmpp login")["details"]["tls"], "STARTTLS")
        # No SRV record: DOMAIN:5222, as RFC 6120 §3.2.2 says; here that name has no address.
        rc, report = run_probe(["--xmpp", "bob@bare.localhost", "--password-file", self.write_password("bob-pw"),
                                "--ca", self.ca.cert], argv_prefix=dns.wrap([]))
        self.assertEqual(rc, 1, json.dumps(report, indent=1))
        where = self.xmpp_step(report, "xmpp server")
        self.assertEqual(where["status"], "fail", where)
        self.assertEqual(where["text"], "bare.localhost:5222 (bare.localhost has no SRV record for XMPP clients): "
                                        "the name bare.localhost does not exist in DNS (no A or AAAA record)")
        self.assertIn("publish an A (and AAAA) record for bare.localhost", where["advice"])
        self.assertNotIn("xmpp login", [s["step"] for s in report["xmpp"]["steps"]])
        # --resolve answers for the XMPP server's name too (and nobody is asked).
        before = len(dns.queries())
        rc, report = run_probe(["--xmpp", "alice@localhost", "--password-file", self.write_password("alice-pw"),
                                "--xmpp-server", "xmpp.example:%d" % self.server.port, "--resolve",
                                "xmpp.example:127.0.0.1", "--ca", self.ca.cert, "--packets", "5"],
                               argv_prefix=dns.wrap([]))
        self.assertEqual(rc, 0, json.dumps(report, indent=1))
        self.assertIn("xmpp.example is 127.0.0.1 (from --resolve)", self.xmpp_step(report, "xmpp server")["more"])
        self.assertEqual(dns.queries()[before:], [])

    def write_password(self, password):
        with open(self.password_file, "w") as f:
            f.write(password + "\n")
        return self.password_file

    def test_plain_over_tls_and_an_anonymous_guest(self):
        rc, report = self.xmpp_probe("dave@plain.localhost", "dave-pw", ["--ca", self.ca.cert, "--packets", "5"])
        self.assertEqual(rc, 0, json.dumps(report, indent=1))
        login = self.xmpp_step(report, "xmpp login")
        self.assertEqual((login["details"]["mechanism"], login["details"]["tls"]), ("PLAIN", "STARTTLS"), login)
        self.assertFalse([m for m in login["details"]["offered_mechanisms"] if m.startswith("SCRAM")], login)
        # A JID without a user part logs in as a Jitsi guest does (SASL ANONYMOUS), and gets
        # credentials for its random JID.
        rc, report = run_probe(["--xmpp", "guest.localhost", "--xmpp-server", "127.0.0.1:%d" % self.server.port,
                                "--ca", self.ca.cert, "--packets", "5"])
        self.assertEqual(rc, 0, json.dumps(report, indent=1))
        login = self.xmpp_step(report, "xmpp login")
        self.assertEqual(login["details"]["mechanism"], "ANONYMOUS", login)
        bound = login["details"]["bound_jid"].split("/")[0]
        self.assertTrue(bound.endswith("@guest.localhost"), login)
        turn = [u for u in report["urls"] if u["url"].startswith("turn")]
        self.assertTrue(turn and all(u["username"].endswith(":" + bound) for u in turn), report["urls"])

    def test_untrusted_xmpp_certificate_and_wrong_password(self):
        rc, report = self.xmpp_probe("alice@localhost", "alice-pw")  # no --ca: the system store
        self.assertEqual(rc, 1)
        login = self.xmpp_step(report, "xmpp login")
        self.assertEqual(login["status"], "fail", login)
        self.assertIn("the server's certificate is not trusted: unable to get local issuer certificate", login["text"])
        self.assertEqual(report["urls"], [])
        rc, report = self.xmpp_probe("alice@localhost", "wrong", ["--ca", self.ca.cert])
        self.assertEqual(rc, 1)
        login = self.xmpp_step(report, "xmpp login")
        self.assertIn("refused the login of alice@localhost", login["text"])
        self.assertIn("check the JID and the password", login["advice"])

    def test_xep0215_answer_without_credentials(self):
        rc, report = self.xmpp_probe("bob@bare.localhost", "bob-pw", ["--ca", self.ca.cert])
        self.assertEqual(rc, 1)
        url = "turn:127.0.0.1:%d" % self.relay.port
        self.assertFailsAt(report, url, "allocate", "the XEP-0215 answer has no credentials for it",
                           "lib-jitsi-meet never asks <credentials/>")
        self.assertIn("NO credentials", "\n".join(self.xmpp_step(report, "xep-0215")["more"]))

    def test_falls_back_to_extdisco_1_as_lib_jitsi_meet(self):
        rc, report = self.xmpp_probe("carol@old.localhost", "carol-pw", ["--ca", self.ca.cert, "--packets", "5"])
        self.assertEqual(rc, 0, json.dumps(report, indent=1))
        disco = self.xmpp_step(report, "xep-0215")
        self.assertEqual(disco["details"]["namespace"], "urn:xmpp:extdisco:1")
        self.assertIn("service-unavailable", disco["details"]["extdisco2_error"])
        self.assertTrue(all(u["source"] == "XEP-0215 (urn:xmpp:extdisco:1)" for u in report["urls"]))
        for u in report["urls"]:
            self.assertWorks(report, u["url"], packets=5)


class ProbeIssuerClock(ProbeChecks, prosody.ProsodyTestCase):
    """Credentials minted by a Prosody whose clock is wrong (Debian's faketime moves it for
    Prosody alone): three days behind, they are expired when they arrive; ten days ahead, they
    live longer than the relay's max-credential-ttl. The probe, on the relay host with its
    config, must blame the XMPP server's clock, not an old credential or the secret."""

    @classmethod
    def start(cls):
        harness.require("faketime")
        cls.ca_dir = os.path.join(cls.workdir, "ca")
        os.makedirs(cls.ca_dir)
        cls.ca = certs.Ca(cls.ca_dir)
        cls.cert, cls.key, _ = cls.ca.issue("xmpp", common_name="localhost", sans=("DNS:localhost",))
        cls.relay = cls.start_turnpike(["use-auth-secret", "static-auth-secret=" + secrets.token_hex(16),
                                        "allow-loopback-peers", "no-tls"])
        ssl = {"certificate": cls.cert, "key": cls.key}
        cls.servers = {}
        for name, offset in (("behind", "-3d"), ("ahead", "+10d")):
            cls.servers[name] = cls.start_prosody(
                {"localhost": {"turnpike_config": cls.relay.config_path, "turnpike_host": "127.0.0.1", "ssl": ssl}},
                users=[("alice", "localhost", "alice-pw")], modules=("turnpike", "tls"),
                options={"modules_disabled": ["s2s", "offline"], "c2s_require_encryption": True, "ssl": ssl},
                name="prosody-" + name,
                argv_prefix=["env", "FAKETIME_DONT_FAKE_MONOTONIC=1", "faketime", "-f", offset])
        cls.password_file = os.path.join(cls.workdir, "password")
        with open(cls.password_file, "w") as f:
            f.write("alice-pw\n")

    def probe(self, name):
        url = "turn:127.0.0.1:%d?transport=tcp" % self.relay.port
        rc, report = run_probe(["--xmpp", "alice@localhost", "--password-file", self.password_file, "--xmpp-server",
                                "127.0.0.1:%d" % self.servers[name].port, "--ca", self.ca.cert,
                                "-c", self.relay.config_path])
        self.assertEqual(rc, 1, json.dumps(report, indent=1))
        return url, report

    def test_issuer_clock_behind(self):
        url, report = self.probe("behind")
        f = self.assertFailsAt(report, url, "allocate", "refused: 401", "the relay's ledger says: expired-credential",
                               "it was issued just now by the XMPP server, so the XMPP server's clock is behind",
                               "set the clock of the XMPP server's host right (NTP): it is behind")
        self.assertEqual((f["details"]["ledger"]["reason"], f["details"]["ledger"]["clock"]),
                         ("expired-credential", "issuer-behind"), f)
        # The certificate is fine by this machine's clock; only the credentials are off.
        self.assertEqual(self.xmpp_login(report)["status"], "ok")

    def test_issuer_clock_ahead(self):
        url, report = self.probe("ahead")
        f = self.assertFailsAt(report, url, "allocate", "refused: 401", "the relay's ledger says: credential-too-long",
                               "it was issued just now by the XMPP server, and by this machine's clock it is valid "
                               "for ", "it is ahead")
        # Ten days ahead plus a day's TTL, less the moment between minting and use (whole days).
        self.assertRegex(" ".join(f["more"]), r"valid for 1[01] days: either its TTL is that long or its clock is ahead")
        self.assertEqual(f["details"]["ledger"]["reason"], "credential-too-long")

    def xmpp_login(self, report):
        return {s["step"]: s for s in report["xmpp"]["steps"]}["xmpp login"]


if __name__ == "__main__":
    harness.main()
