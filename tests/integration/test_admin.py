"""turnpike-admin: secrets and credentials minted with the same code the relay verifies with."""
import json
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import harness, stun  # noqa: E402


def admin(*args):
    return subprocess.run([harness.ADMIN] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


class Admin(harness.TestCase):
    def test_secret_generate(self):
        a, b = admin("secret", "generate"), admin("secret", "generate")
        self.assertEqual(a.returncode, 0)
        self.assertRegex(a.stdout, r"^[A-Za-z0-9]{40}\n$")
        self.assertNotEqual(a.stdout, b.stdout)

    def test_credentials_relay_through_the_server(self):
        server = self.turnpike(["use-auth-secret", "static-auth-secret=old-one", "static-auth-secret=newest",
                                "allow-loopback-peers"])
        peer = self.echo_peer()
        out = admin("credentials", "-c", server.config_path, "--user", "alice", "--ttl", "600", "--json")
        self.assertEqual(out.returncode, 0, out.stderr)
        cred = json.loads(out.stdout)
        self.assertRegex(cred["username"], r"^\d+:alice$")
        self.assertAlmostEqual(cred["expires"], time.time() + 600, delta=5)
        self.assertEqual(cred["realm"], "test.local")
        # Signed with the newest (last) secret, by the formula Prosody and coturn use.
        self.assertEqual(cred["password"], stun.rest_credential("newest", expiry=cred["expires"], user="alice")[1])
        r = harness.uclient(server.port, ["-u", cred["username"], "-w", cred["password"], "-e", "127.0.0.1",
                                          "-r", str(peer.port), "-c", "-X", "-n", "20", "-z", "5"])
        self.assertEqual(r.lost, 0, r)
        self.assertEqual(r.received, 20, r)
        text = admin("credentials", "-c", server.config_path, "--user", "bob")
        self.assertRegex(text.stdout, r"username: \d+:bob\npassword: \S+=\nexpires:  \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ "
                                      r"\(in 86400 s\)\nrealm:    test.local\n")

    def test_credentials_errors(self):
        conf = os.path.join(self.workdir, "nosecret.conf")
        with open(conf, "w") as f:
            f.write("lt-cred-mech\nuser=a:b\n")
        r = admin("credentials", "-c", conf, "--user", "x")
        self.assertEqual(r.returncode, 1)
        self.assertIn("has no static-auth-secret line", r.stderr)
        with open(conf, "w") as f:
            f.write("use-auth-secret\nstatic-auth-secret=s\nmax-credential-ttl=3600\n")
        r = admin("credentials", "-c", conf, "--ttl", "7200")
        self.assertEqual(r.returncode, 2)
        self.assertIn("more than max-credential-ttl=3600", r.stderr)
        r = admin("credentials", "-c", os.path.join(self.workdir, "missing.conf"))
        self.assertEqual(r.returncode, 1)
        self.assertIn("cannot read the file", r.stderr)
        r = admin("credentials")
        self.assertEqual(r.returncode, 2)
        self.assertIn("usage:", r.stderr)
        r = admin("bogus")
        self.assertEqual(r.returncode, 2)


if __name__ == "__main__":
    harness.main()
