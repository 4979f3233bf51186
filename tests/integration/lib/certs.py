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
              serial=None, valid=None):
        """Writes STEM.pem (certificate) and STEM.key; returns (cert path, key path, serial hex).
        `valid`: (not_before, not_after) as unix times, for a certificate that expired or is not
        valid yet (issued with `openssl ca`, whose -startdate/-enddate take any date)."""
        if valid is not None:
            return self._issue_dated(stem, common_name, sans, serial, valid)
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


    def _issue_dated(self, stem, common_name, sans, serial, valid):
        import time
        key = os.path.join(self.dir, stem + ".key")
        csr = os.path.join(self.dir, stem + ".csr")
        cert = os.path.join(self.dir, stem + ".pem")
        db = os.path.join(self.dir, stem + "-ca")
        os.makedirs(db, exist_ok=True)
        open(os.path.join(db, "index.txt"), "w").close()
        serial = serial if serial is not None else int.from_bytes(os.urandom(8), "big")
        with open(os.path.join(db, "serial"), "w") as f:
            f.write("%X\n" % serial if len("%X" % serial) % 2 == 0 else "0%X\n" % serial)
        conf = os.path.join(db, "ca.cnf")
        with open(conf, "w") as f:
            f.write("[ca]\ndefault_ca=tp\n[tp]\ndatabase=%s/index.txt\nnew_certs_dir=%s\nserial=%s/serial\n"
                    "default_md=sha256\npolicy=any\ncopy_extensions=copy\nunique_subject=no\n"
                    "[any]\ncommonName=supplied\n" % (db, db, db))
        _openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", key,
                 "-out", csr, "-subj", "/CN=" + common_name, "-addext", "subjectAltName=" + ",".join(sans),
                 cwd=self.dir)
        stamp = lambda t: time.strftime("%Y%m%d%H%M%SZ", time.gmtime(t))  # noqa: E731
        _openssl("ca", "-batch", "-config", conf, "-cert", self.cert, "-keyfile", self.key, "-in", csr,
                 "-out", cert, "-notext", "-startdate", stamp(valid[0]), "-enddate", stamp(valid[1]),
                 cwd=self.dir)
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
