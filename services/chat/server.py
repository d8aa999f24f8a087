"""chat-server: the chat room of protocol.py over TCP, for hundreds of members at once.

All rules live in :class:`~services.chat.protocol.Room`; this file only moves
bytes. It is written for speed, because a room multiplies work: one line in
becomes N-1 lines out. How it stays fast:

* ``asyncio.Protocol`` callbacks, not streams: no task, future or await per
  line, just a function call per chunk received.
* Encode once, for the whole room: what the room hears in one loop pass is
  kept in one list (``_room_lines``), not copied into every member's queue.
  At the end of the pass it is joined into one ``bytes`` object, and every
  member that sent nothing in that pass is given that same object. Only the
  pass's senders, who must not hear their own lines, get a copy with their
  own bytes cut out. A message costs the server O(1) Python work to queue,
  not O(members); the per-member work is one step per pass.
* One write per member per loop pass: a single ``call_soon`` callback
  (``flush``) hands out the pass's room lines and calls ``transport.write``
  once per member. Ten senders in one pass cost each recipient one
  ``send()``, not ten.
* Bounded memory, like IRC's "SendQ exceeded": once the kernel has taken what
  it will, a member whose unsent bytes exceed ``--max-pending`` is
  disconnected as a slow consumer and the others get the leave notice.
  Reading never pauses for a slow member, so one stalled terminal never
  stalls the room, and the server holds at most ``--max-pending`` (plus one
  pass of output) per member.
* The standard asyncio loop is the default: here it measured faster than
  uvloop for this design (``--loop uvloop`` tries it), because asyncio
  handles many ready sockets per pass, so more deliveries share one write.
* Only joins, leaves and errors are logged (``--verbose`` adds every message):
  a log line per delivery would cost more than the delivery.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import socket
import struct
import time
from collections.abc import Callable, Sequence

from services import cli
from services.chat.protocol import MAX_MEMBERS, Delivery, Joined, Left, Room, To
from services.framing import MAX_LINE, FramingError, LineDecoder, encode_line, encode_lines
from services.netopts import tune_connection

PROGRAM = "chat-server"
#: Unsent bytes a member may have queued before it is dropped as a slow consumer.
#: 256 lines of the longest size: minutes of reading for a person, never
#: reached by a client that keeps reading.
MAX_PENDING_BYTES = 256 * 1024
#: Seconds a new connection has to send an acceptable login name.
LOGIN_TIMEOUT = 60.0
#: Seconds the shutdown notice may take to reach members before connections are cut.
SHUTDOWN_GRACE = 2.0
#: Queue of connections the kernel completes before accept(): 1000 members may arrive at once.
LISTEN_BACKLOG = 1024
#: File descriptors wanted: one per member plus a margin for half-logged-in connections.
WANTED_FDS = 2 * MAX_MEMBERS + 64
#: SO_LINGER on, zero seconds: close() resets the connection instead of draining it.
LINGER_RESET = struct.pack("ii", 1, 0)


class Connection(asyncio.Protocol):
    """One TCP connection: decodes lines, hands them to the :class:`ChatServer`, holds output."""

    __slots__ = ("hub", "transport", "peer", "decoder", "out", "name", "closing", "reason", "login_timer")

    def __init__(self, hub: ChatServer) -> None:
        self.hub = hub
        self.transport: asyncio.Transport | None = None
        self.peer = "?"
        self.decoder = LineDecoder(MAX_LINE)
        self.out: list[bytes] = []  # bytes queued for this member's next write
        self.name: str | None = None  # set once the login is accepted
        self.closing = False
        self.reason = ""  # why the server closed it, for the log
        self.login_timer: asyncio.TimerHandle | None = None

    # Every callback is guarded: nothing one client does may raise into the event loop.
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.peer = cli.format_peer(transport.get_extra_info("peername"))
        try:
            sock = transport.get_extra_info("socket")
            if sock is not None:
                tune_connection(sock)
            self.hub.connected(self)
        except Exception as exc:
            self.hub.crashed(self, exc)

    def data_received(self, data: bytes) -> None:
        try:
            self.hub.received(self, self.decoder.feed(data))
        except Exception as exc:
            self.hub.crashed(self, exc)

    def eof_received(self) -> bool:
        try:
            self.hub.received(self, self.decoder.close())  # a last line without LF still counts
        except Exception as exc:
            self.hub.crashed(self, exc)
        return False  # close our side too; connection_lost follows

    def connection_lost(self, exc: Exception | None) -> None:
        try:
            self.hub.disconnected(self, exc)
        except Exception as err:
            cli.log(f"{self.peer} error while disconnecting: {err!r}")


class ChatServer:
    """The room plus the I/O it implies: queues, flushes, drops, timers, logs."""

    def __init__(
        self,
        room: Room[Connection],
        *,
        max_pending: int = MAX_PENDING_BYTES,
        login_timeout: float = LOGIN_TIMEOUT,
        verbose: bool = False,
    ) -> None:
        self.room = room
        self.max_pending = max_pending
        self.login_timeout = login_timeout
        self.verbose = verbose
        self.connections: set[Connection] = set()
        self.stopping = False
        self._dirty: list[Connection] = []  # connections with queued output, each once
        # This pass's lines for the room, in order, each with the member that must not get it
        # (its sender; None for notices to everyone). Handed out by _deal().
        self._room_lines: list[bytes] = []
        self._room_bytes = 0  # total length of _room_lines
        self._own: dict[Connection, list[tuple[int, int]]] = {}  # sender -> where its lines lie in the join
        self._flush_scheduled = False
        self._second = -1
        self._clock = ""
        self._send_to: dict[To, Callable[[Connection, str], None]] = {
            To.SENDER: self._to_sender,
            To.ALL: self._to_all,
            To.OTHERS: lambda conn, line: self._broadcast(encode_line(line), conn),
            To.HANGUP: self._hang_up,
        }
        #: What the server does when the room says a line made the sender join or leave.
        self._on_member: dict[type, Callable[[Connection, Joined | Left], None]] = {
            Joined: self._joined,
            Left: self._quit,
        }

    def now(self) -> str:
        """``HH:MM:SS``, formatted at most once a second however many lines arrive."""
        second = int(time.time())
        if second != self._second:
            self._second = second
            self._clock = time.strftime("%H:%M:%S", time.localtime(second))
        return self._clock

    # -- events from connections ---------------------------------------------------------

    def connected(self, conn: Connection) -> None:
        self.connections.add(conn)
        loop = asyncio.get_running_loop()
        conn.login_timer = loop.call_later(self.login_timeout, self._login_expired, conn)
        cli.log(f"{conn.peer} connected")

    def received(self, conn: Connection, items: list[str | FramingError]) -> None:
        """Lines from one chunk: run each through the room, then act on the events it returns."""
        batch: list[str] = []  # consecutive messages for the others: one buffer, queued once
        room = self.room
        for item in items:
            if conn.closing:  # after quit, the rest of the chunk is not a new login
                break
            if conn.name is None:  # a login may come next: earlier room lines are not for the newcomer
                self._deal()
            for event in room.receive(conn, item, self.now()):
                if event.__class__ is not Delivery:  # Joined or Left: membership, no line
                    self._on_member[event.__class__](conn, event)
                    continue
                to, line = event
                if to is To.OTHERS:
                    batch.append(line)
                    if self.verbose:
                        cli.log(f"{conn.peer} {line}")
                    continue
                if batch:
                    self._broadcast(encode_lines(batch), conn)
                    batch = []
                self._send_to[to](conn, line)
        if batch:
            self._broadcast(encode_lines(batch), conn)

    def disconnected(self, conn: Connection, exc: Exception | None) -> None:
        self.connections.discard(conn)
        if conn.login_timer is not None:
            conn.login_timer.cancel()
        conn.closing = True
        conn.out.clear()
        reason = conn.reason or ("connection closed" if exc is None else f"connection lost: {exc}")
        if not self._leave(conn, reason) and conn.name is None:  # members' leaves are logged by _leave
            cli.log(f"{conn.peer} disconnected: {reason}")

    def crashed(self, conn: Connection, exc: Exception) -> None:
        """A bug met by one connection: log it, drop that connection, keep serving the rest."""
        self._drop(conn, f"internal error: {exc!r}")

    # -- what the room decided -----------------------------------------------------------

    def _joined(self, conn: Connection, event: Joined) -> None:
        conn.name = event.name
        if conn.login_timer is not None:
            conn.login_timer.cancel()
        cli.log(f"{conn.peer} joined as {conn.name} (members={len(self.room)})")

    def _quit(self, conn: Connection, event: Left) -> None:
        """It left by a line (quit): it still gets what the room said before, not its own lines."""
        if self._room_lines:
            self._queue(conn, self._room_lines_for(conn))

    def _leave(self, conn: Connection, reason: str) -> bool:
        """Take ``conn`` out of the room and tell the others; False if it was not a member."""
        events = self.room.leave(conn, self.now())
        if not events:
            return False
        cli.log(f"{conn.peer} {conn.name} left: {reason} (members={len(self.room)})")
        if not self.stopping:  # while stopping, everyone already got the shutdown notice
            for event in events:
                if event.__class__ is Delivery:
                    self._send_to[event.to](conn, event.line)
        return True

    def _to_sender(self, conn: Connection, line: str) -> None:
        cli.log(f"{conn.peer} {line}")  # only ERROR replies are sent to the sender alone
        self._queue(conn, encode_line(line))
        self._schedule_flush()

    def _to_all(self, conn: Connection, line: str) -> None:
        self._broadcast(encode_line(line), None)

    def _hang_up(self, conn: Connection, line: str) -> None:
        cli.log(f"{conn.peer} {conn.name} left: quit (members={len(self.room)})")
        conn.reason = "quit"
        self._close(conn)

    def _login_expired(self, conn: Connection) -> None:
        if conn.name is None and not conn.closing:
            self._to_sender(conn, f"ERROR no login name accepted within {self.login_timeout:g} s")
            conn.reason = "login timeout"
            self._close(conn)

    # -- output: queue now, write once per pass -------------------------------------------

    def _queue(self, conn: Connection, data: bytes) -> None:
        """Queue bytes for one connection, after any room lines it is still owed."""
        if self._room_lines and conn in self.room:
            self._deal()  # keep the order: what the room said first goes out first
        if not conn.out:
            self._dirty.append(conn)
        conn.out.append(data)

    def _broadcast(self, data: bytes, exclude: Connection | None) -> None:
        """Queue ``data`` for every member but ``exclude``: O(1), however many members there are."""
        if exclude is not None:
            self._own.setdefault(exclude, []).append((self._room_bytes, self._room_bytes + len(data)))
        self._room_lines.append(data)
        self._room_bytes += len(data)
        self._schedule_flush()

    def _room_lines_for(self, conn: Connection) -> bytes:
        """This pass's room lines as ``conn`` must get them: all of them but its own."""
        return cut(b"".join(self._room_lines), self._own.get(conn, ()))

    def _deal(self) -> None:
        """Hand this pass's room lines to every member's queue: one shared ``bytes`` for most of them."""
        if not self._room_lines:
            return
        everyone = b"".join(self._room_lines)
        own = self._own
        dirty = self._dirty
        for conn in self.room.members:
            ranges = own.get(conn)
            data = everyone if ranges is None else cut(everyone, ranges)
            out = conn.out
            if not out:
                dirty.append(conn)
            out.append(data)
        self._room_lines = []
        self._room_bytes = 0
        self._own = {}

    def _schedule_flush(self) -> None:
        if not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self.flush)

    def flush(self) -> None:
        """Write each dirty member's queue in one ``transport.write``; drop members too far behind."""
        self._flush_scheduled = False
        self._deal()
        dirty, self._dirty = self._dirty, []
        limit = self.max_pending
        for conn in dirty:
            out = conn.out
            if not out:
                continue
            if conn.closing:
                out.clear()
                continue
            try:
                transport = conn.transport
                transport.write(out[0] if len(out) == 1 else b"".join(out))  # type: ignore[union-attr]
                out.clear()
                unsent = transport.get_write_buffer_size()  # type: ignore[union-attr]
                if unsent > limit:
                    self._drop(conn, f"slow consumer: {unsent} bytes unsent exceed {limit}")
            except Exception as exc:
                self._drop(conn, f"write failed: {exc!r}")

    def _close(self, conn: Connection) -> None:
        """Close after what is queued: write it now, then let the transport drain and send FIN."""
        conn.closing = True
        if conn.out:
            conn.transport.write(b"".join(conn.out))  # type: ignore[union-attr]
            conn.out.clear()
        conn.transport.close()  # type: ignore[union-attr]

    def _drop(self, conn: Connection, reason: str) -> None:
        """Cut a connection at once, discarding its unsent bytes; the others hear it left."""
        if conn.closing:
            return
        conn.closing = True
        conn.reason = reason
        conn.out.clear()
        if conn.transport is not None:
            reset_on_close(conn.transport)
            conn.transport.abort()
        self._leave(conn, reason)  # now, not in connection_lost: the room must not wait on it

    # -- shutdown ---------------------------------------------------------------------------

    async def shutdown(self, grace: float = SHUTDOWN_GRACE) -> None:
        """Tell every member, close every connection, give the notice ``grace`` seconds to leave."""
        for _, line in self.room.shutdown(self.now()):  # addressed to everyone
            self._broadcast(encode_line(line), None)
        self.stopping = True
        self.flush()
        for conn in list(self.connections):
            if not conn.closing:
                conn.reason = "server shutting down"
                self._close(conn)
        deadline = time.monotonic() + grace
        while self.connections and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        for conn in list(self.connections):  # members that would not take the notice
            conn.transport.abort()  # type: ignore[union-attr]
        await asyncio.sleep(0)  # let connection_lost run


def cut(data: bytes, ranges: Sequence[tuple[int, int]]) -> bytes:
    """``data`` without the ``(start, end)`` byte ranges (ascending, not overlapping)."""
    if not ranges:
        return data
    pieces, pos = [], 0
    for start, end in ranges:
        pieces.append(data[pos:start])
        pos = end
    pieces.append(data[pos:])
    return b"".join(pieces)


def reset_on_close(transport: asyncio.BaseTransport) -> None:
    """Make the coming close send RST and free the kernel's send buffer now.

    A plain close would leave the kernel trickling megabytes to a reader that is
    not reading, long after the member was dropped.
    """
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER_RESET)


def raise_fd_limit(wanted: int = WANTED_FDS) -> None:
    """Lift the soft open-files limit toward ``wanted``: 1024 would cap the room near 1000 members."""
    try:
        import resource
    except ImportError:  # not on Windows; the default there is large anyway
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


def loop_factory(choice: str) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """The event loop to run on: uvloop when asked (or, for ``auto``, when installed), else asyncio's."""
    if choice == "asyncio":
        return None
    try:
        import uvloop  # type: ignore[import-not-found]
    except ImportError:
        if choice == "uvloop":
            raise SystemExit(cli.fail("--loop uvloop: uvloop is not installed (pip install uvloop)")) from None
        return None
    return uvloop.new_event_loop


async def serve(args: argparse.Namespace) -> int:
    loop = asyncio.get_running_loop()
    hub = ChatServer(
        Room(args.max_members),
        max_pending=args.max_pending,
        login_timeout=args.login_timeout,
        verbose=args.verbose,
    )
    try:
        server = await loop.create_server(lambda: Connection(hub), args.host, args.port, backlog=LISTEN_BACKLOG)
    except OSError as exc:
        return cli.fail(f"cannot listen on {args.host}:{args.port}/tcp: {exc.strerror or exc}")
    host, port = server.sockets[0].getsockname()[:2]
    cli.log(f"{PROGRAM} listening on {host}:{port}/tcp")
    await cli.run_until_signalled()
    cli.log(f"{PROGRAM} shutting down ({len(hub.room)} members)")
    server.close()
    await hub.shutdown()
    return 0


def positive(kind: type[int] | type[float]) -> Callable[[str], int | float]:
    def convert(text: str) -> int | float:
        value = kind(text)
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be positive, not {text}")
        return value

    convert.__name__ = kind.__name__  # argparse names the type in its error messages
    return convert


def build_parser() -> argparse.ArgumentParser:
    parser = cli.make_parser(PROGRAM, "Chat room server: logins, join/leave notices, every line relayed to the others.")
    cli.add_endpoint(parser, host=cli.SERVER_HOST, port=cli.PORTS["chat"])
    parser.add_argument(
        "--max-members", type=positive(int), default=MAX_MEMBERS, help="room size limit (default %(default)s)"
    )
    parser.add_argument(
        "--max-pending",
        type=positive(int),
        default=MAX_PENDING_BYTES,
        help="unsent bytes after which a member is dropped as a slow consumer (default %(default)s)",
    )
    parser.add_argument(
        "--login-timeout",
        type=positive(float),
        default=LOGIN_TIMEOUT,
        help="seconds a connection has to log in (default %(default)s)",
    )
    parser.add_argument("--verbose", action="store_true", help="also log every message (slower with many members)")
    parser.add_argument(
        "--loop",
        choices=("auto", "asyncio", "uvloop"),
        default="asyncio",
        help="event loop: asyncio's, uvloop, or uvloop if installed (auto) (default %(default)s)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = cli.parse(build_parser(), argv)
    factory = loop_factory(args.loop)
    raise_fd_limit()
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(serve(args))
