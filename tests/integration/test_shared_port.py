"""Port 443 without nginx: one TLS port (mux-listening-port) shared by turnpike and a web
server. A real HTTPS client (curl) reaches the web backend through it while a TURN client
(turnutils_uclient over TLS) relays through the same port; routing follows ALPN and SNI; the
backend can get a PROXY v2 header with the client's address; and turnpike's own listeners
behind another proxy (tcp-proxy-port, tls-proxy-port) read PROXY v1/v2 headers."""
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
