"""Allocation quotas against the daemon, with their defaults: one user (every fresh credential of
it, in both REST username forms) holds at most user-quota allocations (default 64) and gets
486 beyond; the whole relay holds at most total-quota (508 beyond). Each refusal is in the
ledger and the log with the user's name; a released allocation gives its place back."""
import base64
import hashlib
import hmac
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import harness, stun  # noqa: E402

SECRET = "quota-secret"


def rest_password(username):
    return base64.b64encode(hmac.new(SECRET.encode(), username.encode(), hashlib.sha1).digest()).decode()


class Quotas(harness.TestCase):
    def allocate(self, server, username, password, expect_success=True):
        c = stun.Client("127.0.0.1", server.port, username, password)
        self.addCleanup(c.close)
        if expect_success:
            c.allocate()
            return c
        with self.assertRaises(stun.TurnError) as e:
            c.allocate()
        return e.exception.response.error_code

    def refusals(self, server, count):
        return harness.wait_until(
            lambda: (lambda r: r if len(r) >= count else None)(
                harness.admin_json("refusals", "--ledger", server.ledger_path)),
            what="%d refusal(s) in the ledger" % count)

    def test_default_user_quota_counts_every_credential_of_one_user(self):
        server = self.turnpike(["use-auth-secret", "static-auth-secret=" + SECRET])
        now = int(time.time())
        held = []
        for i in range(64):
            # A fresh credential each time, half "<expiry>:<user>", half "<user>:<expiry>": one user.
            expiry = now + 3600 + i
            username = "%d:alice" % expiry if i % 2 else "alice:%d" % expiry
            held.append(self.allocate(server, username, rest_password(username)))
        code = self.allocate(server, *stun.rest_credential(SECRET, "alice", ttl=7200), expect_success=False)
        self.assertEqual(code, 486)
        # Someone else is not held back by alice.
        self.allocate(server, *stun.rest_credential(SECRET, "bob"))
        refusal, = self.refusals(server, 1)
        self.assertEqual((refusal["reason"], refusal["code"]), ("quota", 486))
        self.assertTrue(refusal["username"].endswith(":alice"), refusal)
        self.assertRegex(server.log(), r"refused Allocate from 127\.0\.0\.1:\d+ \(udp\) user=<\d+:alice>: 486 quota")
        # A released allocation gives its place back.
        held[0].refresh(0)
        self.allocate(server, *stun.rest_credential(SECRET, "alice", ttl=7300))

    def test_total_quota(self):
        server = self.turnpike(["use-auth-secret", "static-auth-secret=" + SECRET, "total-quota=3"])
        for i in range(3):
            self.allocate(server, *stun.rest_credential(SECRET, "user%d" % i))
        self.assertEqual(self.allocate(server, *stun.rest_credential(SECRET, "late"), expect_success=False), 508)
        refusal, = self.refusals(server, 1)
        self.assertEqual((refusal["reason"], refusal["code"]), ("quota", 508))


if __name__ == "__main__":
    harness.main()
