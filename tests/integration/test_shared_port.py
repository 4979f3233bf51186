"""Port 443 without nginx: one TLS port (mux-listening-port) shared by turnpike and a web
server. A real HTTPS client (curl) reaches the web backend through it while a TURN client
(turnutils_uclient over TLS) relays through the same port; routing follows ALPN and SNI; the
backend can get a PROXY v2 header with the client's address; the pass-through keeps half-closed
connections working both ways and closes a side that stops reading after mux-web-drain-timeout;
and turnpike's own listeners behind another proxy (tcp-proxy-port, tls-proxy-port) read PROXY
v1/v2 headers."""
import os
import re
import shutil
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import certs, harness, stun  # noqa: E402

SECRET = "mux-secret"
BACKEND = os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib", "web_backend.py")


class WebBackend(harness.Process):
    def __init__(self, workdir, cert, key, proxy=False):
        self.port = harness.free_port()
        argv = [sys.executable, BACKEND, str(self.port), cert, key] + (["--proxy-protocol"] if proxy else [])
        super().__init__(argv, os.path.join(workdir, "web-%d.log" % self.port))
        self.wait_for_log(r"ready on")


class SharedPort(harness.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.certdir = tempfile.mkdtemp(prefix="turnpike-mux-certs-")
        cls.ca = certs.Ca(cls.certdir)
        cls.turn_cert, cls.turn_key, _ = cls.ca.issue("turn", "turn.test", ("DNS:turn.test", "IP:127.0.0.1"))
        cls.web_cert, cls.web_key, _ = cls.ca.issue("web", "web.test", ("DNS:web.test",))

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.certdir, ignore_errors=True)

    def start(self, proxy=False, backend=True, extra=()):
        self.backend = self.track(WebBackend(self.workdir, self.web_cert, self.web_key, proxy)) if backend else None
        self.mux_port = harness.free_port()
        backend_port = self.backend.port if backend else harness.free_port()
        options = ["use-auth-secret", "static-auth-secret=" + SECRET, "allow-loopback-peers",
                   "cert=" + self.turn_cert, "pkey=" + self.turn_key, "no-tls",
                   "mux-listening-port=%d" % self.mux_port, "mux-web-backend=127.0.0.1:%d" % backend_port,
                   "mux-web-sni=web.test", "verbose"] + list(extra)
        if proxy:
            options.append("mux-proxy-protocol")
        self.server = self.turnpike(options)

    def curl(self, *extra):
        harness.require("curl")
        argv = ["curl", "-sS", "--max-time", "10", "--noproxy", "*", "--cacert", self.ca.cert,
                "--resolve", "web.test:%d:127.0.0.1" % self.mux_port,
                "-w", "\nlocal_port=%{local_port}\n"] + list(extra) + ["https://web.test:%d/" % self.mux_port]
        p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=20)
        return p.returncode, p.stdout.decode("utf-8", "replace")

    def test_https_and_turn_over_tls_at_the_same_time(self):
        self.start()
        peer = self.echo_peer()
        result = {}

        def relay():
            result["r"] = harness.uclient(self.mux_port, ["-t", "-S", "-W", SECRET, "-u", "alice", "-e", "127.0.0.1",
                                                          "-r", str(peer.port), "-c", "-X",
                                                          "-m", "2", "-n", "200", "-l", "300", "-z", "10"])

        t = threading.Thread(target=relay)
        t.start()
        try:
            bodies = [self.curl() for _ in range(6)]
        finally:
            t.join(120)
        for rc, out in bodies:
            self.assertEqual(rc, 0, out)
            self.assertRegex(out, r"web-backend peer=127\.0\.0\.1:\d+")
        r = result["r"]
        self.assertEqual(r.lost, 0, r)
        self.assertEqual(r.received, 400, r)
        self.assertIn(" tls client=127.0.0.1:", self.server.log())
        self.assertEqual(len(re.findall(r"^served ", self.backend.log(), re.M)), 6, self.backend.log())

    def test_routing_by_alpn_and_sni(self):
        self.start()
        turn, web = certs.der_of(self.turn_cert), certs.der_of(self.web_cert)
        cases = [(None, None, turn),                  # a browser's TURN client: no ALPN
                 (None, "turn.test", turn),
                 (["stun.turn"], "web.test", turn),   # ALPN stun.turn wins over the SNI list
                 (["h2", "http/1.1"], "turn.test", web),
                 (["http/1.1"], None, web),
                 (["acme-tls/1"], "turn.test", web),  # TLS-ALPN-01 (RFC 8737) reaches the web side
                 (["x-unknown/1"], None, web),         # any ALPN that is not stun.* is the web's
                 (None, "web.test", web),             # mux-web-sni, no ALPN
                 (None, "WEB.test", web)]             # SNI compares without case
        for alpn, sni, expected in cases:
            with self.subTest(alpn=alpn, sni=sni):
                got = certs.served_certificate(self.mux_port, alpn=alpn, server_name=sni)
                self.assertEqual(got, expected, "wrong side for alpn=%s sni=%s" % (alpn, sni))

    def test_proxy_protocol_to_backend(self):
        self.start(proxy=True)
        rc, out = self.curl()
        self.assertEqual(rc, 0, out)
        local_port = re.search(r"local_port=(\d+)", out).group(1)
        # The backend saw curl's own address, from the PROXY v2 header, not turnpike's.
        self.assertIn("web-backend peer=127.0.0.1:%s\n" % local_port, out)
        self.assertIn("proxy-v2 src=127.0.0.1:%s dst=127.0.0.1:%d" % (local_port, self.mux_port),
                      self.backend.log())

    def test_plain_stun_and_junk_on_the_shared_port(self):
        self.start()
        user, password = stun.rest_credential(SECRET, "plain")
        c = stun.Client("127.0.0.1", self.mux_port, user, password, tcp=True)
        c.allocate()  # TURN over plain TCP on the same port
        c.close()
        self.server.wait_for_log(r"closed \(client-closed\)")
        s = socket.create_connection(("127.0.0.1", self.mux_port), timeout=3)
        s.sendall(b"GET / HTTP/1.1\r\nHost: web.test\r\n\r\n")
        self.assertEqual(s.recv(100), b"")  # neither TLS nor STUN: closed
        s.close()
        self.server.wait_for_log(r"neither TLS nor STUN")

    def test_backend_down_does_not_hurt_turn(self):
        self.start(backend=False)
        rc, out = self.curl()
        self.assertNotEqual(rc, 0, out)
        self.server.wait_for_log(r"cannot connect to mux-web-backend 127\.0\.0\.1:\d+: Connection refused")
        self.assertEqual(certs.served_certificate(self.mux_port), certs.der_of(self.turn_cert))


def client_hello(alpn, server_name="web.test"):
    """The first flight of a real TLS client (Python's OpenSSL) offering `alpn`."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_alpn_protocols(alpn)
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(incoming, outgoing, server_hostname=server_name)
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return outgoing.read()


def recv_until_eof(sock, timeout=10):
    sock.settimeout(timeout)
    data = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk


class RawBackend:
    """A TCP server standing in for the web server, byte for byte (the shared port forwards
    without terminating TLS, so what follows the ClientHello may be anything): each accepted
    connection is handed to `serve(conn)` on a thread; what that returns is kept."""

    def __init__(self, serve):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.results = []
        self.errors = []
        self.done = threading.Event()

        def run():
            try:
                conn, _ = self.sock.accept()
                with conn:
                    self.results.append(serve(conn))
            except Exception as e:  # the test reports it
                self.errors.append(e)
            finally:
                self.done.set()

        threading.Thread(target=run, daemon=True).start()

    def close(self):
        self.sock.close()


class WebPassThrough(harness.TestCase):
    """The web side of the shared port as a splice that passes half-closes on, with a drain
    deadline (net/splice.h)."""

    def start(self, backend, extra=()):
        self.addCleanup(backend.close)
        certdir = tempfile.mkdtemp(prefix="turnpike-mux-half-")
        self.addCleanup(shutil.rmtree, certdir, True)
        cert, key, _ = certs.Ca(certdir).issue("turn")
        self.mux_port = harness.free_port()
        self.server = self.turnpike(["use-auth-secret", "static-auth-secret=" + SECRET, "cert=" + cert,
                                     "pkey=" + key, "no-tls", "mux-listening-port=%d" % self.mux_port,
                                     "mux-web-backend=127.0.0.1:%d" % backend.port, "verbose"] + list(extra))

    def connect(self):
        c = socket.create_connection(("127.0.0.1", self.mux_port), timeout=10)
        self.addCleanup(c.close)
        return c

    def test_backend_answers_after_the_client_shut_its_write_side(self):
        hello = client_hello(["http/1.1"])

        def serve(conn):
            request = recv_until_eof(conn)  # everything the client sends, up to its FIN
            time.sleep(0.3)                 # answering well after the FIN reached us
            conn.sendall(b"answer to %d bytes" % len(request))
            conn.shutdown(socket.SHUT_WR)
            return request

        backend = RawBackend(serve)
        self.start(backend)
        c = self.connect()
        c.sendall(hello + b"REQUEST")
        c.shutdown(socket.SHUT_WR)
        answer = recv_until_eof(c)
        self.assertTrue(backend.done.wait(10))
        self.assertEqual(backend.errors, [])
        self.assertEqual(backend.results, [hello + b"REQUEST"])  # byte for byte, then the FIN
        self.assertEqual(answer, b"answer to %d bytes" % (len(hello) + 7))
        self.server.wait_for_log(r"web connection from 127\.0\.0\.1:\d+ forwarded to 127\.0\.0\.1:%d "
                                 r"ended: closed by both sides" % backend.port)

    def test_client_still_sends_after_the_backend_shut_its_write_side(self):
        hello = client_hello(["h2", "http/1.1"])

        def serve(conn):
            conn.settimeout(10)
            first = b""
            while len(first) < len(hello):
                first += conn.recv(65536)
            conn.sendall(b"server done talking")
            conn.shutdown(socket.SHUT_WR)  # the backend finishes first ...
            return first, recv_until_eof(conn)  # ... and still reads what the client says

        backend = RawBackend(serve)
        self.start(backend)
        c = self.connect()
        c.sendall(hello)
        self.assertEqual(recv_until_eof(c), b"server done talking")  # then EOF: the FIN passed on
        c.sendall(b"LATE WORDS")
        c.shutdown(socket.SHUT_WR)
        self.assertTrue(backend.done.wait(10))
        self.assertEqual(backend.errors, [])
        self.assertEqual(backend.results, [(hello, b"LATE WORDS")])
        self.server.wait_for_log(r"forwarded to 127\.0\.0\.1:%d ended: closed by both sides" % backend.port)

    def test_a_client_that_stops_reading_is_closed_after_the_drain_deadline(self):
        hello = client_hello(["http/1.1"])
        sent = {}

        def serve(conn):
            conn.settimeout(30)
            conn.recv(65536)
            total = 0
            chunk = b"x" * 65536
            try:
                while total < 200 << 20:  # far more than any buffer on the way holds
                    total += conn.send(chunk)
            except OSError as e:  # turnpike closed the connection
                sent["error"] = e
            sent["total"] = total
            return total

        backend = RawBackend(serve)
        self.start(backend, ["mux-web-drain-timeout=2"])
        c = self.connect()
        c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        c.sendall(hello)
        started = time.time()
        # The client reads nothing from now on.
        self.assertTrue(backend.done.wait(20), "the backend was never cut off")
        elapsed = time.time() - started
        self.assertIsInstance(sent.get("error"), OSError, sent)
        self.assertLess(sent["total"], 20 << 20, sent)  # held back by flow control, not buffered
        self.assertGreaterEqual(elapsed, 2 - 0.5)
        self.assertLess(elapsed, 10)
        self.server.wait_for_log(r"ended: the client took nothing for 2 s \(drain deadline\)")
        # And the client's side was closed too.
        c.settimeout(5)
        got = 0
        try:
            while True:
                chunk = c.recv(1 << 20)
                if not chunk:
                    break
                got += len(chunk)
        except ConnectionResetError:
            pass
        self.assertLess(got, sent["total"] + 1)


def proxy_v2(src_ip, src_port, dst_ip, dst_port):
    return (b"\r\n\r\n\x00\r\nQUIT\n" + bytes([0x21, 0x11]) + struct.pack("!H", 12)
            + socket.inet_aton(src_ip) + socket.inet_aton(dst_ip) + struct.pack("!HH", src_port, dst_port))


class BehindProxy(harness.TestCase):
    def setUp(self):
        super().setUp()
        self.certdir = tempfile.mkdtemp(prefix="turnpike-proxy-certs-")
        self.ca = certs.Ca(self.certdir)
        cert, key, _ = self.ca.issue("turn")
        self.tcp_proxy, self.tls_proxy = harness.free_port(), harness.free_port()
        self.server = self.turnpike(["use-auth-secret", "static-auth-secret=" + SECRET, "cert=" + cert,
                                     "pkey=" + key, "no-tls", "tcp-proxy-port=%d" % self.tcp_proxy,
                                     "tls-proxy-port=%d" % self.tls_proxy, "max-connections-per-ip=2"])

    def tearDown(self):
        super().tearDown()
        shutil.rmtree(self.certdir, ignore_errors=True)

    def client(self, port, preamble, tls=False):
        user, password = stun.rest_credential(SECRET, "proxied")
        ctx = None
        if tls:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        return stun.Client("127.0.0.1", port, user, password, tcp=True, tls=ctx, preamble=preamble)

    def test_client_address_from_the_header(self):
        v1 = b"PROXY TCP4 198.51.100.7 127.0.0.1 40000 %d\r\n" % self.tcp_proxy
        c = self.client(self.tcp_proxy, v1)
        c.allocate()
        self.assertEqual(c.mapped, ("198.51.100.7", 40000))  # XOR-MAPPED-ADDRESS: the real client
        c.close()
        c = self.client(self.tls_proxy, proxy_v2("203.0.113.9", 40001, "127.0.0.1", self.tls_proxy), tls=True)
        c.allocate()
        self.assertEqual(c.mapped, ("203.0.113.9", 40001))
        c.close()
        log = self.server.log()
        self.assertIn("tcp client=198.51.100.7:40000", log)
        self.assertIn("tls client=203.0.113.9:40001", log)

    def test_only_a_trusted_proxy_may_send_headers(self):
        # Anyone who reaches a PROXY port could claim any client address; only proxy-trusted-ip
        # (default: loopback) may. Here only 127.0.0.2 is trusted.
        self.server.stop()
        port = harness.free_port()
        self.server = self.turnpike(["use-auth-secret", "static-auth-secret=" + SECRET,
                                     "tcp-proxy-port=%d" % port, "proxy-trusted-ip=127.0.0.2"])

        def binding_via(source_ip):
            s = socket.socket()
            self.addCleanup(s.close)
            s.settimeout(3)
            s.bind((source_ip, 0))
            s.connect(("127.0.0.1", port))
            s.sendall(b"PROXY TCP4 198.51.100.7 127.0.0.1 40000 %d\r\n" % port
                      + stun.Message(stun.BINDING, stun.REQUEST).encode())
            try:
                return s.recv(1000)
            except ConnectionResetError:
                return b""

        self.assertEqual(binding_via("127.0.0.1"), b"")  # closed: not a trusted proxy
        self.server.wait_for_log(r"127\.0\.0\.1 is not a trusted proxy: it may not send PROXY headers "
                                 r"\(proxy-trusted-ip\)")
        r = stun.Message.decode(binding_via("127.0.0.2"))
        self.assertEqual(r.cls, stun.SUCCESS)
        self.assertEqual(stun.parse_xor_address(r.get(stun.XOR_MAPPED_ADDRESS), r.txid), ("198.51.100.7", 40000))

    def test_missing_header_closes_and_limit_counts_real_clients(self):
        s = socket.create_connection(("127.0.0.1", self.tcp_proxy), timeout=3)
        s.sendall(stun.Message(stun.BINDING, stun.REQUEST).encode())
        self.assertEqual(s.recv(100), b"")
        s.close()
        self.server.wait_for_log(r"no valid PROXY protocol header")
        # The proxy's own address (127.0.0.1) is not what is counted: three clients behind it
        # are served although max-connections-per-ip is 2 ...
        clients = []
        for i in range(3):
            header = b"PROXY TCP4 192.0.2.%d 127.0.0.1 5000 %d\r\n" % (i + 1, self.tcp_proxy)
            c = self.client(self.tcp_proxy, header)
            self.assertEqual(c.transact(stun.Message(stun.BINDING, stun.REQUEST), sign=False).cls, stun.SUCCESS)
            clients.append(c)
        # ... but one real client gets two connections, not three.
        # One after the other: two connections opened at once may be served in either order
        # (by different workers, even), and either one may be the one refused.
        same = []
        for i in range(2):
            header = b"PROXY TCP4 192.0.2.1 127.0.0.1 %d %d\r\n" % (6000 + i, self.tcp_proxy)
            same.append(self.client(self.tcp_proxy, header))
            if i == 0:
                self.assertEqual(same[0].transact(stun.Message(stun.BINDING, stun.REQUEST), sign=False).cls,
                                 stun.SUCCESS)
        with self.assertRaises(ConnectionError):
            same[1].send_raw(stun.Message(stun.BINDING, stun.REQUEST).encode())
            same[1].recv_raw(2)
        self.server.wait_for_log(r"max-connections-per-ip \(2\) reached for 192\.0\.2\.1")
        for c in clients + same:
            c.close()


if __name__ == "__main__":
    harness.main()
