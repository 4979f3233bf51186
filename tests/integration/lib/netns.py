"""A network namespace in which UDP to and from the outside is dropped ("TCP-only firewall").

The namespace is joined to the root namespace by a veth pair on a private /30 and has no default
route, so the only address it can reach is the root-side veth address; nftables inside drops every
UDP datagram that does not stay on the namespace's own loopback. A TURN server listening on the
root-side address is then reachable from inside over TCP/TLS only.

Needs root (CAP_NET_ADMIN). Names carry the creating pid and a random token, so parallel test runs
never collide, and namespaces left by a killed run (ctest kills with SIGKILL on timeout) are
deleted by the next run. Use it as a context manager: the namespace and the veth pair are deleted
on success and on failure.
"""
import ipaddress
import os
import random
import re
import secrets
import subprocess

PREFIX = "turnpike-"  # namespace names: turnpike-<pid>-<token>
NAME_RX = re.compile(r"^turnpike-(\d+)-([0-9a-f]+)$")
# /30s are drawn from here. The addresses exist only on the veth pair inside this machine.
POOL = ipaddress.ip_network("10.213.0.0/16")

NFT_RULES = """
table inet turnpike_udp_block {
  chain input {
    type filter hook input priority filter; policy accept;
    iif "lo" accept
    meta l4proto udp drop
  }
  chain output {
    type filter hook output priority filter; policy accept;
    oif "lo" accept
    meta l4proto udp drop
  }
}
"""


def can_create():
    """None when namespaces can be made here, else the reason (for a skip)."""
    if os.geteuid() != 0:
        return "network namespaces need root (CAP_NET_ADMIN); run the tests as root, as CI does"
    return None


def _ip(*args, check=True):
    return subprocess.run(["ip"] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, check=check)


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def sweep_stale():
    """Deletes namespaces whose creating process is gone; their veth pairs go with them."""
    out = _ip("netns", "list", check=False).stdout
    for line in out.splitlines():
        name = line.split()[0] if line.split() else ""
        m = NAME_RX.match(name)
        if m and not _pid_alive(int(m.group(1))):
            _ip("netns", "delete", name, check=False)


def _used_networks():
    out = _ip("-4", "-o", "addr", "show", check=False).stdout
    nets = []
    for m in re.finditer(r"inet (\d+\.\d+\.\d+\.\d+/\d+)", out):
        nets.append(ipaddress.ip_interface(m.group(1)).network)
    return nets


class Scoped:
    """A topology as a context manager: stale namespaces of killed runs are swept first, a
    half-built topology is torn down when _create() fails, and delete() always runs."""

    def __enter__(self):
        sweep_stale()
        try:
            self._create()
        except BaseException:
            self.delete()
            raise
        return self

    def __exit__(self, *exc):
        self.delete()
        return False


class UdpBlockedNamespace(Scoped):
    def __init__(self):
        token = secrets.token_hex(3)
        self.name = "%s%d-%s" % (PREFIX, os.getpid(), token)
        self.host_if = "tpr" + token  # root side (interface names: at most 15 characters)
        self.inner_if = "tpn" + token  # namespace side
        self.network = self._free_slash30()
        hosts = list(self.network.hosts())
        self.host_ip = str(hosts[0])  # the root side: a server must listen here
        self.inner_ip = str(hosts[1])
        self.created = False

    @staticmethod
    def _free_slash30():
        used = _used_networks()
        for _ in range(100):
            net = ipaddress.ip_network((int(POOL.network_address) + 4 * random.randrange(POOL.num_addresses // 4), 30))
            if not any(net.overlaps(u) for u in used):
                return net
        raise RuntimeError("no free /30 in %s" % POOL)

    def _create(self):
        _ip("netns", "add", self.name)
        self.created = True
        _ip("link", "add", self.host_if, "type", "veth", "peer", "name", self.inner_if, "netns", self.name)
        # No IPv6 on the pair: link-local addresses would send router solicitations and MLD
        # reports (multicast) as soon as the links come up. Set before "up".
        self._sysctl(None, "net.ipv6.conf.%s.disable_ipv6" % self.host_if, "1")
        self._sysctl(self.name, "net.ipv6.conf.%s.disable_ipv6" % self.inner_if, "1")
        # The firewall goes in before any interface inside is up.
        subprocess.run(self.argv(["nft", "-f", "-"]), input=NFT_RULES, text=True, check=True,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        plen = str(self.network.prefixlen)
        _ip("addr", "add", self.host_ip + "/" + plen, "dev", self.host_if)
        _ip("link", "set", self.host_if, "up")
        _ip("-n", self.name, "addr", "add", self.inner_ip + "/" + plen, "dev", self.inner_if)
        _ip("-n", self.name, "link", "set", self.inner_if, "up")
        # Loopback up inside: Chromium talks to its own processes over it. No default route:
        # the only other address reachable from inside is host_ip.
        _ip("-n", self.name, "link", "set", "lo", "up")

    @staticmethod
    def _sysctl(ns, key, value):
        path = "/proc/sys/" + key.replace(".", "/")
        if ns is None:
            with open(path, "w") as f:
                f.write(value)
        else:
            subprocess.run(["ip", "netns", "exec", ns, "sh", "-c", 'echo %s > "$1"' % value, "sh", path],
                           check=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def argv(self, argv):
        """`argv` run inside the namespace."""
        return ["ip", "netns", "exec", self.name] + list(argv)

    def delete(self):
        """Idempotent. Deleting the namespace destroys the inner veth end and with it the root end;
        the explicit link delete covers a failure between creating the pair and moving it."""
        if self.created:
            _ip("netns", "delete", self.name, check=False)
            self.created = False
        if _ip("link", "show", self.host_if, check=False).returncode == 0:
            _ip("link", "delete", self.host_if, check=False)

    def exists(self):
        names = [line.split()[0] for line in _ip("netns", "list", check=False).stdout.splitlines() if line.split()]
        return self.name in names or _ip("link", "show", self.host_if, check=False).returncode == 0
