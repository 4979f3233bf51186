"""Configuration as an admin meets it: Jitsi's generated turnserver.conf starts the server
unchanged, mistakes stop it with file, line, option and a fix, the command line wins."""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import harness, stun, tls_certs  # noqa: E402

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")


def run_turnpike(args, timeout=10):
    return subprocess.run([harness.TURNPIKE] + args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          timeout=timeout, text=True)


class JitsiTemplate(harness.TestCase):
    def test_jitsi_template_with_its_secret_filled_in_starts_and_serves(self):
        # As on a Jitsi host: the secret filled in, and the certificate that jitsi-meet-web-config
        # generated at the paths the template names (here a throwaway one, elsewhere).
        pki = tls_certs.ThrowawayPki(self.workdir, ["127.0.0.1"])
        with open(os.path.join(FIXTURES, "jitsi-turnserver.conf")) as f:
            text = (f.read().replace("__turnSecret__", "jitsiSecret16chr")
                    .replace("/etc/jitsi/meet/jitsi-meet.example.com.crt", pki.server_cert)
                    .replace("/etc/jitsi/meet/jitsi-meet.example.com.key", pki.server_key))
        path = os.path.join(self.workdir, "turnserver.conf")
        with open(path, "w") as f:
            f.write(text)
        port = harness.free_port()
        lo, hi = harness.relay_port_range()
        # The template listens on 3478 and 5349 everywhere and logs to syslog; the test moves it
        # to free ports on loopback and logs to stderr, and changes nothing else.
        server = self.track(harness.Process(
            [harness.TURNPIKE, "-c", path, "--listening-ip=127.0.0.1", "--listening-port=%d" % port,
             "--tls-listening-port=%d" % harness.free_port(), "--min-port=%d" % lo, "--max-port=%d" % hi,
             "--log-file=stderr", "--syslog=no", "--no-ledger"],
            os.path.join(self.workdir, "jitsi.log")))
        log = server.wait_for_log("turnpike ready")
        for name in ["keep-address-family", "no-cli", "no-loopback-peers", "'no-tlsv1'", "no-tlsv1_1", "dh2066",
                     "no-dtls"]:
            self.assertEqual(sum(name in line for line in log.splitlines()), 1, name + "\n" + log)
        self.assertIn("realm jitsi-meet.example.com", log)
        # Credentials minted with Jitsi's secret (as Prosody would) allocate; the deny list holds.
        c = stun.Client("127.0.0.1", port, *stun.rest_credential("jitsiSecret16chr", "", ttl=86400))
        self.addCleanup(c.close)
        c.allocate()
        for ip in ["10.1.1.1", "192.168.1.1", "127.0.0.1", "203.0.113.5"]:
            self.assertEqual(c.create_permission(ip, expect_success=False).error_code, 403, ip)
        self.assertEqual(c.create_permission("8.8.8.8").cls, stun.SUCCESS)


class Mistakes(harness.TestCase):
    def write(self, text):
        path = os.path.join(self.workdir, "bad.conf")
        with open(path, "w") as f:
            f.write(text)
        return path

    def test_unknown_option_names_file_line_and_a_fix(self):
        path = self.write("use-auth-secret\nstatic-auth-secret=s\n\nlistening-prot=3478\n")
        p = run_turnpike(["-c", path])
        self.assertEqual(p.returncode, 2, p.stdout)
        self.assertEqual(p.stdout.strip(),
                         "turnpike: %s:4: option 'listening-prot': unknown option; did you mean 'listening-port'?" % path)

    def test_bad_value_names_the_option(self):
        path = self.write("use-auth-secret\nstatic-auth-secret=s\nmin-port=seventy\n")
        p = run_turnpike(["-c", path])
        self.assertEqual(p.returncode, 2)
        self.assertIn("%s:3: option 'min-port': 'seventy' is not a port number (1-65535)" % path, p.stdout)

    def test_nothing_to_authenticate_with(self):
        path = self.write("listening-port=3478\n")
        p = run_turnpike(["-c", path])
        self.assertEqual(p.returncode, 2)
        self.assertIn("no way to authenticate clients", p.stdout)

    def test_missing_file(self):
        p = run_turnpike(["-c", os.path.join(self.workdir, "nope.conf")])
        self.assertEqual(p.returncode, 2)
        self.assertIn("nope.conf: cannot read the file (No such file or directory)", p.stdout)

    def test_port_in_use_is_explained(self):
        first = self.turnpike(["no-auth"])
        p = run_turnpike(["--no-auth", "--listening-ip=127.0.0.1", "--listening-port=%d" % first.port,
                          "--relay-threads=1"])
        # SO_REUSEPORT lets the same user share a port; a second server must not silently join.
        self.assertNotEqual(p.returncode, 0, p.stdout)
        self.assertIn("127.0.0.1:%d" % first.port, p.stdout)

    def test_help_lists_options(self):
        p = run_turnpike(["--help"])
        self.assertEqual(p.returncode, 0)
        for opt in ["--listening-port=VALUE", "--static-auth-secret=VALUE", "--allowed-peer-ip=VALUE"]:
            self.assertIn(opt, p.stdout)

    def test_command_line_options_work_without_a_file(self):
        server = self.track(harness.Process(
            [harness.TURNPIKE, "--no-auth", "--listening-ip=127.0.0.1", "--listening-port=%d" % harness.free_port(),
             "--relay-threads", "1", "--realm=cli.example"],
            os.path.join(self.workdir, "cli.log")))
        self.assertIn("realm cli.example", server.wait_for_log("turnpike ready"))


if __name__ == "__main__":
    harness.main()
