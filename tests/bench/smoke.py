"""ctest smoke run of the benchmark load generator (so that `make bench` cannot rot unnoticed):
2 authenticated allocations x 100 ChannelData round trips through turnpike, none lost; and the
allocation mode against the same server. Self-contained: starts turnpike on a free port and
stops it by pid."""
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import unittest

SOURCE = os.environ.get("TURNPIKE_SOURCE", os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
BUILD = os.environ.get("TURNPIKE_BUILD", os.path.join(SOURCE, "build"))
BIN = os.path.join(BUILD, "bin")
SECRET = "bench-smoke-secret"


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def result(output):
    for line in output.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT "):])
    raise AssertionError("no RESULT line in:\n" + output)


class LoadgenSmoke(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="turnpike-bench-smoke-")
        self.port = free_port()
        self.min_port = 20000 + 1000 * (os.getpid() % 10)
        conf = os.path.join(self.dir, "turnpike.conf")
        with open(conf, "w") as f:
            f.write("\n".join(["listening-ip=127.0.0.1", "listening-port=%d" % self.port,
                               "min-port=%d" % self.min_port, "max-port=%d" % (self.min_port + 999),
                               "relay-threads=2", "realm=bench.local", "no-ledger",
                               "use-auth-secret", "static-auth-secret=" + SECRET, "allow-loopback-peers"]) + "\n")
        self.log_path = os.path.join(self.dir, "turnpike.log")
        self.log = open(self.log_path, "wb")
        self.server = subprocess.Popen([os.path.join(BIN, "turnpike"), "-c", conf], stdout=self.log,
                                       stderr=subprocess.STDOUT)
        deadline = time.time() + 10
        while b"turnpike ready" not in open(self.log_path, "rb").read():
            self.assertIsNone(self.server.poll(), open(self.log_path).read())
            self.assertLess(time.time(), deadline, "turnpike did not start")
            time.sleep(0.05)

    def tearDown(self):
        self.server.terminate()
        self.server.wait(15)
        self.log.close()

    def loadgen(self, *args):
        argv = [os.path.join(BIN, "turnpike-loadgen"), "--server", "127.0.0.1:%d" % self.port, "--secret", SECRET,
                "--server-pid", str(self.server.pid), "--json"] + list(args)
        p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
        out = p.stdout.decode("utf-8", "replace")
        self.assertEqual(p.returncode, 0, out + open(self.log_path).read())
        return result(out)

    def test_two_allocations_hundred_packets(self):
        # A smoke run, not a measurement: paced, and patient with a loaded machine (a packet
        # counts as lost only after two seconds), so that any loss means a real bug.
        r = self.loadgen("--allocations", "2", "--packets", "100", "--size", "200", "--rate", "200",
                         "--loss-timeout-ms", "2000", "--max-loss", "0")
        self.assertEqual(r["sent"], 200, r)
        self.assertEqual(r["round_trips"], 200, r)
        self.assertEqual(r["relayed_packets"], 400, r)
        self.assertGreater(r["rtt_p50_us"], 0, r)

    def test_hold_mode(self):
        # The whole-daemon scale scenario's generator (scale_bench.py): allocations held and
        # refreshed with signed Refresh requests, every one answered.
        r = self.loadgen("--mode", "hold", "--allocations", "20", "--hold", "2", "--refresh", "0.5")
        self.assertEqual((r["done"], r["failed"]), (20, 0), r)
        self.assertEqual(r["refresh_failed"], 0, r)
        # 20 allocations x 4 intervals = 80 due; at least two rounds even on a loaded machine
        self.assertGreaterEqual(r["refreshes"], 40, r)

    def test_allocation_mode(self):
        r = self.loadgen("--mode", "alloc", "--allocations", "20", "--hold", "0.1")
        self.assertEqual(r["done"], 20, r)
        self.assertEqual(r["failed"], 0, r)


if __name__ == "__main__":
    sys.exit(0 if unittest.main(exit=False, verbosity=2).result.wasSuccessful() else 1)
