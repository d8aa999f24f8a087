"""Socket options shared by the TCP servers.

A peer that vanishes without a FIN or RST (cable pulled, container cut off
from its network) is otherwise never noticed by a server that only reads. TCP
keepalive probes an idle connection, and TCP_USER_TIMEOUT bounds how long sent
data may stay unacknowledged, so a dead peer is dropped within
``DEAD_PEER_SECONDS`` whether the connection is idle or busy.
"""

from __future__ import annotations

import socket

KEEPALIVE_IDLE = 10  # seconds of silence before the first probe
KEEPALIVE_INTERVAL = 5  # seconds between probes
KEEPALIVE_COUNT = 3  # unanswered probes before the peer is declared dead
#: Upper bound on how long a vanished peer goes unnoticed (idle: 10 + 3 * 5 = 25 s).
DEAD_PEER_SECONDS = 30


def tune_connection(sock: socket.socket, *, dead_peer_seconds: int = DEAD_PEER_SECONDS) -> None:
    """Keepalive, a user timeout, and no Nagle delay for small interactive lines."""
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    # Linux names; other systems just keep their defaults.
    for name, value in (
        ("TCP_KEEPIDLE", KEEPALIVE_IDLE),
        ("TCP_KEEPINTVL", KEEPALIVE_INTERVAL),
        ("TCP_KEEPCNT", KEEPALIVE_COUNT),
        ("TCP_USER_TIMEOUT", dead_peer_seconds * 1000),
    ):
        opt = getattr(socket, name, None)
        if opt is not None:
            sock.setsockopt(socket.IPPROTO_TCP, opt, value)
