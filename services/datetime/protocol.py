"""Date/time protocol (UDP, port 12001): one request datagram, one reply datagram.

Requests (UTF-8; whitespace around the word is ignored, so ``SEND_TIME\\n`` works)::

    SEND_DATE   ->  YYYY-MM-DD   the server's local date
    SEND_TIME   ->  HH:MM:SS     the server's local time, 24-hour clock

Anything else (another word, lower case, empty, binary junk, a datagram over
``MAX_DATAGRAM`` bytes) gets ``ERROR unknown request '<x>': send SEND_DATE or SEND_TIME``,
where ``<x>`` shows at most ``PREVIEW_BYTES`` of the request, escaped. Every reply ends with LF.

The protocol is stateless: each request carries everything needed to answer it.
It also carries no request id, so a client that gave up waiting cannot tell a
late reply from a new one by its content alone; see ``answers``.

Sample exchange (``>`` client to server, ``<`` server to client, one datagram per line)::

    > SEND_TIME
    < 20:41:07
    > SEND_DATE
    < 2024-03-09
    > send_time
    < ERROR unknown request 'send_time': send SEND_DATE or SEND_TIME
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Protocol

from services.datetime.dates import find_dates
from services.framing import FramingError, decode_datagram, encode_line, preview

#: Request word -> strftime format of its reply.
FORMATS: dict[str, str] = {"SEND_DATE": "%Y-%m-%d", "SEND_TIME": "%H:%M:%S"}
REQUESTS = tuple(FORMATS)
#: Longest request looked at; a valid one is 9 bytes, anything longer is junk.
MAX_DATAGRAM = 512


def reply(data: bytes, now: datetime) -> bytes:
    """The reply datagram to one request datagram, given the server's local time."""
    try:
        request = decode_datagram(data, MAX_DATAGRAM)
    except FramingError:
        request = None  # not text, or too long: certainly not a known request
    if request in FORMATS:
        return encode_line(now.strftime(FORMATS[request]))
    return encode_line(f"ERROR unknown request '{preview(data.strip())}': send SEND_DATE or SEND_TIME")


def answers(request: str, reply: bytes) -> bool:
    """Does ``reply`` have the shape of an answer to ``request``?

    Used by the client to skip a late reply to an earlier request of the other
    kind (a date while waiting for a time). A late reply of the same kind looks
    exactly like the answer; the client drains such replies before each request.
    Other servers (a student's) may write the date in any form people use
    (``28/11/2026``, ``28 Nov 2026``: see ``dates``); the time is HH:MM:SS.
    """
    text = reply.decode("utf-8", "replace").strip()
    if request == "SEND_DATE":
        return bool(find_dates(text))
    try:
        datetime.strptime(text, FORMATS[request])
    except ValueError:
        return False
    return True


class Random(Protocol):
    """What the client needs from ``random.Random``: tests pass a seeded one or a fake."""

    def choice(self, seq: tuple[str, ...]) -> str: ...
    def uniform(self, a: float, b: float) -> float: ...


def schedule(
    rng: Random, count: int, min_gap: float, max_gap: float, request: str | None
) -> Iterator[tuple[float, str]]:
    """(seconds to wait first, request) pairs: the client's plan. ``count`` 0 means forever.

    The first request goes at once; each later one after a random gap.
    ``request`` None picks SEND_DATE or SEND_TIME at random each time.
    """
    n = 0
    while count == 0 or n < count:
        gap = rng.uniform(min_gap, max_gap) if n else 0.0
        yield gap, request or rng.choice(REQUESTS)
        n += 1
