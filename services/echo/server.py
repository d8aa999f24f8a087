"""Echo servers: the UDP one (``services.udp.serve_udp``'s receive-reply loop) and the TCP one (asyncio)."""

from __future__ import annotations

import asyncio

from services.cli import PORTS, SERVER_HOST, add_endpoint, format_peer, log, make_parser, parse, run_until_signalled
from services.echo import protocol
from services.framing import FramingError, LineDecoder
from services.netopts import tune_connection
from services.udp import serve_udp

#: Bytes read from a TCP connection at a time.
READ_SIZE = 65536


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
    async with server:
        await run_until_signalled()
    log("tcp-echo-server stopped")


def tcp_main(argv: list[str] | None = None) -> int:
    parser = make_parser("tcp-echo-server", "TCP echo server: replies to each line with the line upper-cased.")
    add_endpoint(parser, host=SERVER_HOST, port=PORTS["tcp-echo"])
    args = parse(parser, argv)
    asyncio.run(serve_tcp(args.host, args.port))
    return 0
