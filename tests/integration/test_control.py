"""The control socket (README "Session control") with the real daemon and turnpike-admin:
status gives the live figures /metrics gives; disconnect --user / --session / --client ends
exactly those allocations now, with end reason `disconnected` in the log and the ledger, while
the others go on relaying; the socket is 0660 and a missing relay or a bad request is said as
such."""
import json
import os
import re
import socket
import sqlite3
import stat
import subprocess
import sys
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import harness, stun  # noqa: E402

SECRET = "control-secret"


def admin(*args):
    p = subprocess.run([harness.ADMIN] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       timeout=30)
    return p.returncode, p.stdout, p.stderr


class Control(harness.TestCase):
    def setUp(self):
        super().setUp()
        self.mport = harness.free_port()
        self.server = self.turnpike(["use-auth-secret", "static-auth-secret=" + SECRET, "allow-loopback-peers",
                                     "prometheus", "prometheus-port=%d" % self.mport])
        self.peer = self.echo_peer()

    def client(self, user):
        username, password = stun.rest_credential(SECRET, user)
        c = stun.Client("127.0.0.1", self.server.port, username, password)
        c.allocate()
        c.create_permission("127.0.0.1")
        c.channel_bind(0x4000, "127.0.0.1", self.peer.port)
        self.addCleanup(c.close)
        return c

    def echo(self, c, payload=b"x" * 100):
        c.channel_data(0x4000, payload)
        got = c.receive_data(timeout=2.0)
        return got is not None and got[2] == payload

    def status(self):
        rc, out, err = admin("status", "-c", self.server.config_path, "--json")
        self.assertEqual(rc, 0, err)
        return json.loads(out)

    def session_ids(self):
        return re.findall(r"session ([0-9a-f]{16}) allocated: user=<\d+:(\w+)>", self.server.log())

    def test_socket_is_group_only(self):
        st = os.stat(self.server.control_socket)
        self.assertTrue(stat.S_ISSOCK(st.st_mode))
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o660)

    def test_status_gives_the_figures_of_metrics(self):
        a, b = self.client("alice"), self.client("bob")
        for _ in range(5):
            self.assertTrue(self.echo(a))
        self.assertTrue(self.echo(b))
        s = self.status()
        self.assertEqual(s["allocations"], "2")
        self.assertEqual(s["allocations.udp.ipv4"], "2")
        self.assertEqual(s["workers"], "2")
        self.assertEqual(s["workers_answered"], "2")
        self.assertEqual(int(s["worker.0.allocations"]) + int(s["worker.1.allocations"]), 2)
        self.assertEqual(s["relayed_bytes.to_peer.udp"], "600")
        self.assertEqual(s["relayed_packets.to_client.udp"], "6")
        self.assertEqual(s["started.udp"], "2")
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % self.mport, timeout=10) as r:
            page = r.read().decode()
        self.assertIn('turnpike_relayed_bytes_total{direction="to_peer",transport="udp"} 600\n', page)
        self.assertIn('turnpike_allocations{transport="udp",family="ipv4"} 2\n', page)
        # The table for people: one "name value" line per figure.
        rc, out, err = admin("status", "-c", self.server.config_path)
        self.assertEqual(rc, 0, err)
        self.assertRegex(out, r"(?m)^allocations +2$")

    def test_disconnect_by_user_ends_only_that_user(self):
        a1, a2, b = self.client("alice"), self.client("alice"), self.client("bob")
        rc, out, err = admin("disconnect", "-c", self.server.config_path, "--user", "alice")
        self.assertEqual(rc, 0, err)
        self.assertEqual(out, "2 allocation(s) ended (ledger end reason: disconnected)\n")
        self.server.wait_for_count("closed (disconnected)", 2)
        # Ended now: alice's channel relays nothing and her Refresh finds no allocation (437);
        # bob goes on.
        self.assertFalse(self.echo(a1))
        r = a2.refresh(600, expect_success=False)
        self.assertEqual(r.error_code, 437)
        self.assertTrue(self.echo(b))
        self.assertEqual(self.status()["allocations"], "1")
        self.assertEqual(self.status()["ended.disconnected"], "2")

        def ledger_reasons():
            with sqlite3.connect(self.server.ledger_path, timeout=10) as db:
                return sorted(r[0] for r in db.execute(
                    "SELECT end_reason FROM sessions WHERE end_reason IS NOT NULL"))
        harness.wait_until(lambda: ledger_reasons() == ["disconnected", "disconnected"],
                           what="two sessions ended as disconnected in the ledger")

    def test_disconnect_by_session_and_by_client(self):
        a, b, c = self.client("alice"), self.client("bob"), self.client("carol")
        self.server.wait_for_count(" allocated: ", 3)  # the log is written by its own thread
        ids = dict((user, sid) for sid, user in self.session_ids())
        rc, out, err = admin("disconnect", "-c", self.server.config_path, "--session", ids["bob"])
        self.assertEqual((rc, out), (0, "1 allocation(s) ended (ledger end reason: disconnected)\n"), err)
        self.assertTrue(self.echo(a))
        self.assertFalse(self.echo(b))
        port = c.sock.getsockname()[1]
        rc, out, err = admin("disconnect", "-c", self.server.config_path, "--client", "127.0.0.1:%d" % port)
        self.assertEqual((rc, out), (0, "1 allocation(s) ended (ledger end reason: disconnected)\n"), err)
        self.assertFalse(self.echo(c))
        self.assertTrue(self.echo(a))
        # Nobody matches: nothing ends, and that is said.
        rc, out, err = admin("disconnect", "-c", self.server.config_path, "--user", "nobody")
        self.assertEqual((rc, out), (0, "0 allocation(s) ended (ledger end reason: disconnected)\n"), err)
        self.assertTrue(self.echo(a))

    def test_bad_requests_are_said(self):
        rc, _, err = admin("disconnect", "-c", self.server.config_path)
        self.assertEqual(rc, 2)
        self.assertIn("--user U, --session ID or --client ADDRESS", err)
        rc, _, err = admin("disconnect", "-c", self.server.config_path, "--client", "not-an-address")
        self.assertEqual(rc, 1)
        self.assertIn("is not an address", err)
        # Not a control message at all: the relay answers with an error and keeps serving.
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(10)
            s.connect(self.server.control_socket)
            s.sendall(b"GET / HTTP/1.0\r\n\r\n")
            answer = s.recv(4096)
        self.assertTrue(answer.startswith(b"TPCM"), answer)
        self.assertIn(b"not a turnpike control message", answer)
        self.assertEqual(self.status()["workers_answered"], "2")

    def test_no_relay_running(self):
        self.server.stop()
        self.assertFalse(os.path.exists(self.server.control_socket))
        rc, _, err = admin("status", "-c", self.server.config_path)
        self.assertEqual(rc, 1)
        self.assertIn("is turnpike running with this config?", err)


if __name__ == "__main__":
    harness.main()
