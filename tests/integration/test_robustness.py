"""Hostile and broken input against the real daemon: malformed packets are dropped or answered
with the right STUN error, never a crash; nothing is kept for unauthenticated sources; answers
to unauthenticated requests stay small."""
import os
import random
import socket
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import harness, stun  # noqa: E402

SECRET = "robust-secret"


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def ledger_open(path):
    import sqlite3
    try:
        db = sqlite3.connect("file:%s?mode=ro" % path, uri=True)
        try:
            return db.execute("SELECT count(*) FROM ledger_health").fetchone()[0] > 0
        finally:
            db.close()
    except sqlite3.Error:
        return False


def fd_count(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


class Hostile(harness.TestCase):
    def setUp(self):
        super().setUp()
        self.server = self.turnpike(["use-auth-secret", "static-auth-secret=" + SECRET, "allow-loopback-peers"])
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.settimeout(0.3)
        self.addCleanup(self.sock.close)

    def send(self, data):
        self.sock.sendto(data, ("127.0.0.1", self.server.port))

    def answer(self, data):
        self.send(data)
        try:
            return self.sock.recvfrom(65536)[0]
        except socket.timeout:
            return None

    def alive_and_answering(self):
        self.assertTrue(self.server.alive())
        r = self.answer(stun.Message(stun.BINDING, stun.REQUEST).encode())
        self.assertIsNotNone(r, "no answer to a Binding after the abuse")
        return r

    def test_malformed_datagrams_are_dropped_silently(self):
        tx = os.urandom(12)
        cases = [
            b"", b"\x00", b"\x00\x01\x00\x00",                                   # shorter than a header
            struct.pack("!HHI", 0x8001, 0, 0x2112A442) + tx,                     # first bits not 00
            struct.pack("!HHI", 0x0001, 0, 0x2112A443) + tx,                     # wrong cookie
            struct.pack("!HHI", 0x0001, 3, 0x2112A442) + tx + b"abc",            # length not /4
            struct.pack("!HHI", 0x0001, 64, 0x2112A442) + tx,                    # length past the end
            struct.pack("!HHI", 0x0001, 8, 0x2112A442) + tx + struct.pack("!HH", 6, 0xFFFF) + b"abcd",
            struct.pack("!HHI", 0x0001, 8, 0x2112A442) + tx + struct.pack("!HH", 8, 4) + b"abcd",  # MI size
            b"\x40\x01\x8a\xb6abc",                                              # ChannelData 35510 vs 3
            b"\xff" * 100,
            b"GET / HTTP/1.1\r\n\r\n",
        ]
        for c in cases:
            self.assertIsNone(self.answer(c), c)
        self.alive_and_answering()

    def test_random_garbage_does_not_hurt(self):
        rnd = random.Random(1234)
        for _ in range(3000):
            n = rnd.randrange(0, 300)
            data = bytes(rnd.randrange(256) for _ in range(n))
            if rnd.random() < 0.5 and n >= 20:  # make half of it look like STUN
                data = struct.pack("!HHI", rnd.choice([1, 3, 4, 8, 9, 0x16]), (n - 20) & ~3, 0x2112A442) + data[8:]
            self.send(data)
        time.sleep(0.2)
        self.alive_and_answering()

    def test_unknown_comprehension_required_attribute_is_420(self):
        m = stun.Message(stun.ALLOCATE, stun.REQUEST).add(stun.REQUESTED_TRANSPORT, b"\x11\0\0\0").add(0x0042, b"?")
        r = stun.Message.decode(self.answer(m.encode()))
        self.assertEqual(r.error_code, 420)
        self.assertEqual(r.get(stun.UNKNOWN_ATTRIBUTES), b"\x00\x42")

    def test_unauthenticated_answers_are_small(self):
        binding = stun.Message(stun.BINDING, stun.REQUEST).encode()
        r = self.answer(binding)
        self.assertEqual(len(binding), 20)
        self.assertLessEqual(len(r), 32)  # XOR-MAPPED-ADDRESS only: no SOFTWARE, no MAPPED-ADDRESS
        allocate = stun.Message(stun.ALLOCATE, stun.REQUEST).add(stun.REQUESTED_TRANSPORT, b"\x11\0\0\0").encode()
        r = stun.Message.decode(self.answer(allocate))
        self.assertEqual(r.error_code, 401)
        self.assertEqual(r.error_reason, "")
        self.assertLessEqual(len(r.raw), 4 * len(allocate))
        self.assertIsNone(r.get(stun.SOFTWARE))

    def test_no_state_for_unauthenticated_sources(self):
        # 3000 Allocates from as many source ports, none of them authenticated: memory and file
        # descriptors stay flat (coturn 4.6 kept an 18 KB session for each).
        socks = []
        pid = self.server.pid
        self.alive_and_answering()
        # The ledger writer opens its database (and WAL files) when it first writes its health
        # row, a few seconds after the start: wait for that, so that those descriptors are not
        # counted as the flood's.
        harness.wait_until(lambda: ledger_open(self.server.ledger_path), timeout=15,
                           what="the ledger writer's first health row")
        rss0, fds0 = rss_kb(pid), fd_count(pid)
        allocate = stun.Message(stun.ALLOCATE, stun.REQUEST).add(stun.REQUESTED_TRANSPORT, b"\x11\0\0\0")
        for i in range(3000):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.sendto(allocate.encode(), ("127.0.0.1", self.server.port))
            socks.append(s)
            if len(socks) >= 200:
                for x in socks:
                    x.close()
                socks = []
        for x in socks:
            x.close()
        # 3000 requests from 127.0.0.1 used up that address's answer budget (200 unauthenticated
        # answers per second per source IP); it refills within a second.
        time.sleep(1.0)
        self.alive_and_answering()
        self.assertEqual(fd_count(pid), fds0)
        self.assertLess(rss_kb(pid) - rss0, 1024, "RSS grew by more than 1 MB")

    def test_flood_of_bad_credentials_is_rate_limited_in_the_log(self):
        c = stun.Client("127.0.0.1", self.server.port, *stun.rest_credential("wrong", "flood"))
        for _ in range(200):
            try:
                c.allocate()
            except stun.TurnError:
                pass
            c.nonce = None
            c.key = None
        log = self.server.log()
        self.assertLessEqual(log.count("refused Allocate"), 60, "refusal lines are not rate-limited")

    def test_sigterm_closes_sessions_and_exits_cleanly(self):
        c = stun.Client("127.0.0.1", self.server.port, *stun.rest_credential(SECRET, "alice"))
        c.allocate()
        self.assertEqual(self.server.stop(), 0)
        log = self.server.log()
        self.assertIn("closed (shutdown)", log)
        self.assertIn("turnpike stopped", log)


if __name__ == "__main__":
    harness.main()
