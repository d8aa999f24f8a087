"""services/echo/protocol.py: replies to good and bad requests, byte for byte."""

from __future__ import annotations

import pytest

from services.echo.protocol import MAX_DATAGRAM, tcp_reply, udp_reply
from services.framing import FramingError, LineDecoder


@pytest.mark.parametrize(
    ("request_", "reply"),
    [
        (b"hello", b"HELLO"),
        (b"hello, world\n", b"HELLO, WORLD\n"),  # whitespace is echoed as sent
        (b"  mixed Case 42 ", b"  MIXED CASE 42 "),
        ("stra\u00dfe caf\u00e9".encode(), "STRASSE CAF\u00c9".encode()),
        (b"", b""),  # an empty datagram is a valid request: its echo is empty too
        (b"x" * MAX_DATAGRAM, b"X" * MAX_DATAGRAM),
        # bad datagrams: one ERROR line
        (b"x" * (MAX_DATAGRAM + 1), b"ERROR datagram of 2049 bytes exceeds 2048\n"),
        (b"caf\xc3", b"ERROR invalid UTF-8 at byte 3\n"),
        (b"\xff\xfe\x00junk", b"ERROR invalid UTF-8 at byte 0\n"),
    ],
)
def test_udp_reply(request_: bytes, reply: bytes) -> None:
    assert udp_reply(request_) == reply


@pytest.mark.parametrize(
    ("line", "reply"),
    [
        ("hello", b"HELLO\n"),
        ("", b"\n"),
        ("  spaced  ", b"  SPACED  \n"),
        (FramingError("invalid UTF-8 at byte 3"), b"ERROR invalid UTF-8 at byte 3\n"),
        (FramingError("line of 2000 bytes exceeds 1024"), b"ERROR line of 2000 bytes exceeds 1024\n"),
        ("a\rb", b"ERROR line contains a line break: 'A\\rB'\n"),
    ],
)
def test_tcp_reply(line: str | FramingError, reply: bytes) -> None:
    assert tcp_reply(line) == reply


def test_tcp_stream_with_framing() -> None:
    decoder = LineDecoder()
    items = decoder.feed(b"one\r\ntw\xffo\nthree\n")
    assert b"".join(map(tcp_reply, items)) == b"ONE\nERROR invalid UTF-8 at byte 2\nTHREE\n"
