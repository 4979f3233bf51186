"""systemd's notification protocol (sd_notify(3), the unit's Type=notify) for real: the test is
the service manager. It binds a unix datagram socket with SO_PASSCRED (as systemd does), starts
turnpike with NOTIFY_SOCKET pointing at it, and reads what arrives:

- READY=1 comes from turnpike's own pid, and only once every listener accepts: at the moment
  it arrives, a STUN Binding request on UDP is answered, the TCP and TLS ports accept a
  connection and TLS completes a handshake;
- STATUS= says how many allocations and workers there are, and is sent again every 5 s with
  the current count (an allocation made by the test shows up);
- SIGHUP: RELOADING=1 with MONOTONIC_USEC= (this host's CLOCK_MONOTONIC, within the seconds
  around the signal), then READY=1 again with STATUS=;
- SIGTERM: STOPPING=1 before the process exits;
- SIGURG (the hand-over): MAINPID= of the new process from the old one, READY=1 and MAINPID=
  from the new one, and no STOPPING=1 from the old one;
- without NOTIFY_SOCKET nothing is sent and turnpike runs as before (every other test)."""
import os
import re
import signal
import socket
import ssl
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import certs, harness, stun  # noqa: E402

SECRET = "notify-secret"


class NotifySocket:
    """The service manager's end: a unix datagram socket, credentials of each sender kept."""

    def __init__(self, path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        self.messages = []  # (pid, {field: value}, arrival monotonic time)

    def close(self):
        self.sock.close()

    def receive(self, timeout):
        """The next message as (pid, fields, arrival time), or None after `timeout` seconds."""
        self.sock.settimeout(timeout)
        try:
            data, ancillary, _, _ = self.sock.recvmsg(4096, socket.CMSG_SPACE(struct.calcsize("3i")))
        except socket.timeout:
            return None
        arrived = time.monotonic()
        pid = None
        for level, kind, payload in ancillary:
            if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                pid, _, _ = struct.unpack("3i", payload[:struct.calcsize("3i")])
        fields = {}
        for line in data.decode("utf-8", "replace").split("\n"):
            if "=" in line:
                k, v = line.split("=", 1)
                fields[k] = v
        message = (pid, fields, arrived)
        self.messages.append(message)
        return message

    def wait_for(self, field, timeout=10.0, value=None):
        """Reads messages until one carries `field` (with `value`, a regex, when given)."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("no %s%s within %.0f s; received: %r"
                                     % (field, "" if value is None else "~" + value, timeout,
                                        [m[1] for m in self.messages]))
            m = self.receive(left)
            if m and field in m[1] and (value is None or re.search(value, m[1][field])):
                return m


class ServiceNotify(harness.TestCase):
    def setUp(self):
        super().setUp()
        self.notify = NotifySocket(os.path.join(self.workdir, "notify.sock"))
        ca = certs.Ca(self.workdir)
        self.cert, self.key, _ = ca.issue("server")
        self.tls_port = harness.free_port()

    def tearDown(self):
        super().tearDown()
        self.notify.close()

    def start(self, notify=True):
        env = dict(os.environ)
        env.pop("NOTIFY_SOCKET", None)
        if notify:
            env["NOTIFY_SOCKET"] = self.notify.path
        return self.turnpike(["use-auth-secret", "static-auth-secret=" + SECRET,
                              "cert=" + self.cert, "pkey=" + self.key,
                              "tls-listening-port=%d" % self.tls_port],
                             ready=False, env=env)

    def assert_every_port_accepts(self, server):
        # UDP: a Binding request is answered (RFC 8489 §6.3.4).
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            u.settimeout(2)
            request = stun.Message(stun.BINDING, stun.REQUEST)
            u.sendto(request.encode(), ("127.0.0.1", server.port))
            answer = stun.Message.decode(u.recv(2048))
            self.assertEqual(answer.txid, request.txid)
        # TCP on listening-port, TLS on tls-listening-port with a full handshake.
        with socket.create_connection(("127.0.0.1", server.port), timeout=2):
            pass
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        with socket.create_connection(("127.0.0.1", self.tls_port), timeout=2) as raw:
            with ctx.wrap_socket(raw) as t:
                self.assertTrue(t.version())

    def test_ready_after_every_listener_then_status_reload_and_stop(self):
        started = time.monotonic()
        server = self.start()
        pid, fields, _ = self.notify.wait_for("READY", timeout=15)
        self.assertEqual(fields["READY"], "1")
        # The unit's main process: the pid systemd started (a hand-over changes it by MAINPID=).
        self.assertEqual(pid, server.pid)
        self.assert_every_port_accepts(server)
        server.wait_for_log(r"turnpike ready")
        self.assertRegex(fields.get("STATUS", ""), r"^0 allocations, 2 workers$")
        print("READY=1 %.2f s after start; STATUS=%s" % (time.monotonic() - started, fields["STATUS"]))

        # An allocation shows in the next periodic STATUS= (every 5 s).
        client = stun.Client("127.0.0.1", server.port, *stun.rest_credential(SECRET, "alice"))
        client.allocate()
        pid, fields, _ = self.notify.wait_for("STATUS", timeout=8, value=r"^1 allocation, 2 workers$")
        self.assertEqual(pid, server.pid)
        self.assertNotIn("READY", fields)

        # SIGHUP: RELOADING=1 with MONOTONIC_USEC, then READY=1 and the status again.
        before = time.monotonic()
        server.send_signal(signal.SIGHUP)
        _, fields, _ = self.notify.wait_for("RELOADING", timeout=10)
        after = time.monotonic()
        self.assertEqual(fields["RELOADING"], "1")
        usec = int(fields["MONOTONIC_USEC"])
        # Same clock as this process's time.monotonic() (CLOCK_MONOTONIC on Linux).
        self.assertGreaterEqual(usec, int(before * 1e6) - 1000)
        self.assertLessEqual(usec, int(after * 1e6) + 1000)
        _, fields, _ = self.notify.wait_for("READY", timeout=10)
        self.assertEqual(fields.get("STATUS"), "1 allocation, 2 workers")
        server.wait_for_log(r"reloaded .*1 secret")

        # SIGTERM: STOPPING=1 before the process is gone.
        client.close()
        server.send_signal(signal.SIGTERM)
        pid, fields, _ = self.notify.wait_for("STOPPING", timeout=10)
        self.assertEqual(pid, server.pid)
        self.assertEqual(server.proc.wait(15), 0)

    def test_hand_over_moves_the_main_pid_to_the_new_process(self):
        # SIGURG: the old process names the new one MAINPID= (and sends no STOPPING=1), the new
        # one sends READY=1 with MAINPID= itself; the service stays up in between.
        server = self.start()
        self.notify.wait_for("READY", timeout=15)
        server.send_signal(signal.SIGURG)
        pid, fields, _ = self.notify.wait_for("MAINPID", timeout=20)
        new_pid = int(fields["MAINPID"])
        if pid == server.pid:
            self.assertNotEqual(new_pid, server.pid)
            ready_pid, ready, _ = self.notify.wait_for("READY", timeout=20)
        else:  # the new process's READY=1 came first
            ready_pid, ready = pid, fields
        self.assertEqual(ready_pid, new_pid)
        self.assertEqual(ready.get("READY"), "1")
        self.assertEqual(ready.get("MAINPID"), str(new_pid))
        self.assertEqual(server.proc.wait(15), 0, server.log())
        self.assertIn("turnpike handed over to process %d" % new_pid, server.log())
        # Nothing from the old process said the service was stopping.
        self.assertFalse([m for m in self.notify.messages if m[0] == server.pid and "STOPPING" in m[1]],
                         self.notify.messages)
        os.kill(new_pid, signal.SIGTERM)
        pid, _, _ = self.notify.wait_for("STOPPING", timeout=15)
        self.assertEqual(pid, new_pid)
        harness.wait_until(lambda: not os.path.exists("/proc/%d" % new_pid), 15, "the new process to stop")

    def test_nothing_is_sent_without_notify_socket(self):
        server = self.start(notify=False)
        server.wait_ready()
        self.assert_every_port_accepts(server)
        server.send_signal(signal.SIGHUP)
        server.wait_for_log(r"reloaded ")
        self.assertIsNone(self.notify.receive(1.0))
        self.assertEqual(server.stop(), 0)


if __name__ == "__main__":
    harness.main()
