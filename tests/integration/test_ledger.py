"""The ledger after real relaying: sessions with the right user, addresses and byte counts (as
coturn's client counted them), refusals with the right reason, and turnpike-admin reading it
while the server runs."""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import harness, stun  # noqa: E402

SECRET = "ledger-secret"


class Ledger(harness.TestCase):
    def setUp(self):
        super().setUp()
        self.server = self.turnpike(["use-auth-secret", "static-auth-secret=" + SECRET, "allow-loopback-peers"])
        self.peer = self.echo_peer()

    def sessions(self, *args):
        return harness.admin_json("sessions", "--ledger", self.server.ledger_path, *args)

    def wait_sessions(self, predicate, timeout=5.0):
        deadline = time.time() + timeout
        while time.time() < deadline:
            rows = self.sessions()
            if predicate(rows):
                return rows
            time.sleep(0.1)
        self.fail("ledger never satisfied the condition: %r" % self.sessions())

    def test_uclient_session_is_recorded_with_its_byte_counts(self):
        r = harness.uclient(self.server.port, ["-W", SECRET, "-u", "alice", "-e", "127.0.0.1", "-r", str(self.peer.port),
                                               "-c", "-X", "-m", "2", "-n", "60", "-l", "250", "-z", "5"])
        self.assertEqual(r.lost, 0, r)
        rows = self.wait_sessions(lambda rows: sum(1 for s in rows if s["end_reason"] == "refresh-0") == 2)
        used = [s for s in rows if s["end_reason"] == "refresh-0"]
        for s in used:
            self.assertRegex(s["username"], r"^\d+:alice$")
            self.assertEqual(s["transport"], "udp")
            self.assertEqual(s["client_ip"], "127.0.0.1")
            self.assertEqual(s["relay_ip"], "127.0.0.1")
            self.assertTrue(self.server.min_port <= s["relay_port"] <= self.server.max_port)
            self.assertEqual(s["realm"], "test.local")
            self.assertEqual(s["packets_from_client"], 60)
            self.assertEqual(s["packets_to_client"], 60)
            self.assertEqual(s["peers"][0]["peer"], "127.0.0.1")
            self.assertEqual(s["peers"][0]["bytes_to_peer"], s["bytes_from_client"])
        # What uclient sent is what the ledger says was relayed, both ways.
        self.assertEqual(sum(s["bytes_from_client"] for s in used), r.sent_bytes)
        self.assertEqual(sum(s["bytes_to_client"] for s in used), r.received_bytes)
        # The client ports in the ledger are the ones the server logged for those sessions.
        log = self.server.log()
        for s in used:
            self.assertIn("session %s allocated" % s["session"], log)
            self.assertIn("client=127.0.0.1:%d" % s["client_port"], log)

    def test_active_sessions_are_visible_while_the_server_runs(self):
        c = stun.Client("127.0.0.1", self.server.port, *stun.rest_credential(SECRET, "carol"))
        self.addCleanup(c.close)
        c.allocate()
        rows = self.wait_sessions(lambda rows: any(s["active"] for s in rows))
        active = harness.admin_json("sessions", "--active", "--ledger", self.server.ledger_path)
        self.assertEqual(len(active), 1)
        self.assertEqual(active[0]["username"], c.username)
        self.assertEqual(active[0]["client_port"], c.sock.getsockname()[1])
        self.assertEqual(len(harness.admin_json("sessions", "--user", c.username, "--ledger", self.server.ledger_path)), 1)
        self.assertEqual(len(harness.admin_json("sessions", "--user", "nobody", "--ledger", self.server.ledger_path)), 0)
        c.refresh(0)
        self.wait_sessions(lambda rows: rows and rows[0]["end_reason"] == "refresh-0")

    def test_refusals_have_the_right_reasons(self):
        wrong = stun.Client("127.0.0.1", self.server.port, *stun.rest_credential("wrong-secret", "eve"))
        expired = stun.Client("127.0.0.1", self.server.port, *stun.rest_credential(SECRET, "old", expiry=int(time.time()) - 60))
        good = stun.Client("127.0.0.1", self.server.port, *stun.rest_credential(SECRET, "mallory"))
        for c in (wrong, expired, good):
            self.addCleanup(c.close)
        for c in (wrong, expired):
            with self.assertRaises(stun.TurnError):
                c.allocate()
        good.allocate()
        self.assertEqual(good.create_permission("169.254.169.254", expect_success=False).error_code, 403)
        deadline = time.time() + 5
        while time.time() < deadline:
            refusals = harness.admin_json("refusals", "--ledger", self.server.ledger_path)
            if len(refusals) >= 3:
                break
            time.sleep(0.1)
        by_reason = {r["reason"]: r for r in refusals}
        self.assertEqual(by_reason["bad-integrity"]["username"], wrong.username)
        self.assertEqual(by_reason["bad-integrity"]["code"], 401)
        self.assertEqual(by_reason["bad-integrity"]["client_port"], wrong.sock.getsockname()[1])
        self.assertEqual(by_reason["expired-credential"]["username"], expired.username)
        self.assertEqual(by_reason["forbidden-peer"]["peer"], "169.254.169.254")
        self.assertEqual(by_reason["forbidden-peer"]["code"], 403)
        self.assertEqual(by_reason["forbidden-peer"]["method"], "CreatePermission")
        stats = harness.admin_json("stats", "--ledger", self.server.ledger_path)
        self.assertEqual(stats["refusals"]["forbidden-peer"], 1)
        self.assertGreaterEqual(stats["refusals"]["bad-integrity"], 1)

    def test_admin_reads_the_ledger_named_by_the_config(self):
        c = stun.Client("127.0.0.1", self.server.port, *stun.rest_credential(SECRET, "dave"))
        self.addCleanup(c.close)
        c.allocate()
        self.wait_sessions(lambda rows: rows)  # the writer commits within its flush interval
        rows = harness.admin_json("sessions", "-c", self.server.config_path)
        self.assertEqual(rows[0]["username"], c.username)
        self.assertEqual([r["username"] for r in self.sessions("--user", c.username)], [c.username])
        self.assertEqual(self.sessions("--user", "nobody"), [])
        out = harness.subprocess.run([harness.ADMIN, "sessions", "-c", self.server.config_path],
                                     stdout=harness.subprocess.PIPE, text=True).stdout
        self.assertIn(c.username, out)
        self.assertIn("active", out)
        bad = harness.subprocess.run([harness.ADMIN, "sessions", "--since", "yesterday-ish", "-c", self.server.config_path],
                                     stdout=harness.subprocess.PIPE, stderr=harness.subprocess.PIPE, text=True)
        self.assertEqual(bad.returncode, 2)
        self.assertIn("is not a time", bad.stderr)


if __name__ == "__main__":
    harness.main()
