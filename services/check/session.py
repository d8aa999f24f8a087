"""Send/expect sessions for the checker, every exchange recorded with its time.

A :class:`Session` is one case's view of the server: the connections it
opens, one shared :class:`Transcript` (what was sent and received, by whom, at
which millisecond since the case began) and one deadline for the whole case.
Every wait is bounded by the reply timeout and the deadline; a wait that ends
empty raises :class:`CaseFailed` saying what was expected and what came.

A ``human`` session (the ``lab`` level's cases) talks like a person at a
keyboard, as the course's programs expect: each line goes in its own send, and
only after the reply to the previous one has been read, or after
``TYPING_PAUSE_S`` when no reply was read (so a name and the first request never
share a segment); and a reply is whatever arrives until ``QUIET_S`` of silence,
with or without a line end (the course's templates send ``str(result).encode()``).
Otherwise (``strict``) a line is exactly what ends in LF, and the framing cases
send coalesced and split lines on purpose.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

#: Bytes shown of one send or receive in a transcript; the rest is summarised.
SHOW_BYTES = 160
RECV_SIZE = 65536
#: Largest datagram the checker reads.
MAX_DATAGRAM = 65535
#: Human pacing: seconds of silence that end a reply without a line end...
QUIET_S = 0.3
#: ...and seconds a person waits before the next line when no reply was read since the last one.
TYPING_PAUSE_S = 1.0

ARROWS = {"send": "->", "recv": "<-", "connect": "==", "close": "xx", "eof": "<x", "wait": "..", "note": "  "}


class CaseFailed(Exception):
    """A case's expectation was not met; the message says what was expected and what came."""


def show(data: bytes | str) -> str:
    """Bytes as readable text: escapes for line ends and bad bytes, long data shortened."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    text = raw[:SHOW_BYTES].decode("utf-8", "backslashreplace")
    text = text.replace("\r", "\\r").replace("\n", "\\n").replace("\t", "\\t")
    text = "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in text)
    more = f" ... ({len(raw)} bytes)" if len(raw) > SHOW_BYTES else ""
    return f"'{text}'{more}"


@dataclass
class Event:
    t_ms: float
    conn: str
    kind: str
    data: str

    def render(self) -> str:
        return f"{self.t_ms:9.1f} ms  {self.conn:<4} {ARROWS.get(self.kind, '  ')} {self.data}"


@dataclass
class Transcript:
    t0: float = field(default_factory=time.monotonic)
    events: list[Event] = field(default_factory=list)

    def add(self, conn: str, kind: str, data: str) -> None:
        self.events.append(Event(round((time.monotonic() - self.t0) * 1000, 1), conn, kind, data))

    def render(self, indent: str = "    ") -> str:
        return "\n".join(indent + e.render() for e in self.events)

    def to_list(self) -> list[dict[str, object]]:
        return [asdict(e) for e in self.events]


class Session:
    """One case's connections, transcript and deadline."""

    def __init__(self, host: str, port: int, reply_timeout: float, limit: float, human: bool = False) -> None:
        self.host, self.port = host, port
        #: Talk like a person at a keyboard (see the module's docstring).
        self.human = human
        self.reply_timeout = reply_timeout
        self.limit = limit
        self.transcript = Transcript()
        self.deadline = self.transcript.t0 + limit
        self._conns: list[TcpConn | UdpConn] = []

    def remaining(self) -> float:
        return self.deadline - time.monotonic()

    def wait_time(self, timeout: float | None = None) -> float:
        """How long the next wait may last: the reply timeout (or ``timeout``), cut by the deadline."""
        left = self.remaining()
        if left <= 0:
            raise CaseFailed(f"case time limit of {self.limit:g} s exceeded")
        return min(self.reply_timeout if timeout is None else timeout, left)

    def note(self, text: str, conn: str = "") -> None:
        self.transcript.add(conn, "note", text)

    def tcp(self, label: str) -> TcpConn:
        conn = TcpConn(self, label)
        self._conns.append(conn)
        return conn

    def udp(self, label: str) -> UdpConn:
        conn = UdpConn(self, label)
        self._conns.append(conn)
        return conn

    def close_all(self) -> None:
        for conn in self._conns:
            conn.close(record=False)
        self._conns.clear()


class TcpConn:
    """A line-speaking TCP client whose every byte lands in the session's transcript."""

    def __init__(self, session: Session, label: str) -> None:
        self.s, self.label = session, label
        #: Complete lines received and not yet read, and the partial line after them.
        self.pending: deque[bytes] = deque()
        self.buf = b""
        self.eof = False
        self.closed = False
        #: Off while bulk data flows (the transcript gets a note instead of every chunk).
        self.recording = True
        self.human = session.human
        #: A line was sent and no reply has been read since (human pacing).
        self.awaiting = False
        addr = (session.host, session.port)
        try:
            self.sock = socket.create_connection(addr, timeout=session.wait_time())
        except OSError as exc:
            session.transcript.add(label, "connect", f"{session.host}:{session.port} failed: {exc}")
            raise CaseFailed(f"cannot connect to {session.host}:{session.port}: {exc}") from None
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        session.transcript.add(label, "connect", f"{session.host}:{session.port}")

    def _record(self, kind: str, data: str) -> None:
        if not self.recording and kind in {"send", "recv"}:
            return
        self.s.transcript.add(self.label, kind, data)

    def send(self, text: str) -> None:
        """One line. A human session first reads out the previous reply, or pauses if none was read."""
        if self.human:
            self._settle()
        self.send_raw(text.encode("utf-8") + b"\n")
        self.awaiting = True

    def _settle(self) -> None:
        """Before a person types: wait a moment if no reply was read; what has arrived is a reply."""
        if self.awaiting:
            end = time.monotonic() + min(TYPING_PAUSE_S, max(self.s.remaining(), 0))
            while (left := end - time.monotonic()) > 0 and self._fill(left):
                pass
        self._take_partial()

    def _take_partial(self) -> None:
        if self.buf:
            self.pending.append(self.buf)
            self.buf = b""

    def send_raw(self, data: bytes) -> None:
        self._record("send", show(data))
        self.sock.settimeout(self.s.wait_time())
        try:
            self.sock.sendall(data)
        except TimeoutError:
            raise CaseFailed(f"{self.label}: the server stopped reading (send blocked)") from None
        except OSError as exc:
            raise CaseFailed(f"{self.label}: send failed: {exc}") from None

    def send_split(self, data: bytes, pause: float = 0.002) -> None:
        """``data`` one byte per segment (TCP_NODELAY is on), pausing between bytes."""
        for i in range(len(data)):
            self.send_raw(data[i : i + 1])
            time.sleep(pause)

    def _fill(self, timeout: float | None) -> bool:
        """Receive once; False on timeout. Sets ``eof`` when the peer closes or resets."""
        if self.eof:
            return False
        self.sock.settimeout(self.s.wait_time(timeout))
        try:
            chunk = self.sock.recv(RECV_SIZE)
        except TimeoutError:
            return False
        except OSError as exc:
            self._record("eof", f"connection error: {exc}")
            self.eof = True
            return False
        if not chunk:
            self._record("eof", "closed by server")
            self.eof = True
            return False
        self._record("recv", show(chunk))
        if b"\n" in chunk:  # split once per chunk: reading many lines stays linear
            *complete, self.buf = (self.buf + chunk).split(b"\n")
            self.pending.extend(complete)
        else:
            self.buf += chunk
        return True

    def _pop_line(self) -> str | None:
        if not self.pending:
            return None
        return self.pending.popleft().removesuffix(b"\r").decode("utf-8", "replace")

    def next_line(self, timeout: float | None = None) -> str | None:
        """The next line (without its ending), or None if none arrives in time or the peer closed.

        In a human session, data without a line end followed by ``QUIET_S`` of
        silence (or the end of the stream, or of the wait) is a line too.
        """
        end = time.monotonic() + self.s.wait_time(timeout)
        while (line := self._pop_line()) is None:
            left = end - time.monotonic()
            partial = self.human and bool(self.buf)
            if left <= 0 or not self._fill(min(left, QUIET_S) if partial else left):
                if not partial:
                    return None
                self._take_partial()
        self.awaiting = False
        return line

    def line(self, expected: str, timeout: float | None = None) -> str:
        """The next line; CaseFailed naming ``expected`` when none comes."""
        got = self.next_line(timeout)
        if got is None:
            raise CaseFailed(f"{self.label}: expected {expected}; {self._nothing(timeout)}")
        return got

    def expect(self, exact: str, timeout: float | None = None) -> None:
        got = self.line(repr(exact), timeout)
        if got != exact:
            raise CaseFailed(f"{self.label}: expected {exact!r}, got {got!r}")

    def until(
        self,
        accept: Callable[[str], bool],
        expected: str,
        timeout: float | None = None,
        skip: Callable[[str], bool] | None = None,
    ) -> str:
        """Read lines until one is accepted; lines ``skip`` says to ignore are ignored.

        At ``lab`` level a server may say more than asked (greetings, prompts);
        this reads past them. Fails naming every line that came instead.
        """
        seen: list[str] = []
        end = time.monotonic() + self.s.wait_time(timeout)
        while True:
            left = end - time.monotonic()
            got = self.next_line(left) if left > 0 else None
            if got is None:
                came = f"got {seen!r} then " if seen else ""
                raise CaseFailed(f"{self.label}: expected {expected}; {came}{self._nothing(timeout)}")
            if accept(got):
                return got
            if skip is None or not skip(got):
                seen.append(got)

    def quiet(self, seconds: float) -> list[str]:
        """Every line that arrives within ``seconds`` (to show that nothing unwanted comes)."""
        lines = []
        end = time.monotonic() + min(seconds, max(self.s.remaining(), 0))
        while (left := end - time.monotonic()) > 0:
            got = self.next_line(left)
            if got is None:
                break
            lines.append(got)
        return lines

    def expect_closed(self, timeout: float | None = None) -> list[str]:
        """Wait for the server to close; return the lines it sent before closing."""
        lines = []
        end = time.monotonic() + self.s.wait_time(timeout)
        while True:
            while (line := self._pop_line()) is not None:
                lines.append(line)
            if self.eof:
                if self.buf:
                    lines.append(self.buf.decode("utf-8", "replace"))
                    self.buf = b""
                return lines
            left = end - time.monotonic()
            if left <= 0 or (not self._fill(left) and not self.eof):
                raise CaseFailed(f"{self.label}: expected the server to close the connection; it is still open")

    def _nothing(self, timeout: float | None) -> str:
        if self.eof:
            return "the connection was closed by the server"
        wait = self.s.reply_timeout if timeout is None else timeout
        return f"nothing within {wait:g} s" + (f" (buffered {show(self.buf)})" if self.buf else "")

    def shutdown_write(self) -> None:
        """Half-close: the server sees end of stream."""
        self._record("close", "end of stream (FIN)")
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_WR)

    def reset(self) -> None:
        """Abort the connection with a TCP reset, as a crashed client would."""
        self._record("close", "reset (RST)")
        with contextlib.suppress(OSError):
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close(record=False)

    def close(self, record: bool = True) -> None:
        if self.closed:
            return
        if record:
            self._record("close", "closed")
        self.closed = True
        self.sock.close()


class UdpConn:
    """A UDP socket ``connect``-ed to the server (so an ICMP "port unreachable" surfaces as an error)."""

    def __init__(self, session: Session, label: str) -> None:
        self.s, self.label = session, label
        self.closed = False
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.connect((session.host, session.port))

    def send(self, data: bytes) -> None:
        self.s.transcript.add(self.label, "send", show(data))
        self.sock.send(data)

    def recv(self, expected: str, timeout: float | None = None) -> bytes:
        """One datagram; CaseFailed naming ``expected`` if none arrives in time."""
        wait = self.s.wait_time(timeout)
        self.sock.settimeout(wait)
        try:
            data = self.sock.recv(MAX_DATAGRAM)
        except TimeoutError:
            self.s.transcript.add(self.label, "wait", f"no datagram within {wait:g} s")
            raise CaseFailed(f"{self.label}: expected {expected}; no reply within {wait:g} s") from None
        except OSError as exc:
            self.s.transcript.add(self.label, "eof", f"error: {exc}")
            raise CaseFailed(f"{self.label}: expected {expected}; {exc}") from None
        self.s.transcript.add(self.label, "recv", show(data))
        return data

    def ask(self, data: bytes, expected: str, timeout: float | None = None) -> bytes:
        self.send(data)
        return self.recv(expected, timeout)

    def close(self, record: bool = True) -> None:
        if not self.closed:
            self.closed = True
            self.sock.close()
