"""Authentication against the real daemon: TURN REST credentials (coturn's use-auth-secret),
secret rotation and reload, static users, and the refusals a wrong secret, an expired
credential or a stale nonce get — as coturn's client sees them and as the log explains them."""
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import harness, stun  # noqa: E402

SECRET = "auth-test-secret"


class RestCredentials(harness.TestCase):
    def setUp(self):
        super().setUp()
        self.server = self.turnpike(["use-auth-secret", "static-auth-secret=" + SECRET,
                                     "allow-loopback-peers", "max-credential-ttl=172800"])
        self.peer = self.echo_peer()

    def uclient(self, *args):
        return harness.uclient(self.server.port, ["-e", "127.0.0.1", "-r", str(self.peer.port), "-c", "-X",
                                                  "-n", "20", "-z", "5"] + list(args))

    def test_credentials_given_as_user_and_password(self):
        user, password = stun.rest_credential(SECRET, "alice", ttl=600)
        r = self.uclient("-u", user, "-w", password)
        self.assertEqual(r.lost, 0, r)
        self.assertEqual(r.received, 20, r)

    def test_wrong_secret_is_refused_with_401(self):
        r = self.uclient("-W", "not-the-secret", "-u", "alice")
        self.assertTrue(r.allocation_failed, r)
        log = self.server.wait_for_log("refused Allocate")
        self.assertRegex(log, r"refused Allocate from 127\.0\.0\.1:\d+ \(udp\) user=<\d+:alice>: 401 bad-integrity")
        c = stun.Client("127.0.0.1", self.server.port, *stun.rest_credential("wrong", "alice"))
        with self.assertRaises(stun.TurnError) as e:
            c.allocate()
        self.assertEqual(e.exception.code, 401)

    def test_expired_credential_is_refused_with_401(self):
        user, password = stun.rest_credential(SECRET, "alice", expiry=int(time.time()) - 10)
        r = self.uclient("-u", user, "-w", password)
        self.assertTrue(r.allocation_failed, r)
        self.assertIn("401 expired-credential: credential expired", self.server.wait_for_log("expired-credential"))
        c = stun.Client("127.0.0.1", self.server.port, user, password)
        with self.assertRaises(stun.TurnError) as e:
            c.allocate()
        self.assertEqual(e.exception.code, 401)

    def test_credential_too_far_ahead_is_refused(self):
        c = stun.Client("127.0.0.1", self.server.port, *stun.rest_credential(SECRET, "alice", ttl=10 * 86400))
        with self.assertRaises(stun.TurnError) as e:
            c.allocate()
        self.assertEqual(e.exception.code, 401)
        self.assertIn("max-credential-ttl=172800", self.server.wait_for_log("credential-too-long"))

    def test_nonce_from_another_address_is_438(self):
        a = stun.Client("127.0.0.1", self.server.port, *stun.rest_credential(SECRET, "alice"))
        a.allocate()
        b = stun.Client("127.0.0.1", self.server.port, a.username, a.password)
        b.realm, b.nonce = a.realm, a.nonce
        b.key = stun.long_term_key(b.username, b.realm, b.password)
        msg = stun.Message(stun.ALLOCATE, stun.REQUEST).add(stun.REQUESTED_TRANSPORT, b"\x11\0\0\0")
        b._auth_attrs(msg)
        resp = b.transact(msg)
        self.assertEqual(resp.error_code, 438)
        self.assertIsNotNone(resp.get(stun.NONCE))

    def test_successful_answers_are_signed(self):
        c = stun.Client("127.0.0.1", self.server.port, *stun.rest_credential(SECRET, "alice"))
        r = c.allocate()
        self.assertTrue(r.verify_integrity(c.key))
        self.assertEqual(c.lifetime, 600)
        self.assertEqual(c.relayed[0][0], "127.0.0.1")
        self.assertTrue(self.server.min_port <= c.relayed[0][1] <= self.server.max_port)
        c.refresh(0)


class ExpiredCredentialGrace(harness.TestCase):
    """expired-credential-grace: past its credential's expiry an allocation keeps what it has
    (Refresh, its permissions and channels, relaying) and gets nothing new; past the grace, 401."""

    def test_an_allocation_outlives_its_credential_for_the_grace_only(self):
        server = self.turnpike(["use-auth-secret", "static-auth-secret=" + SECRET, "allow-loopback-peers",
                                "expired-credential-grace=3"])
        peer = self.echo_peer()
        expiry = int(time.time()) + 2
        c = stun.Client("127.0.0.1", server.port, *stun.rest_credential(SECRET, "alice", expiry=expiry))
        self.addCleanup(c.close)
        c.allocate()
        c.channel_bind(0x4001, "127.0.0.1", peer.port)

        def relays():
            c.channel_data(0x4001, b"still here")
            return c.receive_data(timeout=2.0) == ("channel", 0x4001, b"still here")

        self.assertTrue(relays())
        harness.wait_until(lambda: time.time() >= expiry + 1.2, what="the credential to expire")
        # Expired: what exists goes on ...
        c.refresh(600)
        c.create_permission("127.0.0.1")
        c.channel_bind(0x4001, "127.0.0.1", peer.port)
        self.assertTrue(relays())
        # ... and nothing new: a peer without a permission is 403 (signed), so is a new allocation 401.
        r = c.create_permission("127.0.0.2", expect_success=False)
        self.assertEqual(r.error_code, 403)
        self.assertTrue(r.verify_integrity(c.key))
        self.assertRegex(server.wait_for_log("refused CreatePermission"),
                         r"refused CreatePermission from 127\.0\.0\.1:\d+ \(udp\) user=<%d:alice>: 403 "
                         r"expired-credential .*no permission or channel for a new peer after expiry" % expiry)
        other = stun.Client("127.0.0.1", server.port, *stun.rest_credential(SECRET, "alice", expiry=expiry))
        self.addCleanup(other.close)
        with self.assertRaises(stun.TurnError) as e:
            other.allocate()
        self.assertEqual(e.exception.code, 401)
        # Past the grace (3 s after the expiry): 401, as for any expired credential.
        harness.wait_until(lambda: time.time() >= expiry + 4.2, what="the grace to pass")
        with self.assertRaises(stun.TurnError) as e:
            c.refresh(600)
        self.assertEqual(e.exception.code, 401)
        self.assertIn("beyond expired-credential-grace=3", server.wait_for_log("beyond expired-credential-grace"))


class SecretRotation(harness.TestCase):
    def test_every_secret_verifies_and_sighup_reloads(self):
        server = self.turnpike(["use-auth-secret", "static-auth-secret=first", "allow-loopback-peers"])
        peer = self.echo_peer()
        old = stun.rest_credential("first", "alice", ttl=600)
        self.assertEqual(self._relay(server, peer, old).lost, 0)
        # Add a newer secret and reload: new credentials work, old ones still do.
        with open(server.config_path, "a") as f:
            f.write("static-auth-secret=second\n")
        server.send_signal(signal.SIGHUP)
        server.wait_for_log(r"reloaded .*2 secret\(s\)")
        self.assertEqual(self._relay(server, peer, stun.rest_credential("second", "bob", ttl=600)).lost, 0)
        self.assertEqual(self._relay(server, peer, old).lost, 0)
        # Retire the first secret: its credentials stop working.
        with open(server.config_path) as f:
            lines = [ln for ln in f if ln.strip() != "static-auth-secret=first"]
        with open(server.config_path, "w") as f:
            f.writelines(lines)
        server.send_signal(signal.SIGHUP)
        server.wait_for_log(r"reloaded .*1 secret\(s\)")
        self.assertTrue(self._relay(server, peer, old).allocation_failed)

    def test_broken_config_on_reload_keeps_the_running_one(self):
        server = self.turnpike(["use-auth-secret", "static-auth-secret=keep", "allow-loopback-peers"])
        peer = self.echo_peer()
        with open(server.config_path, "a") as f:
            f.write("this-is-not-an-option\n")
        server.send_signal(signal.SIGHUP)
        log = server.wait_for_log("reload failed")
        self.assertIn("this-is-not-an-option", log)
        self.assertTrue(server.alive())
        self.assertEqual(self._relay(server, peer, stun.rest_credential("keep", "a", ttl=600)).lost, 0)

    def _relay(self, server, peer, cred):
        return harness.uclient(server.port, ["-u", cred[0], "-w", cred[1], "-e", "127.0.0.1", "-r", str(peer.port),
                                             "-c", "-X", "-n", "10", "-z", "5"])


class StaticUsers(harness.TestCase):
    def test_lt_cred_mech_users(self):
        server = self.turnpike(["lt-cred-mech", "user=carol:carolpass", "allow-loopback-peers"])
        peer = self.echo_peer()
        r = harness.uclient(server.port, ["-u", "carol", "-w", "carolpass", "-e", "127.0.0.1", "-r", str(peer.port),
                                          "-c", "-X", "-n", "20", "-z", "5"])
        self.assertEqual(r.lost, 0, r)
        self.assertEqual(r.received, 20, r)
        r = harness.uclient(server.port, ["-u", "carol", "-w", "wrong", "-e", "127.0.0.1", "-r", str(peer.port),
                                          "-c", "-X", "-n", "5"])
        self.assertTrue(r.allocation_failed, r)
        r = harness.uclient(server.port, ["-u", "nobody", "-w", "x", "-e", "127.0.0.1", "-r", str(peer.port),
                                          "-c", "-X", "-n", "5"])
        self.assertTrue(r.allocation_failed, r)
        # uclient retries a refused Allocate dozens of times a second; the log keeps the first
        # lines of such a storm and summarises the rest, the ledger folds them: ask the ledger.
        deadline = time.time() + 5
        reasons = {}
        while time.time() < deadline:
            reasons = {(x["username"], x["reason"]): x for x in
                       harness.admin_json("refusals", "--ledger", server.ledger_path)}
            if ("nobody", "unknown-user") in reasons and ("carol", "bad-integrity") in reasons:
                break
            time.sleep(0.1)
        self.assertEqual(reasons[("carol", "bad-integrity")]["detail"], "wrong password")
        self.assertEqual(reasons[("nobody", "unknown-user")]["code"], 401)
        self.assertIn("401 bad-integrity: wrong password", server.log())


if __name__ == "__main__":
    harness.main()
