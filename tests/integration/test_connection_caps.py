"""Stream connection floods against the real daemon, up to each cap, while a UDP allocation and a
new TLS client keep working (issue 16, "Resources").

The caps: max-connections-per-ip (one address), max-connections-per-ipv6-64 (the addresses of one
IPv6 /64 together: an attacker owns a /64, not one address) and max-connections (all of them,
with a reserve past it for addresses that hold none). Out of descriptors altogether, every
listener (client and RFC 6062 relay) stops accepting for a second instead of spinning, and
accepts again once descriptors are free.

The flood comes from many source addresses, which needs addresses of its own: the file runs
itself in a network namespace it creates (loopback up; 127.0.0.0/8 and two IPv6 /64s local, on
lo only), so nothing leaves the namespace, let alone the machine."""
import os
import secrets
import socket
import ssl
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import certs, harness, netns, stun  # noqa: E402

INSIDE = "--inside-namespace"
SECRET = "caps-secret"
SERVER6 = "2001:db8:ff::1"
NET_A = "2001:db8:1:1::"  # the attacker's /64
NET_B = "2001:db8:1:2::"  # someone else's


def run_in_namespace():
    """Creates the namespace, runs this file inside it, deletes it; exits with the inner code."""
    reason = netns.can_create()
    if reason:
        harness.skip_file(reason)
    netns.sweep_stale()
    name = "%s%d-%s" % (netns.PREFIX, os.getpid(), secrets.token_hex(3))
    ip = lambda *a: subprocess.run(["ip", "-n", name] + list(a), check=True)  # noqa: E731
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        ip("link", "set", "lo", "up")
        ip("-6", "addr", "add", SERVER6 + "/128", "dev", "lo", "nodad")
        for net in (NET_A, NET_B):  # every address of both /64s is local (AnyIP)
            ip("-6", "route", "add", "local", net + "/64", "dev", "lo")
        # Binding an address of a local route that is not configured on an interface.
        subprocess.run(["ip", "netns", "exec", name, "sysctl", "-q", "-w", "net.ipv6.ip_nonlocal_bind=1"], check=True)
        rc = subprocess.call(["ip", "netns", "exec", name, sys.executable, os.path.abspath(__file__), INSIDE]
                             + sys.argv[1:])
    finally:
        subprocess.run(["ip", "netns", "delete", name])
    sys.exit(rc)


def binding():
    return stun.Message(stun.BINDING, stun.REQUEST).encode()


def connect_from(source, port, server="127.0.0.1"):
    fam = socket.AF_INET6 if ":" in server else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.settimeout(3)
    s.bind((source, 0))
    s.connect((server, port))
    return s


def served(sock, timeout=3.0):
    """True when the connection answers a Binding request; False when the server closed it."""
    sock.settimeout(timeout)
    try:
        sock.sendall(binding())
        data = sock.recv(4096)
    except (ConnectionError, BrokenPipeError):
        return False
    if not data:
        return False
    return stun.Message.decode(data[:20 + struct.unpack("!H", data[2:4])[0]]).cls == stun.SUCCESS


def served_anew(source, port, server="127.0.0.1"):
    """Whether a new connection from `source` is served (closed again either way)."""
    with connect_from(source, port, server) as s:
        return served(s, 1.0)


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class ConnectionCaps(certs.ServerCertificate, harness.TestCase):
    def start(self, *extra, listen="127.0.0.1", argv_prefix=()):
        self.tls_port = harness.free_port()
        options = ["use-auth-secret", "static-auth-secret=" + SECRET, "cert=" + self.cert, "pkey=" + self.key,
                   "tls-listening-port=%d" % self.tls_port, "kernel-offload=off", "allow-loopback-peers"]
        if listen != "127.0.0.1":
            options.append("listening-ip=" + listen)
        self.server = self.turnpike(options + list(extra), argv_prefix=argv_prefix)
        return self.server

    def credentials(self, name):
        return stun.rest_credential(SECRET, name)

    def tls_client(self, source, server="127.0.0.1"):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.load_verify_locations(self.ca.cert)
        ctx.check_hostname = False
        user, password = self.credentials("tls-newcomer")
        c = stun.Client(server, self.tls_port, user, password, tls=ctx, source=source)
        self.addCleanup(c.close)
        return c

    def udp_client(self, source="127.0.0.1", server="127.0.0.1"):
        user, password = self.credentials("udp-user")
        c = stun.Client(server, self.server.port, user, password, source=source)
        self.addCleanup(c.close)
        return c

    def flood(self, sources, each, server="127.0.0.1"):
        """`each` connections from every source; returns [(source, connected socket, served?)]."""
        out = []
        for src in sources:
            for _ in range(each):
                s = connect_from(src, self.server.port, server)
                self.addCleanup(s.close)
                out.append((src, s, served(s)))
        return out

    def test_per_address_and_total_caps_leave_udp_and_new_tls_clients(self):
        self.start("max-connections-per-ip=4", "max-connections=40")
        self.server.wait_for_log(r"max-connections 40\b")
        udp = self.udp_client()
        udp.allocate()
        # One address: four connections, the fifth is closed at once.
        first = self.flood(["127.0.1.1"], 5)
        self.assertEqual([ok for _, _, ok in first], [True] * 4 + [False])
        self.server.wait_for_log(r"refused tcp connection from 127\.0\.1\.1:\d+: max-connections-per-ip \(4\) reached")
        # Nine more addresses fill the server to its total of 40.
        rest = self.flood(["127.0.1.%d" % i for i in range(2, 11)], 4)
        self.assertTrue(all(ok for _, _, ok in rest), [(a, ok) for a, _, ok in rest])
        # A flooding address that holds some gets nothing more: the total is reached.
        extra = connect_from("127.0.1.2", self.server.port)
        self.addCleanup(extra.close)
        self.assertFalse(served(extra))
        # ... while a new TLS client from an address holding none gets in (the reserve) and
        # allocates, and so does UDP.
        tls = self.tls_client("127.0.1.11")
        tls.allocate()
        self.assertTrue(tls.relayed)
        second = connect_from("127.0.1.11", self.server.port)  # not a second one for it
        self.addCleanup(second.close)
        self.assertFalse(served(second))
        self.server.wait_for_log(r"refused tcp connection from 127\.0\.1\.11:\d+: max-connections \(40\) reached")
        udp.refresh(600)
        self.udp_client("127.0.0.9").allocate()
        # Once the flood goes, its addresses are served again.
        for _, s, _ in first + rest:
            s.close()
        harness.wait_until(lambda: served_anew("127.0.1.2", self.server.port),
                           what="a connection served after the flood closed")

    def test_one_ipv6_slash64_counts_as_one(self):
        self.start("max-connections-per-ip=2", "max-connections-per-ipv6-64=8", listen=SERVER6)
        udp = self.udp_client(NET_A + "99", server=SERVER6)
        udp.allocate()
        # Four addresses of one /64, two each: 8, the /64's share.
        held = self.flood([NET_A + "%x" % i for i in range(1, 5)], 2, server=SERVER6)
        self.assertTrue(all(ok for _, _, ok in held))
        # A fifth address of the same /64, holding nothing itself, is refused.
        fresh = connect_from(NET_A + "5", self.server.port, SERVER6)
        self.addCleanup(fresh.close)
        self.assertFalse(served(fresh))
        self.server.wait_for_log(r"refused tcp connection from \[2001:db8:1:1::5\]:\d+: "
                                 r"max-connections-per-ipv6-64 \(8\) reached")
        # Another /64 is not affected: a new TLS client there allocates; UDP from the flooding /64
        # still works (the caps count stream connections).
        tls = self.tls_client(NET_B + "1", server=SERVER6)
        tls.allocate()
        self.assertTrue(tls.relayed)
        udp.refresh(600)
        # One of the flood's connections goes: its /64 has room again.
        held[0][1].close()
        harness.wait_until(lambda: served_anew(NET_A + "6", self.server.port, SERVER6),
                           what="a connection from the /64 once it is below its cap")

    def test_out_of_descriptors_every_listener_pauses_instead_of_spinning(self):
        # No cap but the descriptors themselves (a hard limit of 160 that turnpike cannot raise).
        self.start("max-connections=0", "max-connections-per-ip=0", "verbose",
                   argv_prefix=["prlimit", "--nofile=160:160", "--"])
        self.server.wait_for_log(r"descriptor limit 160 \(hard limit 160\)")
        # An RFC 6062 TCP allocation whose relay listener will be hit when nothing is left.
        user, password = self.credentials("tcp-user")
        control = stun.Client("127.0.0.1", self.server.port, user, password, tcp=True)
        self.addCleanup(control.close)
        control.allocate_tcp()
        control.create_permission("127.0.0.1")
        relayed = control.relayed[0]
        flood = []
        for i in range(200):
            s = connect_from("127.0.2.%d" % (1 + i % 200), self.server.port)
            self.addCleanup(s.close)
            flood.append(s)
        self.server.wait_for_log(r"cannot accept on .*: Too many open files")
        peers = []
        for _ in range(5):
            p = socket.create_connection(relayed, timeout=3)  # completed by the kernel (backlog)
            self.addCleanup(p.close)
            peers.append(p)
        self.server.wait_for_log(r"cannot accept a peer on 127\.0\.0\.1:%d: Too many open files" % relayed[1])
        # Both listeners stay readable; paused, they cost (next to) nothing.
        before = cpu_seconds(self.server.proc.pid)
        time.sleep(2.0)
        used = cpu_seconds(self.server.proc.pid) - before
        self.assertLess(used, 0.3, "turnpike used %.2f s of CPU in 2 s while out of descriptors" % used)
        # Descriptors come back: the waiting peers are accepted (ConnectionAttempt, RFC 6062 §4.4)
        # and new clients are served.
        for s in flood:
            s.close()
        m = control.receive_message(timeout=8)
        self.assertIsNotNone(m)
        self.assertEqual((m.method, m.cls), (stun.CONNECTION_ATTEMPT, stun.INDICATION))
        harness.wait_until(lambda: served_anew("127.0.3.1", self.server.port),
                           what="a client served once descriptors are free")


if __name__ == "__main__":
    if INSIDE not in sys.argv:
        run_in_namespace()
    sys.argv.remove(INSIDE)
    harness.main()
