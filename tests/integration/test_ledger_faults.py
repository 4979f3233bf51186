"""The ledger must never stop the relay, and must not lose what it can keep: a lock held by
another process delays writes, SIGTERM flushes every session, kill -9 leaves sessions that the
next start closes as interrupted."""
import os
import signal
import sqlite3
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import harness, stun  # noqa: E402

SECRET = "fault-secret"


def sessions(path):
    return harness.admin_json("sessions", "--ledger", path, "--limit", "10000")


class LedgerFaults(harness.TestCase):
    def start(self, extra=(), name="turnpike"):
        return self.turnpike(["use-auth-secret", "static-auth-secret=" + SECRET, "allow-loopback-peers"] + list(extra),
                             name=name)

    def relay_some(self, server, peer, n=30):
        r = harness.uclient(server.port, ["-W", SECRET, "-u", "alice", "-e", "127.0.0.1", "-r", str(peer.port),
                                          "-c", "-X", "-n", str(n), "-l", "100", "-z", "5"])
        self.assertEqual(r.lost, 0, r)
        self.assertEqual(r.received, n, r)

    def test_a_lock_held_by_another_process_delays_but_loses_nothing(self):
        server = self.start()
        peer = self.echo_peer()
        self.relay_some(server, peer)
        harness.wait_until(lambda: len(sessions(server.ledger_path)) >= 1, what="first sessions")
        holder = sqlite3.connect(server.ledger_path, timeout=10, isolation_level=None)
        holder.execute("BEGIN EXCLUSIVE")
        try:
            self.relay_some(server, peer)  # relaying is unaffected by the lock
            server.wait_for_log("ledger .*(locked|busy)", timeout=10)
        finally:
            holder.execute("COMMIT")
            holder.close()
        server.wait_for_log("writing resumed", timeout=10)
        rows = harness.wait_until(lambda: [s for s in sessions(server.ledger_path) if s["end_reason"] == "refresh-0"]
                        if len([s for s in sessions(server.ledger_path) if s["end_reason"] == "refresh-0"]) >= 2
                        else None, what="both runs' sessions")
        self.assertEqual(len(rows), 2)
        self.assertEqual(harness.admin_json("stats", "--ledger", server.ledger_path)["ledger"][0]["events_dropped"], 0)

    def test_sigterm_writes_every_session(self):
        server = self.start()
        clients = []
        for i in range(40):
            c = stun.Client("127.0.0.1", server.port, *stun.rest_credential(SECRET, "user%d" % i))
            self.addCleanup(c.close)
            c.allocate()
            clients.append(c)
        self.assertEqual(server.stop(), 0)
        rows = sessions(server.ledger_path)
        self.assertEqual(len(rows), 40)
        self.assertTrue(all(s["end_reason"] == "shutdown" for s in rows), rows)
        self.assertEqual({s["client_port"] for s in rows}, {c.sock.getsockname()[1] for c in clients})
        self.assertIn("ledger: ", server.log())
        self.assertRegex(server.log(), r"ledger: \d+ event\(s\) written, 0 dropped")

    def test_stopping_with_a_locked_ledger_takes_bounded_time(self):
        # Every session's end is queued at stop; a ledger locked by another program must not
        # hold the stop up for long (systemd would kill the process): the workers wait for room
        # within one deadline, the writer tries for a few seconds, then counts what it gave up.
        server = self.start()
        clients = []
        for i in range(200):
            c = stun.Client("127.0.0.1", server.port, *stun.rest_credential(SECRET, "held%d" % i))
            self.addCleanup(c.close)
            c.allocate()
            clients.append(c)
        harness.wait_until(lambda: len(sessions(server.ledger_path)) == 200, what="200 sessions started")
        holder = sqlite3.connect(server.ledger_path, timeout=10, isolation_level=None)
        holder.execute("BEGIN EXCLUSIVE")
        try:
            started = time.time()
            self.assertEqual(server.stop(timeout=30), 0)
            took = time.time() - started
        finally:
            holder.execute("COMMIT")
            holder.close()
        self.assertLess(took, 15, "stopping took %.1f s" % took)
        self.assertRegex(server.log(), r"ledger: stopping with \d+ event\(s\) unwritten because the ledger is failing")
        self.assertRegex(server.log(), r"ledger: \d+ event\(s\) written, [1-9]\d* dropped \(end 200\)")

    def test_kill_9_then_restart_closes_orphans_as_interrupted(self):
        server = self.start()
        for i in range(5):
            c = stun.Client("127.0.0.1", server.port, *stun.rest_credential(SECRET, "crash%d" % i))
            self.addCleanup(c.close)
            c.allocate()
        harness.wait_until(lambda: len(sessions(server.ledger_path)) == 5, what="5 active sessions written")
        server.stop(signal.SIGKILL)
        self.assertTrue(all(s["active"] for s in sessions(server.ledger_path)))
        # Same ledger, new process.
        again = self.track(harness.Process([harness.TURNPIKE, "-c", server.config_path],
                                           os.path.join(self.workdir, "restart.log")))
        again.wait_for_log("turnpike ready")
        again.wait_for_log(r"5 session\(s\) left open by an earlier run closed as interrupted")
        rows = sessions(server.ledger_path)
        self.assertEqual([s["end_reason"] for s in rows], ["interrupted"] * 5)
        self.assertTrue(all(s["ended_at"] for s in rows))

    def test_unwritable_ledger_path_does_not_stop_the_relay(self):
        server = self.turnpike(["use-auth-secret", "static-auth-secret=" + SECRET, "allow-loopback-peers",
                                "ledger=/nonexistent-dir/ledger.db", "ledger-max-pending=10"], name="nolegder")
        peer = self.echo_peer()
        self.relay_some(server, peer)
        server.wait_for_log("cannot open ledger /nonexistent-dir/ledger.db")
        self.assertEqual(server.stop(), 0)
        self.assertRegex(server.log(), r"ledger: 0 event\(s\) written, [1-9]\d* dropped")


if __name__ == "__main__":
    harness.main()
