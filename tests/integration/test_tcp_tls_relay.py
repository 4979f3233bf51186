"""TURN over TCP and TLS (RFC 8656 §3.1), driven by coturn's turnutils_uclient (an independent
client) and echoed by turnutils_peer over UDP: zero loss through each transport; and the TLS
policy seen by OpenSSL's own client: TLS 1.2/1.3 only, ALPN stun.turn (clients without ALPN
accepted), renegotiation refused."""
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import certs, harness  # noqa: E402

SECRET = "stream-secret"


def s_client(port, *args, stdin=b"", timeout=10):
    """openssl s_client against 127.0.0.1:port; returns its combined output."""
    harness.require("openssl")
    p = subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % port] + list(args),
                       input=stdin, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout)
    return p.stdout.decode("utf-8", "replace")


class StreamRelay(certs.ServerCertificate, harness.TestCase):
    def setUp(self):
        super().setUp()
        self.tls_port = harness.free_port()
        self.server = self.turnpike(["use-auth-secret", "static-auth-secret=" + SECRET, "allow-loopback-peers",
                                     "cert=" + self.cert, "pkey=" + self.key,
                                     "tls-listening-port=%d" % self.tls_port, "verbose"])
        self.peer = self.echo_peer()

    def run_uclient(self, port, extra):
        return harness.uclient(port, ["-W", SECRET, "-u", "alice", "-e", "127.0.0.1",
                                      "-r", str(self.peer.port), "-c", "-X"] + extra)

    def assert_zero_loss(self, r, expected):
        self.assertEqual(r.lost, 0, r)
        self.assertEqual(r.sent, expected, r)
        self.assertEqual(r.received, expected, r)

    def test_tcp_channel_data(self):
        r = self.run_uclient(self.server.port, ["-t", "-m", "4", "-n", "100", "-l", "400", "-z", "5"])
        self.assert_zero_loss(r, 400)
        log = self.server.log()
        self.assertIn(" tcp client=127.0.0.1:", log)
        self.assertNotIn(" udp client=", log)

    def test_tcp_large_messages_and_send_indications(self):
        r = self.run_uclient(self.server.port, ["-t", "-s", "-m", "2", "-n", "100", "-l", "1400", "-z", "5"])
        self.assert_zero_loss(r, 200)

    def test_tls_channel_data(self):
        r = self.run_uclient(self.tls_port, ["-t", "-S", "-m", "4", "-n", "100", "-l", "400", "-z", "5"])
        self.assert_zero_loss(r, 400)
        log = self.server.log()
        self.assertIn(" tls client=127.0.0.1:", log)
        self.assertRegex(log, r"tls connection from 127\.0\.0\.1:\d+: TLSv1\.[23] \S+ alpn=")
        # The allocations ended with their connections or by Refresh 0, none left over.
        self.server.stop()
        self.assertNotIn("error", self.server.log())

    def test_tls_many_small_messages(self):
        # The firewalled user's path: TURN over TLS, many small ChannelData messages (an audio
        # stream is 50-100 B packets). No message may be lost, and what the peer sends back in
        # one round of the worker must leave in one send(): each message stays its own TLS
        # record (turnutils_uclient reads one message per record), but the records of a round
        # are written together. The daemon logs, per connection, how many messages, records
        # and sends it took.
        r = self.run_uclient(self.tls_port, ["-t", "-S", "-m", "10", "-n", "1000", "-l", "60", "-z", "1"])
        self.assert_zero_loss(r, 10000)
        self.server.stop()
        log = self.server.log()
        rows = [tuple(int(x) for x in m) for m in re.findall(
            r"tls connection from 127\.0\.0\.1:\d+ closed: .*; sent \d+ B in (\d+) messages, "
            r"(\d+) TLS records, (\d+) sends", log)]
        # turnutils_uclient also opens connections that carry no media: the TLS versions it tries
        # first (refused, 0 messages) and a short one per client before its session (3 messages).
        rows = [row for row in rows if row[0] >= 1000]
        self.assertEqual(len(rows), 10, log)
        messages = sum(m for m, _, _ in rows)
        records = sum(r for _, r, _ in rows)
        sends = sum(s for _, _, s in rows)
        self.assertEqual(records, messages, rows)           # one record per message
        # How many records left per send() depends on how many echoes reach the worker in one
        # round, which depends on the machine's load: measured, not asserted here (1.7 on the
        # shared 2-core machine). That one round's records leave in one send() is asserted
        # exactly by TlsStreamTest.EachMessageIsOneRecordAndARoundIsOneSend (30 messages of a round, 30 records, 1 send).
        print("TLS, 10 x 1000 messages of 60 B: %d records in %d sends (%.2f records per send)"
              % (records, sends, records / sends), flush=True)

    def test_tls_versions(self):
        # OpenSSL 3.5 (Debian 13) offers TLS 1.1 only at security level 0; without it s_client
        # sends no ClientHello at all and the refusal below would prove nothing.
        out = s_client(self.tls_port, "-tls1_1", "-cipher", "DEFAULT:@SECLEVEL=0")
        self.assertNotIn("New, TLSv1.1, Cipher", out)
        self.assertRegex(out, r"alert protocol version|no protocols available|unsupported protocol")
        for version, flag in (("TLSv1.2", "-tls1_2"), ("TLSv1.3", "-tls1_3")):
            out = s_client(self.tls_port, flag, "-CAfile", self.ca.cert, "-verify_return_error")
            self.assertIn("New, %s, Cipher" % version, out)
            self.assertIn("Verify return code: 0 (ok)", out)
        self.server.wait_for_log(r"TLS handshake failed: unsupported protocol")

    def test_alpn(self):
        # RFC 7443: stun.turn is chosen when offered ...
        self.assertIn("ALPN protocol: stun.turn", s_client(self.tls_port, "-alpn", "h2,stun.turn"))
        self.assertIn("ALPN protocol: stun.nat-discovery", s_client(self.tls_port, "-alpn", "stun.nat-discovery"))
        # ... and a client without ALPN, or with none of ours, is still served.
        for args in ((), ("-alpn", "h2")):
            out = s_client(self.tls_port, *args)
            self.assertIn("No ALPN negotiated", out)
            self.assertIn("New, TLSv1.3, Cipher", out)

    def test_renegotiation_refused(self):
        # s_client renegotiates when it reads "R"; turnpike answers no_renegotiation.
        p = subprocess.Popen(["openssl", "s_client", "-connect", "127.0.0.1:%d" % self.tls_port, "-tls1_2"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            out, _ = p.communicate(b"R\n", timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
            out, _ = p.communicate()
        out = out.decode("utf-8", "replace")
        self.assertIn("RENEGOTIATING", out)
        self.assertIn("no renegotiation", out)


if __name__ == "__main__":
    harness.main()
