"""No amplification before authentication, measured on the real daemon for every method.

An answer to an unauthenticated request is never more than 60 bytes plus the realm (padded to
four) larger than the request (DESIGN.md "Safe by default"): the 401 challenge to a bare header
is the largest there is. A bare Refresh, CreatePermission, ChannelBind or Connect, which needs an
allocation the 5-tuple does not have, gets the 28-byte 437 RFC 8656 allows, not a challenge.
Every ratio and difference is printed, so a change that grows them shows in the test's output.
"""
import os
import socket
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import harness, stun  # noqa: E402

SECRET = "amplification-secret"
REALM = "test.local"
MARGIN = 60 + ((len(REALM) + 3) // 4 * 4)
NEEDS_ALLOCATION = {stun.REFRESH, stun.CREATE_PERMISSION, stun.CHANNEL_BIND, stun.CONNECT}
NAMES = {stun.BINDING: "Binding", stun.ALLOCATE: "Allocate", stun.REFRESH: "Refresh",
         stun.CREATE_PERMISSION: "CreatePermission", stun.CHANNEL_BIND: "ChannelBind",
         stun.CONNECT: "Connect", stun.CONNECTION_BIND: "ConnectionBind", 0x0FF: "unknown method"}


def requests():
    """(name, method, bytes) for each kind of request a stranger can send without credentials."""
    out = []
    for method in NAMES:
        out.append((NAMES[method] + " bare", method, stun.Message(method, stun.REQUEST).encode()))
    typical = {
        stun.ALLOCATE: [(stun.REQUESTED_TRANSPORT, b"\x11\0\0\0")],
        stun.REFRESH: [(stun.LIFETIME, struct.pack("!I", 600))],
        stun.CREATE_PERMISSION: "peer",
        stun.CHANNEL_BIND: "channel",
        stun.CONNECT: "peer",
        stun.CONNECTION_BIND: [(stun.CONNECTION_ID, struct.pack("!I", 1234))],
    }
    for method, attrs in typical.items():
        m = stun.Message(method, stun.REQUEST)
        if attrs == "peer":
            m.add(stun.XOR_PEER_ADDRESS, stun.xor_address("203.0.113.9", 9, m.txid))
        elif attrs == "channel":
            m.add(stun.CHANNEL_NUMBER, struct.pack("!HH", 0x4001, 0))
            m.add(stun.XOR_PEER_ADDRESS, stun.xor_address("203.0.113.9", 9, m.txid))
        else:
            for t, v in attrs:
                m.add(t, v)
        out.append((NAMES[method], method, m.encode()))
        out.append((NAMES[method] + " +FINGERPRINT", method, m.encode(fingerprint=True)))
    m = stun.Message(stun.ALLOCATE, stun.REQUEST).add(stun.REQUESTED_TRANSPORT, b"\x11\0\0\0").add(0x0042, b"")
    out.append(("Allocate, unknown attribute (420)", stun.ALLOCATE, m.encode()))
    m = stun.Message(stun.ALLOCATE, stun.REQUEST).add(stun.SOFTWARE, b"\x1b[2J")
    out.append(("Allocate, SOFTWARE not text (400)", stun.ALLOCATE, m.encode()))
    m = stun.Message(stun.ALLOCATE, stun.REQUEST).add(stun.REQUESTED_TRANSPORT, b"\x11\0\0\0")
    m.add(stun.USERNAME, b"1:x").add(stun.REALM, REALM.encode()).add(stun.NONCE, b"obMatJos2gAABAAAAAAAAAAAAAAAA")
    out.append(("Allocate, signed with a forged nonce (438)", stun.ALLOCATE, m.encode(key=b"k" * 16)))
    return out


class Amplification(harness.TestCase):
    def measure(self, server_port, tcp, secure_stun):
        rows = []
        for name, method, data in requests():
            if not tcp and method in (stun.CONNECT, stun.CONNECTION_BIND):
                continue
            c = stun.Client("127.0.0.1", server_port, tcp=tcp)
            self.addCleanup(c.close)
            c.send_raw(data)
            try:
                answer = c.recv_raw(1.0)
            except (socket.timeout, ConnectionError):
                answer = None
            self.assertIsNotNone(answer, "%s over %s got no answer" % (name, "tcp" if tcp else "udp"))
            r = stun.Message.decode(answer)
            rows.append((name, len(data), len(answer), r.error_code))
            self.assertLessEqual(len(answer), len(data) + MARGIN,
                                 "%s: %d bytes for a %d-byte request" % (name, len(answer), len(data)))
            if method in NEEDS_ALLOCATION:
                self.assertEqual(r.error_code, 437, name)
                self.assertIsNone(r.get(stun.REALM), name)
                self.assertIsNone(r.get(stun.NONCE), name)
            if r.cls == stun.ERROR and not (r.error_code in (401, 438)):
                self.assertEqual(r.error_reason, "", name)  # no reason phrases before authentication
        print("\n%-48s %7s %7s %5s %6s %5s  (%s, secure-stun %s)" % (
            "request", "bytes", "answer", "code", "ratio", "+", "tcp" if tcp else "udp", secure_stun))
        for name, req, ans, code in rows:
            print("%-48s %7d %7d %5s %6.2f %+5d" % (name, req, ans, code or "ok", ans / req, ans - req))
        return rows

    def test_every_method_over_udp_and_tcp(self):
        server = self.turnpike(["use-auth-secret", "static-auth-secret=" + SECRET])
        udp = self.measure(server.port, tcp=False, secure_stun=False)
        tcp = self.measure(server.port, tcp=True, secure_stun=False)
        # The largest difference is the challenge to the bare Allocate: exactly the margin.
        self.assertEqual(max(ans - req for _, req, ans, _ in udp + tcp), MARGIN)

    def test_secure_stun_binding_challenge_stays_within_the_margin(self):
        server = self.turnpike(["use-auth-secret", "static-auth-secret=" + SECRET, "secure-stun"])
        rows = self.measure(server.port, tcp=False, secure_stun=True)
        binding = [r for r in rows if r[0] == "Binding bare"][0]
        self.assertEqual(binding[3], 401)


if __name__ == "__main__":
    harness.main()
