"""/metrics, /health and /ready (README "Metrics and health"), scraped during and after a relay
run by coturn's turnutils_uclient and parsed by a real Prometheus text parser (Debian's
python3-prometheus-client, both its OpenMetrics and its 0.0.4 parser): the counters move by
exactly what was relayed, refusals by their reason, credentials by what the key desk recorded;
the Grafana dashboard in contrib/ plots only metrics that exist."""
import json
import os
import re
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import harness  # noqa: E402
from lib.certs import Ca  # noqa: E402

try:
    from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_openmetrics
    from prometheus_client.parser import text_string_to_metric_families as parse_prometheus
except ImportError:
    # Debian installs the parser for its own /usr/bin/python3 (ctest may run another python3).
    if os.path.realpath(sys.executable) != os.path.realpath("/usr/bin/python3") and os.path.exists("/usr/bin/python3"):
        os.execv("/usr/bin/python3", ["/usr/bin/python3"] + sys.argv)
    raise RuntimeError("python3-prometheus-client is missing for /usr/bin/python3 (run `make test`, which installs it)")

SECRET = "metrics-secret"
DASHBOARD = os.path.join(harness.SOURCE, "contrib", "grafana", "turnpike-dashboard.json")


def get(port, path, accept=None):
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path))
    if accept:
        req.add_header("Accept", accept)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.headers.get("Content-Type"), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type"), e.read().decode()


class Scrape:
    """One /metrics page, parsed: samples by (name, sorted labels)."""

    def __init__(self, port, openmetrics=True):
        accept = "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5" if openmetrics else None
        status, ctype, body = get(port, "/metrics", accept)
        assert status == 200, (status, body)
        self.body = body
        parse = parse_openmetrics if openmetrics else parse_prometheus
        self.families = {}
        self.samples = {}
        for fam in parse(body):
            self.families[fam.name] = fam
            for s in fam.samples:
                self.samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
        self.content_type = ctype

    def value(self, name, **labels):
        return self.samples.get((name, tuple(sorted(labels.items()))), 0)

    def total(self, name, **labels):
        """The sum over every sample of `name` whose labels include `labels`."""
        return sum(v for (n, ls), v in self.samples.items()
                   if n == name and all(dict(ls).get(k) == want for k, want in labels.items()))

    def names(self):
        return {n for n, _ in self.samples}


class Metrics(harness.TestCase):
    def setUp(self):
        super().setUp()
        harness.require("turnutils_uclient", "turnutils_peer")
        self.mport = harness.free_port()
        self.server = self.turnpike(["use-auth-secret", "static-auth-secret=" + SECRET, "allow-loopback-peers",
                                     "prometheus", "prometheus-port=%d" % self.mport])
        self.peer = self.echo_peer()

    def uclient(self, extra, secret=SECRET):
        return harness.uclient(self.server.port, ["-W", secret, "-u", "alice", "-e", "127.0.0.1",
                                                  "-r", str(self.peer.port), "-c", "-X"] + extra)

    def test_both_formats_parse_and_name_every_family(self):
        om = Scrape(self.mport, openmetrics=True)
        self.assertTrue(om.content_type.startswith("application/openmetrics-text"), om.content_type)
        self.assertTrue(om.body.endswith("# EOF\n"))
        text = Scrape(self.mport, openmetrics=False)
        self.assertTrue(text.content_type.startswith("text/plain; version=0.0.4"), text.content_type)
        for s in (om, text):
            for name in ["turnpike_build_info", "turnpike_uptime_seconds", "turnpike_allocations",
                         "turnpike_allocations_started_total", "turnpike_allocations_ended_total",
                         "turnpike_relayed_bytes_total", "turnpike_relayed_packets_total",
                         "turnpike_refusals_total", "turnpike_worker_allocations",
                         "turnpike_worker_cpu_seconds_total", "turnpike_ledger_queue_depth",
                         "turnpike_ledger_events_written_total", "turnpike_ledger_events_dropped_total",
                         "turnpike_credentials_issued_total", "turnpike_session_duration_seconds_bucket",
                         "turnpike_session_bytes_count", "turnpike_workers", "turnpike_draining"]:
                self.assertIn(name, s.names(), name)
            self.assertEqual(s.value("turnpike_workers"), 2)
            self.assertEqual(s.value("turnpike_workers_answered"), 2)
            self.assertEqual(len([k for k in s.samples if k[0] == "turnpike_worker_allocations"]), 2)
        # Nothing listens beyond 127.0.0.1 by default, and other paths are 404.
        self.assertEqual(get(self.mport, "/nothing")[0], 404)

    def test_counters_move_by_what_was_relayed(self):
        before = Scrape(self.mport)
        # A run long enough to scrape in the middle of it: 2 clients x 150 messages of 200 bytes,
        # one every 20 ms (3 s).
        run = subprocess.Popen(["turnutils_uclient", "-W", SECRET, "-u", "alice", "-e", "127.0.0.1",
                                "-r", str(self.peer.port), "-c", "-X", "-m", "2", "-n", "150", "-l", "200",
                                "-z", "20", "-p", str(self.server.port), "127.0.0.1"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.addCleanup(lambda: run.poll() is None and run.kill())
        during = harness.wait_until(
            lambda: (lambda s: s if s.total("turnpike_relayed_bytes_total", direction="to_peer", transport="udp")
                     > before.total("turnpike_relayed_bytes_total", direction="to_peer", transport="udp")
                     else None)(Scrape(self.mport)),
            timeout=20, what="relayed bytes to move during the run")
        # Live: the sessions are counted while they run, not when they end.
        self.assertGreaterEqual(during.total("turnpike_allocations", transport="udp"), 2)
        self.assertGreaterEqual(during.total("turnpike_worker_allocations"), 2)
        out, _ = run.communicate(timeout=120)
        r = harness.UclientResult(run.returncode, out)
        self.assertEqual(r.lost, 0, r)
        self.assertEqual(r.sent, 300, r)
        self.server.wait_for_count("closed (refresh-0)", 2)
        after = Scrape(self.mport)

        def delta(name, **labels):
            return after.total(name, **labels) - before.total(name, **labels)
        # Exactly what was relayed: 300 payloads of 200 bytes each way.
        self.assertEqual(delta("turnpike_relayed_bytes_total", direction="to_peer", transport="udp"), 60000)
        self.assertEqual(delta("turnpike_relayed_bytes_total", direction="to_client", transport="udp"), 60000)
        self.assertEqual(delta("turnpike_relayed_packets_total", direction="to_peer", transport="udp"), 300)
        self.assertEqual(delta("turnpike_relayed_packets_total", direction="to_client", transport="udp"), 300)
        self.assertEqual(delta("turnpike_relayed_bytes_total", transport="tcp"), 0)
        # uclient makes a second, unused allocation per client (left to expire): 4 started, the two
        # that carried traffic deleted by Refresh 0.
        self.assertEqual(delta("turnpike_allocations_started_total", transport="udp"), 4)
        self.assertEqual(delta("turnpike_allocations_ended_total", reason="refresh-0"), 2)
        self.assertEqual(delta("turnpike_session_duration_seconds_count"), 2)
        self.assertEqual(delta("turnpike_session_bytes_count"), 2)
        self.assertEqual(delta("turnpike_session_bytes_sum"), 4 * 30000)
        # Both ended sessions relayed 60000 bytes: in the (1e4, 1e5] bucket, none below.
        self.assertEqual(after.value("turnpike_session_bytes_bucket", le="10000.0"), 0)
        self.assertEqual(after.value("turnpike_session_bytes_bucket", le="100000.0"), 2)
        self.assertEqual(after.total("turnpike_allocations", transport="udp", family="ipv4"), 2)
        # The ledger wrote the sessions' events (within its flush interval).
        harness.wait_until(lambda: Scrape(self.mport).value("turnpike_ledger_events_written_total")
                           > before.value("turnpike_ledger_events_written_total"), what="ledger writes")
        self.assertEqual(after.value("turnpike_ledger_ok"), 1)

    def test_refusals_by_reason(self):
        before = Scrape(self.mport)
        self.uclient(["-m", "1", "-n", "5", "-l", "100"], secret="not-the-secret")
        after = harness.wait_until(
            lambda: (lambda s: s if s.value("turnpike_refusals_total", reason="bad-integrity")
                     > before.value("turnpike_refusals_total", reason="bad-integrity") else None)(Scrape(self.mport)),
            what="a bad-integrity refusal")
        self.assertEqual(after.value("turnpike_refusals_total", reason="quota"),
                         before.value("turnpike_refusals_total", reason="quota"))
        self.assertEqual(after.total("turnpike_allocations_started_total") - before.total("turnpike_allocations_started_total"), 0)

    def test_credentials_issued_from_the_ledger(self):
        harness.wait_until(lambda: Scrape(self.mport).value("turnpike_ledger_ok") == 1, what="the ledger to be open")
        first = Scrape(self.mport).value("turnpike_credentials_issued_total")
        # What Prosody's module writes when it answers XEP-0215 (schema/001_init.sql).
        now = int(time.time())
        with sqlite3.connect(self.server.ledger_path, timeout=10) as db:
            for i in range(3):
                db.execute("INSERT INTO credentials (issued_at, host, jid, username, expires_at) VALUES (?,?,?,?,?)",
                           (now, "meet.test", "u%d@meet.test/r" % i, "%d:u%d" % (now + 3600, i), now + 3600))
        self.assertEqual(Scrape(self.mport).value("turnpike_credentials_issued_total"), first + 3)
        # Pruned rows do not make the counter go down.
        with sqlite3.connect(self.server.ledger_path, timeout=10) as db:
            db.execute("DELETE FROM credentials")
        self.assertEqual(Scrape(self.mport).value("turnpike_credentials_issued_total"), first + 3)

    def test_health_and_ready(self):
        self.assertEqual(get(self.mport, "/health")[0::2], (200, "ok\n"))
        self.assertEqual(get(self.mport, "/ready")[0::2], (200, "ready\n"))

    def test_dashboard_plots_only_metrics_that_exist(self):
        with open(DASHBOARD) as f:
            dash = json.load(f)
        exprs = [t["expr"] for p in dash["panels"] for t in p.get("targets", [])]
        exprs.append(dash["templating"]["list"][1]["query"]["query"])
        used = set()
        for e in exprs:
            used.update(re.findall(r"\bturnpike_[a-z0-9_]+", e))
        self.assertGreater(len(used), 15)
        # Every family, including those that appear only with TLS: a relay with a certificate.
        ca = Ca(self.workdir)
        cert, key, _ = ca.issue("relay")
        port = harness.free_port()
        tls = self.turnpike(["use-auth-secret", "static-auth-secret=" + SECRET, "cert=" + cert, "pkey=" + key,
                             "tls-listening-port=%d" % harness.free_port(), "prometheus",
                             "prometheus-port=%d" % port], name="tls")
        present = Scrape(port).names() | Scrape(self.mport).names()
        missing = sorted(n for n in used if n not in present)
        self.assertEqual(missing, [], "the dashboard plots metrics /metrics does not have")
        tls.stop()


class HealthWithTls(harness.TestCase):
    def test_certificate_expiring_within_a_week_is_unhealthy_but_ready(self):
        ca = Ca(self.workdir)
        cert, key, _ = ca.issue("relay")  # valid for 2 days
        port = harness.free_port()
        self.turnpike(["use-auth-secret", "static-auth-secret=" + SECRET, "cert=" + cert, "pkey=" + key,
                       "tls-listening-port=%d" % harness.free_port(), "prometheus", "prometheus-port=%d" % port])
        status, _, body = get(port, "/health")
        self.assertEqual(status, 503)
        self.assertRegex(body, r"^TLS certificate expires in (47|48) hour\(s\)\n$")
        self.assertEqual(get(port, "/ready")[0], 200)
        s = Scrape(port)
        left = s.value("turnpike_tls_certificate_expiry_timestamp_seconds") - time.time()
        self.assertTrue(46 * 3600 < left <= 48 * 3600, left)

    def test_ledger_not_writable_is_unhealthy(self):
        port = harness.free_port()
        ledger_dir = os.path.join(self.workdir, "no-such-dir")
        self.turnpike(["use-auth-secret", "static-auth-secret=" + SECRET, "prometheus",
                       "prometheus-port=%d" % port, "ledger=" + os.path.join(ledger_dir, "ledger.db")])
        status, _, body = harness.wait_until(lambda: (lambda r: r if r[0] == 503 else None)(get(port, "/health")),
                                             what="/health to report the ledger")
        self.assertTrue(body.startswith("ledger not writable"), body)
        self.assertEqual(Scrape(port).value("turnpike_ledger_ok"), 0)
        # The relay itself is still ready to relay.
        self.assertEqual(get(port, "/ready")[0], 200)


if __name__ == "__main__":
    harness.main()
