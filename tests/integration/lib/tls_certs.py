"""Throwaway TLS material for tests: a CA, a server certificate for IP addresses, and per-browser
HOMEs whose NSS database trusts the CA.

Chromium verifies a turns: server like a web site: the chain must end at a trusted CA and the URL's
host (here an IP literal) must be in the certificate's subjectAltName. On Linux it reads trust from
$HOME/.pki/nssdb (not from --user-data-dir), so each browser gets its own HOME with a fresh NSS db
(Debian package libnss3-tools provides certutil). Everything lives in the test's scratch directory.
"""
import os
import subprocess

from . import harness


def _run(argv, cwd):
    p = subprocess.run(argv, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if p.returncode != 0:
        raise RuntimeError("%s failed (%d):\n%s" % (" ".join(argv), p.returncode, p.stdout))
    return p.stdout


class ThrowawayPki:
    """ca_pem, server_cert (chain file, PEM) and server_key for the given IP addresses."""

    def __init__(self, workdir, ips):
        harness.require("openssl")
        d = os.path.join(workdir, "pki")
        os.makedirs(d, exist_ok=True)
        self.dir = d
        self.ips = list(ips)
        self.ca_pem = os.path.join(d, "ca.pem")
        self.server_cert = os.path.join(d, "server.pem")
        self.server_key = os.path.join(d, "server.key")
        ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        # Short validity: a leaked throwaway key is worthless after two days.
        _run(["openssl", "req", "-x509"] + ec + ["-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
              "-subj", "/CN=turnpike test CA",
              "-addext", "basicConstraints=critical,CA:TRUE",
              "-addext", "keyUsage=critical,keyCertSign,cRLSign"], d)
        _run(["openssl", "req"] + ec + ["-keyout", "server.key", "-out", "server.csr",
              "-subj", "/CN=turnpike test server"], d)
        with open(os.path.join(d, "server.ext"), "w") as f:
            f.write("subjectAltName=%s\n" % ",".join("IP:" + ip for ip in self.ips))
            f.write("basicConstraints=critical,CA:FALSE\n")
            f.write("keyUsage=critical,digitalSignature\n")
            f.write("extendedKeyUsage=serverAuth\n")
        _run(["openssl", "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
              "-CAcreateserial", "-days", "2", "-sha256", "-extfile", "server.ext", "-out", "server.pem"], d)
        for ip in self.ips:  # fail here, not as a browser's ICE error 701, if the SAN is wrong
            _run(["openssl", "verify", "-CAfile", "ca.pem", "-verify_ip", ip, "server.pem"], d)

    def browser_home(self, name):
        """A fresh HOME for one browser, whose NSS db trusts the CA (for TLS server auth: C,,)."""
        harness.require("certutil")
        home = os.path.join(self.dir, "home-" + name)
        db = os.path.join(home, ".pki", "nssdb")
        os.makedirs(db)
        _run(["certutil", "-N", "-d", "sql:" + db, "--empty-password"], home)
        _run(["certutil", "-A", "-d", "sql:" + db, "-n", "turnpike-test-ca", "-t", "C,,", "-a", "-i", self.ca_pem],
             home)
        return home
