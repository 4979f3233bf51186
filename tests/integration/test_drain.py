"""Drain (README "Drain and graceful stop") with the real daemon: SIGUSR1 or turnpike-admin drain
refuses new allocations (403 with a reason, or 300 Try Alternate naming alternate-server) while
the existing one keeps relaying and refreshing; /ready answers 503; the log counts what is left;
the process exits by itself when the last allocation ends, or when drain-timeout passes."""
import os
import signal
import struct
import subprocess
import sys
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import harness, stun  # noqa: E402

SECRET = "drain-secret"
ALTERNATE_SERVER = 0x8023


def ready(port):
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d/ready" % port, timeout=10) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


class Drain(harness.TestCase):
    def start(self, extra=()):
        self.mport = harness.free_port()
        self.server = self.turnpike(["use-auth-secret", "static-auth-secret=" + SECRET, "allow-loopback-peers",
                                     "prometheus", "prometheus-port=%d" % self.mport] + list(extra))
        self.peer = self.echo_peer()

    def client(self, user="alice"):
        username, password = stun.rest_credential(SECRET, user)
        c = stun.Client("127.0.0.1", self.server.port, username, password)
        self.addCleanup(c.close)
        return c

    def relaying(self, c):
        c.allocate()
        c.create_permission("127.0.0.1")
        c.channel_bind(0x4000, "127.0.0.1", self.peer.port)
        return c

    def echo(self, c):
        c.channel_data(0x4000, b"drain" * 20)
        got = c.receive_data(timeout=2.0)
        return got is not None and got[2] == b"drain" * 20

    def exit_code(self, timeout=15):
        deadline = time.time() + timeout
        while time.time() < deadline:
            rc = self.server.proc.poll()
            if rc is not None:
                return rc
            time.sleep(0.1)
        return None

    def test_sigusr1_refuses_new_keeps_old_and_exits_when_the_last_ends(self):
        self.start()
        old = self.relaying(self.client())
        self.assertEqual(ready(self.mport), (200, "ready\n"))
        self.server.send_signal(signal.SIGUSR1)
        self.server.wait_for_log(r"draining: 1 allocation\(s\) left")
        self.assertEqual(ready(self.mport), (503, "draining\n"))
        # A new client: 403 with a reason (authenticated, so the reason phrase is sent).
        new = self.client("bob")
        with self.assertRaises(stun.TurnError) as e:
            new.allocate()
        self.assertEqual(e.exception.response.error_code, 403)
        self.assertIn("draining", e.exception.response.error_reason)
        # The old one goes on: relaying, refreshing, new permissions.
        self.assertTrue(self.echo(old))
        old.refresh(600)
        old.create_permission("127.0.0.2")
        self.assertTrue(self.echo(old))
        self.assertIsNone(self.server.proc.poll())
        # Its end is the relay's end.
        old.refresh(0)
        self.assertEqual(self.exit_code(), 0)
        log = self.server.log()
        self.assertIn("drained: the last allocation ended; stopping", log)
        self.assertIn("refused Allocate", log)
        self.assertIn("403 draining", log)

    def test_admin_drain_with_alternate_server_and_wait(self):
        self.start(["alternate-server=127.0.0.1:13478"])
        old = self.relaying(self.client())
        p = subprocess.Popen([harness.ADMIN, "drain", "-c", self.server.config_path, "--wait"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.addCleanup(lambda: p.poll() is None and p.kill())
        self.server.wait_for_log(r"draining: 1 allocation\(s\) left")
        new = self.client("bob")
        with self.assertRaises(stun.TurnError) as e:
            new.allocate()
        r = e.exception.response
        self.assertEqual(r.error_code, 300)
        # RFC 8489 §14.15: MAPPED-ADDRESS's layout, not XORed.
        raw = r.get(ALTERNATE_SERVER)
        self.assertIsNotNone(raw)
        family, port = raw[1], struct.unpack("!H", raw[2:4])[0]
        self.assertEqual((family, port, raw[4:8]), (1, 13478, bytes([127, 0, 0, 1])))
        # A second drain changes nothing.
        rc = subprocess.run([harness.ADMIN, "drain", "-c", self.server.config_path], stdout=subprocess.PIPE,
                            text=True, timeout=30)
        self.assertEqual((rc.returncode, rc.stdout), (0, "already draining\n"))
        self.assertTrue(self.echo(old))
        old.refresh(0)
        out, err = p.communicate(timeout=30)
        self.assertEqual(p.returncode, 0, err)
        self.assertIn("draining: new allocations are refused", out)
        self.assertIn("turnpike has exited", out)
        self.assertEqual(self.exit_code(), 0)

    def test_drain_timeout_ends_what_is_left(self):
        self.start(["drain-timeout=2"])
        old = self.relaying(self.client())
        self.server.send_signal(signal.SIGUSR1)
        self.assertEqual(self.exit_code(timeout=20), 0)
        log = self.server.log()
        self.assertIn("drain-timeout (2 s) passed with 1 allocation(s) left", log)
        self.assertIn("closed (shutdown)", log)
        del old


if __name__ == "__main__":
    harness.main()
