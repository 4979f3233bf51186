"""Three network namespaces for the kernel fast path (DESIGN.md "Kernel fast path"):

    client ns (192.0.2.10, 2001:db8:1::10) --veth-- relay ns --veth-- peer ns (198.51.100.20, .30,
                                                   |                    2001:db8:2::20, ::30)
                       turnpike listens on 192.0.2.1 / 2001:db8:1::1,
                       relays from 198.51.100.1 / 2001:db8:2::1

The relay namespace does not forward (ip_forward stays 0): a packet gets from one side to the other
only through turnpike, by its sockets or by its TC program attached to the two veth ends, which
are ordinary Ethernet devices. Addresses are documentation ranges on veth pairs connected to
nothing else, so nothing can leave the machine. IPv6 runs without link-local addresses, router
solicitations or duplicate address detection, with static neighbour entries, so that no multicast
is sent at all; IPv4 likewise gets static ARP entries. Needs root. Names follow lib/netns.py (pid
and random token; stale ones swept) and everything is deleted on success and on failure.

With `fast_veth`, the veth ends get GRO and threaded NAPI (the benchmark): each namespace's
receive work then runs in its own kernel thread (napi/<dev>-<id>), whose CPU time can be read, as
a NIC's interrupt work would be done on the relay host. TSO goes off on them too: veth takes its
NAPI path only for packets that are "eligible for GRO" (drivers/net/veth.c), which with TSO on
excludes everything not sent by a local UDP socket, such as a TC program's redirects; they would
be received in the sender's softirq and charged to the sender.
"""
import contextlib
import ctypes
import glob
import json
import os
import re
import secrets
import socket
import subprocess

from . import netns

CLIENT_IP, CLIENT_IP6 = "192.0.2.10", "2001:db8:1::10"
LISTEN_IP, LISTEN_IP6 = "192.0.2.1", "2001:db8:1::1"
RELAY_IP, RELAY_IP6 = "198.51.100.1", "2001:db8:2::1"
PEER_IP, PEER_IP6 = "198.51.100.20", "2001:db8:2::20"
PEER2_IP, PEER2_IP6 = "198.51.100.30", "2001:db8:2::30"


CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


@contextlib.contextmanager
def inside(name):
    """Runs the block in network namespace `name` (this thread only; setns(2)). Sockets made
    inside stay in that namespace after the block: a test can talk from any namespace."""
    home = os.open("/proc/self/ns/net", os.O_RDONLY)
    target = os.open("/run/netns/" + name, os.O_RDONLY)
    try:
        if _libc.setns(target, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), "setns into " + name)
        yield
    finally:
        _libc.setns(home, CLONE_NEWNET)
        os.close(target)
        os.close(home)


def run(argv, check=True, **kw):
    return subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, check=check, **kw)


class OffloadTopology(netns.Scoped):
    def __init__(self, extra_client_ips=0, fast_veth=False):
        token = secrets.token_hex(3)
        base = "%s%d-%s" % (netns.PREFIX, os.getpid(), token)
        self.ns = {role: base + role[0] for role in ("client", "relay", "peer")}
        self.token = token
        self.extra_client_ips = extra_client_ips
        self.fast_veth = fast_veth
        self.created = []
        self.links = {}  # role side -> interface name

    def argv(self, role, argv):
        return ["ip", "netns", "exec", self.ns[role]] + list(argv)

    def socket(self, role, ip, port=0):
        """A UDP socket bound to ip:port inside `role`'s namespace."""
        with inside(self.ns[role]):
            s = socket.socket(socket.AF_INET6 if ":" in ip else socket.AF_INET, socket.SOCK_DGRAM)
            s.bind((ip, port))
        return s

    @contextlib.contextmanager
    def inside(self, role):
        with inside(self.ns[role]):
            yield

    def sysctl(self, role, key, value):
        run(self.argv(role, ["sysctl", "-q", "-w", "%s=%s" % (key, value)]))

    def client_ips(self):
        """The client namespace's IPv4 addresses: CLIENT_IP, then the extra ones (192.0.2.11...)."""
        base = [CLIENT_IP]
        for i in range(self.extra_client_ips):
            base.append("10.77.%d.%d" % (i // 250, i % 250 + 2))
        return base

    def _mac(self, ns, dev):
        out = run(self.argv(ns, ["ip", "-o", "link", "show", dev])).stdout
        return re.search(r"link/ether ([0-9a-f:]{17})", out).group(1)

    def _pair(self, outer, inner_role, v4, v6):
        """A veth pair: `outer` in the relay namespace, the other end in `inner_role`."""
        a, b = "tr%s%s" % (inner_role[0], self.token), "tn%s%s" % (inner_role[0], self.token)
        run(["ip", "link", "add", a, "netns", self.ns["relay"], "type", "veth", "peer", "name", b,
             "netns", self.ns[inner_role]])
        self.links["relay-" + inner_role] = a
        self.links[inner_role] = b
        for ns, dev in (("relay", a), (inner_role, b)):
            # No link-local address, no router solicitation, no DAD, no multicast: nothing but
            # what the test sends crosses the link.
            run(self.argv(ns, ["ip", "link", "set", dev, "addrgenmode", "none"]))
            run(self.argv(ns, ["ip", "link", "set", dev, "multicast", "off"]))
            self.sysctl(ns, "net.ipv6.conf.%s.accept_ra" % dev, 0)
            self.sysctl(ns, "net.ipv6.conf.%s.router_solicitations" % dev, 0)
            self.sysctl(ns, "net.ipv6.conf.%s.accept_dad" % dev, 0)
            self.sysctl(ns, "net.ipv6.conf.%s.disable_ipv6" % dev, 0)
        (outer_ip, inner_ip), (outer_ip6, inner_ip6) = v4, v6
        run(self.argv("relay", ["ip", "addr", "add", outer_ip + "/24", "dev", a]))
        run(self.argv("relay", ["ip", "addr", "add", outer_ip6 + "/64", "dev", a, "nodad"]))
        run(self.argv(inner_role, ["ip", "addr", "add", inner_ip + "/24", "dev", b]))
        run(self.argv(inner_role, ["ip", "addr", "add", inner_ip6 + "/64", "dev", b, "nodad"]))
        for ns, dev in (("relay", a), (inner_role, b)):
            run(self.argv(ns, ["ip", "link", "set", dev, "up"]))
            if self.fast_veth:
                run(self.argv(ns, ["ethtool", "-K", dev, "gro", "on", "tso", "off"]))
                run(self.argv(ns, ["sh", "-c", "echo 1 > /sys/class/net/%s/threaded" % dev]))
        run(self.argv(inner_role, ["ip", "route", "add", "default", "via", outer_ip]))
        run(self.argv(inner_role, ["ip", "-6", "route", "add", "default", "via", outer_ip6]))
        return a, b

    def _neighbours(self, ns, dev, mac, ips):
        for ip in ips:
            run(self.argv(ns, ["ip", "neigh", "replace", ip, "lladdr", mac, "dev", dev, "nud", "permanent"]))

    def _create(self):
        for role, name in self.ns.items():
            run(["ip", "netns", "add", name])
            self.created.append(name)
            self.sysctl(role, "net.ipv6.conf.default.accept_ra", 0)
            self.sysctl(role, "net.ipv6.conf.default.router_solicitations", 0)
            run(self.argv(role, ["ip", "link", "set", "lo", "up"]))
        # The relay host forwards nothing by itself.
        self.sysctl("relay", "net.ipv4.ip_forward", 0)
        self.sysctl("relay", "net.ipv6.conf.all.forwarding", 0)
        ca, cb = self._pair("relay", "client", (LISTEN_IP, CLIENT_IP), (LISTEN_IP6, CLIENT_IP6))
        pa, pb = self._pair("relay", "peer", (RELAY_IP, PEER_IP), (RELAY_IP6, PEER_IP6))
        run(self.argv("peer", ["ip", "addr", "add", PEER2_IP + "/24", "dev", pb]))
        run(self.argv("peer", ["ip", "addr", "add", PEER2_IP6 + "/64", "dev", pb, "nodad"]))
        extra = self.client_ips()[1:]
        for ip in extra:
            run(self.argv("client", ["ip", "addr", "add", ip + "/32", "dev", cb]))
            run(self.argv("relay", ["ip", "route", "add", ip + "/32", "dev", ca]))
        # Static neighbours: no ARP, no neighbour discovery (multicast) on any link.
        self._neighbours("relay", ca, self._mac("client", cb), [CLIENT_IP, CLIENT_IP6] + extra)
        self._neighbours("client", cb, self._mac("relay", ca), [LISTEN_IP, LISTEN_IP6])
        self._neighbours("relay", pa, self._mac("peer", pb), [PEER_IP, PEER_IP6, PEER2_IP, PEER2_IP6])
        self._neighbours("peer", pb, self._mac("relay", pa), [RELAY_IP, RELAY_IP6])

    def delete(self):
        for name in self.created:
            run(["ip", "netns", "delete", name], check=False)
        self.created = []

    def udp_counter(self, role, name):
        """A UDP counter of the namespace, IPv4 and IPv6 together (/proc/net/snmp{,6}), e.g.
        InDatagrams (what went up the stack to a socket, which kernel-relayed packets never do)
        or InCsumErrors."""
        total = 0
        out = run(self.argv(role, ["cat", "/proc/net/snmp"])).stdout.splitlines()
        for head, values in zip(out, out[1:]):
            if head.startswith("Udp:") and values.startswith("Udp:"):
                fields = dict(zip(head.split()[1:], values.split()[1:]))
                total += int(fields[name])
                break
        for line in run(self.argv(role, ["cat", "/proc/net/snmp6"])).stdout.splitlines():
            key, _, value = line.partition(" ")
            if key == "Udp6" + name:
                total += int(value.strip())
        return total

    def udp_in_datagrams(self, role="relay"):
        return self.udp_counter(role, "InDatagrams")

    def tx_checksum(self, side, on):
        """Checksum offload of a veth end ("relay-client", "client", ...). Off, the kernel computes
        a partial checksum in software before the packet crosses (and the receiver verifies it);
        on, a local sender's packets cross with CHECKSUM_PARTIAL and are trusted."""
        role = "relay" if side.startswith("relay-") else side
        run(self.argv(role, ["ethtool", "-K", self.links[side], "tx", "on" if on else "off"]))

    def ifindex(self, side):
        """The index of a veth end: side "relay-client", "relay-peer", "client" or "peer"."""
        role = "relay" if side.startswith("relay-") else side
        out = run(self.argv(role, ["cat", "/sys/class/net/%s/ifindex" % self.links[side]])).stdout
        return int(out)


def tcx_links(pid):
    """[(link id, ifindex)] of the TCX links process `pid` holds, as the kernel reports them in
    /proc/PID/fdinfo (bpftool 7.1 does not know TCX links yet)."""
    links = []
    for path in glob.glob("/proc/%d/fdinfo/*" % pid):
        try:
            with open(path) as f:
                text = f.read()
        except OSError:
            continue
        fields = dict(line.split(":\t", 1) for line in text.splitlines() if ":\t" in line)
        if fields.get("link_type") == "tcx":
            links.append((int(fields["link_id"]), int(fields["ifindex"])))
    return sorted(links)


def live_link_ids():
    """The ids of every BPF link on the machine (`bpftool link show`)."""
    out = run(["bpftool", "-j", "link", "show"]).stdout
    return {entry["id"] for entry in json.loads(out or "[]")}
