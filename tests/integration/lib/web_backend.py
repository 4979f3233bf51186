"""A tiny HTTPS server standing in for the web server behind turnpike's shared port.

    python3 web_backend.py PORT CERT KEY [--proxy-protocol]

It answers every request with "web-backend peer=IP:PORT" (the client as the backend sees it:
with --proxy-protocol, the source of the PROXY v2 header every connection must start with;
a connection without a valid one is closed and logged). One line per connection on stdout.
"""
import socket
import ssl
import struct
import sys
import threading

SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"


def recv_exact(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
    return data


def read_proxy_v2(sock):
    """Parses a PROXY protocol v2 header (TCP over IPv4/IPv6); returns (src, dst) as "ip:port"."""
    head = recv_exact(sock, 16)
    if head[:12] != SIGNATURE:
        raise ValueError("no PROXY v2 signature")
    if head[12] != 0x21:
        raise ValueError("not version 2 / PROXY: %#x" % head[12])
    fam, length = head[13], struct.unpack("!H", head[14:16])[0]
    body = recv_exact(sock, length)
    if fam == 0x11 and length >= 12:
        src = socket.inet_ntop(socket.AF_INET, body[0:4])
        dst = socket.inet_ntop(socket.AF_INET, body[4:8])
        sport, dport = struct.unpack("!HH", body[8:12])
    elif fam == 0x21 and length >= 36:
        src = socket.inet_ntop(socket.AF_INET6, body[0:16])
        dst = socket.inet_ntop(socket.AF_INET6, body[16:32])
        sport, dport = struct.unpack("!HH", body[32:36])
    else:
        raise ValueError("unexpected family %#x length %d" % (fam, length))
    return "%s:%d" % (src, sport), "%s:%d" % (dst, dport)


def serve(conn, addr, ctx, proxy):
    try:
        conn.settimeout(10)
        peer = "%s:%d" % addr[:2]
        note = ""
        if proxy:
            peer, dst = read_proxy_v2(conn)
            note = " proxy-v2 src=%s dst=%s" % (peer, dst)
        tls = ctx.wrap_socket(conn, server_side=True)
        request = b""
        while b"\r\n\r\n" not in request:
            chunk = tls.recv(4096)
            if not chunk:
                break
            request += chunk
        body = ("web-backend peer=%s\n" % peer).encode()
        tls.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n"
                    b"Connection: close\r\n\r\n" % len(body) + body)
        print("served %s%s alpn=%s %r" % (peer, note, tls.selected_alpn_protocol(),
                                          request.split(b"\r\n")[0]), flush=True)
        tls.close()
    except Exception as e:  # a test failure shows in the log
        print("connection from %s:%d failed: %s" % (addr[0], addr[1], e), flush=True)
        conn.close()


def main():
    port, cert, key = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    proxy = "--proxy-protocol" in sys.argv
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    ctx.set_alpn_protocols(["http/1.1"])
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", port))
    srv.listen(64)
    print("ready on %d" % port, flush=True)
    while True:
        conn, addr = srv.accept()
        threading.Thread(target=serve, args=(conn, addr, ctx, proxy), daemon=True).start()


if __name__ == "__main__":
    main()
