"""A small internet in network namespaces, for testing turnpike behind a 1:1 NAT.

    client ns (192.0.2.10) ---.
                               +-- nat ns: routes, and maps 203.0.113.1 <-> 10.99.0.2 (1:1 DNAT/SNAT,
    peer ns (198.51.100.20) --'           hairpin included) --- relay ns (10.99.0.2, turnpike)

The addresses are documentation ranges (RFC 5737) and a private /24; they exist only on veth
pairs between these namespaces, which are connected to nothing else, so no packet can leave the
machine. IPv6 is off on every link (no router solicitations or MLD multicast). Needs root.
Names follow lib/netns.py (pid and random token; stale ones swept), and everything is deleted
on success and on failure.
"""
import os
import secrets
import subprocess

from . import netns

PUBLIC_IP = "203.0.113.1"   # the relay host's public address, owned by the NAT
PRIVATE_IP = "10.99.0.2"    # the relay host's own address
CLIENT_IP = "192.0.2.10"
PEER_IP = "198.51.100.20"

NAT_RULES = """
table ip turnpike_nat {
  chain prerouting {
    type nat hook prerouting priority dstnat; policy accept;
    ip daddr %(public)s dnat to %(private)s
  }
  chain postrouting {
    type nat hook postrouting priority srcnat; policy accept;
    ip saddr %(private)s snat to %(public)s
  }
}
""" % {"public": PUBLIC_IP, "private": PRIVATE_IP}


def run(argv, check=True, **kw):
    return subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, check=check, **kw)


class NatTopology(netns.Scoped):
    def __init__(self):
        token = secrets.token_hex(3)
        base = "%s%d-%s" % (netns.PREFIX, os.getpid(), token)
        self.ns = {role: base + role[0] for role in ("client", "peer", "relay", "nat")}
        self.token = token
        self.created = []

    def argv(self, role, argv):
        return ["ip", "netns", "exec", self.ns[role]] + list(argv)

    def sysctl(self, role, key, value):
        run(self.argv(role, ["sysctl", "-q", "-w", "%s=%s" % (key, value)]))

    def _link(self, role, inner_ip, outer_ip, prefix):
        # veth pair: one end in `role`, the other in the NAT namespace.
        a, b = "tp%s%s" % (role[0], self.token), "tn%s%s" % (role[0], self.token)
        run(["ip", "link", "add", a, "netns", self.ns[role], "type", "veth", "peer", "name", b, "netns", self.ns["nat"]])
        for ns, dev in ((role, a), ("nat", b)):
            self.sysctl(ns, "net.ipv6.conf.%s.disable_ipv6" % dev, 1)
        run(self.argv(role, ["ip", "addr", "add", "%s/%d" % (inner_ip, prefix), "dev", a]))
        run(self.argv("nat", ["ip", "addr", "add", "%s/%d" % (outer_ip, prefix), "dev", b]))
        run(self.argv(role, ["ip", "link", "set", a, "up"]))
        run(self.argv("nat", ["ip", "link", "set", b, "up"]))
        run(self.argv(role, ["ip", "route", "add", "default", "via", outer_ip]))

    def _create(self):
        for role, name in self.ns.items():
            run(["ip", "netns", "add", name])
            self.created.append(name)
            self.sysctl(role, "net.ipv6.conf.all.disable_ipv6", 1)
            self.sysctl(role, "net.ipv6.conf.default.disable_ipv6", 1)
            run(self.argv(role, ["ip", "link", "set", "lo", "up"]))
        self.sysctl("nat", "net.ipv4.ip_forward", 1)
        self.sysctl("nat", "net.ipv4.conf.all.rp_filter", 0)
        self._link("client", CLIENT_IP, "192.0.2.1", 24)
        self._link("peer", PEER_IP, "198.51.100.1", 24)
        self._link("relay", PRIVATE_IP, "10.99.0.1", 24)
        run(self.argv("nat", ["nft", "-f", "-"]), input=NAT_RULES)

    def delete(self):
        for name in self.created:
            run(["ip", "netns", "delete", name], check=False)
        self.created = []
