"""calc-server: many clients at once, each with its own named session (asyncio, one coroutine per client).

All protocol decisions are in protocol.Session; this file only moves bytes and
logs. Replies are written with ``drain()``, so a client that never reads stops
the server from reading its requests instead of growing the server's memory.
"""

from __future__ import annotations

import asyncio

from services.cli import (
    PORTS,
    SERVER_HOST,
    add_endpoint,
    fail,
    format_peer,
    log,
    make_parser,
    parse,
    run_until_signalled,
)
from services.framing import MAX_LINE, LineDecoder, encode_line
from services.netopts import tune_connection

from .protocol import Session

PROGRAM = "calc-server"
READ_SIZE = 4096  # bytes per read; at most one read's worth of requests is answered before draining
IDLE_TIMEOUT = 300.0  # seconds a client may stay silent (or leave our replies unread) before we hang up


async def converse(
    session: Session, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, timeout: float | None
) -> str | None:
    """Serve one client until it quits (returns None) or goes away (returns why)."""
    decoder = LineDecoder(MAX_LINE)
    while True:
        try:
            data = await asyncio.wait_for(reader.read(READ_SIZE), timeout)
        except TimeoutError:
            return f"idle for {timeout:g} s"
        # An empty read is EOF: a last line without LF still counts.
        for item in decoder.feed(data) if data else decoder.close():
            reply = session.handle(item) if isinstance(item, str) else session.reject(item)
            if reply.log:
                log(reply.log)
            if reply.send is not None:
                writer.write(encode_line(reply.send))
                try:
                    await asyncio.wait_for(writer.drain(), timeout)
                except TimeoutError:
                    return f"left replies unread for {timeout:g} s"
            if reply.close:
                return None
        if not data:
            return "disconnected"


async def handle_client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, timeout: float | None) -> None:
    session = Session(format_peer(writer.get_extra_info("peername")))
    log(f"{session.peer} connected")
    why: str | None = "internal error"
    try:
        tune_connection(writer.get_extra_info("socket"))
        why = await converse(session, reader, writer, timeout)
    except OSError as exc:  # reset, broken pipe...: this connection only
        why = f"connection error: {exc.strerror or exc}"
    except asyncio.CancelledError:
        why = "server stopping"
        raise
    finally:
        if why:  # None: the session already logged its own end (q)
            log(session.end(why).log)
        writer.close()


async def serve(host: str, port: int, timeout: float | None) -> None:
    clients: set[asyncio.Task[None]] = set()

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        clients.add(task)
        try:
            await handle_client(reader, writer, timeout)
        finally:
            clients.discard(task)

    server = await asyncio.start_server(on_connect, host, port)
    bound_host, bound_port = server.sockets[0].getsockname()[:2]
    log(f"{PROGRAM} listening on {bound_host}:{bound_port}/tcp")

    await run_until_signalled()

    log(f"{PROGRAM} stopping")
    server.close()
    for task in list(clients):
        task.cancel()
    await asyncio.gather(*clients, return_exceptions=True)
    await server.wait_closed()


def main(argv: list[str] | None = None) -> int:
    parser = make_parser(PROGRAM, "TCP calculator server: named sessions, many clients at once.")
    add_endpoint(parser, host=SERVER_HOST, port=PORTS["calc"])
    parser.add_argument(
        "--idle-timeout",
        type=float,
        default=IDLE_TIMEOUT,
        help=f"seconds before a silent client is disconnected; 0 = never (default {IDLE_TIMEOUT:g})",
    )
    args = parse(parser, argv)
    try:
        asyncio.run(serve(args.host, args.port, args.idle_timeout or None))
    except OSError as exc:
        return fail(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}")
    return 0
