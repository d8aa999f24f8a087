"""Echo servers: the UDP template (a plain receive-reply loop) and the TCP one (asyncio).

``serve_udp`` is the whole UDP server pattern; the date/time server reuses it
with its own reply function.
"""

from __future__ import annotations

import asyncio
import signal
import socket
from collections.abc import Callable

from services.cli import PORTS, SERVER_HOST, add_endpoint, exit_on_sigterm, format_peer, log, make_parser, parse
from services.echo import protocol
from services.framing import FramingError, LineDecoder, preview
from services.netopts import tune_connection

#: Receive buffer for one datagram: the largest UDP payload, so an oversized
#: request arrives whole and its real size can be reported (a smaller buffer
#: would silently cut it).
RECV_BUFFER = 65535
#: How much of each reply the log shows (requests show PREVIEW_BYTES).
LOG_REPLY_BYTES = 100
#: Bytes read from a TCP connection at a time.
READ_SIZE = 65536


def serve_udp(prog: str, host: str, port: int, reply: Callable[[bytes], bytes]) -> int:
    """Answer every datagram with ``reply(datagram)``, forever; SIGTERM or Ctrl-C ends it with status 0."""
    exit_on_sigterm()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((host, port))
        log(f"{prog} listening on {host}:{sock.getsockname()[1]}/udp")
        try:
            while True:
                data, addr = sock.recvfrom(RECV_BUFFER)
                answer = reply(data)
                log(f"{format_peer(addr)} '{preview(data)}' -> '{preview(answer, LOG_REPLY_BYTES)}'")
                try:
                    sock.sendto(answer, addr)
                except OSError as exc:  # one unreachable client must not stop the server
                    log(f"{format_peer(addr)} reply failed: {exc}")
        except KeyboardInterrupt:
            log(f"{prog} stopped")
    return 0


def udp_main(argv: list[str] | None = None) -> int:
    parser = make_parser("udp-echo-server", "UDP echo server: replies to each datagram with its text upper-cased.")
    add_endpoint(parser, host=SERVER_HOST, port=PORTS["udp-echo"])
    args = parse(parser, argv)
    return serve_udp("udp-echo-server", args.host, args.port, protocol.udp_reply)


async def echo_lines(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """One TCP client: reply to each line until it closes; errors end only this connection."""
    peer = format_peer(writer.get_extra_info("peername"))
    tune_connection(writer.get_extra_info("socket"))
    log(f"{peer} connected")
    decoder = LineDecoder()
    try:
        while data := await reader.read(READ_SIZE):
            await send_replies(writer, peer, decoder.feed(data))
        await send_replies(writer, peer, decoder.close())  # a last line without LF
    except OSError as exc:
        log(f"{peer} connection error: {exc}")
    finally:
        writer.close()
        log(f"{peer} disconnected")


async def send_replies(writer: asyncio.StreamWriter, peer: str, lines: list[str | FramingError]) -> None:
    if not lines:
        return
    replies = [protocol.tcp_reply(line) for line in lines]
    for line, answer in zip(lines, replies, strict=True):
        log(f"{peer} {line!r} -> {answer.decode().rstrip()!r}")
    writer.write(b"".join(replies))  # one write for everything one read completed
    await writer.drain()  # a client that never reads stops being read too


async def serve_tcp(host: str, port: int) -> None:
    server = await asyncio.start_server(echo_lines, host, port)
    log(f"tcp-echo-server listening on {host}:{server.sockets[0].getsockname()[1]}/tcp")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with server:
        await stop.wait()
    log("tcp-echo-server stopped")


def tcp_main(argv: list[str] | None = None) -> int:
    parser = make_parser("tcp-echo-server", "TCP echo server: replies to each line with the line upper-cased.")
    add_endpoint(parser, host=SERVER_HOST, port=PORTS["tcp-echo"])
    args = parse(parser, argv)
    asyncio.run(serve_tcp(args.host, args.port))
    return 0
