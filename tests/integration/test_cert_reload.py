"""Certificates reloaded live (SIGHUP, and SIGUSR2 as coturn): a running TURN-over-TLS session
keeps relaying with zero loss while the files are replaced, new handshakes get the new
certificate, and a broken replacement (garbage, a key that does not match) is refused with the
reason logged while the old certificate stays in use. A key that cannot be read at start-up
stops the server with the file, the user and the reason."""
import os
import re
import shutil
import signal
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import certs, harness  # noqa: E402

SECRET = "reload-secret"


class CertReload(harness.TestCase):
    def setUp(self):
        super().setUp()
        self.ca = certs.Ca(self.workdir)
        self.cert, self.key, self.serial = self.ca.issue("server", serial=0x1001)
        self.tls_port = harness.free_port()
        self.server = self.turnpike(["use-auth-secret", "static-auth-secret=" + SECRET, "allow-loopback-peers",
                                     "cert=" + self.cert, "pkey=" + self.key, "dtls",
                                     "tls-listening-port=%d" % self.tls_port])

    def replace(self, stem, serial, key=True):
        """Issues a new certificate and moves it (and its key) over the configured files."""
        cert, new_key, serial_hex = self.ca.issue(stem, serial=serial)
        os.replace(cert, self.cert)
        if key:
            os.replace(new_key, self.key)
        return serial_hex

    def served(self):
        return certs.served_certificate(self.tls_port)

    def test_running_session_survives_and_new_handshakes_see_new_certificate(self):
        peer = self.echo_peer()
        old = certs.der_of(self.cert)
        self.assertEqual(self.served(), old)
        result = {}

        def relay():
            result["r"] = harness.uclient(self.tls_port, ["-t", "-S", "-W", SECRET, "-u", "alice", "-e", "127.0.0.1",
                                                          "-r", str(peer.port), "-c", "-X",
                                                          "-m", "2", "-n", "300", "-l", "200", "-z", "10"])

        t = threading.Thread(target=relay)
        t.start()
        try:
            # Both relaying allocations exist before the certificate changes under them.
            self.server.wait_for_log(r"(?s)(tls client=.*){4}", timeout=20)
            serial = self.replace("renewed", 0x2002)
            self.server.send_signal(signal.SIGHUP)
            self.server.wait_for_log(r"reloaded TLS certificate %s: .*serial %s" % (re.escape(self.cert), serial))
            new = certs.der_of(self.cert)
            self.assertNotEqual(new, old)
            self.assertEqual(self.served(), new)
        finally:
            t.join(120)
        r = result["r"]
        self.assertEqual(r.lost, 0, r)
        self.assertEqual(r.sent, 600, r)
        self.assertEqual(r.received, 600, r)
        # SIGUSR2 (coturn's signal) reloads too.
        serial = self.replace("again", 0x3003)
        self.server.send_signal(signal.SIGUSR2)
        self.server.wait_for_log(r"reloaded TLS certificate .*serial %s" % serial)
        self.assertEqual(self.served(), certs.der_of(self.cert))

    def test_broken_replacement_keeps_the_old_certificate(self):
        old = certs.der_of(self.cert)
        with open(self.cert, "w") as f:
            f.write("this is not a certificate\n")
        self.server.send_signal(signal.SIGHUP)
        log = self.server.wait_for_log(r"certificate reload failed")
        self.assertRegex(log, r"certificate reload failed, new TLS handshakes keep using subject /CN=turn\.test, "
                              r"serial 1001.*: cert %s holds no PEM certificate" % re.escape(self.cert))
        self.assertEqual(self.served(), old)
        # A new certificate whose key was not replaced with it.
        self.replace("halfdone", 0x4004, key=False)
        self.server.send_signal(signal.SIGHUP)
        self.server.wait_for_log(r"pkey %s does not belong to the certificate in cert %s"
                                 % (re.escape(self.key), re.escape(self.cert)))
        self.assertEqual(self.served(), old)
        # Fixed: now it is taken.
        serial = self.replace("fixed", 0x5005)
        self.server.send_signal(signal.SIGHUP)
        self.server.wait_for_log(r"reloaded TLS certificate .*serial %s" % serial)
        self.assertEqual(self.served(), certs.der_of(self.cert))
        self.assertTrue(self.server.alive())

    def test_unreadable_key_at_start_names_file_and_user(self):
        missing = os.path.join(self.workdir, "missing.key")
        bad = self.turnpike(["use-auth-secret", "static-auth-secret=" + SECRET, "cert=" + self.cert,
                             "pkey=" + missing, "tls-listening-port=%d" % harness.free_port()],
                            ready=False, name="bad")
        self.assertEqual(bad.proc.wait(10), 1)
        import pwd
        user = pwd.getpwuid(os.geteuid()).pw_name
        self.assertIn("cannot read pkey %s as user %s: No such file or directory" % (missing, user), bad.log())


if __name__ == "__main__":
    harness.main()
