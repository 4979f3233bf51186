"""A Debian root for the packaging tests, in a network namespace of its own.

The root comes from a tarball made by mmdebstrap from the Debian archive and cached in
/var/cache/turnpike-tests/ (created when absent: the only step that needs the network). It holds
every package the tests install beside ours (their dependencies, Prosody, coturn), so installing
turnpike's .deb files at test time fetches nothing. Each test extracts a fresh copy, runs
commands in it with chroot inside its network namespace (only loopback and a veth pair inside it, no
route out), and starts daemons from their systemd unit's ExecStart=, User=, Group=, UMask=,
LimitNOFILE= and AmbientCapabilities= as systemd would (there is no systemd in the root; a
policy-rc.d answers 101, as piuparts does, so maintainer scripts start nothing).

The whole test process runs in a private mount namespace (`unshare --mount`), so the root's
/proc and /dev mounts vanish with it, also when ctest kills it.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

CACHE = "/var/cache/turnpike-tests"
MIRROR = "http://deb.debian.org/debian"
# Everything the tests install from the archive, so the test itself downloads nothing: the
# runtime dependencies of turnpike's packages, Prosody and Lua, coturn (a Jitsi host's relay
# until the switch-over), and the tools maintainer scripts call.
PACKAGES = [
    "systemd", "systemd-sysv", "procps", "passwd", "adduser", "debconf", "openssl", "ca-certificates",
    "prosody", "lua5.4", "coturn", "sqlite3", "iproute2",
    "libevent-core-2.1-7", "libevent-extra-2.1-7", "libevent-openssl-2.1-7", "libevent-pthreads-2.1-7",
    "libbpf1", "libstrophe0", "libsqlite3-0", "libssl3",
]


def reexec_in_mount_namespace():
    """Runs this script again in a private mount namespace (once)."""
    if os.environ.get("TURNPIKE_PKG_MOUNT_NS") == "1":
        return
    env = dict(os.environ, TURNPIKE_PKG_MOUNT_NS="1")
    os.execvpe("unshare", ["unshare", "--mount", "--propagation", "private", sys.executable] + sys.argv, env)


def tarball(suite):
    """The cached root of `suite`, made with mmdebstrap when it is absent (or its package list
    changed: the list is part of the name)."""
    import hashlib
    tag = hashlib.sha256(" ".join(PACKAGES).encode()).hexdigest()[:10]
    path = os.path.join(CACHE, "packaging-%s-%s.tar" % (suite, tag))
    if os.path.exists(path):
        return path
    os.makedirs(CACHE, exist_ok=True)
    tmp = path + ".partial"
    print("making the Debian %s root %s with mmdebstrap (once; cached)" % (suite, path), flush=True)
    subprocess.run(["mmdebstrap", "--variant=apt", "--mode=root", "--format=tar",
                    "--include=" + ",".join(PACKAGES), suite, tmp, MIRROR],
                   check=True, stdout=subprocess.DEVNULL)
    os.rename(tmp, path)
    return path


class DebianRoot:
    def __init__(self, suite, workdir):
        self.suite = suite
        self.dir = os.path.join(workdir, "root-" + suite)
        self.netns = "turnpike-pkg-%d-%s" % (os.getpid(), suite)
        self.log = os.path.join(workdir, "root-%s.log" % suite)

    # -- life cycle --------------------------------------------------------------------------
    def __enter__(self):
        os.makedirs(self.dir)
        subprocess.run(["tar", "-C", self.dir, "-xf", tarball(self.suite)], check=True)
        for m in ("proc", "dev"):
            os.makedirs(os.path.join(self.dir, m), exist_ok=True)
        subprocess.run(["mount", "-t", "proc", "proc", os.path.join(self.dir, "proc")], check=True)
        subprocess.run(["mount", "--rbind", "/dev", os.path.join(self.dir, "dev")], check=True)
        # piuparts' rule: maintainer scripts may not start daemons.
        self.write("/usr/sbin/policy-rc.d", "#!/bin/sh\nexit 101\n", mode=0o755)
        # No archive to reach: whatever is not in the root already cannot be fetched (and apt
        # says so) instead of being downloaded.
        self.write("/etc/apt/sources.list", "")
        for f in os.listdir(self.path("/etc/apt/sources.list.d")):
            os.unlink(self.path("/etc/apt/sources.list.d/" + f))
        # Nothing in the root may look names up outside.
        self.write("/etc/hosts", "127.0.0.1 localhost\n10.99.0.1 meet.example.test\n")
        self.write("/etc/hostname", "meet.example.test\n")
        subprocess.run(["ip", "netns", "del", self.netns], stderr=subprocess.DEVNULL)
        subprocess.run(["ip", "netns", "add", self.netns], check=True)
        for cmd in (["link", "set", "lo", "up"], ["link", "add", "d0", "type", "veth", "peer", "name", "d1"], ["link", "set", "d1", "up"],
                    ["addr", "add", "10.99.0.1/24", "dev", "d0"], ["addr", "add", "10.99.0.2/24", "dev", "d0"],
                    ["link", "set", "d0", "up"]):
            subprocess.run(["ip", "-n", self.netns] + cmd, check=True)
        return self

    def __exit__(self, *exc):
        self.kill_all()
        subprocess.run(["ip", "netns", "del", self.netns], stderr=subprocess.DEVNULL)
        subprocess.run(["umount", "-R", "-l", os.path.join(self.dir, "dev")], stderr=subprocess.DEVNULL)
        subprocess.run(["umount", "-l", os.path.join(self.dir, "proc")], stderr=subprocess.DEVNULL)
        if exc[0] is None:
            shutil.rmtree(self.dir, ignore_errors=True)
        else:
            print("root kept for a look: %s (log %s)" % (self.dir, self.log), file=sys.stderr)

    # -- files and commands ------------------------------------------------------------------
    def path(self, p):
        return os.path.join(self.dir, p.lstrip("/"))

    def write(self, p, text, mode=0o644):
        full = self.path(p)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "w") as f:
            f.write(text)
        os.chmod(full, mode)

    def read(self, p):
        with open(self.path(p)) as f:
            return f.read()

    def ns(self, argv, **kw):
        """argv (a program of the host) in the root's network namespace."""
        return ["ip", "netns", "exec", self.netns] + list(argv)

    def sh(self, script, check=True, input=None):
        """A shell script run as root inside the root (and its network namespace)."""
        env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "DEBIAN_FRONTEND": "noninteractive",
               "LANG": "C.UTF-8", "HOME": "/root"}
        p = subprocess.run(self.ns(["chroot", self.dir, "/bin/sh", "-ec", script]), env=env,
                           input=input if input is not None else "", text=True,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        with open(self.log, "a") as f:
            f.write("$ %s\n%s\n[exit %d]\n" % (script, p.stdout, p.returncode))
        if check and p.returncode != 0:
            raise AssertionError("in the %s root, %r failed (%d):\n%s" % (self.suite, script, p.returncode,
                                                                         p.stdout[-4000:]))
        return p

    def apt_install(self, *args):
        """apt-get install without network: everything but our .deb files is already there."""
        return self.sh("apt-get install -y -o Dpkg::Use-Pty=0 " + " ".join(args))

    # -- daemons as systemd starts them --------------------------------------------------------
    def unit(self, name):
        for d in ("/usr/lib/systemd/system", "/lib/systemd/system"):
            if os.path.exists(self.path(d + "/" + name)):
                text = self.read(d + "/" + name)
                break
        else:
            raise AssertionError("no unit %s in the root" % name)
        u = {}
        for line in text.splitlines():
            m = re.match(r"^([A-Za-z]+)=(.*)$", line.strip())
            if m:
                u.setdefault(m.group(1), []).append(m.group(2))
        return u

    def start_unit(self, name, log_name=None):
        """Starts the unit's ExecStart= as its User=/Group= with its ambient capabilities, UMask=
        and LimitNOFILE=; returns the Popen (of `ip netns exec`, which execs the daemon's chain)."""
        u = self.unit(name)
        user = u.get("User", ["root"])[-1]
        group = u.get("Group", [user])[-1]
        caps = " ".join(u.get("AmbientCapabilities", [])).split()
        capnames = ",".join("+" + c.lower().replace("cap_", "") for c in caps)
        exec_start = u["ExecStart"][-1].lstrip("-@+!")
        # The limit is set by root before the user switch, as systemd does; this machine's hard
        # limit may be lower than the unit's (then the lower one, said in the log).
        import resource
        nofile = int(u.get("LimitNOFILE", ["1024"])[-1])
        hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        if hard != resource.RLIM_INFINITY and nofile > hard:
            print("LimitNOFILE=%d is above this machine's hard limit %d: using %d" % (nofile, hard, hard), flush=True)
            nofile = hard
        argv = ["setpriv", "--reuid=" + user, "--regid=" + group, "--init-groups"]
        if capnames:
            argv += ["--inh-caps=" + capnames, "--ambient-caps=" + capnames]
        prep = ""
        for d in " ".join(u.get("RuntimeDirectory", [])).split():
            prep += "mkdir -p /run/%s; chown %s:%s /run/%s; " % (d, user, group, d)
        if u.get("WorkingDirectory"):
            prep += "cd %s; " % u["WorkingDirectory"][-1]
        # Its pid, for the policy-rc.d of jitsi_policy() (a package's prerm stopping it).
        prep += "mkdir -p /run/turnpike-test; echo $$ > /run/turnpike-test/%s.pid; " % name.replace(".service", "")
        script = prep + "ulimit -n %d; umask %s; exec %s %s" % (nofile, u.get("UMask", ["0022"])[-1], " ".join(argv), exec_start)
        argv = ["chroot", self.dir, "/bin/sh", "-c", script]
        log = open(os.path.join(os.path.dirname(self.dir), log_name or (name + ".log")), "ab")
        env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"}
        return subprocess.Popen(self.ns(argv), stdout=log, stderr=subprocess.STDOUT, env=env)

    def stop_on_prerm_policy(self):
        """A policy-rc.d that, like systemd for a package's prerm, stops a daemon the test
        started from its unit when a maintainer script asks `invoke-rc.d NAME stop`; every
        other action stays forbidden (101), so nothing is started behind the test's back."""
        self.write("/usr/sbin/policy-rc.d", "#!/bin/sh\n"
                   "if [ \"$2\" = stop ] && [ -f /run/turnpike-test/$1.pid ]; then\n"
                   "  kill $(cat /run/turnpike-test/$1.pid) 2>/dev/null || true; rm -f /run/turnpike-test/$1.pid\n"
                   "fi\nexit 101\n", mode=0o755)

    def pids(self):
        """Processes whose root directory is this root (what a purge must leave none of)."""
        found = []
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                if os.readlink("/proc/%s/root" % pid) == self.dir:
                    found.append(int(pid))
            except OSError:
                pass
        return found

    def kill_all(self):
        import signal
        import time
        for sig in (signal.SIGTERM, signal.SIGKILL):
            for pid in self.pids():
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass
            deadline = time.time() + 10
            while self.pids() and time.time() < deadline:
                time.sleep(0.1)

    def file_tree(self, ignore):
        """Every path in the root, minus the `ignore` regex (apt/dpkg state, logs, caches)."""
        rx = re.compile(ignore)
        out = set()
        for top, dirs, files in os.walk(self.dir):
            rel_top = "/" + os.path.relpath(top, self.dir).lstrip(".")
            if rel_top.startswith(("/proc", "/dev", "/sys", "/run", "/tmp")):
                dirs[:] = []
                continue
            for n in dirs + files:
                p = os.path.join(rel_top, n).replace("//", "/")
                if not rx.search(p):
                    out.add(p)
        return out


def tempdir():
    return tempfile.mkdtemp(prefix="turnpike-pkg-", dir="/var/tmp")
