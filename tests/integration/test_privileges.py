"""Binding a port below 1024 without staying root: turnpike binds its TLS port and reads the
key as root, then becomes proc-user. A later reload that cannot read the new key (still
root-only) says which file and which user, and keeps the running certificate; once the key is
readable by that user, the reload goes through. Needs root (skipped otherwise)."""
import os
import pwd
import re
import signal
import socket
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import certs, harness  # noqa: E402

SECRET = "privileges-secret"
USER = "nobody"


def free_low_port():
    """A TCP port below 1024 that nothing on 127.0.0.1 uses."""
    for port in range(900, 1000):
        t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            t.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue
        finally:
            t.close()
    raise RuntimeError("no free port below 1024")


class Privileges(harness.TestCase):
    def setUp(self):
        super().setUp()
        # The dropped user re-reads the config on SIGHUP: let it reach the directory.
        os.chmod(self.workdir, 0o755)
        self.ca = certs.Ca(self.workdir)
        self.cert, self.key, _ = self.ca.issue("server", serial=0x600D)
        os.chmod(self.key, 0o600)  # root only, as Let's Encrypt leaves it
        os.chmod(self.cert, 0o644)
        self.low_port = free_low_port()

    def test_low_port_as_proc_user_and_unreadable_key_on_reload(self):
        server = self.turnpike(["use-auth-secret", "static-auth-secret=" + SECRET, "cert=" + self.cert,
                                "pkey=" + self.key, "tls-listening-port=%d" % self.low_port,
                                "proc-user=" + USER])
        os.chmod(server.config_path, 0o644)
        with open("/proc/%d/status" % server.pid) as f:
            uids = re.search(r"^Uid:\s+(.*)$", f.read(), re.M).group(1).split()
        self.assertEqual(set(uids), {str(pwd.getpwnam(USER).pw_uid)})
        old = certs.der_of(self.cert)
        self.assertEqual(certs.served_certificate(self.low_port), old)

        # Renewed as root: the new key is root-only again.
        cert, key, _ = self.ca.issue("renewed", serial=0x7E57)
        os.chmod(key, 0o600)
        os.chmod(cert, 0o644)
        os.replace(cert, self.cert)
        os.replace(key, self.key)
        server.send_signal(signal.SIGHUP)
        server.wait_for_log(r"cannot read pkey %s as user %s: Permission denied" % (re.escape(self.key), USER))
        self.assertEqual(certs.served_certificate(self.low_port), old)

        # Readable by the service user (as an admin would fix it): the reload works.
        os.chown(self.key, pwd.getpwnam(USER).pw_uid, -1)
        server.send_signal(signal.SIGHUP)
        server.wait_for_log(r"reloaded TLS certificate .*serial 7E57")
        self.assertEqual(certs.served_certificate(self.low_port), certs.der_of(self.cert))


if __name__ == "__main__":
    if os.geteuid() != 0:
        harness.skip_file("needs root: binds a port below 1024 and switches to user %s" % USER)
    try:
        pwd.getpwnam(USER)
    except KeyError:
        harness.skip_file("no user %s on this machine" % USER)
    harness.main()
