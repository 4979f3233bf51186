"""STUN and ChannelData framing over TCP and TLS through the real daemon (RFC 8489 §6.2.2,
RFC 8656 §12.5), and what a TCP/TLS client may not do: send garbage, sit idle, or open more
than max-connections-per-ip connections. Driven by the project's independent Python client."""
import os
import re
import socket
import ssl
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import certs, harness, stun  # noqa: E402

SECRET = "framing-secret"
IDLE_TIMEOUT = 2
PER_IP = 4


def binding(txid=None):
    return stun.Message(stun.BINDING, stun.REQUEST, txid).encode()


def read_frames(sock, count, timeout=3.0):
    """Reads `count` stream frames (STUN, or ChannelData with padding) from a socket."""
    sock.settimeout(timeout)
    buf, frames = b"", []
    while len(frames) < count:
        while len(buf) >= 4:
            length = struct.unpack("!H", buf[2:4])[0]
            total = 20 + length if buf[0] < 0x40 else 4 + length + (-length % 4)
            if len(buf) < total:
                break
            frames.append(buf[:total])
            buf = buf[total:]
        if len(frames) >= count:
            break
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed after %d frames" % len(frames))
        buf += chunk
    return frames


def closed_by_server(sock, timeout):
    """True when the server closes the connection within `timeout` seconds."""
    sock.settimeout(timeout)
    try:
        return sock.recv(4096) == b""
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


class StreamFraming(certs.ServerCertificate, harness.TestCase):
    def setUp(self):
        super().setUp()
        self.tls_port = harness.free_port()
        self.server = self.turnpike(["use-auth-secret", "static-auth-secret=" + SECRET, "allow-loopback-peers",
                                     "cert=" + self.cert, "pkey=" + self.key,
                                     "tls-listening-port=%d" % self.tls_port,
                                     "max-allocate-timeout=%d" % IDLE_TIMEOUT,
                                     "max-connections-per-ip=%d" % PER_IP])

    def tcp(self):
        s = socket.create_connection(("127.0.0.1", self.server.port), timeout=3)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return s

    def tls_context(self):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.load_verify_locations(self.ca.cert)
        ctx.check_hostname = False
        ctx.set_alpn_protocols(["stun.turn"])
        return ctx

    def client(self, tls=False):
        user, password = stun.rest_credential(SECRET, "framing")
        return stun.Client("127.0.0.1", self.tls_port if tls else self.server.port, user, password,
                           tcp=True, tls=self.tls_context() if tls else None)

    # --- framing

    def test_message_split_byte_by_byte(self):
        for tls in (False, True):
            with self.subTest(tls=tls):
                c = self.client(tls)
                msg = stun.Message(stun.BINDING, stun.REQUEST)
                for b in msg.encode():  # one TCP segment (or TLS record) per byte
                    c.send_raw(bytes([b]))
                    time.sleep(0.002)
                resp = stun.Message.decode(c.recv_raw(3))
                self.assertEqual(resp.txid, msg.txid)
                self.assertEqual(resp.cls, stun.SUCCESS)
                self.assertEqual(stun.parse_xor_address(resp.get(stun.XOR_MAPPED_ADDRESS), resp.txid),
                                 c.sock.getsockname())
                c.close()

    def test_several_messages_in_one_write(self):
        s = self.tcp()
        txids = [os.urandom(12) for _ in range(5)]
        s.sendall(b"".join(binding(t) for t in txids))
        got = [stun.Message.decode(f).txid for f in read_frames(s, 5)]
        self.assertEqual(sorted(got), sorted(txids))
        s.close()

    def test_message_straddling_writes(self):
        # The end of one message and the start of the next arrive together.
        s = self.tcp()
        a, b = binding(b"A" * 12), binding(b"B" * 12)
        s.sendall(a[:7])
        time.sleep(0.05)
        s.sendall(a[7:] + b[:13])
        time.sleep(0.05)
        s.sendall(b[13:])
        got = [stun.Message.decode(f).txid for f in read_frames(s, 2)]
        self.assertEqual(sorted(got), [b"A" * 12, b"B" * 12])
        s.close()

    def test_channel_data_padding_both_ways(self):
        peer = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        peer.bind(("127.0.0.1", 0))
        peer.settimeout(3)
        peer_port = peer.getsockname()[1]
        try:
            for tls in (False, True):
                with self.subTest(tls=tls):
                    c = self.client(tls)
                    c.allocate()
                    c.channel_bind(0x4001, "127.0.0.1", peer_port)
                    # Two ChannelData messages of 5 and 1 bytes, each padded to 4, in one write:
                    # the padding must be skipped, not taken for the next message.
                    frames = struct.pack("!HH", 0x4001, 5) + b"hello" + b"\0\0\0"
                    frames += struct.pack("!HH", 0x4001, 1) + b"!" + b"\0\0\0"
                    c.send_raw(frames)
                    self.assertEqual(peer.recvfrom(100)[0], b"hello")
                    data, relayed_from = peer.recvfrom(100)
                    self.assertEqual(data, b"!")
                    # Back: the server pads what it sends over the stream (RFC 8656 §12.5).
                    peer.sendto(b"abcde", relayed_from)
                    raw = c.recv_raw(3)
                    self.assertEqual(raw, struct.pack("!HH", 0x4001, 5) + b"abcde\0\0\0")
                    c.close()
        finally:
            peer.close()

    def rss_kib(self):
        with open("/proc/%d/status" % self.server.pid) as f:
            return int(re.search(r"^VmRSS:\s+(\d+) kB", f.read(), re.M).group(1))

    def test_slow_reader_does_not_grow_memory(self):
        # A client that does not read while its peer sends 30 MB: the server keeps no more than
        # its fixed per-connection buffer (beyond what the kernel's socket buffers hold) and
        # drops whole messages; afterwards the connection is still in step and usable.
        peer = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        peer.bind(("127.0.0.1", 0))
        c = self.client()
        c.allocate()
        c.channel_bind(0x4002, "127.0.0.1", peer.getsockname()[1])
        relayed = tuple(c.relayed[0])
        before = self.rss_kib()
        payload = b"x" * 1000
        sent = 30000
        for _ in range(sent):
            peer.sendto(payload, relayed)
        time.sleep(0.5)
        grown = self.rss_kib() - before
        self.assertLess(grown, 4096, "RSS grew by %d KiB for one slow client" % grown)
        received = 0
        while True:  # whole frames only, so the stream stays in step
            try:
                frame = c.recv_raw(0.5)
            except socket.timeout:
                break
            self.assertEqual(frame, struct.pack("!HH", 0x4002, 1000) + payload)
            received += 1
        self.assertGreater(received, 0)
        self.assertLess(received, sent)  # the rest was dropped, not queued without bound
        self.assertEqual(c.refresh(600).cls, stun.SUCCESS)
        c.close()
        peer.close()
        self.server.wait_for_log(r"tcp connection from .* closed \(closed by the client\); \d+ messages to it "
                                 r"were dropped because it read too slowly")

    # --- what closes a connection

    def test_bogus_first_byte_closes(self):
        for junk in (b"\x80\x01\x00\x00" + b"\0" * 16,      # first bits 10: neither STUN nor ChannelData
                     b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",    # reads as a ChannelData of 21540 bytes
                     b"\x00\x01\x00\x05" + b"\0" * 16,        # STUN length not a multiple of 4
                     b"\x00\x01\x00\x00" + b"\x12\x34\x56\x78" + b"\0" * 12,  # no magic cookie
                     b"\x40\x01\xff\xff"):                    # 0xFFFF + 4 does not wrap to 3
            with self.subTest(junk=junk[:8]):
                s = self.tcp()
                s.sendall(junk)
                # At once, not after the idle timeout.
                self.assertTrue(closed_by_server(s, 1.0), junk)
                s.close()
        # The server still serves others.
        c = self.client()
        self.assertEqual(c.transact(stun.Message(stun.BINDING, stun.REQUEST), sign=False).cls, stun.SUCCESS)
        c.close()

    def test_idle_connection_closed_after_timeout(self):
        quiet = self.tcp()
        partial = self.tcp()
        partial.sendall(binding()[:10])  # slowloris: half a message, then nothing
        started = time.time()
        self.assertTrue(closed_by_server(quiet, IDLE_TIMEOUT + 3))
        self.assertTrue(closed_by_server(partial, 2))
        elapsed = time.time() - started
        quiet.close()
        partial.close()
        self.assertGreaterEqual(elapsed, IDLE_TIMEOUT - 1)
        log = self.server.wait_for_log(r"no allocation for %d s \(max-allocate-timeout\)" % IDLE_TIMEOUT)
        self.assertIn("closing tcp connection", log)

    def test_server_closes_tls_with_close_notify(self):
        # RFC 8446 §6.1: each party MUST send a close_notify before closing its write side. A
        # client sees a clean end of the TLS stream, not a truncation (a ragged EOF).
        raw = socket.create_connection(("127.0.0.1", self.tls_port), timeout=IDLE_TIMEOUT + 3)
        s = self.tls_context().wrap_socket(raw, suppress_ragged_eofs=False)
        self.addCleanup(s.close)
        try:
            end = s.recv(4096)  # nothing to say: closed after max-allocate-timeout
        except ssl.SSLEOFError as e:
            self.fail("the server closed TLS without a close_notify: %s" % e)
        self.assertEqual(end, b"")

    def test_connection_with_allocation_stays_and_dies_with_it(self):
        c = self.client()
        c.allocate()
        time.sleep(IDLE_TIMEOUT + 1.5)
        c.refresh(600)  # still open: it has an allocation
        c.close()
        # RFC 8656 §3.1: the allocation ends with its connection.
        self.server.wait_for_log(r"closed \(client-closed\)")

    def test_connection_limit_per_address(self):
        held = [self.tcp() for _ in range(PER_IP)]
        for s in held:  # all served
            s.sendall(binding())
            self.assertEqual(len(read_frames(s, 1)), 1)
        extra = self.tcp()  # the kernel accepts it; turnpike closes it at once
        self.assertTrue(closed_by_server(extra, 1.0))
        extra.close()
        self.server.wait_for_log(r"max-connections-per-ip \(%d\) reached" % PER_IP)
        held.pop().close()
        # Once one is gone (closing is deferred to the event loop), a new one is served.
        deadline = time.time() + 3
        while True:
            s = self.tcp()
            try:
                s.sendall(binding())
                read_frames(s, 1, timeout=1)
                break
            except (ConnectionError, socket.timeout):
                if time.time() > deadline:
                    raise
                time.sleep(0.1)
            finally:
                s.close()
        for s in held:
            s.close()


if __name__ == "__main__":
    harness.main()
