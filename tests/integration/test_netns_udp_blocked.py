"""The "TCP-only firewall" namespace that the browser test puts one Chromium in (lib/netns.py):
proves that UDP between the namespace and the root-side veth address is dropped both ways while
TCP connects, that UDP on the namespace's own loopback still works (Chromium needs it), that there
is no way out but the veth, and that the namespace and veth are gone afterwards, also on failure."""
import os
import socket
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import harness, netns  # noqa: E402

reason = netns.can_create()
if reason:
    harness.skip_file(reason)

# Small programs run inside the namespace; each prints one word.
UDP_SEND = """
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
try:
    s.sendto(b"udp-from-inside", (sys.argv[1], int(sys.argv[2])))
    print("sent")
except OSError as e:
    print("refused:%s" % e.errno)
"""
UDP_RECEIVE = """
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], int(sys.argv[2])))
s.settimeout(float(sys.argv[3]))
print("ready", flush=True)
try:
    print("got:" + s.recv(100).decode())
except socket.timeout:
    print("nothing")
"""
UDP_LOOPBACK = """
import socket
a = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); a.bind(("127.0.0.1", 0))
b = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); b.settimeout(2)
b.sendto(b"lo", a.getsockname()); a.settimeout(2)
print("ok" if a.recv(10) == b"lo" else "bad")
"""
TCP_SEND = """
import socket, sys
c = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5)
c.sendall(b"tcp-from-inside"); c.close()
print("connected")
"""


class UdpBlockedNamespace(harness.TestCase):
    def inside(self, ns, program, *args, timeout=10):
        p = subprocess.run(ns.argv([sys.executable, "-c", program] + [str(a) for a in args]),
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=timeout)
        return p.stdout.strip()

    def test_udp_dropped_both_ways_tcp_passes(self):
        with netns.UdpBlockedNamespace() as ns:
            # Outbound UDP: nftables drops it at the output hook (sendto fails with EPERM, or
            # the datagram is dropped silently); either way nothing reaches the root side.
            u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            u.bind((ns.host_ip, 0))
            u.settimeout(1.0)
            out = self.inside(ns, UDP_SEND, ns.host_ip, u.getsockname()[1])
            self.assertTrue(out == "sent" or out.startswith("refused:"), out)
            with self.assertRaises(socket.timeout):
                u.recv(100)
            u.close()

            # Inbound UDP: dropped at the input hook inside.
            port = harness.free_port()
            rx = subprocess.Popen(ns.argv([sys.executable, "-c", UDP_RECEIVE, ns.inner_ip, str(port), "1.5"]),
                                  stdout=subprocess.PIPE, text=True)
            try:
                self.assertEqual(rx.stdout.readline().strip(), "ready")
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                for _ in range(3):
                    s.sendto(b"udp-from-outside", (ns.inner_ip, port))
                s.close()
                self.assertEqual(rx.stdout.readline().strip(), "nothing")
            finally:
                rx.wait(5)
                rx.stdout.close()

            # TCP to the root-side address connects and carries data.
            t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            t.bind((ns.host_ip, 0))
            t.listen(1)
            t.settimeout(5)
            self.assertEqual(self.inside(ns, TCP_SEND, ns.host_ip, t.getsockname()[1]), "connected")
            conn, _ = t.accept()
            conn.settimeout(5)
            self.assertEqual(conn.recv(100), b"tcp-from-inside")
            conn.close()
            t.close()

            # UDP that stays on the namespace's loopback is allowed.
            self.assertEqual(self.inside(ns, UDP_LOOPBACK), "ok")

            # No route out but the /30.
            routes = subprocess.run(ns.argv(["ip", "-4", "route", "show"]), stdout=subprocess.PIPE,
                                    text=True, check=True).stdout
            self.assertNotIn("default", routes)
            self.assertEqual(routes.strip().splitlines(), ["%s dev %s proto kernel scope link src %s"
                                                           % (ns.network, ns.inner_if, ns.inner_ip)])
            self.assertTrue(ns.exists())
        self.assertFalse(ns.exists(), "namespace %s or veth %s left behind" % (ns.name, ns.host_if))

    def test_deleted_on_failure(self):
        with self.assertRaises(ZeroDivisionError):
            with netns.UdpBlockedNamespace() as ns:
                self.assertTrue(ns.exists())
                1 / 0
        self.assertFalse(ns.exists(), "namespace %s or veth %s left behind" % (ns.name, ns.host_if))

    def test_parallel_namespaces_do_not_collide(self):
        with netns.UdpBlockedNamespace() as a, netns.UdpBlockedNamespace() as b:
            self.assertNotEqual(a.name, b.name)
            self.assertNotEqual(a.host_if, b.host_if)
            self.assertFalse(a.network.overlaps(b.network))
        self.assertFalse(a.exists() or b.exists())

    def test_stale_namespace_of_a_dead_run_is_swept(self):
        # A namespace named after a pid that no longer exists, as a SIGKILLed run leaves it.
        dead = subprocess.Popen(["true"])
        dead.wait()
        stale = "%s%d-%s" % (netns.PREFIX, dead.pid, "dead00")
        subprocess.run(["ip", "netns", "add", stale], check=True)
        try:
            with netns.UdpBlockedNamespace():
                pass
            listed = subprocess.run(["ip", "netns", "list"], stdout=subprocess.PIPE, text=True).stdout
            self.assertNotIn(stale, listed)
        finally:
            subprocess.run(["ip", "netns", "delete", stale], stderr=subprocess.DEVNULL)


if __name__ == "__main__":
    harness.main()
