"""A real DNS server (Debian's dnsmasq, the binary from dnsmasq-base) holding only the records a
test gives it, and a way to run a program whose resolver asks that server and nothing else.

The server listens on port 53 of a random 127.53.x.y address (all of 127/8 is this machine's
loopback), has no upstream (`--no-resolv`) and answers NXDOMAIN for every other name under
the domains it is told about, so no query it gets is passed on. A program started with
`wrap([...])` runs in a private mount namespace (unshare) where /etc/resolv.conf names only this
server and /etc/hosts holds only localhost: its getaddrinfo (A and AAAA) and res_query (SRV) go
to dnsmasq, and nothing else on the machine sees the change. Every query is in the log
(`queries()`), so a test can assert what the program asked.
"""
import os
import random
import re

from . import harness

DNSMASQ = "/usr/sbin/dnsmasq"


def cannot_run():
    """None when the server and the mount namespace can be made here, else the reason (a skip)."""
    if os.geteuid() != 0:
        return "a private /etc/resolv.conf (unshare --mount) and port 53 need root; run the tests as root, as CI does"
    return None


class DnsServer(harness.Process):
    def __init__(self, workdir, hosts=(), srv=(), local_domains=("test", "localhost"), name="dns"):
        """hosts: (name, [addresses]); srv: (service name, target, port, priority, weight)."""
        self.workdir = workdir
        records = []
        for host, addresses in hosts:
            records.append("--host-record=%s,%s" % (host, ",".join(addresses)))
        for service, target, port, priority, weight in srv:
            records.append("--srv-host=%s,%s,%d,%d,%d" % (service, target, port, priority, weight))
        for domain in local_domains:
            records.append("--local=/%s/" % domain)  # NXDOMAIN here, never forwarded
        for attempt in range(5):
            self.address = "127.53.%d.%d" % (random.randrange(1, 255), random.randrange(1, 255))
            log = os.path.join(workdir, "%s-%s.log" % (name, self.address))
            super().__init__([DNSMASQ, "--keep-in-foreground", "--no-daemon", "--conf-file=/dev/null",
                              "--no-resolv", "--no-hosts", "--no-poll", "--bind-interfaces",
                              "--listen-address=" + self.address, "--port=53", "--pid-file=",
                              "--user=root", "--group=root", "--log-queries", "--cache-size=0"] + records,
                             log)
            try:
                self.wait_for_log(r"dnsmasq: started")
                break
            except RuntimeError:  # its address was taken: another test's server
                if "Address already in use" not in self.log() or attempt == 4:
                    raise
        self.resolv_conf = os.path.join(workdir, "%s-resolv.conf" % name)
        with open(self.resolv_conf, "w") as f:
            f.write("nameserver %s\noptions attempts:1 timeout:2\n" % self.address)
        self.hosts_file = os.path.join(workdir, "%s-hosts" % name)
        with open(self.hosts_file, "w") as f:
            f.write("127.0.0.1 localhost\n")

    def wrap(self, argv):
        """`argv` run with this server as its only resolver."""
        return ["unshare", "--mount", "--", "sh", "-c",
                'mount --bind "$1" /etc/resolv.conf && mount --bind "$2" /etc/hosts && shift 2 && exec "$@"',
                "sh", self.resolv_conf, self.hosts_file] + list(argv)

    def queries(self):
        """[(type, name)] of every query the server got, in order."""
        return re.findall(r"query\[(\w+)\] (\S+) from", self.log())
