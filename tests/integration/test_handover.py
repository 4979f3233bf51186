"""Restart and upgrade without dropping calls (DESIGN.md "Restart and upgrade"): SIGURG (or
turnpike-admin reload --binary, which sends it and waits) makes the running turnpike start a
fresh copy of its binary and hand it its sockets and UDP allocations.

A client relays ChannelData at 50 packets/s through a channel to a peer on this host across the
hand-over: the packets lost are counted and reported (at most a handful; the target is 0), the
peer sees the same relayed address before and after, a Refresh afterwards succeeds, the old
process exits, the pidfile names the new one, and the ledger (turnpike-admin sessions) shows one
session, ended once. A configuration that no longer parses, and a new binary that does not read
the running one's state version, are refused: the old process keeps relaying the same
allocation, with the reason in its log."""
import os
import signal
import socket
import ssl
import struct
import subprocess
import sys
import threading
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import certs, harness, stun  # noqa: E402

SECRET = "handover-secret"
RATE = 50  # packets per second, as one audio stream


class Peer:
    """A UDP echo peer on 127.0.0.1 that notes every source address it hears from."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.sources = set()
        self.running = True
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while self.running:
            try:
                data, src = self.sock.recvfrom(2048)
            except socket.timeout:
                continue
            self.sources.add(src)
            self.sock.sendto(data, src)

    def close(self):
        self.running = False
        self.thread.join()
        self.sock.close()


class Stream:
    """ChannelData at RATE packets/s with a sequence number; echoes counted by a receiver."""

    def __init__(self, client, channel):
        self.client, self.channel = client, channel
        self.sent = 0
        self.received = set()
        self.running = True
        self.rx = threading.Thread(target=self._receive, daemon=True)
        self.tx = threading.Thread(target=self._send, daemon=True)
        self.rx.start()
        self.tx.start()

    def _send(self):
        start = time.time()
        while self.running:
            self.client.channel_data(self.channel, struct.pack("!I", self.sent) + b"x" * 156)
            self.sent += 1
            time.sleep(max(0.0, start + self.sent / RATE - time.time()))

    def _receive(self):
        while self.running or len(self.received) < self.sent:
            got = self.client.receive_data(timeout=0.5)
            if got is None:
                if not self.running:
                    return
                continue
            kind, _, data = got
            if kind == "channel" and len(data) >= 4:
                self.received.add(struct.unpack("!I", data[:4])[0])

    def stop(self):
        self.running = False
        self.tx.join()
        self.rx.join(5)
        return self.sent - len(self.received)


def read_pid(path):
    try:
        with open(path) as f:
            return int(f.read())
    except (OSError, ValueError):
        return None


class Handover(harness.TestCase):
    def setUp(self):
        super().setUp()
        self.pidfile = os.path.join(self.workdir, "turnpike.pid")
        self.peer = Peer()

    def tearDown(self):
        self.peer.close()
        super().tearDown()

    def start(self, env=None):
        saved = dict(os.environ)
        os.environ.update(env or {})
        try:
            server = self.turnpike(["use-auth-secret", "static-auth-secret=" + SECRET,
                                    "allow-loopback-peers", "pidfile=" + self.pidfile])
        finally:
            os.environ.clear()
            os.environ.update(saved)
        # The old process leaves; the new one is in its process group, stopped by pid here.
        self.addCleanup(self._stop_successor, server)
        return server

    def _stop_successor(self, server):
        pid = read_pid(self.pidfile)
        if pid and pid != server.pid:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def client(self, server):
        user, password = stun.rest_credential(SECRET, "alice")
        c = stun.Client("127.0.0.1", server.port, user, password)
        c.allocate()
        c.channel_bind(0x4000, "127.0.0.1", self.peer.port)
        self.addCleanup(c.close)
        return c

    def wait_pid_change(self, old_pid, timeout=15):
        def changed():
            pid = read_pid(self.pidfile)
            return pid if pid and pid != old_pid and os.path.exists("/proc/%d" % pid) else None
        return harness.wait_until(changed, timeout, "the pidfile to name the new process")

    def test_channel_data_goes_on_across_the_hand_over(self):
        # Where systemd would listen (NOTIFY_SOCKET): the old process names the new main PID.
        notify_path = os.path.join(self.workdir, "notify")
        notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        notify.bind(notify_path)
        notify.settimeout(0.1)
        self.addCleanup(notify.close)
        server = self.start({"NOTIFY_SOCKET": notify_path})
        c = self.client(server)
        stream = Stream(c, 0x4000)
        time.sleep(2)
        sent_before = stream.sent
        # turnpike-admin reload --binary sends SIGURG and waits for the outcome (the postinst's
        # command).
        p = subprocess.run([harness.ADMIN, "reload", "--binary", "-c", server.config_path],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stdout + server.log())
        new_pid = self.wait_pid_change(server.pid)
        self.assertIn("handed over: process %d -> %d" % (server.pid, new_pid), p.stdout)
        server.proc.wait(15)
        self.assertEqual(server.proc.returncode, 0, server.log())
        notes = []
        while True:
            try:
                notes.append(notify.recv(4096).decode())
            except socket.timeout:
                break
        self.assertIn("MAINPID=%d" % new_pid, notes)
        time.sleep(2)
        lost = stream.stop()
        print("hand-over at 50 packets/s: %d sent (%d before the signal), %d lost"
              % (stream.sent, sent_before, lost), flush=True)
        self.assertGreater(stream.sent, 150)
        self.assertLessEqual(lost, 5, server.log())
        log = server.log()
        self.assertIn("took over 1 allocation(s)", log)
        self.assertIn("turnpike handed over to process %d" % new_pid, log)
        # RFC 8656 §2.2: the same relayed address, as the peer sees it.
        self.assertEqual(self.peer.sources, {tuple(c.relayed[0])}, self.peer.sources)
        # The credential and the nonce still work: a Refresh after the hand-over succeeds.
        c.refresh(600)
        c.channel_data(0x4000, b"after refresh")
        got = c.receive_data(timeout=2)
        self.assertEqual(got[2], b"after refresh")
        # One session in the ledger; it ends once, in the new process.
        c.refresh(0)
        os.kill(new_pid, signal.SIGTERM)
        harness.wait_until(lambda: not os.path.exists("/proc/%d" % new_pid), 15, "the new process to stop")
        sessions = harness.admin_json("sessions", "--ledger", server.ledger_path)
        self.assertEqual(len(sessions), 1, sessions)
        self.assertEqual(sessions[0]["end_reason"], "refresh-0", sessions)
        self.assertGreaterEqual(sessions[0]["packets_from_client"], stream.sent - lost, sessions)

    def test_more_sockets_than_one_message_carries(self):
        # SCM_RIGHTS carries at most 253 descriptors per message: 300 allocations (and the
        # listeners) go in several, and every one of them is taken over.
        narrow = harness.relay_port_range
        harness.relay_port_range = lambda size=200: narrow(400)  # room for 300 relay ports
        try:
            server = self.start()
        finally:
            harness.relay_port_range = narrow
        clients = []
        for i in range(300):
            user, password = stun.rest_credential(SECRET, "user%d" % i)
            c = stun.Client("127.0.0.1", server.port, user, password)
            self.addCleanup(c.close)
            c.allocate()
            clients.append(c)
        clients[-1].channel_bind(0x4000, "127.0.0.1", self.peer.port)
        server.send_signal(signal.SIGURG)
        self.wait_pid_change(server.pid)
        server.proc.wait(15)
        self.assertIn("took over 300 allocation(s)", server.log())
        for c in clients:
            c.refresh(600)
        clients[-1].channel_data(0x4000, b"last")
        self.assertEqual(clients[-1].receive_data(timeout=2)[2], b"last")

    def test_tcp_clients_are_closed_and_the_tcp_listener_goes_on(self):
        # A TURN-over-TCP client's connection cannot move: it is closed, its session ends as
        # `shutdown` in the ledger, and the TCP listener (handed over) takes new clients.
        server = self.start()
        udp = self.client(server)
        user, password = stun.rest_credential(SECRET, "bob")
        tcp = stun.Client("127.0.0.1", server.port, user, password, tcp=True)
        self.addCleanup(tcp.close)
        tcp.allocate()
        server.send_signal(signal.SIGURG)
        new_pid = self.wait_pid_change(server.pid)
        server.proc.wait(15)
        with self.assertRaises((ConnectionError, OSError)):
            tcp.recv_raw(timeout=5)
        again = stun.Client("127.0.0.1", server.port, user, password, tcp=True)
        self.addCleanup(again.close)
        again.allocate()
        udp.refresh(600)

        def rows():
            sessions = harness.admin_json("sessions", "--ledger", server.ledger_path)
            by_user = {}
            for row in sessions:
                by_user.setdefault(row["username"].split(":")[-1], []).append(row)
            return (sessions, by_user) if len(by_user.get("bob", [])) == 2 else None
        sessions, by_user = harness.wait_until(rows, 10, "the new process to record the new TCP session")
        self.assertEqual(len(by_user["alice"]), 1, sessions)
        self.assertIsNone(by_user["alice"][0]["end_reason"], sessions)
        self.assertEqual(sorted(str(r["end_reason"]) for r in by_user["bob"]), ["None", "shutdown"], sessions)
        os.kill(new_pid, signal.SIGTERM)
        harness.wait_until(lambda: not os.path.exists("/proc/%d" % new_pid), 15, "the new process to stop")

    def assert_still_relaying(self, server, c, reason, admin=False):
        if admin:
            # By its pidfile: the configuration no longer parses, for turnpike-admin either.
            p = subprocess.run([harness.ADMIN, "reload", "--binary", "--pidfile", self.pidfile,
                                "--timeout", "3"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, timeout=60)
            self.assertEqual(p.returncode, 1, p.stdout)
            self.assertIn("still running after 3 s", p.stdout)
        else:
            server.send_signal(signal.SIGURG)
        log = server.wait_for_log("hand-over refused, relaying goes on here: .*" + reason, 15)
        self.assertTrue(server.alive(), log)
        self.assertEqual(read_pid(self.pidfile), server.pid)
        stream = Stream(c, 0x4000)
        time.sleep(1)
        lost = stream.stop()
        self.assertGreater(stream.sent, 30)
        self.assertLessEqual(lost, 1, log)
        c.refresh(600)
        self.assertEqual(self.peer.sources, {tuple(c.relayed[0])})
        return log

    def test_a_configuration_that_does_not_parse_leaves_the_old_process_relaying(self):
        server = self.start()
        c = self.client(server)
        with open(server.config_path, "a") as f:
            f.write("no-such-option=1\n")
        log = self.assert_still_relaying(server, c, "the new configuration: .*no-such-option",
                                         admin=True)
        self.assertIn(server.config_path, log)

    def test_a_state_version_the_new_binary_does_not_read_leaves_the_old_process_relaying(self):
        # The new binary reads no version at all: as an older turnpike meeting a newer state.
        server = self.start({"TURNPIKE_TAKEOVER_MAX_VERSION": "0"})
        c = self.client(server)
        self.assert_still_relaying(server, c, "hand-over state version 1, this binary reads none")


class HandoverTls(certs.ServerCertificate, harness.TestCase):
    def _unverified(self):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.load_verify_locations(self.ca.cert)
        ctx.check_hostname = False
        return ctx

    def test_tls_clients_get_a_close_notify_and_the_tls_listeners_go_on(self):
        # RFC 8446 §6.1: a TLS client of the old process sees a clean end (close_notify), not a
        # truncation; the TLS listener, handed over, serves new clients with the certificate
        # the new process loaded.
        pidfile = os.path.join(self.workdir, "turnpike.pid")
        tls_port, check_port = harness.free_port(), harness.free_port()
        server = self.turnpike(["use-auth-secret", "static-auth-secret=" + SECRET, "allow-loopback-peers",
                                "cert=" + self.cert, "pkey=" + self.key, "tls-listening-port=%d" % tls_port,
                                "check-listening-port=%d" % check_port, "pidfile=" + pidfile])
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.load_verify_locations(self.ca.cert)
        ctx.check_hostname = False
        ctx.set_alpn_protocols(["stun.turn"])
        user, password = stun.rest_credential(SECRET, "carol")
        old = stun.Client("127.0.0.1", tls_port, user, password, tcp=True, tls=ctx)
        self.addCleanup(old.close)
        old.allocate()
        server.send_signal(signal.SIGURG)
        server.wait_for_log("turnpike handed over to process", 15)
        server.proc.wait(15)
        try:
            with self.assertRaises(ConnectionError):  # the stream ended cleanly: b""
                old.recv_raw(timeout=5)
        except ssl.SSLEOFError as e:
            self.fail("closed without a close_notify: %s" % e)
        new = stun.Client("127.0.0.1", tls_port, user, password, tcp=True, tls=ctx)
        self.addCleanup(new.close)
        new.allocate()
        new.refresh(0)
        # The check page's HTTPS socket went along: the new process answers on it.
        page = urllib.request.urlopen("https://127.0.0.1:%d/turnpike-check/" % check_port,
                                      context=self._unverified(), timeout=5)
        self.assertEqual(page.status, 200)
        pid = read_pid(pidfile)
        self.assertNotEqual(pid, server.pid)
        os.kill(pid, signal.SIGTERM)
        harness.wait_until(lambda: not os.path.exists("/proc/%d" % pid), 15, "the new process to stop")


if __name__ == "__main__":
    harness.main()
