"""A small, independent STUN/TURN client for protocol-level checks against the real daemon
(RFC 8489 / RFC 8656 wire format). Written from the RFCs, separately from the server's C++
code, so the two can disagree when one of them is wrong.
"""
import base64
import hashlib
import hmac
import os
import socket
import struct
import time
import zlib

MAGIC = 0x2112A442

# Methods
BINDING, ALLOCATE, REFRESH, SEND, DATA, CREATE_PERMISSION, CHANNEL_BIND = 1, 3, 4, 6, 7, 8, 9
CONNECT, CONNECTION_BIND, CONNECTION_ATTEMPT = 0xA, 0xB, 0xC
# Classes
REQUEST, INDICATION, SUCCESS, ERROR = 0, 1, 2, 3

# Attributes
MAPPED_ADDRESS = 0x0001
USERNAME = 0x0006
MESSAGE_INTEGRITY = 0x0008
ERROR_CODE = 0x0009
UNKNOWN_ATTRIBUTES = 0x000A
CHANNEL_NUMBER = 0x000C
LIFETIME = 0x000D
XOR_PEER_ADDRESS = 0x0012
DATA_ATTR = 0x0013
REALM = 0x0014
NONCE = 0x0015
XOR_RELAYED_ADDRESS = 0x0016
REQUESTED_ADDRESS_FAMILY = 0x0017
EVEN_PORT = 0x0018
REQUESTED_TRANSPORT = 0x0019
DONT_FRAGMENT = 0x001A
MESSAGE_INTEGRITY_SHA256 = 0x001C
PASSWORD_ALGORITHM = 0x001D
USERHASH = 0x001E
XOR_MAPPED_ADDRESS = 0x0020
RESERVATION_TOKEN = 0x0022
CONNECTION_ID = 0x002A
ADDITIONAL_ADDRESS_FAMILY = 0x8000
ADDRESS_ERROR_CODE = 0x8001
PASSWORD_ALGORITHMS = 0x8002
SOFTWARE = 0x8022
FINGERPRINT = 0x8028


def msg_type(method, cls):
    return ((method & 0x000F) | ((method & 0x0070) << 1) | ((method & 0x0F80) << 2)
            | ((cls & 1) << 4) | ((cls & 2) << 7))


def split_type(t):
    method = (t & 0x000F) | ((t & 0x00E0) >> 1) | ((t & 0x3E00) >> 2)
    cls = ((t >> 4) & 1) | ((t >> 7) & 2)
    return method, cls


def pad4(b):
    return b + b"\0" * ((4 - len(b) % 4) % 4)


def xor_address(ip, port, txid):
    fam = socket.AF_INET6 if ":" in ip else socket.AF_INET
    raw = socket.inet_pton(fam, ip)
    key = struct.pack("!I", MAGIC) + txid
    x = bytes(a ^ b for a, b in zip(raw, key))
    return struct.pack("!BBH", 0, 1 if fam == socket.AF_INET else 2, port ^ (MAGIC >> 16)) + x


def parse_xor_address(v, txid):
    fam, port = v[1], struct.unpack("!H", v[2:4])[0] ^ (MAGIC >> 16)
    key = struct.pack("!I", MAGIC) + txid
    raw = bytes(a ^ b for a, b in zip(v[4:], key))
    ip = socket.inet_ntop(socket.AF_INET if fam == 1 else socket.AF_INET6, raw)
    return ip, port


class Message:
    def __init__(self, method, cls, txid=None, attrs=None):
        self.method, self.cls = method, cls
        self.txid = txid or os.urandom(12)
        self.attrs = list(attrs or [])  # [(type, bytes)]
        self.raw = b""

    def add(self, t, v):
        self.attrs.append((t, v))
        return self

    def get(self, t):
        for at, v in self.attrs:
            if at == t:
                return v
        return None

    def get_all(self, t):
        return [v for at, v in self.attrs if at == t]

    @property
    def error_code(self):
        v = self.get(ERROR_CODE)
        if v is None:
            return None
        return (v[2] & 7) * 100 + v[3]

    @property
    def error_reason(self):
        v = self.get(ERROR_CODE)
        return v[4:].decode("utf-8", "replace") if v is not None else None

    def encode(self, key=None, sha256=False, fingerprint=False):
        body = b"".join(struct.pack("!HH", t, len(v)) + pad4(v) for t, v in self.attrs)
        t = msg_type(self.method, self.cls)
        if key is not None:
            mac_len = 32 if sha256 else 20
            header = struct.pack("!HHI", t, len(body) + 4 + mac_len, MAGIC) + self.txid
            mac = hmac.new(key, header + body, hashlib.sha256 if sha256 else hashlib.sha1).digest()
            body += struct.pack("!HH", MESSAGE_INTEGRITY_SHA256 if sha256 else MESSAGE_INTEGRITY, mac_len) + mac
        if fingerprint:
            header = struct.pack("!HHI", t, len(body) + 8, MAGIC) + self.txid
            crc = (zlib.crc32(header + body) ^ 0x5354554E) & 0xFFFFFFFF
            body += struct.pack("!HHI", FINGERPRINT, 4, crc)
        return struct.pack("!HHI", t, len(body), MAGIC) + self.txid + body

    @staticmethod
    def decode(data):
        if len(data) < 20:
            raise ValueError("short")
        t, length, cookie = struct.unpack("!HHI", data[:8])
        if cookie != MAGIC:
            raise ValueError("cookie")
        method, cls = split_type(t)
        m = Message(method, cls, data[8:20])
        m.raw = data[:20 + length]
        pos = 20
        while pos + 4 <= 20 + length:
            at, al = struct.unpack("!HH", data[pos:pos + 4])
            m.attrs.append((at, data[pos + 4:pos + 4 + al]))
            pos += 4 + al + ((4 - al % 4) % 4)
        return m

    def verify_integrity(self, key):
        """Checks MESSAGE-INTEGRITY (or -SHA256) of a decoded message with `key`."""
        raw = self.raw
        pos = 20
        while pos + 4 <= len(raw):
            at, al = struct.unpack("!HH", raw[pos:pos + 4])
            if at in (MESSAGE_INTEGRITY, MESSAGE_INTEGRITY_SHA256):
                header = raw[:2] + struct.pack("!H", pos + 4 + al - 20) + raw[4:20]
                algo = hashlib.sha1 if at == MESSAGE_INTEGRITY else hashlib.sha256
                mac = hmac.new(key, header + raw[20:pos], algo).digest()
                return hmac.compare_digest(mac[:al], raw[pos + 4:pos + 4 + al])
            pos += 4 + al + ((4 - al % 4) % 4)
        return False


def rest_credential(secret, user="", ttl=3600, now=None, expiry=None):
    """TURN REST API: username "<expiry>[:user]", password base64(HMAC-SHA1(secret, username))."""
    exp = expiry if expiry is not None else int(now or time.time()) + ttl
    username = str(exp) + (":" + user if user else "")
    password = base64.b64encode(hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()).decode()
    return username, password


def long_term_key(username, realm, password, sha256=False):
    data = ("%s:%s:%s" % (username, realm, password)).encode()
    return hashlib.sha256(data).digest() if sha256 else hashlib.md5(data).digest()


class TurnError(Exception):
    def __init__(self, response):
        self.response = response
        self.code = response.error_code if response is not None else None
        super().__init__("TURN error %s %s" % (self.code, response.error_reason if response is not None else "(timeout)"))


class Client:
    """A TURN client over UDP (or TCP with tcp=True) speaking to one server."""

    def __init__(self, server, port, username=None, password=None, tcp=False, family=None, timeout=2.0,
                 tls=None, preamble=b"", source=None):
        """tls: an ssl.SSLContext for TURN over TLS (implies tcp). preamble: bytes sent on the TCP
        connection before anything else (a PROXY protocol header). source: the local address to
        send from (any port)."""
        self.server = (server, port)
        fam = family or (socket.AF_INET6 if ":" in server else socket.AF_INET)
        self.tcp = tcp or tls is not None
        self.sock = socket.socket(fam, socket.SOCK_STREAM if self.tcp else socket.SOCK_DGRAM)
        self.sock.settimeout(timeout)
        if source:
            self.sock.bind((source, 0))
        if self.tcp:
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.sock.connect(self.server)
            if preamble:
                self.sock.sendall(preamble)
        self.tls_context = tls
        if tls is not None:
            # A server that closes TLS without a close_notify (RFC 8446 §6.1) makes a read
            # raise SSLEOFError instead of returning b"": every test that sees the end checks it.
            self.sock = tls.wrap_socket(self.sock, server_hostname=None, suppress_ragged_eofs=False)
        self.username, self.password = username, password
        self.realm = None
        self.nonce = None
        self.key = None
        self.sha256 = False
        self.fingerprint = False
        self.stream_buffer = b""

    def close(self):
        self.sock.close()

    def send_raw(self, data):
        if self.tcp:
            self.sock.sendall(data)
        else:
            self.sock.sendto(data, self.server)

    def recv_raw(self, timeout=None):
        if timeout is not None:
            self.sock.settimeout(timeout)
        if not self.tcp:
            data, _ = self.sock.recvfrom(65536)
            return data
        while True:
            if len(self.stream_buffer) >= 4:
                first = self.stream_buffer[0]
                length = struct.unpack("!H", self.stream_buffer[2:4])[0]
                total = 20 + length if first < 0x40 else 4 + length + ((4 - length % 4) % 4)
                if len(self.stream_buffer) >= total:
                    frame, self.stream_buffer = self.stream_buffer[:total], self.stream_buffer[total:]
                    return frame
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            self.stream_buffer += chunk

    def transact(self, msg, sign=True, timeout=2.0, retries=2):
        """Sends a request and returns the response with the same transaction ID."""
        key = self.key if sign else None
        data = msg.encode(key=key, sha256=self.sha256, fingerprint=self.fingerprint)
        for _ in range(retries + 1):
            self.send_raw(data)
            deadline = time.time() + timeout
            while time.time() < deadline:
                try:
                    raw = self.recv_raw(max(0.01, deadline - time.time()))
                except socket.timeout:
                    break
                if raw[0] >= 0x40:
                    continue
                resp = Message.decode(raw)
                if resp.txid == msg.txid:
                    return resp
        return None

    def _auth_attrs(self, msg):
        msg.add(USERNAME, self.username.encode())
        msg.add(REALM, self.realm.encode())
        msg.add(NONCE, self.nonce.encode())
        return msg

    def request(self, method, attrs=(), expect_success=True):
        """An authenticated request; handles 401/438 challenges like a real client."""
        for attempt in range(3):
            msg = Message(method, REQUEST, attrs=list(attrs))
            if self.nonce is not None:
                self._auth_attrs(msg)
            resp = self.transact(msg, sign=self.nonce is not None)
            if resp is None:
                raise TurnError(None)
            if resp.cls == ERROR and resp.error_code in (401, 438) and attempt < 2:
                first = self.nonce is None or resp.error_code == 438
                self.realm = resp.get(REALM).decode()
                self.nonce = resp.get(NONCE).decode()
                if self.key is None:
                    self.key = long_term_key(self.username, self.realm, self.password, sha256=False)
                if first:
                    continue
            if expect_success and resp.cls != SUCCESS:
                raise TurnError(resp)
            return resp
        raise TurnError(resp)

    def allocate(self, attrs=(), transport=17):
        r = self.request(ALLOCATE, [(REQUESTED_TRANSPORT, bytes([transport, 0, 0, 0]))] + list(attrs))
        relayed = [parse_xor_address(v, r.txid) for v in r.get_all(XOR_RELAYED_ADDRESS)]
        self.relayed = relayed
        self.mapped = parse_xor_address(r.get(XOR_MAPPED_ADDRESS), r.txid)
        self.lifetime = struct.unpack("!I", r.get(LIFETIME))[0]
        return r

    def create_permission(self, *peers, expect_success=True):
        return self._request_with_peers(CREATE_PERMISSION, [(ip, 0) for ip in peers], [], expect_success)

    def channel_bind(self, channel, ip, port, expect_success=True):
        return self._request_with_peers(CHANNEL_BIND, [(ip, port)],
                                        [(CHANNEL_NUMBER, struct.pack("!HH", channel, 0))], expect_success)

    def refresh(self, lifetime, expect_success=True, attrs=()):
        return self.request(REFRESH, [(LIFETIME, struct.pack("!I", lifetime))] + list(attrs), expect_success)

    def _request_with_peers(self, method, peers, attrs, expect_success):
        for attempt in range(3):
            msg = Message(method, REQUEST, attrs=list(attrs))
            for ip, port in peers:
                msg.add(XOR_PEER_ADDRESS, xor_address(ip, port, msg.txid))
            self._auth_attrs(msg)
            resp = self.transact(msg)
            if resp is None:
                raise TurnError(None)
            if resp.cls == ERROR and resp.error_code == 438 and attempt < 2:
                self.nonce = resp.get(NONCE).decode()
                continue
            if expect_success and resp.cls != SUCCESS:
                raise TurnError(resp)
            return resp
        raise TurnError(resp)

    def send_indication(self, ip, port, data):
        msg = Message(SEND, INDICATION)
        msg.add(XOR_PEER_ADDRESS, xor_address(ip, port, msg.txid))
        msg.add(DATA_ATTR, data)
        self.send_raw(msg.encode())

    def channel_data(self, channel, data):
        frame = struct.pack("!HH", channel, len(data)) + data
        if self.tcp:
            frame = pad4(frame)
        self.send_raw(frame)

    def _receive_first(self, timeout, pick):
        """pick(raw) of each frame the server sends until it returns something, or None once
        `timeout` seconds have passed."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                raw = self.recv_raw(max(0.01, deadline - time.time()))
            except socket.timeout:
                return None
            picked = pick(raw)
            if picked is not None:
                return picked
        return None

    def receive_data(self, timeout=2.0):
        """The next relayed datagram: ("channel", number, data) or ("data", (ip, port), data)."""
        def relayed(raw):
            if 0x40 <= raw[0] < 0x80:
                ch, ln = struct.unpack("!HH", raw[:4])
                return ("channel", ch, raw[4:4 + ln])
            m = Message.decode(raw)
            if m.method == DATA and m.cls == INDICATION:
                return ("data", parse_xor_address(m.get(XOR_PEER_ADDRESS), m.txid), m.get(DATA_ATTR))
            return None
        return self._receive_first(timeout, relayed)

    # ---- RFC 6062 TCP allocations --------------------------------------------------------------

    def allocate_tcp(self, attrs=()):
        """Allocate with REQUESTED-TRANSPORT TCP (RFC 6062 §4.1): this is the control connection."""
        return self.allocate(attrs, transport=6)

    def connect_peer(self, ip, port, expect_success=True):
        """Connect (RFC 6062 §4.3); the success response carries CONNECTION-ID (connection_id())."""
        return self._request_with_peers(CONNECT, [(ip, port)], [], expect_success)

    def data_connection(self, timeout=2.0):
        """A new connection to the same server port (TLS if this one is), with this client's
        credentials and nonce, for a ConnectionBind (RFC 6062 §4.4)."""
        c = Client(self.server[0], self.server[1], self.username, self.password, tcp=True,
                   tls=self.tls_context, timeout=timeout)
        c.realm, c.nonce, c.key, c.sha256, c.fingerprint = self.realm, self.nonce, self.key, self.sha256, self.fingerprint
        return c

    def connection_bind(self, connection_id, expect_success=True):
        """ConnectionBind (RFC 6062 §4.4) on this (data) connection; after a success, the socket
        carries the peer's bytes as they are (see take_buffered())."""
        return self.request(CONNECTION_BIND, [(CONNECTION_ID, struct.pack("!I", connection_id))], expect_success)

    def receive_message(self, timeout=2.0):
        """The next STUN message the server sends (a ConnectionAttempt indication, say), or None."""
        return self._receive_first(timeout, lambda raw: Message.decode(raw) if raw[0] < 0x40 else None)

    def take_buffered(self):
        """Bytes received after the last STUN message (raw data once a ConnectionBind succeeded)."""
        data, self.stream_buffer = self.stream_buffer, b""
        return data


def connection_id(message):
    """The CONNECTION-ID (RFC 6062 §6.2.1) of a Connect response or ConnectionAttempt indication."""
    v = message.get(CONNECTION_ID)
    return struct.unpack("!I", v)[0] if v is not None else None
