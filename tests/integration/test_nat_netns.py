"""turnpike behind a 1:1 NAT, in network namespaces (lib/nat_topology.py): relay sockets bind
the private address, clients are told the public one (external-ip=PUBLIC/PRIVATE, or learned at
start with external-ip=auto), data flows both ways through the NAT to a peer, and to the relay
host's own public address (a videobridge on the same host) when allowed-peer-ip lets it."""
import os
import re
import subprocess
import sys
import textwrap

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import harness, nat_topology, netns  # noqa: E402
from lib.nat_topology import CLIENT_IP, PEER_IP, PRIVATE_IP, PUBLIC_IP  # noqa: E402

if netns.can_create():
    harness.skip_file(netns.can_create())

SECRET = "nat-secret"
PORT = 3478
PEER_PORT = 3480
HOST_SERVICE_PORT = 10000  # "the videobridge" on the relay host


class BehindNat(harness.TestCase):
    def setUp(self):
        super().setUp()
        self.topo = nat_topology.NatTopology()
        self.topo.__enter__()
        self.addCleanup(self.topo.delete)

    def in_ns(self, role, argv, name):
        return self.track(harness.Process(self.topo.argv(role, argv), os.path.join(self.workdir, name + ".log")))

    def start_relay(self, options, name="turnpike"):
        conf = os.path.join(self.workdir, name + ".conf")
        with open(conf, "w") as f:
            f.write("\n".join(["listening-ip=" + PRIVATE_IP, "listening-port=%d" % PORT, "min-port=40000",
                               "max-port=40999", "relay-threads=2", "realm=nat.test", "use-auth-secret",
                               "static-auth-secret=" + SECRET, "ledger=" + os.path.join(self.workdir, name + ".db")]
                              + options) + "\n")
        server = self.in_ns("relay", [harness.TURNPIKE, "-c", conf], name)
        server.wait_for_log("turnpike ready")
        return server

    def echo_peer(self, role, ip, port):
        p = self.in_ns(role, ["turnutils_peer", "-L", ip, "-p", str(port)], "peer-%s-%d" % (role, port))
        p.wait_for_log("", timeout=1)
        return p

    def uclient(self, peer_ip, peer_port):
        p = subprocess.run(self.topo.argv("client", [
            "turnutils_uclient", "-W", SECRET, "-u", "natuser", "-e", peer_ip, "-r", str(peer_port), "-c", "-X",
            "-p", str(PORT), "-m", "2", "-n", "50", "-l", "200", "-z", "5", PUBLIC_IP]),
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=120)
        return harness.UclientResult(p.returncode, p.stdout)

    def allocate_from_client(self):
        """An independent client in the client namespace: what does the server announce?"""
        script = textwrap.dedent("""
            import sys
            sys.path.insert(0, %r)
            from lib import stun
            c = stun.Client(%r, %d, *stun.rest_credential(%r, "probe"))
            c.allocate()
            print("RELAYED %%s %%d" %% c.relayed[0])
            print("MAPPED %%s %%d" %% c.mapped)
            c.refresh(0)
        """ % (os.path.dirname(os.path.abspath(__file__)), PUBLIC_IP, PORT, SECRET))
        p = subprocess.run(self.topo.argv("client", [sys.executable, "-c", script]), stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stdout)
        relayed = re.search(r"RELAYED (\S+) (\d+)", p.stdout)
        mapped = re.search(r"MAPPED (\S+) (\d+)", p.stdout)
        return (relayed.group(1), int(relayed.group(2))), (mapped.group(1), int(mapped.group(2)))

    def test_public_address_announced_and_data_flows_both_ways(self):
        server = self.start_relay(["external-ip=%s/%s" % (PUBLIC_IP, PRIVATE_IP)])
        self.echo_peer("peer", PEER_IP, PEER_PORT)
        relayed, mapped = self.allocate_from_client()
        self.assertEqual(relayed[0], PUBLIC_IP)       # announced: the public address
        self.assertTrue(40000 <= relayed[1] <= 40999)
        self.assertEqual(mapped[0], CLIENT_IP)        # the client as the server sees it
        self.assertRegex(server.log(), r"relayed=%s:%d \(bound %s:%d\)" % (re.escape(PUBLIC_IP), relayed[1],
                                                                          re.escape(PRIVATE_IP), relayed[1]))
        r = self.uclient(PEER_IP, PEER_PORT)
        self.assertEqual(r.lost, 0, r)
        self.assertEqual(r.received, 100, r)

    def test_external_ip_auto_learns_the_public_address(self):
        # A STUN server on the public side (turnpike itself; Binding needs no credentials).
        stun_conf = os.path.join(self.workdir, "stun.conf")
        with open(stun_conf, "w") as f:
            f.write("listening-ip=%s\nlistening-port=3478\nno-auth\nno-ledger\nrelay-threads=1\n" % PEER_IP)
        self.in_ns("peer", [harness.TURNPIKE, "-c", stun_conf], "stun").wait_for_log("turnpike ready")
        server = self.start_relay(["external-ip=auto", "external-ip-stun-server=%s:3478" % PEER_IP])
        self.assertIn("external-ip=auto: %s:3478 sees %s as %s" % (PEER_IP, PRIVATE_IP, PUBLIC_IP), server.log())
        relayed, _ = self.allocate_from_client()
        self.assertEqual(relayed[0], PUBLIC_IP)
        self.echo_peer("peer", PEER_IP, PEER_PORT)
        r = self.uclient(PEER_IP, PEER_PORT)
        self.assertEqual(r.lost, 0, r)

    def test_relay_hosts_own_public_address_only_when_allowed(self):
        # Jitsi's deny list covers the documentation ranges, the host's public address among them.
        jitsi_denies = ["denied-peer-ip=192.0.2.0-192.0.2.255", "denied-peer-ip=198.51.100.0-198.51.100.255",
                        "denied-peer-ip=203.0.113.0-203.0.113.255", "denied-peer-ip=10.0.0.0-10.255.255.255"]
        self.echo_peer("relay", PRIVATE_IP, HOST_SERVICE_PORT)  # the "videobridge" on the relay host
        closed = self.start_relay(["external-ip=%s/%s" % (PUBLIC_IP, PRIVATE_IP)] + jitsi_denies, name="closed")
        r = self.uclient(PUBLIC_IP, HOST_SERVICE_PORT)
        self.assertIn(403, r.error_codes, r)
        self.assertIn("forbidden-peer peer %s" % PUBLIC_IP, closed.log())
        closed.stop()
        opened = self.start_relay(["external-ip=%s/%s" % (PUBLIC_IP, PRIVATE_IP), "allowed-peer-ip=" + PUBLIC_IP]
                                  + jitsi_denies, name="opened")
        r = self.uclient(PUBLIC_IP, HOST_SERVICE_PORT)  # out through the NAT and back in (hairpin)
        self.assertEqual(r.lost, 0, r)
        self.assertEqual(r.received, 100, r)
        # Only that address was reopened: the rest of the deny list still holds.
        self.echo_peer("peer", PEER_IP, PEER_PORT)
        r = self.uclient(PEER_IP, PEER_PORT)
        self.assertIn(403, r.error_codes, r)
        self.assertTrue(opened.alive())


if __name__ == "__main__":
    harness.main()
