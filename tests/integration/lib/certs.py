"""Throwaway certificates for TLS tests: a CA and server certificates signed by it, made with
the openssl command line in the test's own directory (EC P-256 keys: fast to generate)."""
import os
import shutil
import subprocess
import tempfile


def _openssl(*args, cwd):
    subprocess.run(["openssl"] + list(args), cwd=cwd, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


class Ca:
    def __init__(self, directory, name="turnpike test CA"):
        self.dir = directory
        self.cert = os.path.join(directory, "ca.pem")
        self.key = os.path.join(directory, "ca.key")
        _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                 "-keyout", self.key, "-out", self.cert, "-days", "2", "-subj", "/CN=" + name,
                 cwd=directory)

    def issue(self, stem, common_name="turn.test", sans=("DNS:turn.test", "DNS:web.test", "IP:127.0.0.1"),
              serial=None):
        """Writes STEM.pem (certificate) and STEM.key; returns (cert path, key path, serial hex)."""
        key = os.path.join(self.dir, stem + ".key")
        csr = os.path.join(self.dir, stem + ".csr")
        cert = os.path.join(self.dir, stem + ".pem")
        ext = os.path.join(self.dir, stem + ".ext")
        with open(ext, "w") as f:
            f.write("subjectAltName=" + ",".join(sans) + "\n")
        serial = serial if serial is not None else int.from_bytes(os.urandom(8), "big")
        _openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                 "-keyout", key, "-out", csr, "-subj", "/CN=" + common_name, cwd=self.dir)
        _openssl("x509", "-req", "-in", csr, "-CA", self.cert, "-CAkey", self.key, "-set_serial",
                 str(serial), "-out", cert, "-days", "2", "-extfile", ext, cwd=self.dir)
        return cert, key, "%X" % serial


def der_of(pem_path):
    """The DER bytes of the (first) certificate in a PEM file."""
    import ssl
    with open(pem_path) as f:
        return ssl.PEM_cert_to_DER_cert(f.read())


def served_certificate(port, host="127.0.0.1", alpn=None, server_name=None):
    """The DER certificate a TLS server presents on a fresh handshake (not verified)."""
    import socket
    import ssl
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if alpn:
        ctx.set_alpn_protocols(alpn)
    with socket.create_connection((host, port), timeout=5) as raw:
        with ctx.wrap_socket(raw, server_hostname=server_name) as s:
            return s.getpeercert(binary_form=True)


class ServerCertificate:
    """Mixin for a TestCase class: one CA and one server certificate for the whole class
    (cls.ca, cls.cert, cls.key, cls.serial), deleted after its last test."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.certdir = tempfile.mkdtemp(prefix="turnpike-certs-")
        cls.ca = Ca(cls.certdir)
        cls.cert, cls.key, cls.serial = cls.ca.issue("server")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.certdir, ignore_errors=True)
        super().tearDownClass()
