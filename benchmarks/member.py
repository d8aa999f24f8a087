"""One chat member of the load generator's fleet: its connection and what it counted, as a slotted record."""

from __future__ import annotations

import socket
from dataclasses import dataclass, field

#: Members per loopback /24 of source addresses.
SOURCES_PER_NET = 250

CONNECTING, LOGGING_IN, JOINED, CLOSED = range(4)


def source_address(i: int) -> str:
    """Member i's own loopback address (127.0.1.2, 127.0.1.3, ...): servers that throttle
    connections per client address (ngircd does) see many hosts, as they would in a real room."""
    return f"127.0.{1 + i // SOURCES_PER_NET}.{2 + i % SOURCES_PER_NET}"


@dataclass(slots=True, eq=False)
class Member:
    """One chat member's connection and what it counted (a slotted record: the hot path reads it)."""

    idx: int
    name: str
    sock: socket.socket | None = None
    fd: int = -1
    state: int = CONNECTING
    probe: bool = False
    slow: bool = False
    got: int = 0  # benchmark messages received this step
    sent: int = 0  # benchmark messages sent this step
    joins: int = 0  # join notices received
    tail: bytes = b""  # end of the last chunk, so a marker split across chunks is still found
    partial: bytes = b""  # a probe's unfinished line
    pending: bytes = b""  # unsent rest of a message (partial send)
    seen: bytearray = field(default_factory=bytearray)  # probe: times each message id arrived
    events: list[tuple[int, bytes]] = field(default_factory=list)  # probe: non-benchmark lines, with arrival time
    closed_at: float | None = None
    refused: int = 0
    heard: bool = False  # has the server said anything yet (so it has accepted us)
    since: float = 0.0  # when the connect started
