#!/usr/bin/env python3
"""Writes the seed corpora (committed; rerun after changing this file)."""
import base64
import hashlib
import hmac
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
from lib import stun  # noqa: E402

RFC5769_REQUEST = bytes.fromhex(
    "000100582112a442b7e7a701bc34d686fa87dfae802200105354554e207465737420636c69656e74"
    "002400046e0001ff80290008932ff9b151263b36000600096576746a3a686376592020200008001"
    "49aeaa70cbfd8cb56781ef2b5b2d3f249c1b571a280280004e57a3bcf")
RFC5769_IPV4_RESPONSE = bytes.fromhex(
    "0101003c2112a442b7e7a701bc34d686fa87dfae8022000b7465737420766563746f722000200008"
    "0001a147e112a64300080014 2b91f599fd9e90c38c7489f92af9ba53f06be7d780280004c07d4c96".replace(" ", ""))


def write(corpus, name, data):
    d = os.path.join(HERE, "corpus", corpus)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def check_token(secret, ident, expires, note):
    """A check link's token as core/check_token.h makes it (so the fuzzer starts past the MAC)."""
    key = hmac.new(secret, b"turnpike check-link key v1", hashlib.sha256).digest()
    head = b"\x01" + ident + struct.pack("!I", expires)
    mac = hmac.new(key, b"turnpike check-link\0" + head + note.encode(), hashlib.sha256).digest()[:16]
    return base64.urlsafe_b64encode(head + mac + note.encode()).rstrip(b"=")


def requests():
    tx = b"\x01" * 12
    out = {}
    m = stun.Message(stun.ALLOCATE, stun.REQUEST, tx)
    m.add(stun.REQUESTED_TRANSPORT, b"\x11\0\0\0").add(stun.LIFETIME, struct.pack("!I", 600))
    out["allocate"] = m.encode(fingerprint=True)
    m = stun.Message(stun.ALLOCATE, stun.REQUEST, b"\x02" * 12)
    m.add(stun.REQUESTED_TRANSPORT, b"\x11\0\0\0").add(stun.EVEN_PORT, b"\x80")
    m.add(stun.ADDITIONAL_ADDRESS_FAMILY, b"\x02\0\0\0").add(stun.DONT_FRAGMENT, b"")
    out["allocate_dual_even"] = m.encode()
    m = stun.Message(stun.CREATE_PERMISSION, stun.REQUEST, b"\x03" * 12)
    m.add(stun.XOR_PEER_ADDRESS, stun.xor_address("203.0.113.9", 9, m.txid))
    m.add(stun.XOR_PEER_ADDRESS, stun.xor_address("2001:db8::9", 9, m.txid))
    out["create_permission"] = m.encode()
    m = stun.Message(stun.CHANNEL_BIND, stun.REQUEST, b"\x04" * 12)
    m.add(stun.CHANNEL_NUMBER, struct.pack("!HH", 0x4001, 0))
    m.add(stun.XOR_PEER_ADDRESS, stun.xor_address("203.0.113.9", 9, m.txid))
    out["channel_bind"] = m.encode()
    m = stun.Message(stun.SEND, stun.INDICATION, b"\x05" * 12)
    m.add(stun.XOR_PEER_ADDRESS, stun.xor_address("203.0.113.9", 9, m.txid)).add(stun.DATA_ATTR, b"hello")
    out["send"] = m.encode()
    m = stun.Message(stun.REFRESH, stun.REQUEST, b"\x06" * 12)
    m.add(stun.LIFETIME, struct.pack("!I", 0))
    out["refresh0"] = m.encode()
    m = stun.Message(stun.ALLOCATE, stun.REQUEST, b"\x07" * 12)
    m.add(stun.REQUESTED_TRANSPORT, b"\x11\0\0\0").add(0x0042, b"x")
    m.add(stun.USERNAME, b"a" * 40).add(stun.REALM, b"r").add(stun.NONCE, b"n")
    out["unknown_attribute_with_integrity"] = m.encode(key=b"k" * 16)
    # RFC 6062 (the relay harness sends "tcp_" seeds from its TCP client).
    m = stun.Message(stun.ALLOCATE, stun.REQUEST, b"\x08" * 12)
    m.add(stun.REQUESTED_TRANSPORT, b"\x06\0\0\0")
    out["tcp_allocate"] = m.encode()
    m = stun.Message(stun.CONNECT, stun.REQUEST, b"\x09" * 12)
    m.add(stun.XOR_PEER_ADDRESS, stun.xor_address("203.0.113.9", 80, m.txid))
    out["tcp_connect"] = m.encode()
    m = stun.Message(stun.CONNECTION_BIND, stun.REQUEST, b"\x0a" * 12)
    m.add(stun.CONNECTION_ID, struct.pack("!I", 0x12345678))
    out["tcp_connection_bind"] = m.encode(fingerprint=True)
    out["channel_data"] = struct.pack("!HH", 0x4001, 5) + b"hello\0\0\0"
    out["channel_data_overlong"] = struct.pack("!HH", 0x4001, 35510) + b"abc"
    out["attribute_overrun"] = struct.pack("!HHI", 0x0001, 8, 0x2112A442) + b"\0" * 12 + struct.pack("!HH", 0x0006, 0xFFFF) + b"abcd"
    return out


def handover_state(allocations, version=1):
    """A hand-over state as core/handover_state.h writes it (big-endian throughout)."""
    def addr(ip, port):
        return (bytes([4]) + bytes(ip) if len(ip) == 4 else bytes([6]) + bytes(ip)) + struct.pack("!H", port)
    def text(b):
        return struct.pack("!I", len(b)) + b
    v4 = lambda *x: bytes(x)
    body = bytes(range(32)) + text(b"00112233aabbccdd")
    fds = 2 + len(allocations)
    body += struct.pack("!I", fds)
    body += struct.pack("!I", 2) + struct.pack("!QB", 5, 2) + struct.pack("!QQ", 1, 2) + struct.pack("!QB", 1, 0)
    body += struct.pack("!I", 2)
    for w in range(2):
        body += struct.pack("!BBH", 0, 0, w) + addr(v4(127, 0, 0, 1), 3478) + struct.pack("!I", w)
    body += struct.pack("!I", len(allocations))
    for i, (perms, chans) in enumerate(allocations):
        a = struct.pack("!HQ", i % 2, (1 << 56) | i)
        a += addr(v4(192, 0, 2, 1), 50000 + i) + addr(v4(127, 0, 0, 1), 3478)
        a += text(b"1700000000:alice") + bytes([0]) + bytes(range(32)) + bytes([1, 0, 0, 0])
        a += bytes([1]) + struct.pack("!I", 2 + i) + addr(v4(127, 0, 0, 1), 50002 + 2 * i) + addr(v4(203, 0, 113, 1), 50002 + 2 * i)
        a += struct.pack("!qqI", 1700000000000, 123456, 600) + bytes(range(12)) + struct.pack("!HB", 0, 6)
        a += text(b"alice")
        a += struct.pack("!I", perms)
        for p in range(perms):
            a += bytes([4]) + v4(198, 51, 100, p) + struct.pack("!qQQQQ", 1000, 10, 1, 20, 2)
        a += struct.pack("!I", chans)
        for c in range(chans):
            a += struct.pack("!H", 0x4000 + c) + addr(v4(198, 51, 100, c), 40000 + c) + struct.pack("!q", 3000)
        a += struct.pack("!QQQQQ", 1000, 10, 2000, 20, 3)
        body += a
    return b"TPHS" + struct.pack("!HHI", version, 0, len(body)) + body


def control_message(fields, version=1):
    """A control socket message as core/control_message.h writes it."""
    body = b"".join(struct.pack("!B", len(n)) + n + struct.pack("!I", len(v)) + v for n, v in fields)
    return b"TPCM" + struct.pack("!HHI", version, len(fields), len(body)) + body


def control_seeds():
    write("control_message", "status", control_message([(b"command", b"status")]))
    write("control_message", "disconnect", control_message([(b"command", b"disconnect"), (b"user", b"alice"),
                                                            (b"session", b"0100000000000001"),
                                                            (b"client", b"127.0.0.1:5000")]))
    write("control_message", "answer", control_message([(b"ok", b"1"), (b"allocations", b"3"),
                                                        (b"worker.0.allocations", b"2"), (b"empty", b"")]))
    write("control_message", "newer_version", control_message([(b"command", b"status")], version=2))


def lua_module_seed(flags, ttl, now, port, tls_port, *texts):
    """An input of fuzz_lua_module: flags, ttl, now, ports, then length-prefixed strings."""
    out = struct.pack("<BqqHH", flags, ttl, now, port, tls_port)
    for t in texts:
        out += bytes([len(t)]) + t
    return out


def lua_module_seeds():
    # mod_turnpike's usual calls: a guest's JID as the user part, a day's TTL, one host.
    write("lua_module", "jitsi_guest", lua_module_seed(
        2, 86400 + 100, 0, 0, 0, b"newest-secret", b"guest@meet.example.org",
        b"1800086400:guest@meet.example.org", b"wrong", b"turn.example.org", b""))
    write("lua_module", "two_hosts_ports", lua_module_seed(
        1 | 2 | 4 | 8, 3600 + 100, 0, 3478, 443, b"first-secret", b"",
        b"1800003600", b"x", b"a.example", "b.éxample".encode()))
    write("lua_module", "hostile_user", lua_module_seed(
        2 | 16 | 32, -1, 2**62, 0, 0, b"", b"a:b\\x\x1b[2J\n\0\xff",
        b"-5:a", b"", b"\x1b]0;t\x07", b"::"))


def main():
    control_seeds()
    lua_module_seeds()
    seeds = requests()
    seeds["rfc5769_request"] = RFC5769_REQUEST
    seeds["rfc5769_ipv4_response"] = RFC5769_IPV4_RESPONSE
    for name, data in seeds.items():
        write("stun_message", name, data)
        # The relay harness takes a selector byte first (which client sends it; 2 is over TCP).
        write("relay_server", name, (b"\x02" if name.startswith("tcp_") else b"\x00") + data)
    stream = b"".join(seeds[k] for k in ("allocate", "channel_bind", "channel_data", "send", "refresh0"))
    write("stream_framing", "mixed_stream", stream)
    write("stream_framing", "overlong", seeds["channel_data_overlong"])
    jitsi = open(os.path.join(HERE, "..", "integration", "fixtures", "jitsi-turnserver.conf"), "rb").read()
    write("config_text", "jitsi", jitsi)
    write("config_text", "options", b"listening-port=3478\nuser=alice:0x00112233445566778899aabbccddeeff\n"
                                    b"denied-peer-ip=10.0.0.0/8\nexternal-ip=203.0.113.1/10.0.0.1\n--verbose\n"
                                    b"realm \"quoted.example\"\nbogus-option=1\n")
    # What a client may put in USERNAME/REALM/NONCE/SOFTWARE, and what the escaping must defuse.
    write("text_escape", "rest_username", b"1700000000:alice@example.org")
    write("text_escape", "rfc5769_username", "\u30de\u30c8\u30ea\u30c3\u30af\u30b9".encode())
    write("text_escape", "hostile", b"a\\b\x1b[2J\x1b]0;t\x07\n\r\t\0\x7f\xc2\x9b"
                                    b"\xe2\x80\xae\xe2\x80\xa8\xef\xbb\xbf\xff\xc0\xaf\xed\xa0\x80\xe3\x83")
    write("text_escape", "astral", "\U0001f600 \U000e0001 \U0010ffff".encode() + b"\xf4\x90\x80\x80")
    # What the check page's JavaScript posts (net/check_page), and JSON's corners.
    write("json_value", "start", b'{"token":"Abc-_0"}')
    write("json_value", "result", b'{"token":"AAAA","verdict":"Your network blocks UDP.","results":['
                                  b'{"url":"turn:10.0.0.1:3478?transport=udp","via":"udp","outcome":"no-relay-candidate",'
                                  b'"candidates":[],"rtt_ms":null,"error":"ICE errors: 701"},'
                                  b'{"url":"turns:h:5349?transport=tcp","via":"tls","outcome":"works",'
                                  b'"candidates":["relay/tls"],"rtt_ms":14.5,"error":""}]}')
    write("json_value", "deep", b"[" * 10 + b"1" + b"]" * 10)
    write("json_value", "escapes", b'["\\ud83d\\ude00\\u00e9\\n", -0.5e-3, true, false, null, {}]')
    write("json_value", "repeated", b'{"a":1,"a":2}')
    write("handover_state", "empty", handover_state([]))
    write("handover_state", "two_allocations", handover_state([(1, 1), (3, 2)]))
    write("handover_state", "message_refused", b"TPHM\x06\x00\x00\x00\x00\x00\x0bbad config!")
    write("handover_state", "newer_version", handover_state([(1, 1)], version=2))
    write("json_value", "valid_token", b'{"token":"' + check_token(b"secret", bytes(range(9)), 2**31, "Bob") + b'"}')


if __name__ == "__main__":
    main()
