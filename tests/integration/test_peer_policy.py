"""The peer policy against the real daemon: loopback and the other internal ranges are refused
with 403 in every IPv4-in-IPv6 spelling, on every path (CreatePermission, ChannelBind, Send),
unless allow-loopback-peers / allowed-peer-ip reopen exactly what they name."""
import os
import socket
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import harness, stun  # noqa: E402

SECRET = "policy-secret"


def have_ipv6_loopback():
    try:
        s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        s.bind(("::1", 0))
        s.close()
        return True
    except OSError:
        return False


class DefaultPolicy(harness.TestCase):
    def setUp(self):
        super().setUp()
        self.server = self.turnpike(["use-auth-secret", "static-auth-secret=" + SECRET])

    def client(self, **kw):
        c = stun.Client("127.0.0.1", self.server.port, *stun.rest_credential(SECRET, "mallory"), **kw)
        self.addCleanup(c.close)
        c.allocate()
        return c

    def test_uclient_to_loopback_peer_is_refused(self):
        peer = self.echo_peer()
        r = harness.uclient(self.server.port, ["-W", SECRET, "-u", "alice", "-e", "127.0.0.1", "-r", str(peer.port),
                                               "-c", "-X", "-n", "5"])
        self.assertIn(403, r.error_codes, r)
        self.assertEqual(r.received, 0, r)
        log = self.server.wait_for_log("forbidden-peer")
        self.assertRegex(log, r"403 forbidden-peer peer 127\.0\.0\.1(:\d+)?: loopback")

    def test_internal_ipv4_peers_are_403(self):
        c = self.client()
        for ip in ["127.0.0.1", "127.1.2.3", "0.0.0.0", "0.1.2.3", "169.254.169.254", "224.0.0.1",
                   "255.255.255.255", "240.0.0.1"]:
            r = c.create_permission(ip, expect_success=False)
            self.assertEqual(r.error_code, 403, ip)
            r = c.channel_bind(0x4001, ip, 5000, expect_success=False)
            self.assertEqual(r.error_code, 403, ip)
        self.assertEqual(c.create_permission("203.0.113.9").cls, stun.SUCCESS)

    def test_send_to_a_forbidden_peer_never_leaves(self):
        listener = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        listener.bind(("127.0.0.1", 0))
        listener.settimeout(0.5)
        c = self.client()
        c.send_indication("127.0.0.1", listener.getsockname()[1], b"should not arrive")
        with self.assertRaises(socket.timeout):
            listener.recvfrom(100)
        listener.close()

    def test_relaying_into_the_server_itself_is_refused(self):
        c = self.client()
        r = c.channel_bind(0x4001, "127.0.0.1", self.server.port, expect_success=False)
        self.assertEqual(r.error_code, 403)

    def test_ipv6_spellings_of_internal_addresses_are_403(self):
        if not have_ipv6_loopback():
            harness.skip_file("no IPv6 loopback on this machine")
        server = self.turnpike(["use-auth-secret", "static-auth-secret=" + SECRET, "listening-ip=::1",
                                "allocation-default-address-family=ipv6"], name="v6")
        c = stun.Client("::1", server.port, *stun.rest_credential(SECRET, "mallory"))
        self.addCleanup(c.close)
        c.allocate()
        self.assertEqual(c.relayed[0][0], "::1")
        for ip in ["::1", "::", "::ffff:127.0.0.1", "::127.0.0.1", "64:ff9b::7f00:1", "2002:7f00:1::1",
                   "2001::1", "fe80::1", "fc00::1", "fd00:ec2::254", "fec0::1", "ff02::1",
                   "::ffff:169.254.169.254", "64:ff9b::a9fe:a9fe"]:
            r = c.create_permission(ip, expect_success=False)
            self.assertEqual(r.error_code, 403, ip)
        self.assertEqual(c.create_permission("2001:db8::9").cls, stun.SUCCESS)
        r = c.create_permission("203.0.113.9", expect_success=False)
        self.assertEqual(r.error_code, 443)  # an IPv4 peer on an IPv6 relay


class ConfiguredPolicy(harness.TestCase):
    def test_allow_loopback_peers(self):
        server = self.turnpike(["use-auth-secret", "static-auth-secret=" + SECRET, "allow-loopback-peers"])
        peer = self.echo_peer()
        r = harness.uclient(server.port, ["-W", SECRET, "-u", "alice", "-e", "127.0.0.1", "-r", str(peer.port),
                                          "-c", "-X", "-n", "10", "-z", "5"])
        self.assertEqual(r.lost, 0, r)
        c = stun.Client("127.0.0.1", server.port, *stun.rest_credential(SECRET, "x"))
        self.addCleanup(c.close)
        c.allocate()
        self.assertEqual(c.create_permission("169.254.169.254", expect_success=False).error_code, 403)

    def test_denied_and_allowed_ranges(self):
        server = self.turnpike(["use-auth-secret", "static-auth-secret=" + SECRET,
                                "denied-peer-ip=198.51.100.0-198.51.100.255", "denied-peer-ip=127.0.0.0/8",
                                "allowed-peer-ip=198.51.100.7", "allowed-peer-ip=127.0.0.1"])
        c = stun.Client("127.0.0.1", server.port, *stun.rest_credential(SECRET, "x"))
        self.addCleanup(c.close)
        c.allocate()
        self.assertEqual(c.create_permission("198.51.100.8", expect_success=False).error_code, 403)
        self.assertEqual(c.create_permission("198.51.100.7").cls, stun.SUCCESS)
        self.assertEqual(c.create_permission("127.0.0.1").cls, stun.SUCCESS)
        self.assertEqual(c.create_permission("127.0.0.2", expect_success=False).error_code, 403)
        self.assertIn("denied-peer-ip", server.wait_for_log("denied-peer-ip"))
        # The allowed loopback address really relays.
        peer = self.echo_peer()
        c.channel_bind(0x4001, "127.0.0.1", peer.port)
        c.channel_data(0x4001, b"through")
        got = c.receive_data()
        self.assertEqual(got, ("channel", 0x4001, b"through"))


if __name__ == "__main__":
    harness.main()
