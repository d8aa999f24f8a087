"""Request/reply load for the calculator (TCP) and the date/time server (UDP): closed loops, one ``epoll``.

Each connection or socket keeps exactly one request in flight and sends the
next when the answer arrives, so the rate measured is what the server sustains.
Per-connection state is a slotted dataclass, as the chat fleet's members are.
"""

from __future__ import annotations

import contextlib
import re
import select
import socket
import time
from dataclasses import dataclass

from benchmarks.measure import HOST, RECV_SIZE, generator_load, latency_summary, now_us

# ---------------------------------------------------------------------------------------------
# Calculator sessions: closed loop, one request in flight per session.

CALC_OPS = ("+", "-", "*")


@dataclass(slots=True)
class CalcSession:
    sock: socket.socket
    idx: int
    k: int = 0  # requests sent so far (also the request's second operand)
    sent_at: int = 0  # µs
    partial: bytes = b""  # an unfinished reply line
    expected: str = ""  # the answer the request in flight must get

    def send_next(self) -> None:
        a, b, op = self.idx, self.k, CALC_OPS[self.k % len(CALC_OPS)]
        self.expected = str(a + b if op == "+" else a - b if op == "-" else a * b)
        self.sent_at = now_us()
        self.sock.send(f"{a} {op} {b}\n".encode())
        self.k += 1


def calc_load(port: int, sessions: int, duration: float, connect_timeout: float = 10.0) -> dict[str, object]:
    """``sessions`` calculator clients, each sending its next request when the answer arrives."""
    ep = select.epoll()
    by_fd: dict[int, CalcSession] = {}
    pending = []
    for i in range(sessions):
        s = socket.create_connection((HOST, port), timeout=connect_timeout)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.sendall(f"bench{i}\n".encode())
        s.setblocking(False)
        pending.append(CalcSession(s, i))
    lats: list[int] = []
    wrong = errors = 0

    cpu0, t0 = time.process_time(), time.monotonic()
    for c in pending:
        by_fd[c.sock.fileno()] = c
        ep.register(c.sock.fileno(), select.EPOLLIN)
        c.send_next()
    end = t0 + duration
    while time.monotonic() < end:
        for fd, _ in ep.poll(0.05):
            c = by_fd[fd]
            try:
                data = c.sock.recv(RECV_SIZE)
            except BlockingIOError:
                continue
            if not data:
                errors += 1
                ep.unregister(fd)
                continue
            data = c.partial + data
            lines = data.split(b"\n")
            c.partial = lines.pop()
            for line in lines:
                lats.append(now_us() - c.sent_at)
                if line.startswith(b"ERROR"):
                    errors += 1
                elif line.decode() != c.expected:
                    wrong += 1
                c.send_next()
    wall = time.monotonic() - t0
    cpu = time.process_time() - cpu0
    for c in by_fd.values():
        with contextlib.suppress(OSError):
            c.sock.send(b"q\n")
        c.sock.close()
    ep.close()
    return {
        "sessions": sessions,
        "requests": len(lats),
        "requests_per_s": round(len(lats) / wall),
        **latency_summary(lats),
        "wrong_answers": wrong,
        "errors": errors,
        **generator_load(cpu, wall),
    }


# ---------------------------------------------------------------------------------------------
# Date/time over UDP: several sockets, one request in flight each; a reply that takes too long is lost.

DATE_RE = re.compile(rb"\d{4}-\d{2}-\d{2}\n")
TIME_RE = re.compile(rb"\d{2}:\d{2}:\d{2}\n")
UDP_TIMEOUT = 0.2
UDP_KINDS = ((b"SEND_DATE", DATE_RE), (b"SEND_TIME", TIME_RE))
#: Bytes taken per datagram: a date or time reply is a dozen.
UDP_RECV = 2048


@dataclass(slots=True)
class UdpRequester:
    """One UDP socket with its request in flight: the k-th request asks for UDP_KINDS[k % 2]."""

    sock: socket.socket
    k: int = 0
    at: float = 0.0  # monotonic seconds, for the loss timeout
    t_us: int = 0  # µs, for the latency

    def send(self) -> None:
        self.k += 1
        self.at = time.monotonic()
        self.t_us = now_us()
        self.sock.send(UDP_KINDS[self.k % 2][0])

    def answers(self, data: bytes) -> bool:
        return UDP_KINDS[self.k % 2][1].fullmatch(data) is not None

    def answers_previous(self, data: bytes) -> bool:
        return UDP_KINDS[(self.k + 1) % 2][1].fullmatch(data) is not None


def datetime_load(port: int, sockets: int, duration: float) -> dict[str, object]:
    """Requests alternate DATE/TIME per socket, so a late reply to the previous request is told apart."""
    ep = select.epoll()
    socks: dict[int, UdpRequester] = {}
    for _ in range(sockets):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.connect((HOST, port))
        s.setblocking(False)
        socks[s.fileno()] = UdpRequester(s)
        ep.register(s.fileno(), select.EPOLLIN)
    lats: list[int] = []
    sent = matched = late = wrong = lost = 0

    def send(req: UdpRequester) -> None:
        nonlocal sent
        req.send()
        sent += 1

    cpu0, t0 = time.process_time(), time.monotonic()
    for req in socks.values():
        send(req)
    end = t0 + duration
    while (now := time.monotonic()) < end:
        for fd, _ in ep.poll(0.02):
            req = socks[fd]
            try:
                data = req.sock.recv(UDP_RECV)
            except (BlockingIOError, ConnectionRefusedError):
                continue
            if req.answers(data):
                matched += 1
                lats.append(now_us() - req.t_us)
                send(req)
            elif req.answers_previous(data):
                late += 1  # the answer to a request already counted lost
            else:
                wrong += 1
                send(req)
        now = time.monotonic()
        for req in socks.values():
            if now - req.at > UDP_TIMEOUT:
                lost += 1
                send(req)
    wall = time.monotonic() - t0
    cpu = time.process_time() - cpu0
    for req in socks.values():
        req.sock.close()
    ep.close()
    return {
        "sockets": sockets,
        "sent": sent,
        "replies_matched": matched,
        "requests_per_s": round(matched / wall),
        "lost": lost,
        "late": late,
        "wrong": wrong,
        **latency_summary(lats),
        **generator_load(cpu, wall),
    }
