"""UDP request/reply helpers shared by the echo and date/time programs.

Beside ``framing.py`` (the TCP side's line rules), this is the UDP side's whole
pattern, written once:

* :func:`serve_udp` - a server: receive a datagram, answer with ``reply(datagram)``,
  forever; one unreachable client never stops it.
* :func:`udp_socket` + :func:`ask_udp` - a client: send one datagram on a
  connected socket and wait, at most ``timeout`` seconds, for an acceptable reply.

UDP gives no sign that a request or a reply was lost, so a client's only option
is to stop waiting; and a reply may arrive after its request was given up, so
the client drains such late replies before the next request.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable

from services.cli import exit_on_sigterm, format_peer, log
from services.framing import preview

#: Receive buffer for one datagram: the largest UDP payload, so an oversized
#: request arrives whole and its real size can be reported (a smaller buffer
#: would silently cut it).
RECV_BUFFER = 65535
#: How much of each reply the server's log shows (requests show PREVIEW_BYTES).
LOG_REPLY_BYTES = 100


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


def udp_socket(host: str, port: int) -> socket.socket:
    """A UDP socket connected to the server: the kernel then drops datagrams from anyone else."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.connect((host, port))
    return sock


def drain(sock: socket.socket) -> list[bytes]:
    """Take whatever already waits in the socket: late replies to earlier requests."""
    stale = []
    sock.setblocking(False)
    try:
        while True:
            try:
                stale.append(sock.recv(RECV_BUFFER))
            except ConnectionRefusedError:  # an earlier datagram found no listener; nothing to read
                continue
    except BlockingIOError:
        return stale


def ask_udp(
    sock: socket.socket,
    payload: bytes,
    timeout: float,
    accept: Callable[[bytes], bool] = lambda reply: True,
    clock: Callable[[], float] = time.monotonic,
) -> bytes | None:
    """Send one datagram on a connected socket; return the first accepted reply, or None after ``timeout`` s.

    Replies ``accept`` rejects (late answers to something else) are skipped
    while the wait goes on.
    """
    for late in drain(sock):
        log(f"(discarded a late reply: {late!r})")
    sock.send(payload)
    deadline = clock() + timeout
    while (left := deadline - clock()) > 0:
        sock.settimeout(left)
        try:
            reply = sock.recv(RECV_BUFFER)
        except TimeoutError:
            break
        except ConnectionRefusedError:  # ICMP port unreachable: nobody listens there; wait out the timeout
            continue
        if accept(reply):
            return reply
        log(f"(ignored a reply that does not answer this request: {reply!r})")
    return None
