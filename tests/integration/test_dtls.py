"""TURN over DTLS (RFC 7350) and its stateless cookie exchange (RFC 6347 §4.2.1; attack list
item 30): turnutils_uclient relays with zero loss; ClientHellos without a valid cookie get a
HelloVerifyRequest no larger than themselves and leave nothing behind (no session, no fd); a
cookie works only from the address it was made for."""
import os
import re
import socket
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import certs, harness  # noqa: E402

SECRET = "dtls-secret"


def client_hello(cookie=b"", record_seq=0, message_seq=0):
    """A DTLS 1.2 ClientHello OpenSSL accepts (ECDHE-ECDSA with P-256 and SHA-256)."""
    exts = b""
    exts += struct.pack("!HHH", 10, 6, 4) + struct.pack("!HH", 0x001D, 0x0017)  # supported_groups
    exts += struct.pack("!HHB", 11, 2, 1) + b"\x00"                             # ec_point_formats
    exts += struct.pack("!HHH", 13, 4, 2) + struct.pack("!H", 0x0403)           # signature_algorithms
    exts += struct.pack("!HH", 23, 0)                                           # extended_master_secret
    body = b"\xfe\xfd" + os.urandom(32) + b"\x00" + bytes([len(cookie)]) + cookie
    body += struct.pack("!HHH", 4, 0xC02B, 0xC02C) + b"\x01\x00"
    body += struct.pack("!H", len(exts)) + exts
    n = len(body)
    hs = bytes([1]) + n.to_bytes(3, "big") + struct.pack("!H", message_seq) + b"\0\0\0" + n.to_bytes(3, "big") + body
    return bytes([22, 0xFE, 0xFD, 0, 0]) + record_seq.to_bytes(6, "big") + struct.pack("!H", len(hs)) + hs


def parse_reply(data):
    """(handshake type, cookie or None) of a DTLS handshake record."""
    if len(data) < 25 or data[0] != 22:
        return None, None
    hs_type = data[13]
    if hs_type == 3:  # HelloVerifyRequest: server_version(2) cookie<1>
        clen = data[25 + 2]
        return 3, data[28:28 + clen]
    return hs_type, None


class Dtls(certs.ServerCertificate, harness.TestCase):
    def setUp(self):
        super().setUp()
        self.tls_port = harness.free_port()
        self.server = self.turnpike(["use-auth-secret", "static-auth-secret=" + SECRET, "allow-loopback-peers",
                                     "cert=" + self.cert, "pkey=" + self.key, "dtls",
                                     "tls-listening-port=%d" % self.tls_port])

    def stats(self):
        """Totals of the per-worker DTLS counters the server logs when it stops."""
        self.server.stop()
        hvr = sessions = 0
        for m in re.finditer(r"dtls \S+ worker \d+: (\d+) HelloVerifyRequests sent, (\d+) sessions created",
                             self.server.log()):
            hvr += int(m.group(1))
            sessions += int(m.group(2))
        return hvr, sessions

    def fds(self):
        return len(os.listdir("/proc/%d/fd" % self.server.pid))

    def ledger_open(self):
        """Waits until the ledger's writer thread has opened the database and its WAL: it does
        so after "turnpike ready", and an fd count taken before that grows by itself."""
        def wal_open():
            fd_dir = "/proc/%d/fd" % self.server.pid
            for fd in os.listdir(fd_dir):
                try:
                    if os.readlink(os.path.join(fd_dir, fd)) == self.server.ledger_path + "-wal":
                        return True
                except FileNotFoundError:
                    pass
            return False
        harness.wait_until(wal_open, what="the ledger's WAL file open in the server")

    def udp(self):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.0.1", 0))
        s.settimeout(2)
        return s

    def test_uclient_over_dtls(self):
        peer = self.echo_peer()
        r = harness.uclient(self.tls_port, ["-S", "-W", SECRET, "-u", "alice", "-e", "127.0.0.1",
                                            "-r", str(peer.port), "-c", "-X",
                                            "-m", "4", "-n", "100", "-l", "400", "-z", "5"])
        self.assertEqual(r.lost, 0, r)
        self.assertEqual(r.sent, 400, r)
        self.assertEqual(r.received, 400, r)
        self.assertIn(" dtls client=127.0.0.1:", self.server.log())

    def test_hellos_without_cookie_leave_no_state(self):
        self.ledger_open()
        fds_before = self.fds()
        s = self.udp()
        burst = 500
        for i in range(burst):  # one source port, as a spoofer replaying a capture would
            hello = client_hello(record_seq=i)
            s.sendto(hello, ("127.0.0.1", self.tls_port))
            reply, _ = s.recvfrom(2048)
            kind, cookie = parse_reply(reply)
            self.assertEqual(kind, 3)                      # HelloVerifyRequest
            self.assertLessEqual(len(reply), len(hello))   # no amplification
            self.assertEqual(reply[5:11], hello[5:11])     # the ClientHello's record sequence
            self.assertEqual(len(cookie), 17)
        # Wrong cookies are answered the same way and create nothing either.
        for _ in range(50):
            s.sendto(client_hello(cookie=os.urandom(17), message_seq=1), ("127.0.0.1", self.tls_port))
            self.assertEqual(parse_reply(s.recvfrom(2048)[0])[0], 3)
        s.close()
        self.assertEqual(self.fds(), fds_before)
        hvr, sessions = self.stats()
        self.assertEqual(hvr, burst + 50)
        self.assertEqual(sessions, 0)

    def test_cookie_works_only_from_its_address(self):
        a, b = self.udp(), self.udp()
        a.sendto(client_hello(), ("127.0.0.1", self.tls_port))
        _, cookie = parse_reply(a.recvfrom(2048)[0])
        # From another port the cookie is worthless: another HelloVerifyRequest.
        b.sendto(client_hello(cookie=cookie, message_seq=1), ("127.0.0.1", self.tls_port))
        self.assertEqual(parse_reply(b.recvfrom(2048)[0])[0], 3)
        # From its own address it opens the handshake: a ServerHello (type 2) comes back.
        a.sendto(client_hello(cookie=cookie, record_seq=1, message_seq=1), ("127.0.0.1", self.tls_port))
        self.assertEqual(parse_reply(a.recvfrom(4096)[0])[0], 2)
        a.close()
        b.close()
        _, sessions = self.stats()
        self.assertEqual(sessions, 1)


if __name__ == "__main__":
    harness.main()
