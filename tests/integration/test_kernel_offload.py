"""The kernel fast path (DESIGN.md "Kernel fast path"), in three network namespaces (client, relay,
peer; lib/offload_topology.py) where turnpike's TC program attaches to the relay's two veth
ends. The relay tests run again here with kernel-offload=on: coturn's turnutils_uclient over
channels (IPv4 and IPv6) with zero loss and the ledger's byte counts equal to what the clients
counted, permission expiry (no packet passes after it, within one tick), channel refresh and
rebind, peer policy refusals. Proof that the packets took the kernel path: the relay namespace's
UDP sockets never received them (/proc/net/snmp), the program's own counters moved, the daemon's
user-space relay counter did not. And the ways it stops: without the capabilities (one notice and
user space, or a refusal to start with kernel-offload=on), a stalled daemon (heartbeat), a killed
one (the TCX link goes with it; a cls_bpf filter is removed by the next start).

Needs root (namespaces, BPF); skipped otherwise, or when the kernel cannot load the program.
"""
import os
import pwd
import re
import signal
import socket
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import harness, netns, offload_topology, stun  # noqa: E402
from lib.offload_topology import (CLIENT_IP, CLIENT_IP6, LISTEN_IP, LISTEN_IP6, PEER2_IP,  # noqa: E402
                                  PEER_IP, PEER_IP6, RELAY_IP, RELAY_IP6)

if netns.can_create():
    harness.skip_file(netns.can_create())

SECRET = "offload-secret"
PORT = 3478
PEER_PORT = 3480
TICK = 1.0  # the workers' tick (net/worker.cc)


def kernel_stats(log):
    """The program's counters from the daemon's stop line, and what user space relayed."""
    m = re.search(r"kernel offload: relayed (\d+) datagrams to peers and (\d+) to clients in the kernel; "
                  r"left to user space: (\d+) expired, (\d+) without heartbeat, (\d+) malformed, (\d+) too big, "
                  r"(\d+) at TTL 1, (\d+) GSO; dropped mid-rewrite: (\d+)", log)
    if not m:
        return None
    keys = ["to_peer", "to_client", "expired", "heartbeat", "malformed", "too_big", "ttl", "gso", "failed"]
    stats = dict(zip(keys, map(int, m.groups())))
    stats["user_space"] = sum(int(n) for n in re.findall(r"(\d+) datagrams relayed in user space", log))
    stats["installed"] = sum(int(n) for n in re.findall(r"(\d+) channels handed to the kernel", log))
    stats["late"] = sum(int(n) for n in re.findall(r"(\d+) packets counted late", log))
    return stats


class Offload(harness.TestCase):
    def setUp(self):
        super().setUp()
        self.topo = offload_topology.OffloadTopology()
        self.topo.__enter__()
        self.addCleanup(self.topo.delete)

    def in_ns(self, role, argv, name, env=None):
        return self.track(harness.Process(self.topo.argv(role, argv), os.path.join(self.workdir, name + ".log"),
                                          env=env))

    def start_relay(self, options=(), name="turnpike", prefix=(), env=None, ready=True):
        conf = os.path.join(self.workdir, name + ".conf")
        self.ledger = os.path.join(self.workdir, name + ".db")
        with open(conf, "w") as f:
            f.write("\n".join(["listening-ip=" + LISTEN_IP, "listening-ip=" + LISTEN_IP6,
                               "listening-port=%d" % PORT, "relay-ip=" + RELAY_IP, "relay-ip=" + RELAY_IP6,
                               "min-port=40000", "max-port=40999", "relay-threads=2", "realm=offload.test",
                               "use-auth-secret", "static-auth-secret=" + SECRET, "ledger=" + self.ledger,
                               "kernel-offload=on"] + list(options)) + "\n")
        env = dict(os.environ, **(env or {}))
        server = self.in_ns("relay", list(prefix) + [harness.TURNPIKE, "-c", conf], name, env=env)
        if ready:
            server.wait_for_log("turnpike ready")
        return server

    def stop(self, server):
        server.stop()
        return kernel_stats(server.log())

    def echo_peer(self, ip=PEER_IP, port=PEER_PORT):
        p = self.in_ns("peer", ["turnutils_peer", "-L", ip, "-p", str(port)], "peer-%s-%d" % (ip, port))
        # Wait until it answers: a datagram sent straight to it from the peer namespace.
        probe = self.topo.socket("peer", ip)
        probe.settimeout(0.2)
        try:
            for _ in range(50):
                probe.sendto(b"ping", (ip, port))
                try:
                    if probe.recvfrom(64)[0] == b"ping":
                        return p
                except socket.timeout:
                    pass
        finally:
            probe.close()
        raise RuntimeError("turnutils_peer did not start:\n" + p.log())

    def uclient(self, server_ip, peer_ip, extra):
        p = subprocess.run(self.topo.argv("client", [
            "turnutils_uclient", "-W", SECRET, "-u", "alice", "-e", peer_ip, "-r", str(PEER_PORT), "-c", "-X",
            "-p", str(PORT)] + list(extra) + [server_ip]),
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=120)
        return harness.UclientResult(p.returncode, p.stdout)

    def client(self, server_ip=LISTEN_IP, user="bob"):
        """A TURN client in the client namespace with an allocation of the server's family."""
        with self.topo.inside("client"):
            c = stun.Client(server_ip, PORT, *stun.rest_credential(SECRET, user))
        self.addCleanup(c.close)
        v6 = ":" in server_ip  # RFC 8656 §7.2 REQUESTED-ADDRESS-FAMILY: 0x02 is IPv6
        c.allocate([(stun.REQUESTED_ADDRESS_FAMILY, b"\x02\x00\x00\x00")] if v6 else [])
        return c

    def closed_sessions(self, count):
        """The ledger's sessions ended by Refresh 0, once there are `count` (the writer commits
        every half second)."""
        def rows():
            done = [s for s in harness.admin_json("sessions", "--ledger", self.ledger)
                    if s["end_reason"] == "refresh-0"]
            return done if len(done) >= count else None
        return harness.wait_until(rows, what="%d closed sessions in the ledger" % count)

    # ---- the relay tests, through the kernel ----------------------------------------------------

    def check_uclient_through_the_kernel(self, server_ip, peer_ip, family_args):
        server = self.start_relay()
        self.assertIn("kernel offload: tcx ingress on ", server.log())
        self.echo_peer(peer_ip)
        # Attached to both veth ends of the relay namespace, as the kernel says.
        links = offload_topology.tcx_links(server.pid)
        self.assertEqual(sorted(i for _, i in links),
                         sorted([self.topo.ifindex("relay-client"), self.topo.ifindex("relay-peer")]), links)
        received_before = self.topo.udp_in_datagrams("relay")
        r = self.uclient(server_ip, peer_ip, family_args + ["-m", "10", "-n", "100", "-l", "200", "-z", "5"])
        self.assertEqual(r.lost, 0, r)
        self.assertEqual((r.sent, r.received), (1000, 1000), r)
        # 2000 datagrams were relayed; the relay's sockets received only the TURN requests.
        received = self.topo.udp_in_datagrams("relay") - received_before
        self.assertLess(received, 400, "relay sockets received %d datagrams" % received)
        log = server.wait_for_count("closed (refresh-0)", 10)
        closed = [ln for ln in log.splitlines() if "closed (refresh-0)" in ln]
        for ln in closed:
            self.assertIn("client->peers 100 pkts/20000 B, peers->client 100 pkts/20000 B, dropped 0", ln)
        rows = self.closed_sessions(10)
        self.assertEqual(len(rows), 10, rows)
        # The ledger's bytes are what the client counted, both ways.
        self.assertEqual(sum(s["bytes_from_client"] for s in rows), r.sent_bytes)
        self.assertEqual(sum(s["bytes_to_client"] for s in rows), r.received_bytes)
        for s in rows:
            self.assertEqual((s["packets_from_client"], s["packets_to_client"]), (100, 100))
            self.assertEqual(s["peers"][0]["bytes_to_peer"], s["bytes_from_client"])
        st = self.stop(server)
        self.assertEqual((st["to_peer"], st["to_client"]), (1000, 1000), st)
        self.assertEqual(st["user_space"], 0, st)
        self.assertEqual((st["failed"], st["late"]), (0, 0), st)

    def test_uclient_channels_ipv4(self):
        self.check_uclient_through_the_kernel(LISTEN_IP, PEER_IP, [])

    def test_uclient_channels_ipv6(self):
        self.check_uclient_through_the_kernel(LISTEN_IP6, PEER_IP6, ["-x"])

    def test_offload_off_relays_the_same_in_user_space(self):
        server = self.start_relay(["kernel-offload=off"])
        self.assertNotIn("kernel offload", server.log())
        self.echo_peer()
        self.assertEqual(offload_topology.tcx_links(server.pid), [])
        r = self.uclient(LISTEN_IP, PEER_IP, ["-m", "2", "-n", "50", "-l", "200", "-z", "5"])
        self.assertEqual((r.lost, r.received), (0, 100), r)
        rows = self.closed_sessions(2)
        self.assertEqual(sum(s["bytes_from_client"] for s in rows), r.sent_bytes)
        server.stop()
        self.assertEqual(sum(int(n) for n in re.findall(r"relayed (\d+) datagrams", server.log())), 0)

    def exchange(self, c, channel, peer_sock, payload, timeout=1.0):
        """ChannelData out through the relay to the peer socket, and the peer's answer back:
        (what the peer received, what the client received), None where nothing came."""
        c.channel_data(channel, payload)
        peer_sock.settimeout(timeout)
        try:
            got, source = peer_sock.recvfrom(4096)
        except socket.timeout:
            return None, None
        peer_sock.sendto(b"re:" + got, source)
        back = c.receive_data(timeout)
        return got, back

    def check_payloads(self):
        """Every length 0..9 (odd ones end in half a checksum word), padded and not, and large
        ones, both ways and both families; returns the kernel's counters."""
        server = self.start_relay()
        csum_errors = {role: self.topo.udp_counter(role, "InCsumErrors") for role in ("client", "peer")}
        for server_ip, peer_ip in ((LISTEN_IP, PEER_IP), (LISTEN_IP6, PEER_IP6)):
            peer = self.topo.socket("peer", peer_ip, PEER_PORT)
            self.addCleanup(peer.close)
            c = self.client(server_ip)
            c.channel_bind(0x4001, peer_ip, PEER_PORT)
            for n in list(range(0, 10)) + [1200, 1401]:
                data = bytes((i * 7 + n) & 0xFF for i in range(n))
                got, back = self.exchange(c, 0x4001, peer, data)
                self.assertEqual(got, data, n)
                self.assertEqual(back, ("channel", 0x4001, b"re:" + data), n)
                # RFC 8656 §12.5: padding to a multiple of 4 over UDP is allowed and not relayed.
                frame = struct.pack("!HH", 0x4001, n) + data + b"\xAA" * ((4 - n % 4) % 4)
                c.send_raw(frame)
                peer.settimeout(1.0)
                self.assertEqual(peer.recvfrom(4096)[0], data, n)
        # The receivers' kernels checked every UDP checksum the program wrote (or that was
        # computed from what it left for the device).
        for role, before in csum_errors.items():
            self.assertEqual(self.topo.udp_counter(role, "InCsumErrors"), before, role)
        st = self.stop(server)
        self.assertEqual((st["to_peer"], st["to_client"], st["user_space"]), (48, 24, 0), st)
        return st

    def test_payload_sizes_and_padding(self):
        # As veth carries them from local senders: CHECKSUM_PARTIAL all the way (trusted).
        self.check_payloads()

    def test_checksums_of_partial_packets_computed_on_the_way_out(self):
        # Partial checksums in (a local sender), computed in software on the way out of the
        # relay namespace (no offload on its veth ends), verified by the receivers: this proves
        # the pseudo-header sum and csum_start the program leaves for the device.
        self.topo.tx_checksum("relay-client", False)
        self.topo.tx_checksum("relay-peer", False)
        self.check_payloads()

    def test_checksums_complete_in_and_out(self):
        # Complete checksums in (no offload anywhere), as from a NIC: the program's incremental
        # update is what the receivers verify.
        for side in ("client", "peer", "relay-client", "relay-peer"):
            self.topo.tx_checksum(side, False)
        self.check_payloads()

    def test_permission_expiry_stops_the_kernel_within_a_tick(self):
        server = self.start_relay(["permission-lifetime=3"])
        peer = self.topo.socket("peer", PEER_IP, PEER_PORT)
        self.addCleanup(peer.close)
        c = self.client()
        c.channel_bind(0x4001, PEER_IP, PEER_PORT)  # also installs the permission (RFC 8656 §12.2)
        bound_at = time.monotonic()
        last_through = None
        through_after = []
        peer.settimeout(0.01)
        while time.monotonic() < bound_at + 3 + 2 * TICK:
            c.channel_data(0x4001, b"t=%f" % time.monotonic())  # one every 10 ms or so
            try:
                while True:
                    got, _ = peer.recvfrom(100)
                    t = float(got[2:])
                    last_through = t
                    if t > bound_at + 3 + TICK:
                        through_after.append(t - bound_at)
            except socket.timeout:
                pass
        self.assertIsNotNone(last_through)
        # The channel is still bound, its permission is not: nothing may pass after the expiry
        # (3 s after the ChannelBind), within one tick.
        self.assertEqual(through_after, [], "relayed after the permission expired")
        self.assertGreater(last_through, bound_at + 2.5)  # it did relay until about then
        # Nor from the peer to the client.
        peer.sendto(b"late", (RELAY_IP, c.relayed[0][1]))
        self.assertIsNone(c.receive_data(0.5))
        st = self.stop(server)
        self.assertGreater(st["to_peer"], 100, st)
        self.assertGreater(st["expired"], 0, st)  # after the deadline they went up, and were dropped
        # The kernel stops at the deadline to the nanosecond; user space reads a coarse clock
        # (up to 4 ms behind) and may relay what arrives in those milliseconds, as without offload.
        self.assertLessEqual(st["user_space"], 2, st)
        self.assertRegex(server.log(), r"dropped [1-9]\d*")

    def test_channel_refresh_and_rebind(self):
        server = self.start_relay(["channel-lifetime=4", "permission-lifetime=4"])
        peer_a = self.topo.socket("peer", PEER_IP, PEER_PORT)
        peer_b = self.topo.socket("peer", PEER2_IP, PEER_PORT)
        for s in (peer_a, peer_b):
            self.addCleanup(s.close)
        c = self.client()
        c.channel_bind(0x4001, PEER_IP, PEER_PORT)
        t0 = time.monotonic()
        self.assertEqual(self.exchange(c, 0x4001, peer_a, b"one")[0], b"one")
        # RFC 8656 §12: a bound channel cannot be moved to another peer (400); another number can.
        self.assertEqual(c.channel_bind(0x4001, PEER2_IP, PEER_PORT, expect_success=False).error_code, 400)
        c.channel_bind(0x4002, PEER2_IP, PEER_PORT)
        self.assertEqual(self.exchange(c, 0x4002, peer_b, b"two"), (b"two", ("channel", 0x4002, b"re:two")))
        time.sleep(max(0, t0 + 2 - time.monotonic()))
        c.channel_bind(0x4001, PEER_IP, PEER_PORT)  # a refresh: the kernel's deadline moves too
        time.sleep(max(0, t0 + 5 - time.monotonic()))  # past the first deadline
        self.assertEqual(self.exchange(c, 0x4001, peer_a, b"three"), (b"three", ("channel", 0x4001, b"re:three")))
        time.sleep(max(0, t0 + 6 + TICK + 0.5 - time.monotonic()))  # past the refreshed one
        self.assertEqual(self.exchange(c, 0x4001, peer_a, b"four", timeout=0.5), (None, None))
        # Expired but cooling: bound again to the same peer, it relays through the kernel again.
        c.channel_bind(0x4001, PEER_IP, PEER_PORT)
        self.assertEqual(self.exchange(c, 0x4001, peer_a, b"five"), (b"five", ("channel", 0x4001, b"re:five")))
        st = self.stop(server)
        self.assertGreaterEqual(st["installed"], 3, st)  # 0x4001 twice, 0x4002
        self.assertEqual(st["to_peer"], 4, st)
        self.assertEqual(st["user_space"], 0, st)

    def test_progress_of_a_running_session_counts_the_kernels_packets(self):
        # The ledger's progress records (every 30 s, LedgerSink) see what the kernel relayed.
        self.start_relay()
        peer = self.topo.socket("peer", PEER_IP, PEER_PORT)
        self.addCleanup(peer.close)
        c = self.client()
        c.channel_bind(0x4001, PEER_IP, PEER_PORT)
        for i in range(20):
            self.assertEqual(self.exchange(c, 0x4001, peer, b"%05d" % i)[0], b"%05d" % i)

        def counted():
            rows = harness.admin_json("sessions", "--active", "--ledger", self.ledger)
            return rows if rows and rows[0]["bytes_from_client"] == 100 else None
        rows = harness.wait_until(counted, timeout=40, what="the progress record")
        self.assertEqual((rows[0]["packets_from_client"], rows[0]["packets_to_client"]), (20, 20), rows)
        self.assertEqual(rows[0]["bytes_to_client"], 20 * 8)  # "re:" + 5 bytes each

    def test_peer_policy_and_ports(self):
        server = self.start_relay(["denied-peer-ip=" + PEER2_IP])
        peer = self.topo.socket("peer", PEER_IP, PEER_PORT)
        other_port = self.topo.socket("peer", PEER_IP, PEER_PORT + 1)
        denied = self.topo.socket("peer", PEER2_IP, PEER_PORT)
        for s in (peer, other_port, denied):
            self.addCleanup(s.close)
        c = self.client()
        self.assertEqual(c.channel_bind(0x4001, PEER2_IP, PEER_PORT, expect_success=False).error_code, 403)
        self.assertEqual(c.create_permission(PEER2_IP, expect_success=False).error_code, 403)
        c.channel_bind(0x4002, PEER_IP, PEER_PORT)
        relayed = (RELAY_IP, c.relayed[0][1])
        # The denied peer gets nothing through, by either path.
        denied.sendto(b"from the denied peer", relayed)
        self.assertIsNone(c.receive_data(0.5))
        # The permission is per IP (RFC 8656 §9), the channel per IP and port (§12): another port
        # of the permitted peer arrives as a Data indication, from user space.
        other_port.sendto(b"other port", relayed)
        self.assertEqual(c.receive_data(), ("data", (PEER_IP, PEER_PORT + 1), b"other port"))
        self.assertEqual(self.exchange(c, 0x4002, peer, b"bound"), (b"bound", ("channel", 0x4002, b"re:bound")))
        self.assertIn("forbidden-peer peer %s" % PEER2_IP, server.log())
        st = self.stop(server)
        self.assertEqual((st["to_peer"], st["to_client"]), (1, 1), st)
        self.assertEqual(st["user_space"], 1, st)  # the Data indication

    def test_as_proc_user(self):
        # Loaded as root, then run as nobody: flows are still installed and relayed.
        os.chmod(self.workdir, 0o777)
        server = self.start_relay(["proc-user=nobody"])
        with open("/proc/%d/status" % server.pid) as f:
            status = f.read()
        self.assertRegex(status, r"Uid:\s+%d\s" % pwd.getpwnam("nobody").pw_uid)
        # Whatever the kernel needs is kept, and said; nothing else.
        eff = int(re.search(r"CapEff:\s+([0-9a-f]+)", status).group(1), 16)
        self.assertEqual(eff & ~((1 << 39) | (1 << 12)), 0, status)
        if eff:
            self.assertIn("proc-user nobody keeps ", server.log())
        self.echo_peer()
        r = self.uclient(LISTEN_IP, PEER_IP, ["-m", "2", "-n", "50", "-l", "200", "-z", "5"])
        self.assertEqual((r.lost, r.received), (0, 100), r)
        st = self.stop(server)
        self.assertEqual((st["to_peer"], st["to_client"], st["user_space"]), (100, 100, 0), st)

    # ---- how it stops ---------------------------------------------------------------------------

    def test_without_capabilities_auto_falls_back_with_one_notice(self):
        no_caps = ["setpriv", "--bounding-set=-all", "--inh-caps=-all", "--"]
        server = self.start_relay(["kernel-offload=auto"], prefix=no_caps)
        with open("/proc/%d/status" % server.pid) as f:
            self.assertRegex(f.read(), r"CapEff:\s+0+\n")
        log = server.log()
        self.assertEqual(log.count("kernel offload not loaded: "), 1, log)
        self.assertIn("kernel offload not loaded: turnpike lacks CAP_BPF and CAP_NET_ADMIN", log)
        self.assertEqual(offload_topology.tcx_links(server.pid), [])
        self.echo_peer()
        r = self.uclient(LISTEN_IP, PEER_IP, ["-m", "2", "-n", "50", "-l", "200", "-z", "5"])
        self.assertEqual((r.lost, r.received), (0, 100), r)  # in user space
        server.stop()
        self.assertIsNone(kernel_stats(server.log()))

    def test_without_capabilities_on_refuses_to_start(self):
        no_caps = ["setpriv", "--bounding-set=-all", "--inh-caps=-all", "--"]
        server = self.start_relay(["kernel-offload=on"], prefix=no_caps, ready=False)
        server.proc.wait(15)
        self.assertEqual(server.proc.returncode, 1, server.log())
        self.assertIn("kernel-offload=on: turnpike lacks CAP_BPF and CAP_NET_ADMIN", server.log())

    def test_stalled_daemon_stops_kernel_relaying(self):
        server = self.start_relay()
        peer = self.topo.socket("peer", PEER_IP, PEER_PORT)
        self.addCleanup(peer.close)
        c = self.client()
        c.channel_bind(0x4001, PEER_IP, PEER_PORT)
        self.assertEqual(self.exchange(c, 0x4001, peer, b"alive")[0], b"alive")
        server.send_signal(signal.SIGSTOP)
        try:
            time.sleep(3.5)  # TP_HEARTBEAT_NS: 3 s without a tick
            c.channel_data(0x4001, b"while stopped")
            peer.settimeout(1.0)
            with self.assertRaises(socket.timeout):
                peer.recvfrom(100)
        finally:
            server.send_signal(signal.SIGCONT)
        # Woken up, user space relays what waited in its socket, and the kernel takes over again.
        peer.settimeout(2.0)
        self.assertEqual(peer.recvfrom(100)[0], b"while stopped")
        time.sleep(1.5 * TICK)
        self.assertEqual(self.exchange(c, 0x4001, peer, b"again")[0], b"again")
        st = self.stop(server)
        self.assertGreaterEqual(st["heartbeat"], 1, st)
        self.assertEqual(st["to_peer"], 2, st)
        self.assertEqual(st["user_space"], 1, st)

    def test_hand_over_installs_the_channels_in_the_new_process(self):
        # DESIGN.md "Restart and upgrade": the old process's links go with it; the new one loads
        # its own program and installs the flows of the channels it took over, so ChannelData
        # goes on through the kernel after the hand-over.
        pidfile = os.path.join(self.workdir, "turnpike.pid")
        server = self.start_relay(["pidfile=" + pidfile])
        peer = self.topo.socket("peer", PEER_IP, PEER_PORT)
        self.addCleanup(peer.close)
        c = self.client()
        c.channel_bind(0x4001, PEER_IP, PEER_PORT)
        self.assertEqual(self.exchange(c, 0x4001, peer, b"before")[0], b"before")
        server.send_signal(signal.SIGURG)
        log = server.wait_for_log(r"turnpike handed over to process (\d+)", 20)
        new_pid = int(re.search(r"turnpike handed over to process (\d+)", log).group(1))
        harness.wait_until(lambda: len(offload_topology.tcx_links(new_pid)) == 2, what="the new process's links")
        for i in range(20):
            self.assertEqual(self.exchange(c, 0x4001, peer, b"after %02d" % i)[0], b"after %02d" % i)
        c.refresh(600)
        os.kill(new_pid, signal.SIGTERM)
        harness.wait_until(lambda: not os.path.exists("/proc/%d" % new_pid), 15, "the new process to stop")
        st = kernel_stats(server.log())
        self.assertIsNotNone(st, server.log())
        # Only the new process prints its program's counters: the 20 exchanges after the
        # hand-over went through its kernel program.
        self.assertEqual((st["to_peer"], st["to_client"]), (20, 20), st)

    def test_killed_daemon_takes_its_tcx_link_along(self):
        server = self.start_relay()
        links = {link for link, _ in offload_topology.tcx_links(server.pid)}
        self.assertEqual(len(links), 2)
        self.assertLessEqual(links, offload_topology.live_link_ids())
        server.stop(signal.SIGKILL)
        harness.wait_until(lambda: not links & offload_topology.live_link_ids(), what="the links to go")

    def test_cls_bpf_attachment_and_stale_filters(self):
        # The attachment of kernels before 6.6 (TURNPIKE_OFFLOAD_ATTACH=tc takes it on any kernel).
        env = {"TURNPIKE_OFFLOAD_ATTACH": "tc"}
        server = self.start_relay(env=env)
        self.assertIn("kernel offload: cls_bpf ingress on ", server.log())
        self.echo_peer()
        r = self.uclient(LISTEN_IP, PEER_IP, ["-m", "2", "-n", "50", "-l", "200", "-z", "5"])
        self.assertEqual((r.lost, r.received), (0, 100), r)
        server.stop(signal.SIGKILL)
        # A filter outlives a killed process; it relays nothing once its heartbeat is stale, and
        # the next start removes it (after 10 s without a heartbeat).
        dev = self.topo.links["relay-client"]
        filters = lambda: subprocess.run(self.topo.argv("relay", ["tc", "filter", "show", "dev", dev, "ingress"]),
                                         stdout=subprocess.PIPE, text=True).stdout
        self.assertEqual(filters().count("name turnpike_ingres"), 1, filters())
        time.sleep(10.5)
        again = self.start_relay(env=env, name="again")
        self.assertEqual(filters().count("name turnpike_ingres"), 1, filters())
        r = self.uclient(LISTEN_IP, PEER_IP, ["-m", "2", "-n", "50", "-l", "200", "-z", "5"])
        self.assertEqual((r.lost, r.received), (0, 100), r)
        st = self.stop(again)
        self.assertEqual((st["to_peer"], st["to_client"]), (100, 100), st)
        self.assertEqual(filters().count("name turnpike_ingres"), 0, filters())


if __name__ == "__main__":
    harness.main()
