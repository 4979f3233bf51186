"""RFC 6062 TCP relay against the real daemon.

coturn's turnutils_uclient (an independent client) relays through TCP allocations in both modes:
active (-T: each client Connects to the other's relayed address) over TCP and TLS, and passive
(-T -P: uclient's own peer connects to the relayed address, the client answers the
ConnectionAttempt). The Python client (lib/stun.py) checks the rules one by one: the peer policy
on Connect (CVE-2020-26262), ConnectionBind with an unknown id, the ConnectionBind timeout,
byte-for-byte relaying with a TCP echo peer (lib/tcp_echo_peer.py) and a peer that talks before
the bind, the end of the control connection, and no-tcp-relay.
"""
import os
import re
import socket
import ssl
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import certs, harness, stun  # noqa: E402

SECRET = "rfc6062-secret"


class Rfc6062(certs.ServerCertificate, harness.TestCase):
    def start(self, *extra, loopback=True):
        self.tls_port = harness.free_port()
        options = ["use-auth-secret", "static-auth-secret=" + SECRET, "cert=" + self.cert, "pkey=" + self.key,
                   "tls-listening-port=%d" % self.tls_port, "verbose"]
        if loopback:
            options.append("allow-loopback-peers")
        self.server = self.turnpike(options + list(extra))
        return self.server

    def client(self, tls=False):
        user, password = stun.rest_credential(SECRET, "alice")
        if tls:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            return stun.Client("127.0.0.1", self.tls_port, user, password, tcp=True, tls=ctx)
        return stun.Client("127.0.0.1", self.server.port, user, password, tcp=True)

    def closed_sessions(self, count):
        """The log lines of `count` sessions closed by Refresh 0, with their byte counters."""
        log = self.server.wait_for_count("closed (refresh-0)", count, timeout=15)
        rows = re.findall(r"closed \(refresh-0\).*client->peers (\d+) pkts/(\d+) B, peers->client (\d+) pkts/(\d+) B", log)
        return [(int(a), int(b)) for _, a, _, b in rows]

    def ledger_sessions(self):
        return harness.admin_json("sessions", "--ledger", self.server.ledger_path)

    # ---- coturn's turnutils_uclient -------------------------------------------------------------

    def test_uclient_active_mode_zero_loss(self):
        # -T: TCP allocations; each of the 10 clients Connects to the relayed address of every
        # client after it, so every pair is one outgoing and one accepted peer connection, and
        # every data connection makes a ConnectionBind on a connection of its own.
        self.start()
        r = harness.uclient(self.server.port, ["-T", "-W", SECRET, "-u", "alice", "-X",
                                               "-m", "10", "-n", "100", "-l", "400", "-z", "5"])
        self.assertEqual(r.lost, 0, r)
        self.assertEqual(r.sent, 1000, r)
        self.assertEqual(r.received, 1000, r)
        log = self.server.log()
        self.assertRegex(log, r"tcp client=127\.0\.0\.1:\d+ relayed=127\.0\.0\.1:\d+ lifetime=\d+s \(TCP relay, RFC 6062\)")
        self.assertIn("tcp peer 127.0.0.1:", log)
        # SO_REUSEPORT spreads the ~90 data connections over both workers: ConnectionBinds that
        # reached the worker not owning their id moved there (and still relayed every byte).
        self.assertIn("which owns its CONNECTION-ID", log)
        # The counters (and so the ledger) hold the TCP bytes: what uclient sent and received.
        sessions = self.closed_sessions(10)
        self.assertEqual(sum(s[0] for s in sessions), r.sent_bytes, log)
        self.assertEqual(sum(s[1] for s in sessions), r.received_bytes, log)
        deadline = time.time() + 10
        while time.time() < deadline:
            rows = [s for s in self.ledger_sessions() if s["end_reason"] == "refresh-0"]
            if len(rows) == 10:
                break
            time.sleep(0.2)
        self.assertEqual(len(rows), 10)
        self.assertEqual(sum(s["bytes_from_client"] for s in rows), r.sent_bytes)
        self.assertEqual(sum(s["bytes_to_client"] for s in rows), r.received_bytes)
        for s in rows:
            self.assertEqual(s["transport"], "tcp")
            self.assertEqual(sum(p["bytes_to_peer"] for p in s["peers"]), s["bytes_from_client"])
            self.assertEqual(sum(p["bytes_from_peer"] for p in s["peers"]), s["bytes_to_client"])

    def test_uclient_active_mode_over_tls_zero_loss(self):
        self.start()
        r = harness.uclient(self.tls_port, ["-T", "-S", "-W", SECRET, "-u", "alice", "-X",
                                            "-m", "4", "-n", "100", "-l", "400", "-z", "5"])
        self.assertEqual(r.lost, 0, r)
        self.assertEqual(r.sent, 400, r)
        self.assertEqual(r.received, 400, r)
        self.assertIn(" tls client=127.0.0.1:", self.server.log())

    def test_uclient_passive_mode(self):
        # -T -P: the peer side is uclient's own plain TCP socket connecting to the relayed
        # address; the client gets a ConnectionAttempt and binds it. uclient 4.6.1 does not count
        # what its peer socket receives, so it always reports half of the messages "lost" in this
        # mode (coturn 4.6.1's own turnserver gives the same 50%): the client side must receive
        # every message of the peer, and the server's counters show that every byte of the
        # client reached the peer too.
        self.start()
        r = harness.uclient(self.server.port, ["-T", "-P", "-W", SECRET, "-u", "alice", "-X",
                                               "-m", "8", "-n", "100", "-l", "400", "-z", "5"])
        self.assertEqual(r.sent, 800, r)       # 4 clients and their 4 peers, 100 each
        self.assertEqual(r.received, 400, r)  # the clients got all 400 of their peers'
        log = self.server.log()
        self.assertRegex(log, r"tcp peer 127\.0\.0\.1:\d+ connection [0-9a-f]{8} bound to the data connection")
        sessions = [s for s in self.closed_sessions(4) if s != (0, 0)]
        self.assertEqual(len(sessions), 4, log)
        for to_peer, to_client in sessions:
            self.assertEqual((to_peer, to_client), (40000, 40000), log)

    # ---- the rules, with the Python client -----------------------------------------------------

    def test_connect_to_loopback_or_unspecified_is_403(self):
        # CVE-2018-4058, CVE-2020-26262: without allow-loopback-peers, Connect (like
        # CreatePermission) may not reach 127.0.0.1, nor 0.0.0.0 (which Linux routes to the host).
        self.start(loopback=False)
        peer = self.tcp_echo_peer()
        c = self.client()
        c.allocate_tcp()
        for ip in ("127.0.0.1", "0.0.0.0"):
            with self.subTest(ip=ip):
                r = c.connect_peer(ip, peer.port, expect_success=False)
                self.assertEqual(r.error_code, 403, r.attrs)
                self.assertIsNone(r.get(stun.CONNECTION_ID))
        r = c.create_permission("127.0.0.1", expect_success=False)
        self.assertEqual(r.error_code, 403)
        # The barrier: a connection of our own reaches the peer after the refusals were answered;
        # one the relay had made first would be ahead of it in the peer's accept queue.
        with socket.create_connection(("127.0.0.1", peer.port)) as marker:
            name = "127.0.0.1:%d" % marker.getsockname()[1]
            peer.wait_for_log(r"connection from %s\b" % re.escape(name))
        self.assertEqual(peer.connections(), 1, peer.log())
        log = self.server.log()
        self.assertRegex(log, r"refused Connect from 127\.0\.0\.1:\d+ \(tcp\) user=<\d+:alice>: 403 forbidden-peer "
                              r"peer 127\.0\.0\.1:%d: loopback" % peer.port)
        self.assertRegex(log, r"refused Connect .*: 403 forbidden-peer peer 0\.0\.0\.0:%d: unspecified" % peer.port)
        c.close()

    def test_connect_needs_a_permission_and_one_connection_per_peer(self):
        self.start()
        peer = self.tcp_echo_peer()
        c = self.client()
        c.allocate_tcp()
        r = c.connect_peer("127.0.0.1", peer.port, expect_success=False)
        self.assertEqual(r.error_code, 403)  # RFC 6062 §5.2: no permission
        c.create_permission("127.0.0.1")
        r = c.connect_peer("127.0.0.1", peer.port)
        self.assertIsNotNone(stun.connection_id(r))
        r = c.connect_peer("127.0.0.1", peer.port, expect_success=False)
        self.assertEqual(r.error_code, 446)  # Connection Already Exists
        # Nothing listens on a fresh free port: the connect is refused -> 447.
        r = c.connect_peer("127.0.0.1", harness.free_port(), expect_success=False)
        self.assertEqual(r.error_code, 447)
        c.close()

    def test_active_connection_relays_byte_for_byte(self):
        for tls in (False, True):
            with self.subTest(tls=tls):
                self.start()
                peer = self.tcp_echo_peer()
                c = self.client(tls)
                c.allocate_tcp()
                c.create_permission("127.0.0.1")
                cid = stun.connection_id(c.connect_peer("127.0.0.1", peer.port))
                d = c.data_connection()
                r = d.connection_bind(cid)
                self.assertEqual(r.cls, stun.SUCCESS)
                # No framing any more: 256 KiB of every byte value, echoed back unchanged (and
                # more than the relay buffers at once: flow control, not loss).
                payload = bytes(range(256)) * 1024
                d.sock.sendall(payload)
                got = d.take_buffered()
                d.sock.settimeout(5)
                while len(got) < len(payload):
                    chunk = d.sock.recv(65536)
                    self.assertTrue(chunk, "data connection closed after %d bytes" % len(got))
                    got += chunk
                self.assertEqual(got, payload)
                # A second ConnectionBind for the same id is 400.
                d2 = c.data_connection()
                self.assertEqual(d2.connection_bind(cid, expect_success=False).error_code, 400)
                # Refresh 0 ends the allocation, and with it the peer and data connections.
                c.refresh(0)
                d.sock.settimeout(5)
                self.assertEqual(d.sock.recv(100), b"")
                peer.wait_for_log(r"closed 127\.0\.0\.1:\d+ after %d bytes" % len(payload))
                n = len(payload)
                self.server.wait_for_log(r"client->peers \d+ pkts/%d B, peers->client \d+ pkts/%d B" % (n, n))
                self.server.wait_for_log(r"tcp peer 127\.0\.0\.1:%d connection [0-9a-f]{8} closed \(.*\): "
                                         r"%d B to the peer, %d B to the client" % (peer.port, n, n))
                for x in (c, d, d2):
                    x.close()
                self.server.stop()

    def test_passive_connection_with_data_before_the_bind(self):
        # A peer connects to the relayed address and talks at once; the client hears of it by a
        # ConnectionAttempt indication (RFC 6062 §4.4) on its control connection, binds it from a
        # new TLS connection, and then gets what the peer said before, followed by the rest.
        self.start()
        c = self.client(tls=True)
        c.allocate_tcp()
        relayed_ip, relayed_port = c.relayed[0]
        c.create_permission("127.0.0.1")
        peer = socket.create_connection((relayed_ip, relayed_port), timeout=5)
        peer.sendall(b"early words; ")
        m = c.receive_message(timeout=5)
        self.assertIsNotNone(m)
        self.assertEqual((m.method, m.cls), (stun.CONNECTION_ATTEMPT, stun.INDICATION))
        self.assertEqual(stun.parse_xor_address(m.get(stun.XOR_PEER_ADDRESS), m.txid), peer.getsockname())
        cid = stun.connection_id(m)
        d = c.data_connection()
        self.assertEqual(d.connection_bind(cid).cls, stun.SUCCESS)
        peer.sendall(b"and later ones")
        want = b"early words; and later ones"
        got = d.take_buffered()
        d.sock.settimeout(5)
        while len(got) < len(want):
            chunk = d.sock.recv(1000)
            self.assertTrue(chunk)
            got += chunk
        self.assertEqual(got, want)
        d.sock.sendall(b"hello peer")
        self.assertEqual(peer.recv(100), b"hello peer")
        # Closing the control connection ends the allocation and both connections.
        c.close()
        self.assertEqual(peer.recv(100), b"")
        self.assertEqual(d.sock.recv(100), b"")
        peer.close()
        d.close()

    def test_peer_without_permission_is_closed(self):
        self.start()
        c = self.client()
        c.allocate_tcp()
        relayed_ip, relayed_port = c.relayed[0]
        peer = socket.create_connection((relayed_ip, relayed_port), timeout=5)
        self.assertIn(peer.recv(100), (b"",))  # closed at once: no permission (RFC 6062 §5.3)
        self.assertIsNone(c.receive_message(timeout=0.5))
        peer.close()
        c.close()

    def test_connection_bind_with_an_unknown_id_is_400(self):
        self.start()
        c = self.client()
        c.allocate_tcp()
        d = c.data_connection()
        r = d.connection_bind(0x1234ABCD, expect_success=False)
        self.assertEqual(r.error_code, 400)
        self.server.wait_for_log(r"refused ConnectionBind .*: 400 bad-request: unknown or expired CONNECTION-ID")
        c.close()
        d.close()

    def test_no_connection_bind_within_the_timeout_closes_the_peer_connection(self):
        self.start("tcp-connection-bind-timeout=2")
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        c = self.client()
        c.allocate_tcp()
        c.create_permission("127.0.0.1")
        r = c.connect_peer("127.0.0.1", listener.getsockname()[1])
        cid = stun.connection_id(r)
        listener.settimeout(5)
        conn, _ = listener.accept()
        t0 = time.time()
        conn.settimeout(10)
        self.assertEqual(conn.recv(100), b"")  # closed by the server, no ConnectionBind came
        waited = time.time() - t0
        self.assertGreater(waited, 1.0)
        self.assertLess(waited, 5.0)
        # The id is gone: binding it now is 400; the allocation itself is alive.
        d = c.data_connection()
        self.assertEqual(d.connection_bind(cid, expect_success=False).error_code, 400)
        self.assertEqual(c.refresh(600).cls, stun.SUCCESS)
        # The same for a peer that connected in (passive).
        peer = socket.create_connection(c.relayed[0], timeout=10)
        self.assertEqual(c.receive_message(timeout=5).method, stun.CONNECTION_ATTEMPT)
        t0 = time.time()
        self.assertEqual(peer.recv(100), b"")
        self.assertLess(time.time() - t0, 5.0)
        for s in (conn, listener, peer):
            s.close()
        c.close()
        d.close()

    def test_no_tcp_relay_is_442_and_tcp_allocations_need_a_stream(self):
        self.start("no-tcp-relay")
        c = self.client()
        with self.assertRaises(stun.TurnError) as e:
            c.allocate_tcp()
        self.assertEqual(e.exception.code, 442)
        c.allocate()  # UDP allocations over TCP are still fine
        c.close()
        self.server.stop()
        self.start()
        user, password = stun.rest_credential(SECRET, "alice")
        u = stun.Client("127.0.0.1", self.server.port, user, password)  # over UDP
        with self.assertRaises(stun.TurnError) as e:
            u.allocate_tcp()
        self.assertEqual(e.exception.code, 400)  # RFC 6062 §5.1 item 2
        u.close()
        t = self.client()
        with self.assertRaises(stun.TurnError) as e:
            t.allocate_tcp([(stun.DONT_FRAGMENT, b"")])
        self.assertEqual(e.exception.code, 400)
        t.close()


if __name__ == "__main__":
    harness.main()
