"""A log output that stops taking lines never stops the relay.

turnpike logs to a FIFO that the test holds open but does not read (as journald behind a full
pipe, or a stalled disk): the workers hand their lines to queues and a logger thread is the only
one that waits. While the FIFO is full, turnpike answers STUN Binding, allocates, and relays
coturn's turnutils_uclient traffic with zero loss; the lines that did not fit are counted. When
the test starts reading, the queued lines arrive, followed by the count of those dropped."""
import fcntl
import os
import select
import signal
import struct
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import harness, stun  # noqa: E402

SECRET = "log-stall-secret"
F_SETPIPE_SZ = 1031


class FifoLog:
    """The read end of the log FIFO: held open from the start, read only when asked to."""

    def __init__(self, path):
        os.mkfifo(path)
        self.fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        fcntl.fcntl(self.fd, F_SETPIPE_SZ, 4096)  # a small pipe fills with a few lines
        self.text = b""
        self.reading = False
        self.lock = threading.Lock()
        self.thread = None

    def start_reading(self):
        self.reading = True
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        while self.reading:
            r, _, _ = select.select([self.fd], [], [], 0.1)
            if not r:
                continue
            try:
                chunk = os.read(self.fd, 65536)
            except BlockingIOError:
                continue
            if not chunk:
                time.sleep(0.05)  # the writer went away
                continue
            with self.lock:
                self.text += chunk

    def read_text(self):
        with self.lock:
            return self.text.decode("utf-8", "replace")

    def wait_for(self, needle, timeout):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if needle in self.read_text():
                return self.read_text()
            time.sleep(0.1)
        raise AssertionError("the log never said %r; it said:\n%s" % (needle, self.read_text()[-3000:]))

    def close(self):
        self.reading = False
        if self.thread:
            self.thread.join(2)
        os.close(self.fd)


class LogStall(harness.TestCase):
    def setUp(self):
        super().setUp()
        self.fifo = FifoLog(os.path.join(self.workdir, "log.fifo"))
        self.addCleanup(self.fifo.close)
        self.server = self.turnpike(["use-auth-secret", "static-auth-secret=" + SECRET, "allow-loopback-peers",
                                     "verbose", "log-file=" + os.path.join(self.workdir, "log.fifo")],
                                    ready=False)
        self.peer = self.echo_peer()
        harness.wait_until(self.binding_answered, timeout=10, what="turnpike answering STUN Binding")

    def binding_answered(self):
        c = stun.Client("127.0.0.1", self.server.port, timeout=1.0)
        try:
            r = c.transact(stun.Message(stun.BINDING, stun.REQUEST), sign=False, timeout=1.0, retries=1)
            return r is not None and r.cls == stun.SUCCESS
        finally:
            c.close()

    def allocate_and_release(self, n):
        username, password = stun.rest_credential(SECRET, "filler%d" % n)
        c = stun.Client("127.0.0.1", self.server.port, username, password)
        try:
            c.allocate()
            c.request(stun.REFRESH, [(stun.LIFETIME, struct.pack("!I", 0))])
        finally:
            c.close()

    def test_a_stalled_log_output_stalls_nothing_else(self):
        # Fill the pipe and the workers' queues: every allocation logs a few lines (verbose).
        start = time.time()
        for n in range(600):
            self.allocate_and_release(n)
        took = time.time() - start
        self.assertTrue(self.server.alive())
        # Still answering, and promptly: nothing on the relay path waits for the log.
        for _ in range(5):
            t0 = time.time()
            self.assertTrue(self.binding_answered())
            self.assertLess(time.time() - t0, 1.0)
        r = harness.uclient(self.server.port, ["-W", SECRET, "-u", "alice", "-e", "127.0.0.1",
                                               "-r", str(self.peer.port), "-c", "-X",
                                               "-m", "5", "-n", "100", "-l", "200", "-z", "5"])
        self.assertEqual((r.sent, r.received, r.lost), (500, 500, 0), r)
        self.assertEqual(self.fifo.read_text(), "")  # nobody has read a byte yet

        # The output moves again: the queued lines come, then what was dropped meanwhile.
        self.fifo.start_reading()
        text = self.fifo.wait_for("line(s) were dropped while the log output was not keeping up", timeout=30)
        self.assertRegex(text, r"warning: log: [1-9]\d* line\(s\) were dropped")
        self.assertIn("turnpike ready", text)
        self.assertIn("allocated: user=<", text)
        # A graceful stop still writes its last lines, now that the output is read.
        self.server.send_signal(signal.SIGTERM)
        self.fifo.wait_for("turnpike stopped", timeout=15)
        self.assertEqual(self.server.stop(), 0)
        print("600 allocations in %.1f s with the log stalled" % took)


if __name__ == "__main__":
    harness.main()
