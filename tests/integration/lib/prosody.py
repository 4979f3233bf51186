"""A throwaway Prosody (Debian's `prosody` 0.12) for the mod_turnpike tests.

Its config lives in the test's scratch directory: data_path there, c2s on a chosen port on
127.0.0.1 only, no HTTP, no s2s, no TLS, plain authentication, and the module loaded from the
checkout (plugin_paths) with turnpike.so from the build tree (LUA_CPATH_5_4). It is stopped by pid.
"""
import base64
import calendar
import hashlib
import hmac
import os
import shutil
import socket
import subprocess
import tempfile
import time
import unittest

from . import harness, stun, xmpp_client

XMPP_EXT = os.path.join(harness.SOURCE, "xmpp_ext")
COMPAT = os.path.join(XMPP_EXT, "compat")
TEST_PLUGINS = os.path.join(harness.SOURCE, "tests", "integration", "prosody_plugins")
LIB = os.path.join(harness.BUILD, "lib")


def lua(value):
    """A Python value as Lua source, for config files."""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return '"%s"' % value.replace("\\", "\\\\").replace('"', '\\"')
    if isinstance(value, dict):
        return "{ " + " ".join("%s = %s;" % (k, lua(v)) for k, v in value.items()) + " }"
    if isinstance(value, (list, tuple)):
        return "{ " + " ".join("%s;" % lua(v) for v in value) + " }"
    raise TypeError(value)


def options_text(options):
    return "".join("%s = %s\n" % (k, lua(v)) for k, v in options.items())


class Prosody(harness.Process):
    """`hosts` maps each VirtualHost name to its options (a dict); `users` is a list of
    (user, host, password); `options` are global options added to the defaults."""

    def __init__(self, workdir, hosts, users=(), options=None, modules=("turnpike",), plugin_paths=None,
                 name="prosody", components=None, argv_prefix=()):
        harness.require("prosody", "prosodyctl")
        if not os.path.exists(os.path.join(LIB, "turnpike.so")):
            raise RuntimeError("%s/turnpike.so is missing: build the project first" % LIB)
        self.port = harness.free_port()
        self.dir = os.path.join(workdir, name)
        os.makedirs(os.path.join(self.dir, "data"))
        os.makedirs(os.path.join(self.dir, "certs"))
        base = {
            "data_path": os.path.join(self.dir, "data"),
            "certificates": os.path.join(self.dir, "certs"),
            "plugin_paths": list(plugin_paths if plugin_paths is not None else [XMPP_EXT, TEST_PLUGINS]),
            "interfaces": ["127.0.0.1"],
            "c2s_ports": [self.port],
            "s2s_ports": [], "component_ports": [], "http_ports": [], "https_ports": [],
            "c2s_direct_tls_ports": [], "legacy_ssl_ports": [],
            "authentication": "internal_plain",
            "c2s_require_encryption": False,
            "allow_unencrypted_plain_auth": True,
            "modules_enabled": ["disco", "roster", "saslauth"] + list(modules),
            "modules_disabled": ["s2s", "tls", "offline"],
        }
        # External components (XEP-0114): `components` maps each name to its secret.
        self.component_port = None
        if components:
            self.component_port = harness.free_port()
            base["component_ports"] = [self.component_port]
            base["component_interfaces"] = ["127.0.0.1"]
        if os.geteuid() == 0:
            base["run_as_root"] = True  # without it, a root start refuses and hangs
        base.update(options or {})
        text = options_text(base)
        text += 'log = { { levels = { min = "debug" }, to = "console" } }\n'
        for host, host_options in hosts.items():
            text += '\nVirtualHost "%s"\n' % host + "".join("    " + line + "\n"
                                                        for line in options_text(host_options).splitlines())
        for component, secret in (components or {}).items():
            text += '\nComponent "%s"\n    component_secret = %s\n' % (component, lua(secret))
        self.config_path = os.path.join(self.dir, "prosody.cfg.lua")
        with open(self.config_path, "w") as f:
            f.write(text)
        for user, host, password in users:
            self.prosodyctl("register", user, host, password)
        env = dict(os.environ)
        env["LUA_CPATH_5_4"] = LIB + "/?.so;;"
        # argv_prefix: a wrapper, e.g. faketime for a server whose clock is wrong.
        super().__init__(list(argv_prefix) + ["prosody", "-F", "--config", self.config_path],
                         os.path.join(self.dir, "prosody.log"), env=env, cwd=self.dir)

    def prosodyctl(self, *args):
        p = subprocess.run(["prosodyctl", "--config", self.config_path] + list(args),
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=30)
        if p.returncode != 0:
            raise RuntimeError("prosodyctl %s failed:\n%s" % (" ".join(args), p.stdout))
        return p.stdout

    def wait_ready(self, timeout=20.0):
        deadline = time.time() + timeout
        text = self.wait_for_log(r"Activated service 'c2s' on \[127\.0\.0\.1\]:%d" % self.port, timeout)
        # The listener is announced while the hosts are still loading their modules (in an order
        # Prosody does not fix); the first answer on it comes from the event loop, which runs only
        # once every module is loaded.
        with socket.create_connection(("127.0.0.1", self.port), timeout=max(1.0, deadline - time.time())) as s:
            s.sendall(b"<?xml version='1.0'?><stream:stream to='localhost' xmlns='jabber:client' "
                      b"xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>")
            answer = b""
            while b"<stream:stream" not in answer:
                chunk = s.recv(4096)
                if not chunk:
                    raise RuntimeError("prosody closed the first c2s connection without a stream header:\n%r"
                                       % answer)
                answer += chunk
        return text

    def module_log(self, host="localhost", module="turnpike"):
        """What one module logged, one line each."""
        tag = "%s:%s" % (host, module)
        return "\n".join(line for line in self.log().splitlines() if line.startswith(tag))


def have_slixmpp():
    return os.path.exists("/usr/bin/python3") and subprocess.run(
        ["/usr/bin/python3", "-c", "import slixmpp"], stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL).returncode == 0


def require_tools():
    """Prosody, slixmpp and coturn's clients are test dependencies (make test-deps); missing
    ones are a failure, not a skip."""
    harness.require("prosody", "prosodyctl", "turnutils_uclient", "turnutils_peer")
    if not have_slixmpp():
        raise RuntimeError("python3-slixmpp is missing for /usr/bin/python3 (run `make test`, which installs it)")
    if shutil.which("lua5.4") is None:
        raise RuntimeError("lua5.4 is missing (run `make test`, which installs it)")


# ---- helpers shared by the Prosody tests --------------------------------------------------------

EXTDISCO_2 = "urn:xmpp:extdisco:2"
EXTDISCO_1 = "urn:xmpp:extdisco:1"


def rest_password(secret, username):
    """The TURN REST password, computed here independently of turnpike's code."""
    return base64.b64encode(hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()).decode()


def xep0082(text):
    """A XEP-0082 UTC dateTime ("2026-11-22T20:29:31Z") as unix seconds."""
    return calendar.timegm(time.strptime(text, "%Y-%m-%dT%H:%M:%SZ"))


def get(xml, to="localhost"):
    return {"xml": xml, "type": "get", "to": to}


def iq_set(xml, to="localhost"):
    return {"xml": xml, "type": "set", "to": to}


class ProsodyTestCase(unittest.TestCase):
    """One scratch directory, turnpike, an echo peer and Prosody instances per test class;
    subclasses start them in start() and everything is stopped by pid afterwards."""

    @classmethod
    def setUpClass(cls):
        require_tools()
        cls.workdir = tempfile.mkdtemp(prefix="turnpike-prosody-")
        cls.processes = []
        try:
            cls.start()
        except BaseException:
            cls.stop_all()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.stop_all()

    @classmethod
    def stop_all(cls):
        for p in reversed(cls.processes):
            p.stop()
        cls.processes = []
        if getattr(cls, "_failed", False) or os.environ.get("TURNPIKE_KEEP_LOGS"):
            print("logs kept in " + cls.workdir)
        else:
            shutil.rmtree(cls.workdir, ignore_errors=True)

    def run(self, result=None):
        result = super().run(result)
        if result is not None and (result.failures or result.errors):
            type(self)._failed = True
        return result

    @classmethod
    def track(cls, process):
        cls.processes.append(process)
        return process

    @classmethod
    def start_turnpike(cls, options, name="turnpike"):
        t = cls.track(harness.Turnpike(cls.workdir, options, name=name))
        t.wait_ready()
        return t

    @classmethod
    def start_peer(cls):
        return cls.track(harness.EchoPeer(cls.workdir))

    @classmethod
    def start_prosody(cls, hosts, users=(), **kw):
        p = cls.track(Prosody(cls.workdir, hosts, users, **kw))
        p.wait_ready()
        return p

    def ask(self, prosody, jid, password, requests):
        return xmpp_client.query(prosody.port, jid, password, requests)

    def relay(self, turnpike, peer, username, password, messages=40, extra=()):
        """coturn's turnutils_uclient allocates on `turnpike` with these credentials and sends
        `messages` datagrams through a channel to the echo peer and back (`extra`: ["-t"] to
        reach turnpike over TCP)."""
        return harness.uclient(turnpike.port, ["-u", username, "-w", password, "-e", "127.0.0.1",
                                               "-r", str(peer.port), "-c", "-X", "-m", "1",
                                               "-n", str(messages), "-l", "120", "-z", "5"] + list(extra))

    def assertRelays(self, turnpike, peer, username, password, messages=40, extra=()):
        r = self.relay(turnpike, peer, username, password, messages, extra)
        self.assertEqual((r.sent, r.received, r.lost), (messages, messages, 0),
                         "relay with %s failed: %r\nturnpike log:\n%s" % (username, r, turnpike.log()[-2000:]))

    def assertAllocates(self, turnpike, username, password):
        """A quick proof that the relay accepts the credentials: one authenticated Allocate (and
        its release) by the project's Python TURN client."""
        c = stun.Client("127.0.0.1", turnpike.port, username, password)
        try:
            c.allocate()
            c.refresh(0)
        except stun.TurnError as e:
            self.fail("turnpike refused %s: %s\n%s" % (username, e, turnpike.log()[-2000:]))
        finally:
            c.close()

    def assertRefused(self, turnpike, peer, username, password):
        r = self.relay(turnpike, peer, username, password, messages=5)
        self.assertTrue(r.allocation_failed, "credentials %s were accepted: %r" % (username, r))
        self.assertEqual(r.received, 0, r)

    def assertError(self, reply, error_type, condition, text=None):
        self.assertEqual(reply.type, "error", reply)
        got = reply.error()
        self.assertEqual(got[:2], (error_type, condition), reply)
        if text is not None:
            self.assertEqual(got[2], text, reply)
