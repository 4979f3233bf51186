"""A TCP echo server for RFC 6062 tests: every byte a connection sends comes back on it.

    python3 tcp_echo_peer.py HOST PORT

Prints "listening HOST:PORT" once it accepts connections, then one line per connection
("connection from IP:PORT", "closed IP:PORT after N bytes"), so a test can tell whether a
connection reached it. Started by a test and stopped by pid (harness.TcpEchoPeer).
"""
import asyncio
import sys


async def echo(reader, writer):
    peer = writer.get_extra_info("peername")
    name = "%s:%d" % (peer[0], peer[1])
    print("connection from " + name, flush=True)
    total = 0
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            total += len(data)
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        print("closed %s after %d bytes" % (name, total), flush=True)
        writer.close()


async def main(host, port):
    server = await asyncio.start_server(echo, host, port)
    print("listening %s:%d" % (host, port), flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2])))
