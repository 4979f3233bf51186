"""The peer policy against the real daemon: loopback and the other internal ranges are refused
with 403 in every IPv4-in-IPv6 spelling, on every path (CreatePermission, ChannelBind, Send),
unless allow-loopback-peers / allowed-peer-ip reopen exactly what they name."""
import os
import socket
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import harness, stun  # noqa: E402

SECRET = "policy-secret"


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
        self.addCleanup(listener.close)
        c = self.client()
        c.send_indication("127.0.0.1", listener.getsockname()[1], b"should not arrive")
        # The relay's refusal of that very Send is the barrier: had it relayed the datagram, the
        # datagram would be in the listener's queue before the refusal is logged (loopback
        # delivers within sendto).
        self.server.wait_for_log(r"refused Send from 127\.0\.0\.1:%d .*forbidden-peer peer 127\.0\.0\.1:%d"
                                 % (c.sock.getsockname()[1], listener.getsockname()[1]))
        listener.setblocking(False)
        with self.assertRaises(BlockingIOError):
            listener.recvfrom(100)

    def test_relaying_into_the_server_itself_is_refused(self):
        c = self.client()
        r = c.channel_bind(0x4001, "127.0.0.1", self.server.port, expect_success=False)
        self.assertEqual(r.error_code, 403)

    def test_private_networks_are_403_by_default(self):
        # RFC 1918, RFC 6598 (100.64.0.0/10), RFC 2544 (198.18.0.0/15): what sits behind a cloud
        # VM's relay is not the relay's to reach unless configured. (Their IPv6 spellings are
        # checked on an IPv6 relay in test_ipv6.py; on this IPv4 relay they are 443.)
        c = self.client()
        for ip in ["10.0.0.1", "10.255.255.254", "172.16.0.1", "172.31.1.1", "192.168.1.1",
                   "100.64.0.1", "100.127.0.1", "198.18.0.1", "198.19.255.1"]:
            r = c.create_permission(ip, expect_success=False)
            self.assertEqual(r.error_code, 403, ip)
            self.assertEqual(c.channel_bind(0x4001, ip, 10000, expect_success=False).error_code, 403, ip)
        log = self.server.wait_for_log(r"peer 198\.19\.255\.1:10000: benchmarking")
        self.assertRegex(log, r"403 forbidden-peer peer 10\.0\.0\.1: private \(10\.0\.0\.0/8\)")
        self.assertRegex(log, r"peer 100\.64\.0\.1: shared address space \(100\.64\.0\.0/10\)")
        # Their public neighbours are peers like any other.
        for ip in ["11.0.0.1", "172.32.0.1", "192.169.0.1", "100.128.0.1", "198.20.0.1"]:
            self.assertEqual(c.create_permission(ip).cls, stun.SUCCESS, ip)


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

    def test_allowed_peer_ip_reopens_a_private_videobridge(self):
        # A videobridge on 10.0.0.5 (the README's example): that address and nothing else of
        # 10.0.0.0/8. Only permissions are asked for: nothing is sent to those addresses.
        server = self.turnpike(["use-auth-secret", "static-auth-secret=" + SECRET, "allowed-peer-ip=10.0.0.5"])
        c = stun.Client("127.0.0.1", server.port, *stun.rest_credential(SECRET, "x"))
        self.addCleanup(c.close)
        c.allocate()
        self.assertEqual(c.create_permission("10.0.0.5").cls, stun.SUCCESS)
        self.assertEqual(c.channel_bind(0x4001, "10.0.0.5", 10000).cls, stun.SUCCESS)
        self.assertEqual(c.create_permission("10.0.0.6", expect_success=False).error_code, 403)
        self.assertEqual(c.create_permission("192.168.0.5", expect_success=False).error_code, 403)


if __name__ == "__main__":
    harness.main()
