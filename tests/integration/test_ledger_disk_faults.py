"""The ledger on a file system that fills up (a real tmpfs mount), and in a file the relay may
not write after dropping root (both need root to set up): relaying goes on, the trouble is
logged, drops are counted, and writing resumes by itself when the ledger is usable again."""
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import harness  # noqa: E402

SECRET = "disk-secret"

if os.geteuid() != 0:
    harness.skip_file("mounting a tmpfs and dropping root to another user need root")


def mount(path, opts):
    subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", path], check=True)


def sessions(path):
    return harness.admin_json("sessions", "--ledger", path, "--limit", "10000")


class DiskFaults(harness.TestCase):
    def setUp(self):
        super().setUp()
        self.mnt = os.path.join(self.workdir, "mnt")
        os.makedirs(self.mnt)

    def tearDown(self):
        super().tearDown()
        subprocess.run(["umount", "-l", self.mnt], stderr=subprocess.DEVNULL)

    def start(self, extra=()):
        self.server = self.turnpike(["use-auth-secret", "static-auth-secret=" + SECRET, "allow-loopback-peers",
                                     "ledger=" + os.path.join(self.mnt, "ledger.db")] + list(extra))
        self.peer = self.echo_peer()

    def relay(self, user):
        r = harness.uclient(self.server.port, ["-W", SECRET, "-u", user, "-e", "127.0.0.1", "-r", str(self.peer.port),
                                               "-c", "-X", "-n", "30", "-l", "100", "-z", "5"])
        self.assertEqual(r.lost, 0, r)
        self.assertEqual(r.received, 30, r)

    def used(self, user):
        return [s for s in sessions(os.path.join(self.mnt, "ledger.db"))
                if s["username"].endswith(":" + user) and s["end_reason"] == "refresh-0"]

    def test_read_only_ledger_file(self):
        # A ledger the relay's user cannot write (say, restored from a backup as root, 0644):
        # the relay, running as `nobody` after dropping root, relays anyway, says why it cannot
        # record, counts what it had to drop, and picks up by itself once the owner is fixed.
        import pwd
        nobody = pwd.getpwnam("nobody")
        os.chmod(self.workdir, 0o755)
        ledger_dir = os.path.join(self.workdir, "ledger")
        os.makedirs(ledger_dir)
        path = os.path.join(ledger_dir, "ledger.db")
        first = self.turnpike(["use-auth-secret", "static-auth-secret=" + SECRET, "ledger=" + path], name="creator")
        self.assertEqual(first.stop(), 0)  # leaves a ledger file owned by root
        os.chmod(path, 0o644)
        os.chown(ledger_dir, nobody.pw_uid, nobody.pw_gid)
        self.server = self.turnpike(["use-auth-secret", "static-auth-secret=" + SECRET, "allow-loopback-peers",
                                     "ledger=" + path, "proc-user=nobody", "ledger-max-pending=2"])
        self.peer = self.echo_peer()
        self.relay("during")
        self.server.wait_for_log("ledger .*readonly", timeout=10)
        self.assertTrue(self.server.alive())
        os.chown(path, nobody.pw_uid, nobody.pw_gid)
        self.server.wait_for_log("writing resumed", timeout=10)
        self.relay("after")
        deadline = time.time() + 5
        while time.time() < deadline and len([s for s in sessions(path) if s["username"].endswith(":after")]) != 2:
            time.sleep(0.1)
        after = [s for s in sessions(path) if s["username"].endswith(":after")]
        self.assertEqual(len(after), 2)  # the used allocation and uclient's spare one
        self.assertEqual(self.server.stop(), 0)
        self.assertRegex(self.server.log(), r"ledger: \d+ event\(s\) written, [1-9]\d* dropped")

    def test_full_disk_counts_what_it_drops_and_recovers(self):
        mount(self.mnt, "size=1m")
        self.start(["ledger-max-pending=3"])
        self.relay("before")
        time.sleep(0.5)
        filler = os.path.join(self.mnt, "filler")
        subprocess.run(["dd", "if=/dev/zero", "of=" + filler, "bs=16k"], stderr=subprocess.DEVNULL)
        for i in range(3):
            self.relay("full%d" % i)  # relaying goes on while the disk is full
        self.server.wait_for_log("ledger .*(full|disk)", timeout=15)
        self.assertTrue(self.server.alive())
        os.remove(filler)
        self.server.wait_for_log("writing resumed", timeout=15)
        # The health row is written every five seconds: the drops are counted there, not hidden.
        def dropped():
            health = harness.admin_json("stats", "--ledger", os.path.join(self.mnt, "ledger.db"))["ledger"]
            return health and health[0]["events_dropped"] > 0
        harness.wait_until(dropped, timeout=15, what="events_dropped > 0 in the ledger's health row")
        # Counted by kind too, and the kinds add up to the total.
        health = harness.admin_json("stats", "--ledger", os.path.join(self.mnt, "ledger.db"))["ledger"][0]
        self.assertEqual(set(health["dropped_by_kind"]), {"start", "update", "end", "peers", "refusal"})
        self.assertEqual(sum(health["dropped_by_kind"].values()), health["events_dropped"], health)
        text = subprocess.run([harness.ADMIN, "stats", "--ledger", os.path.join(self.mnt, "ledger.db")],
                              stdout=subprocess.PIPE, text=True, check=True).stdout
        self.assertRegex(text, r"ledger writer on .*: \d+ events written, [1-9]\d* dropped \((start|update|end|peers|refusal) [1-9]")
        self.relay("after")
        deadline = time.time() + 5
        while time.time() < deadline and len(self.used("after")) != 1:
            time.sleep(0.1)
        self.assertEqual(len(self.used("after")), 1)


if __name__ == "__main__":
    harness.main()
