"""UDP relay with TURN REST credentials, driven by coturn's turnutils_uclient (an independent
client) and echoed by turnutils_peer: ChannelData and Send paths, several clients, zero loss."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import harness  # noqa: E402

SECRET = "integration-secret"


class UdpRelay(harness.TestCase):
    def setUp(self):
        super().setUp()
        self.server = self.turnpike(["use-auth-secret", "static-auth-secret=" + SECRET, "allow-loopback-peers"])
        self.peer = self.echo_peer()

    def run_uclient(self, extra):
        return harness.uclient(self.server.port, ["-W", SECRET, "-u", "alice", "-e", "127.0.0.1",
                                                  "-r", str(self.peer.port), "-c", "-X"] + extra)

    def assert_zero_loss(self, r, expected):
        self.assertEqual(r.lost, 0, r)
        self.assertEqual(r.sent, expected, r)
        self.assertEqual(r.received, expected, r)

    def test_channel_data_ten_clients(self):
        r = self.run_uclient(["-m", "10", "-n", "100", "-l", "200", "-z", "5"])
        self.assert_zero_loss(r, 1000)
        log = self.server.log()
        # turnutils_uclient makes two allocations per client: a probe it never uses, then the
        # one it relays through.
        self.assertEqual(log.count(" allocated: user=<"), 20, log)

    def test_send_indications(self):
        r = self.run_uclient(["-s", "-m", "4", "-n", "100", "-l", "500", "-z", "5"])
        self.assert_zero_loss(r, 400)

    def test_large_datagrams(self):
        r = self.run_uclient(["-m", "2", "-n", "100", "-l", "1400", "-z", "5"])
        self.assert_zero_loss(r, 200)

    def test_dont_fragment_and_even_port(self):
        # -g adds DONT-FRAGMENT; without -c uclient also makes an RTCP allocation, asking for an
        # even port with R set and then using the RESERVATION-TOKEN for the second one.
        r = harness.uclient(self.server.port, ["-W", SECRET, "-u", "alice", "-e", "127.0.0.1",
                                               "-r", str(self.peer.port), "-g", "-X",
                                               "-m", "2", "-n", "50", "-l", "200", "-z", "5"])
        self.assertEqual(r.lost, 0, r)
        self.assertGreater(r.received, 0, r)

    def test_sessions_closed_with_counters(self):
        r = self.run_uclient(["-m", "1", "-n", "50", "-l", "100", "-z", "5"])
        self.assert_zero_loss(r, 50)
        log = self.server.wait_for_log(r"closed \(refresh-0\)")
        self.assertIn("client->peers 50 pkts/5000 B, peers->client 50 pkts/5000 B", log)


if __name__ == "__main__":
    harness.main()
