"""The chat server's output queueing, with fake transports: who gets which room lines, in order.

The server hands out one loop pass's room lines at the end of the pass (one shared
``bytes`` for most members). These tests pack joins, messages and a quit into a
single pass and check that everyone still gets exactly what the rules say.
"""

from __future__ import annotations

import asyncio
import re

import pytest

from services.chat.protocol import Room
from services.chat.server import ChatServer, Connection, cut


class FakeTransport:
    def __init__(self) -> None:
        self.written = bytearray()
        self.closed = False

    def write(self, data: bytes) -> None:
        assert not self.closed, "write after close"
        self.written += data

    def get_write_buffer_size(self) -> int:
        return 0

    def get_extra_info(self, name: str) -> object:
        return ("127.0.0.1", 40000) if name == "peername" else None

    def close(self) -> None:
        self.closed = True

    abort = close


def connect(hub: ChatServer) -> tuple[Connection, FakeTransport]:
    conn, transport = Connection(hub), FakeTransport()
    conn.connection_made(transport)  # type: ignore[arg-type]
    return conn, transport


def text(transport: FakeTransport) -> list[str]:
    """The lines received, with the clock taken out of notices."""
    return [re.sub(r"time=\S+ ", "", line) for line in transport.written.decode().splitlines()]


@pytest.mark.parametrize(
    ("data", "ranges", "expected"),
    [
        (b"abcdef", [], b"abcdef"),
        (b"abcdef", [(0, 2)], b"cdef"),
        (b"abcdef", [(2, 4)], b"abef"),
        (b"abcdef", [(0, 1), (3, 4), (5, 6)], b"bce"),
        (b"abcdef", [(0, 6)], b""),
    ],
)
def test_cut_removes_the_ranges(data: bytes, ranges: list[tuple[int, int]], expected: bytes) -> None:
    assert cut(data, ranges) == expected


def test_one_pass_with_messages_a_quit_and_a_join() -> None:
    async def scenario() -> dict[str, list[str]]:
        hub = ChatServer(Room())
        a, ta = connect(hub)
        b, tb = connect(hub)
        c, tc = connect(hub)
        a.data_received(b"Alice\n")
        b.data_received(b"Bob\n")
        hub.flush()
        for t in (ta, tb):
            t.written.clear()
        # One loop pass: nothing is flushed until all of this has happened.
        a.data_received(b"one\n")
        b.data_received(b"hello\nquit\n")
        c.data_received(b"Carol\n")
        a.data_received(b"two\n")
        c.data_received(b"x" * 2000 + b"\n")  # an error for Carol: after the lines she already has
        hub.flush()
        assert tb.closed
        return {"a": text(ta), "b": text(tb), "c": text(tc)}

    got = asyncio.run(scenario())
    assert got["a"] == [
        "Bob: hello",
        "Server: Bob has left. Member count=1",
        "Server: Carol has joined. Member count=2",
    ]
    assert got["b"] == ["Alice: one"]  # what was said before it quit, not after, and not its own lines
    assert got["c"] == [  # nothing from before it joined
        "Server: Carol has joined. Member count=2",
        "Alice: two",
        "ERROR line of 2000 bytes exceeds 1024",
    ]
