"""What strangers type never reaches the admin raw (RFC 8489 §14.3, §14.9, §14.10, §14.14).

Against the real daemon and turnpike-admin, checked byte by byte:
- USERNAME, REALM, NONCE or SOFTWARE holding a terminal escape, a newline, a bidirectional
  override or bytes that are not UTF-8 is answered 400, and neither the log nor the ledger holds
  any of it: the refusal says which attribute it was;
- names that are valid but awkward (backslashes, quotes, angle brackets, 500 bytes long, not
  ASCII) are relayed, stored whole, found by `sessions --user` and `who`, and shown escaped by
  the one rule (core/text_escape.h) in the log, in every table and in --json;
- bytes that are not UTF-8 already in a ledger (another writer, an older version) come out of
  every command as valid UTF-8 with no control character.
"""
import base64
import hashlib
import hmac
import json
import os
import re
import sqlite3
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import harness, stun  # noqa: E402

SECRET = "hostile-secret"

# Valid text the relay accepts, each with how the one escaping rule shows it.
AWKWARD = [
    ("back\\slash\\x1b", "back\\\\slash\\\\x1b"),
    ('quote"d <root> user=<x>', 'quote"d <root> user=<x>'),
    ("caf\u00e9 \u30de\u30c8\u30ea\u30c3\u30af\u30b9 \U0001f600", "caf\u00e9 \u30de\u30c8\u30ea\u30c3\u30af\u30b9 \U0001f600"),
]
LONG_USER = "l" * 480 + "@example.org"  # with "<expiry>:" 503 bytes: under 509 (§14.3)

# Not text: each must be a 400 and leave no trace of its bytes.
HOSTILE = [
    b"\x1b[2J\x1b]0;owned\x07",
    b"line\ninjected: session 00 allocated",
    b"evil\xe2\x80\xaegpj.exe",
    b"\xc2\x9b31m",
    b"bad\xff\xfeutf8",
    b"nul\x00byte",
]


def admin(*args):
    """turnpike-admin's raw output (bytes: nothing is decoded before it is checked)."""
    p = subprocess.run([harness.ADMIN] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if p.returncode != 0:
        raise AssertionError("turnpike-admin %s: %d %s" % (" ".join(args), p.returncode, p.stderr))
    return p.stdout


def assert_safe(test, data, what):
    """Valid UTF-8 holding no control character but the newlines between lines."""
    text = data.decode("utf-8")  # raises on anything that is not UTF-8
    for ch in text:
        code = ord(ch)
        bad = (code < 0x20 and ch != "\n") or 0x7F <= code <= 0x9F or code in (0x2028, 0x2029) \
            or 0x202A <= code <= 0x202E or 0x2066 <= code <= 0x2069 or code == 0xFEFF
        test.assertFalse(bad, "%s holds U+%04X: %r" % (what, code, text[:2000]))


class HostileText(harness.TestCase):
    def setUp(self):
        super().setUp()
        self.server = self.turnpike(["use-auth-secret", "static-auth-secret=" + SECRET, "allow-loopback-peers"])
        self.ledger = self.server.ledger_path

    def raw_request(self, attrs, method=stun.ALLOCATE):
        c = stun.Client("127.0.0.1", self.server.port)
        self.addCleanup(c.close)
        msg = stun.Message(method, stun.REQUEST, attrs=[(stun.REQUESTED_TRANSPORT, b"\x11\0\0\0")] + attrs)
        return c.transact(msg, sign=False)

    def signed_with_username(self, username):
        """A signed Allocate with `username` (bytes), a nonce this server issued and the key the
        REST formula gives for it."""
        c = stun.Client("127.0.0.1", self.server.port)
        self.addCleanup(c.close)
        first = c.transact(stun.Message(stun.ALLOCATE, stun.REQUEST, attrs=[(stun.REQUESTED_TRANSPORT, b"\x11\0\0\0")]),
                           sign=False)
        self.assertEqual(first.error_code, 401)
        nonce, realm = first.get(stun.NONCE), first.get(stun.REALM)
        password = base64.b64encode(hmac.new(SECRET.encode(), username, hashlib.sha1).digest())
        c.key = hashlib.md5(username + b":" + realm + b":" + password).digest()
        msg = stun.Message(stun.ALLOCATE, stun.REQUEST, attrs=[(stun.REQUESTED_TRANSPORT, b"\x11\0\0\0"),
                                                              (stun.USERNAME, username), (stun.REALM, realm),
                                                              (stun.NONCE, nonce)])
        return c.transact(msg, sign=True)

    def refusals(self):
        return json.loads(admin("refusals", "--json", "--ledger", self.ledger))

    def test_text_that_is_not_text_is_400_and_leaves_no_trace(self):
        sent = 0
        for bad in HOSTILE:
            for attr in (stun.USERNAME, stun.REALM, stun.NONCE, stun.SOFTWARE):
                r = self.raw_request([(attr, bad)])
                self.assertIsNotNone(r)
                self.assertEqual(r.error_code, 400, (attr, bad))
                self.assertIsNone(r.get(stun.REALM))  # a plain 400, not a challenge
                sent += 1
            # Signed, with a nonce of ours: still 400 before any key is derived.
            r = self.signed_with_username(b"1999999999:" + bad)
            self.assertEqual(r.error_code, 400, bad)
            sent += 1
        # A Binding carries SOFTWARE too.
        c = stun.Client("127.0.0.1", self.server.port)
        self.addCleanup(c.close)
        r = c.transact(stun.Message(stun.BINDING, stun.REQUEST, attrs=[(stun.SOFTWARE, b"\x1b[5m")]), sign=False)
        self.assertEqual(r.error_code, 400)
        sent += 1

        rows = harness.wait_until(lambda: (lambda rs: rs if sum(x["count"] for x in rs) >= sent else None)(self.refusals()),
                                  what="%d refusals in the ledger" % sent)
        self.assertEqual({r["reason"] for r in rows}, {"invalid-text"})
        self.assertEqual({r["username"] for r in rows}, {""})
        self.assertEqual({r["code"] for r in rows}, {400})
        for r in rows:
            self.assertRegex(r["detail"], r"^(USERNAME|REALM|NONCE|SOFTWARE) is not UTF-8 text without control")

        # Nothing of what was sent is in the log or the ledger file, in any form.
        with open(self.server.log_path, "rb") as f:
            log = f.read()
        assert_safe(self, log, "the log")
        self.assertIn(b"refused Allocate from 127.0.0.1:", log)
        self.assertIn(b"invalid-text: USERNAME is not UTF-8 text", log)
        db = sqlite3.connect(self.ledger)
        dump = "\n".join(db.iterdump()).encode("utf-8", "surrogateescape")
        db.close()
        for bad in HOSTILE:
            for fragment in (bad, bad[:6]):
                self.assertNotIn(fragment, log)
                self.assertNotIn(fragment, dump)
        for out in (admin("refusals", "--ledger", self.ledger), admin("stats", "--ledger", self.ledger)):
            assert_safe(self, out, "turnpike-admin")
        self.assertIn(b"invalid-text: %d" % sent, admin("stats", "--ledger", self.ledger))

    def test_awkward_but_valid_names_are_kept_whole_and_shown_escaped(self):
        peer = self.echo_peer()
        clients = []
        for user, _ in AWKWARD + [(LONG_USER, LONG_USER)]:
            c = stun.Client("127.0.0.1", self.server.port, *stun.rest_credential(SECRET, user))
            self.addCleanup(c.close)
            c.allocate()
            c.create_permission("127.0.0.1")
            c.send_indication("127.0.0.1", peer.port, b"hello")
            clients.append(c)
        self.assertEqual(len(clients[-1].username.encode()), 503)
        sessions = harness.wait_until(
            lambda: (lambda rows: rows if len(rows) == len(clients) else None)(
                json.loads(admin("sessions", "--json", "--ledger", self.ledger))),
            what="every session in the ledger")
        # --json: the value is exactly the username, whole (the long one too).
        self.assertEqual(sorted(s["username"] for s in sessions), sorted(c.username for c in clients))

        with open(self.server.log_path, "rb") as f:
            log = f.read()
        assert_safe(self, log, "the log")
        table = admin("sessions", "--ledger", self.ledger)
        assert_safe(self, table, "sessions")
        for (user, shown), c in zip(AWKWARD + [(LONG_USER, LONG_USER)], clients):
            expiry = c.username.split(":", 1)[0]
            line = ("allocated: user=<%s:%s> realm=<test.local> udp client=127.0.0.1:%d "
                    % (expiry, shown, c.sock.getsockname()[1])).encode()
            self.assertIn(line, log)
            self.assertIn(("%s:%s" % (expiry, shown)).encode(), table)
            # Found by the whole name, as the client sent it.
            found = json.loads(admin("sessions", "--json", "--user", c.username, "--ledger", self.ledger))
            self.assertEqual([s["username"] for s in found], [c.username])
            who = json.loads(admin("who", c.username, "--json", "--ledger", self.ledger))
            self.assertEqual([s["username"] for s in who["sessions"]], [c.username])
            who_text = admin("who", c.username, "--ledger", self.ledger)
            assert_safe(self, who_text, "who")
            self.assertIn(("%s:%s" % (expiry, shown)).encode(), who_text)
        # The columns of the table line up by characters, not bytes.
        rows = table.decode().splitlines()
        starts = {line.index("udp") for line in rows[1:]}
        self.assertEqual(len(starts), 1, table.decode())

    def test_a_realm_that_differs_is_shown_escaped(self):
        c = stun.Client("127.0.0.1", self.server.port, *stun.rest_credential(SECRET, "mallory"))
        self.addCleanup(c.close)
        first = c.transact(stun.Message(stun.ALLOCATE, stun.REQUEST, attrs=[(stun.REQUESTED_TRANSPORT, b"\x11\0\0\0")]),
                           sign=False)
        c.nonce = first.get(stun.NONCE).decode()
        c.realm = "other\\realm \u30de"
        c.key = stun.long_term_key(c.username, c.realm, c.password)
        r = c.request(stun.ALLOCATE, [(stun.REQUESTED_TRANSPORT, b"\x11\0\0\0")], expect_success=False)
        self.assertEqual(r.error_code, 401)
        rows = harness.wait_until(lambda: [x for x in self.refusals() if x["reason"] == "bad-integrity"],
                                  what="the bad-integrity refusal")
        self.assertIn("client used realm 'other\\realm \u30de'", rows[0]["detail"])
        text = admin("refusals", "--ledger", self.ledger)
        self.assertIn("client used realm 'other\\\\realm \u30de'".encode(), text)
        log = self.server.wait_for_log(r"realm 'other")
        self.assertIn("client used realm 'other\\\\realm \u30de', the server's is 'test.local'", log)

    def test_bytes_that_are_not_utf8_in_the_ledger_come_out_escaped(self):
        # Another writer (or an older turnpike) left them there; the admin must still be safe.
        c = stun.Client("127.0.0.1", self.server.port, *stun.rest_credential(SECRET, "seed"))
        self.addCleanup(c.close)
        c.allocate()
        harness.wait_until(lambda: json.loads(admin("sessions", "--json", "--ledger", self.ledger)),
                           what="the session row")
        evil = b"\x1b[2J\x1b]0;owned\x07\xff\xfe\xe2\x80\xae\nfake line"
        db = sqlite3.connect(self.ledger)
        db.execute("UPDATE sessions SET username = CAST(? AS TEXT)", (evil,))
        db.execute("INSERT INTO credentials (issued_at, host, jid, username, expires_at) "
                   "VALUES (?, CAST(? AS TEXT), CAST(? AS TEXT), CAST(? AS TEXT), ?)",
                   (int(time.time() * 1000), evil, evil, evil, int(time.time() * 1000) + 60000))
        db.commit()
        db.close()
        shown = b"\\x1b[2J\\x1b]0;owned\\x07\\xff\\xfe\\u202e\\nfake line"
        table = admin("sessions", "--ledger", self.ledger)
        assert_safe(self, table, "sessions")
        self.assertIn(shown, table)
        js = admin("sessions", "--json", "--ledger", self.ledger)
        assert_safe(self, js, "sessions --json")
        self.assertEqual(json.loads(js)[0]["username"],
                         "\x1b[2J\x1b]0;owned\x07\\xff\\xfe\u202e\nfake line")
        self.assertIn(b'"username":"\\u001b[2J\\u001b]0;owned\\u0007\\\\xff\\\\xfe\\u202e\\nfake line"', js)
        for args in (("stats",), ("who", "x"), ("refusals",)):
            assert_safe(self, admin(*args, "--ledger", self.ledger), " ".join(args))
        self.assertIn(shown, admin("stats", "--ledger", self.ledger))  # top users
        # `who` with those very bytes finds the credential and shows it escaped.
        who = admin(b"who", evil, b"--ledger", self.ledger.encode())
        assert_safe(self, who, "who")
        self.assertIn(b"credential " + shown + b" issued ", who)
        self.assertIn(b" by " + shown + b" to " + shown + b", expires ", who)

if __name__ == "__main__":
    harness.main()
