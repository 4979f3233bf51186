"""Shared helpers for turnpike's integration tests.

Tests start real programs (the daemon, coturn's turnutils_* clients, Prosody, Chromium) on
127.0.0.1 and ports chosen here, and stop them by pid. Nothing here mocks anything.
"""
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.environ.get("TURNPIKE_SOURCE", os.path.abspath(os.path.join(HERE, "..", "..", "..")))
BUILD = os.environ.get("TURNPIKE_BUILD", os.path.join(SOURCE, "build"))
BIN = os.path.join(BUILD, "bin")
TURNPIKE = os.path.join(BIN, "turnpike")
ADMIN = os.path.join(BIN, "turnpike-admin")

SKIP = 77  # ctest SKIP_RETURN_CODE


def skip_file(reason):
    """Skips the whole test file: ctest shows it as skipped, with the reason."""
    print("SKIPPED: " + reason, flush=True)
    sys.exit(SKIP)


def require(*programs):
    """Missing programs are a failure (the project's own files install them), not a skip."""
    missing = [p for p in programs if not shutil.which(p)]
    if missing:
        raise RuntimeError("missing programs: %s (run `make test`, which installs them)" % " ".join(missing))


def free_port(host="127.0.0.1", family=socket.AF_INET):
    """A port free for both UDP and TCP on `host`, from the kernel's ephemeral range."""
    for _ in range(200):
        u = socket.socket(family, socket.SOCK_DGRAM)
        u.bind((host, 0))
        port = u.getsockname()[1]
        t = socket.socket(family, socket.SOCK_STREAM)
        try:
            t.bind((host, port))
            return port
        except OSError:
            continue
        finally:
            u.close()
            t.close()
    raise RuntimeError("no free port")


def relay_port_range(size=200):
    """A random block of relay ports; parallel tests rarely overlap, and the kernel arbitrates."""
    base = random.randrange(20000, 32000 - size)
    return base, base + size - 1


class Process:
    """A program started by a test and stopped by pid, with its output in a file."""

    def __init__(self, argv, log_path, env=None, cwd=None):
        self.argv = argv
        self.log_path = log_path
        self.log_file = open(log_path, "wb")
        self.proc = subprocess.Popen(argv, stdout=self.log_file, stderr=subprocess.STDOUT,
                                     env=env, cwd=cwd, start_new_session=True)

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc.poll() is None

    def log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def wait_for_log(self, pattern, timeout=10.0):
        deadline = time.time() + timeout
        rx = re.compile(pattern)
        while time.time() < deadline:
            text = self.log()
            if rx.search(text):
                return text
            if not self.alive():
                raise RuntimeError("%s exited (%s) before logging %r:\n%s"
                                   % (self.argv[0], self.proc.returncode, pattern, text))
            time.sleep(0.05)
        raise TimeoutError("%s did not log %r within %.0fs:\n%s" % (self.argv[0], pattern, timeout, self.log()))

    def wait_for_count(self, text, count, timeout=10.0):
        """Waits until `text` occurs at least `count` times in the log; returns the log."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            log = self.log()
            if log.count(text) >= count:
                return log
            time.sleep(0.05)
        raise TimeoutError("%r appeared %d times, not %d, within %.0fs:\n%s"
                           % (text, self.log().count(text), count, timeout, self.log()))

    def send_signal(self, sig):
        if self.alive():
            os.kill(self.proc.pid, sig)

    def stop(self, sig=signal.SIGTERM, timeout=15.0):
        """Stops the process by pid (its process group: a wrapper script takes its children
        with it); returns its exit status."""
        if self.alive():
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)  # anything the program left behind
        except (ProcessLookupError, PermissionError):
            pass
        self.log_file.close()
        return self.proc.returncode


class Turnpike(Process):
    """The daemon with a config written from `options` (a list of lines)."""

    def __init__(self, workdir, options, args=(), defaults=True, name="turnpike", argv_prefix=(),
                 env=None):
        """argv_prefix: a command that runs the daemon (e.g. prlimit with its options and --);
        env: its environment (default: the test's)."""
        self.port = free_port()
        self.min_port, self.max_port = relay_port_range()
        lines = []
        if defaults:
            lines += ["listening-ip=127.0.0.1", "listening-port=%d" % self.port,
                      "min-port=%d" % self.min_port, "max-port=%d" % self.max_port,
                      "relay-threads=2", "realm=test.local",
                      "ledger=" + os.path.join(workdir, name + "-ledger.db"),
                      "control-socket=" + os.path.join(workdir, name + ".control")]
        self.ledger_path = os.path.join(workdir, name + "-ledger.db")
        self.control_socket = os.path.join(workdir, name + ".control")
        lines += list(options)
        self.config_path = os.path.join(workdir, name + ".conf")
        with open(self.config_path, "w") as f:
            f.write("\n".join(lines) + "\n")
        super().__init__(list(argv_prefix) + [TURNPIKE, "-c", self.config_path] + list(args),
                         os.path.join(workdir, name + ".log"), env=env)

    def wait_ready(self, timeout=10.0):
        return self.wait_for_log(r"turnpike ready", timeout)


def wait_until(predicate, timeout=8.0, what="the condition"):
    """Polls `predicate` until it returns something true (and returns that); AssertionError
    naming `what` when it never does within `timeout` seconds."""
    deadline = time.time() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.time() >= deadline:
            raise AssertionError("timed out after %.0fs waiting for %s" % (timeout, what))
        time.sleep(0.1)


def admin_json(*args):
    """Runs turnpike-admin with --json and returns the parsed output."""
    import json
    p = subprocess.run([ADMIN] + list(args) + ["--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if p.returncode != 0:
        raise RuntimeError("turnpike-admin %s failed (%d): %s" % (" ".join(args), p.returncode, p.stderr))
    return json.loads(p.stdout)


class EchoPeer(Process):
    """coturn's turnutils_peer: a UDP echo server."""

    def __init__(self, workdir, host="127.0.0.1"):
        require("turnutils_peer")
        self.host = host
        self.port = free_port(host, socket.AF_INET6 if ":" in host else socket.AF_INET)
        super().__init__(["turnutils_peer", "-L", host, "-p", str(self.port)],
                         os.path.join(workdir, "peer-%d.log" % self.port))
        self._wait_echo()

    def _wait_echo(self):
        fam = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        s = socket.socket(fam, socket.SOCK_DGRAM)
        s.settimeout(0.2)
        try:
            for _ in range(50):
                s.sendto(b"ping", (self.host, self.port))
                try:
                    if s.recvfrom(64)[0] == b"ping":
                        return
                except socket.timeout:
                    pass
        finally:
            s.close()
        raise RuntimeError("turnutils_peer did not start:\n" + self.log())


class TcpEchoPeer(Process):
    """A TCP echo server (lib/tcp_echo_peer.py) for RFC 6062 TCP relay tests."""

    def __init__(self, workdir, host="127.0.0.1"):
        self.host = host
        self.port = free_port(host, socket.AF_INET6 if ":" in host else socket.AF_INET)
        super().__init__([sys.executable, os.path.join(HERE, "tcp_echo_peer.py"), host, str(self.port)],
                         os.path.join(workdir, "tcp-peer-%d.log" % self.port))
        self.wait_for_log(r"listening ")

    def connections(self):
        return self.log().count("connection from ")


def _hex_address(text):
    """/proc/net/udp's "0100007F:0CB6" as "127.0.0.1:3254" (IPv6 left as the kernel writes it)."""
    ip, port = text.split(":")
    if len(ip) == 8:
        ip = socket.inet_ntoa(bytes.fromhex(ip)[::-1])
    return "%s:%d" % (ip, int(port, 16))


class UclientResult:
    def __init__(self, returncode, output):
        self.returncode = returncode
        self.output = output
        m = re.findall(r"tot_send_msgs=(\d+), tot_recv_msgs=(\d+)", output)
        self.sent, self.received = (int(m[-1][0]), int(m[-1][1])) if m else (0, 0)
        m = re.search(r"Total lost packets (\d+) \(([\d.]+)%\)", output)
        self.lost = int(m.group(1)) if m else None
        self.lost_percent = float(m.group(2)) if m else None
        m = re.findall(r"tot_send_bytes ~ (\d+), tot_recv_bytes ~ (\d+)", output)  # the last line is the total
        self.sent_bytes, self.received_bytes = (int(m[-1][0]), int(m[-1][1])) if m else (0, 0)
        self.allocation_failed = "Cannot complete Allocation" in output
        self.error_codes = [int(c) for c in re.findall(r"error (\d{3})", output)]
        self.socket_drops = {}

    def __repr__(self):
        drops = ", ".join("%s: %d" % (_hex_address(a), n) for a, n in sorted(self.socket_drops.items()))
        return "<uclient rc=%s sent=%d received=%d lost=%s; drops in socket buffers: %s>\n%s" % (
            self.returncode, self.sent, self.received, self.lost,
            drops or "none on the sockets still open (the server's, the peer's)", self.output[-3000:])


def udp_drops():
    """{"local address:port" (hex, as the kernel writes it): datagrams dropped} for every UDP
    socket of this network namespace: a full receive buffer shows up here."""
    drops = {}
    for name in ("/proc/net/udp", "/proc/net/udp6"):
        try:
            with open(name) as f:
                next(f)
                for line in f:
                    fields = line.split()
                    drops[fields[1]] = drops.get(fields[1], 0) + int(fields[-1])
        except OSError:
            pass
    return drops


def uclient(server_port, args, server="127.0.0.1", timeout=120):
    """Runs coturn's turnutils_uclient against the server and parses what it prints, noting
    which of the sockets still open afterwards (the server's, the peer's) dropped datagrams."""
    require("turnutils_uclient")
    argv = ["turnutils_uclient", "-p", str(server_port)] + list(args) + [server]
    before = udp_drops()
    try:
        p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout)
        r = UclientResult(p.returncode, p.stdout.decode("utf-8", "replace"))
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b"").decode("utf-8", "replace")
        r = UclientResult(-1, out + "\n[timed out after %ds]" % timeout)
    after = udp_drops()
    r.socket_drops = {a: n - before.get(a, 0) for a, n in after.items() if n > before.get(a, 0)}
    return r


class TestCase(unittest.TestCase):
    """Gives each test a scratch directory and stops every process it started."""

    def setUp(self):
        self.workdir = tempfile.mkdtemp(prefix="turnpike-test-")
        self.processes = []

    def tearDown(self):
        for p in reversed(self.processes):
            p.stop()
        if self._failed():
            print("kept for a look: %s" % self.workdir, file=sys.stderr, flush=True)
        else:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def _failed(self):
        outcome = self._outcome
        if hasattr(outcome, "errors"):  # Python < 3.11
            return any(e for _, e in outcome.errors)
        result = outcome.result  # 3.11+: failures are recorded as they happen
        return any(test is self for test, _ in result.errors + result.failures)

    def track(self, process):
        self.processes.append(process)
        return process

    def turnpike(self, options, args=(), ready=True, **kw):
        t = self.track(Turnpike(self.workdir, options, args, **kw))
        if ready:
            t.wait_ready()
        return t

    def echo_peer(self, host="127.0.0.1"):
        return self.track(EchoPeer(self.workdir, host))

    def tcp_echo_peer(self, host="127.0.0.1"):
        return self.track(TcpEchoPeer(self.workdir, host))

    def web_backend(self, cert, key):
        """An HTTPS server (lib/web_backend.py) on 127.0.0.1, as the web server behind
        mux-listening-port; returns its port once it accepts connections."""
        port = free_port()
        self.track(Process([sys.executable, "-u", os.path.join(HERE, "web_backend.py"), str(port), cert, key],
                           os.path.join(self.workdir, "web-backend-%d.log" % port)))

        def listening():
            with socket.socket() as s:
                return s.connect_ex(("127.0.0.1", port)) == 0
        wait_until(listening, what="the web backend")
        return port


def main():
    """Runs the unittest cases of the calling file; exit 1 on failure, 0 when all passed."""
    result = unittest.main(exit=False, verbosity=2).result
    if not result.wasSuccessful():
        sys.exit(1)
    if result.skipped and len(result.skipped) == result.testsRun:
        sys.exit(SKIP)
    if result.skipped:
        # A partly skipped file must not look like a pass.
        print("some cases were skipped: " + ", ".join(str(t) for t, _ in result.skipped))
        sys.exit(1)
    sys.exit(0)
