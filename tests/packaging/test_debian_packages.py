"""turnpike's Debian packages, built and used the way Debian and an admin use them.

Builds the packages from this tree (tests/tools/make-deb.sh: dpkg-buildpackage, debhelper),
runs lintian on them (no error and no warning may remain: overrides carry their reason), checks
the unit with systemd-analyze (verify, and the exposure score of `security`, printed), then in a
Debian 12 root of its own (lib/debian_root.py: its own network namespace, no systemd,
policy-rc.d 101) goes through piuparts' cycle by hand, with the daemon started from the unit as
systemd would start it:

  install an older version (the same packages rebuilt with a lower version number), which
  writes the config with a fresh secret, 0640 root:turnpike; turnpike relays for
  turnutils_uclient (udp, to a "videobridge" on a private address the admin allowed by editing
  the config) with zero loss; upgrade to this version while a client relays: no question, the
  admin's config kept byte for byte, the postinst hands the daemon over to the new binary
  (SIGURG) and the client loses at most a handful of packets (the count is printed); reinstall; remove (config kept, binaries gone); purge: no file of ours left (the
  tree is compared with the one before installing), no process of ours runs.
"""
import os
import re
import shutil
import subprocess
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from lib import debian_root  # noqa: E402
from lib.debian_root import DebianRoot  # noqa: E402

SOURCE = os.environ.get("TURNPIKE_SOURCE", os.path.abspath(os.path.join(HERE, "..", "..")))
BUILD = os.environ.get("TURNPIKE_BUILD", os.path.join(SOURCE, "build"))
DEBS = os.path.join(BUILD, "packaging", "deb")
SKIP = 77
PEER = "10.99.0.2"     # the "videobridge": a private address, refused unless allowed
SERVER = "10.99.0.1"
PEER_PORT = 3480
# What a purge may leave: apt's and dpkg's own state, logs, caches, the accounts files (Debian
# keeps system users, and piuparts ignores these too), ld.so's cache.
PURGE_IGNORE = (r"^/var/(lib/(apt|dpkg|systemd/deb-systemd|ucf)|cache|log)(/|$)|"
                r"^/etc/(passwd|group|shadow|gshadow|subuid|subgid)-?$|^/etc/ld\.so\.cache$|"
                r"^/var/tmp/debs(/|$)|^/usr/sbin/policy-rc\.d$")


def skip(reason):
    print("SKIPPED: " + reason, flush=True)
    sys.exit(SKIP)


def run(argv, **kw):
    return subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw)


def build_debs():
    """This tree's packages, and the same rebuilt with a lower version to upgrade from. The
    ctest fixture packaging.build makes them once (make-deb.sh); TURNPIKE_PKG_REUSE=1 (set by
    the tests that require that fixture) uses them as they are."""
    if not os.environ.get("TURNPIKE_PKG_REUSE") or not os.path.isdir(DEBS):
        r = run([os.path.join(SOURCE, "tests", "tools", "make-deb.sh"), DEBS])
        if r.returncode != 0:
            raise AssertionError("building the packages failed:\n" + r.stdout[-5000:])
    with open(os.path.join(SOURCE, "debian", "changelog")) as f:
        version = re.match(r"^turnpike \(([^)]+)\)", f.read()).group(1)
    older = os.path.join(DEBS, "older")
    shutil.rmtree(older, ignore_errors=True)
    os.makedirs(older)
    for deb in os.listdir(DEBS):
        if deb.endswith(".deb") and "dbgsym" not in deb:
            # Same files, lower version: what an upgrade from the previous release looks like
            # to dpkg (maintainer scripts see "configure <old version>").
            tree = os.path.join(older, "tree")
            subprocess.run(["dpkg-deb", "-R", os.path.join(DEBS, deb), tree], check=True)
            with open(os.path.join(tree, "DEBIAN", "control")) as f:
                control = f.read().replace(version, version + "~older1")
            with open(os.path.join(tree, "DEBIAN", "control"), "w") as f:
                f.write(control)
            subprocess.run(["dpkg-deb", "-b", "--root-owner-group", tree,
                            os.path.join(older, deb.replace("_" + version + "_", "_" + version + "~older1_"))],
                           check=True, stdout=subprocess.DEVNULL)
            shutil.rmtree(tree)
    return version


class PidDaemon:
    """A daemon known by its pid only (the process a hand-over started), with Popen's few verbs."""

    def __init__(self, pid):
        self.pid = pid

    def poll(self):
        return None if os.path.exists("/proc/%d" % self.pid) else 0

    def terminate(self):
        try:
            os.kill(self.pid, 15)
        except ProcessLookupError:
            pass

    def kill(self):
        try:
            os.kill(self.pid, 9)
        except ProcessLookupError:
            pass

    def wait(self, timeout=15):
        deadline = time.time() + timeout
        while self.poll() is None:
            if time.time() > deadline:
                raise subprocess.TimeoutExpired("turnpike", timeout)
            time.sleep(0.05)
        return 0


class Packages(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.version = build_debs()
        cls.workdir = debian_root.tempdir()

    def test_1_lintian(self):
        changes = [f for f in os.listdir(DEBS) if f.endswith(".changes")]
        r = run(["lintian", "--pedantic", "-I", "--fail-on", "none", "--tag-display-limit", "0"] +
                [os.path.join(DEBS, c) for c in changes])
        print("lintian:\n" + r.stdout, flush=True)
        bad = [line for line in r.stdout.splitlines() if re.match(r"^[EW]: ", line)]
        self.assertEqual(bad, [], "lintian errors or warnings (fix them, or override with the reason)")

    def test_2_unit(self):
        tree = os.path.join(self.workdir, "unit")
        subprocess.run(["dpkg-deb", "-x", os.path.join(DEBS, "turnpike_%s_amd64.deb" % self.version), tree], check=True)
        unit = [os.path.join(d, "turnpike.service") for d in (tree + "/usr/lib/systemd/system", tree + "/lib/systemd/system")
                if os.path.exists(os.path.join(d, "turnpike.service"))][0]
        r = run(["systemd-analyze", "security", "--offline=yes", "--no-pager", unit])
        m = re.search(r"Overall exposure level for \S+: ([\d.]+) (\S+)", r.stdout)
        self.assertIsNotNone(m, r.stdout)
        print("systemd-analyze security: exposure %s %s (0 = locked down, 10 = fully exposed)" % (m.group(1), m.group(2)),
              flush=True)
        self.assertLess(float(m.group(1)), 5.0, r.stdout)

    def test_3_install_upgrade_remove_purge(self):
        with DebianRoot("bookworm", self.workdir) as root:
            before = root.file_tree(PURGE_IGNORE)
            os.makedirs(root.path("/var/tmp/debs/older"))
            for d, sub in ((DEBS, ""), (os.path.join(DEBS, "older"), "older")):
                for f in os.listdir(d):
                    if f.endswith(".deb") and "dbgsym" not in f and "jitsi" not in f:
                        shutil.copy(os.path.join(d, f), root.path("/var/tmp/debs/" + sub))
            older = "/var/tmp/debs/older/"
            new = "/var/tmp/debs/"
            pkgs = ["turnpike", "lua-turnpike", "prosody-mod-turnpike"]
            debs = lambda where, v: " ".join("%s%s_%s_%s.deb" % (where, p, v, "all" if p == "prosody-mod-turnpike" else "amd64")
                                             for p in pkgs)

            # -- install the older version -----------------------------------------------------
            out = root.apt_install(debs(older, self.version + "~older1")).stdout
            self.assertNotIn("Configuration file", out)
            st = os.stat(root.path("/etc/turnpike/turnpike.conf"))
            self.assertEqual(oct(st.st_mode & 0o7777), "0o640")
            self.assertEqual(st.st_uid, 0)
            self.assertEqual(root.sh("stat -c %G /etc/turnpike/turnpike.conf").stdout.strip(), "turnpike")
            conf = root.read("/etc/turnpike/turnpike.conf")
            secret = re.search(r"^static-auth-secret=([A-Za-z0-9]{40})$", conf, re.M).group(1)
            self.assertEqual(root.sh("stat -c '%a %U %G' /var/lib/turnpike").stdout.strip(), "2770 turnpike turnpike")
            self.assertIn("turnpike", root.sh("id -nG prosody").stdout.split())
            self.assertEqual(root.sh("getent passwd turnpike | cut -d: -f7").stdout.strip(), "/usr/sbin/nologin")
            self.assertEqual(root.pids(), [], "a maintainer script started a daemon despite policy-rc.d")
            # The unit as installed, with the root's own systemd (its targets, /bin/kill, the binary).
            r = root.sh("systemd-analyze verify --man=no turnpike.service 2>&1", check=False)
            self.assertEqual((r.returncode, r.stdout.strip()), (0, ""), "systemd-analyze verify")

            # The admin lets the relay reach a videobridge on a private address.
            with open(root.path("/etc/turnpike/turnpike.conf"), "a") as f:
                f.write("# the videobridge\nallowed-peer-ip=%s\n" % PEER)
            edited = root.read("/etc/turnpike/turnpike.conf")

            peer = subprocess.Popen(root.ns(["turnutils_peer", "-L", PEER, "-p", str(PEER_PORT)]),
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                daemon = root.start_unit("turnpike.service", "turnpike-older.log")
                self.wait_listening(root, daemon)
                r = self.uclient(root, secret, ["-m", "4", "-n", "100", "-l", "200", "-z", "5"])
                self.assertEqual((r["sent"], r["received"], r["lost"]), (400, 400, 0), r["output"][-3000:])

                # -- upgrade while a client relays -----------------------------------------
                long_run = subprocess.Popen(root.ns(self.uclient_argv(secret, ["-m", "1", "-n", "600", "-l", "100", "-z", "20"])),
                                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
                time.sleep(3)
                out = root.apt_install(debs(new, self.version)).stdout
                self.assertNotIn("Configuration file", out)
                self.assertEqual(root.read("/etc/turnpike/turnpike.conf"), edited, "the upgrade changed the admin's config")
                # The postinst handed the running daemon over to the new binary (SIGURG); systemd
                # follows the new main process through PIDFile=.
                self.assertIn("turnpike: handed over from process %d" % daemon.pid, out)
                daemon.wait(timeout=15)
                new_pid = int(root.read("/run/turnpike/turnpike.pid"))
                self.assertNotEqual(new_pid, daemon.pid)
                self.assertEqual(os.readlink("/proc/%d/root" % new_pid), root.dir)
                lr = self.parse(long_run.communicate(timeout=120)[0])
                sessions = root.sh("turnpike-admin sessions -c /etc/turnpike/turnpike.conf").stdout
                print("upgrade while relaying (hand-over from the postinst): the client across it sent %d, received %d, "
                      "lost %s\n%s" % (lr["sent"], lr["received"], lr["lost"], sessions), flush=True)
                self.assertIsNotNone(lr["lost"], lr["output"][-3000:])
                self.assertLessEqual(lr["lost"], 5, lr["output"][-3000:])
                daemon = PidDaemon(new_pid)
                self.assertEqual(root.sh("dpkg-query -W -f='${Version}' turnpike").stdout, self.version)
                r = self.uclient(root, secret, ["-m", "4", "-n", "100", "-l", "200", "-z", "5"])
                self.assertEqual((r["sent"], r["received"], r["lost"]), (400, 400, 0), r["output"][-3000:])

                # -- reinstall ----------------------------------------------------------------
                out = root.apt_install("--reinstall", "%sturnpike_%s_amd64.deb" % (new, self.version)).stdout
                self.assertNotIn("Configuration file", out)
                self.assertEqual(root.read("/etc/turnpike/turnpike.conf"), edited)
                self.assertIn("turnpike: handed over from process %d" % daemon.pid, out)
                daemon.wait()
                daemon = PidDaemon(int(root.read("/run/turnpike/turnpike.pid")))

                # -- remove: the unit's prerm would stop the daemon (systemd); so does the test.
                self.stop(daemon)
            finally:
                peer.terminate()
                peer.wait()
            root.sh("apt-get remove -y " + " ".join(pkgs))
            self.assertFalse(os.path.exists(root.path("/usr/sbin/turnpike")))
            self.assertEqual(root.read("/etc/turnpike/turnpike.conf"), edited, "remove must keep the config")
            self.assertNotIn("turnpike", root.sh("id -nG prosody").stdout.split())

            # -- purge --------------------------------------------------------------------------
            root.sh("apt-get purge -y " + " ".join(pkgs))
            self.assertEqual(root.pids(), [], "processes of ours still run after purge")
            left = sorted(root.file_tree(PURGE_IGNORE) - before)
            self.assertEqual(left, [], "files left after purge")
            self.assertEqual(root.sh("dpkg-divert --list | grep -c turnpike || true").stdout.strip(), "0")

    # -- helpers -----------------------------------------------------------------------------
    def uclient_argv(self, secret, extra):
        return ["turnutils_uclient", "-p", "3478", "-W", secret, "-u", "alice", "-e", PEER, "-r", str(PEER_PORT),
                "-c", "-X"] + extra + [SERVER]

    def parse(self, out):
        m = re.findall(r"tot_send_msgs=(\d+), tot_recv_msgs=(\d+)", out)
        lost = re.search(r"Total lost packets (\d+)", out)
        return {"sent": int(m[-1][0]) if m else 0, "received": int(m[-1][1]) if m else 0,
                "lost": int(lost.group(1)) if lost else None, "output": out}

    def uclient(self, root, secret, extra):
        r = run(root.ns(self.uclient_argv(secret, extra)), timeout=120)
        return self.parse(r.stdout)

    def wait_listening(self, root, daemon, timeout=15):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if daemon.poll() is not None:
                raise AssertionError("turnpike exited (%s); its log:\n%s" % (daemon.returncode, self.daemon_logs()))
            out = run(root.ns(["ss", "-lun"])).stdout
            if re.search(r":3478\s", out):
                return
            time.sleep(0.2)
        raise AssertionError("turnpike does not listen on 3478 after %ds:\n%s" % (timeout, self.daemon_logs()))

    def daemon_logs(self):
        text = ""
        for f in sorted(os.listdir(self.workdir)):
            if f.startswith("turnpike-") and f.endswith(".log"):
                text += "== %s\n%s\n" % (f, open(os.path.join(self.workdir, f)).read()[-3000:])
        return text

    def stop(self, daemon):
        daemon.terminate()
        try:
            daemon.wait(timeout=15)
        except subprocess.TimeoutExpired:
            daemon.kill()
            daemon.wait()


def main():
    if os.geteuid() != 0:
        skip("the packaging tests need root (chroot, network namespaces, mounts), as CI runs them")
    for p in ("dpkg-buildpackage", "lintian", "mmdebstrap", "unshare", "turnutils_uclient", "systemd-analyze"):
        if not shutil.which(p):
            raise SystemExit("missing %s (make test-deps installs it)" % p)
    debian_root.reexec_in_mount_namespace()
    unittest.main(verbosity=2)


if __name__ == "__main__":
    main()
