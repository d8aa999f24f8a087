"""The load generator: many chat members (or calculator sessions, or UDP requesters) in one process.

One ``epoll`` loop, non-blocking sockets, no threads, no asyncio: the generator
must never be the bottleneck, so the hot path is a ``recv_into`` a shared
buffer and a ``bytearray.count`` of the message mark (C speed). Only a few
*probe* members parse every line they receive, for exact latency and for loss
and duplicate accounting per message; the rest only count. Every message is
``|<id> <send time µs>``: the id says who sent it (ids go round-robin over the
senders), the time gives the delivery latency when a probe receives it. Send
and receive times come from the same monotonic clock in the same process.

The generator measures its own CPU time per step, so a step where it was
saturated (and so might have been the limit) is flagged rather than believed.
"""

from __future__ import annotations

import contextlib
import errno
import re
import select
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from benchmarks.dialects import MARK, Dialect

HOST = "127.0.0.1"
RECV_SIZE = 1 << 16
#: How many lines the probes may parse in one step; more probes when the step is short.
PROBE_LINE_BUDGET = 400_000
MAX_PROBES = 16
#: Send pacing: messages due are sent every tick, round-robin over the senders.
TICK = 0.002
#: After the send window, deliveries arriving within this still count as on time.
GRACE = 0.1
#: Drain: stop waiting for stragglers after this long without progress, or this cap.
DRAIN_IDLE = 0.5
DRAIN_CAP = 3.0
#: The generator counts as saturated (possibly the limit) above this share of a core.
GEN_SATURATED = 0.9
SLOW_RCVBUF = 4096
MAX_EVENTS_KEPT = 200
SOURCES_PER_NET = 250
#: A paced login the server has not answered in this long is started again.
STUCK_LOGIN = 3.0

CONNECTING, LOGGING_IN, JOINED, CLOSED = range(4)


def source_address(i: int) -> str:
    """Member i's own loopback address (127.0.1.2, 127.0.1.3, ...): servers that throttle
    connections per client address (ngircd does) see many hosts, as they would in a real room."""
    return f"127.0.{1 + i // SOURCES_PER_NET}.{2 + i % SOURCES_PER_NET}"


def now_us() -> int:
    return time.monotonic_ns() // 1000


def percentile(sorted_values: list[int], q: float) -> int | None:
    if not sorted_values:
        return None
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


def latency_summary(samples: list[int]) -> dict[str, float | None]:
    """p50/p99/max in milliseconds from samples in µs."""
    s = sorted(samples)
    ms = {k: percentile(s, q) for k, q in (("p50_ms", 0.50), ("p99_ms", 0.99))}
    ms["max_ms"] = s[-1] if s else None
    return {k: (round(v / 1000, 3) if v is not None else None) for k, v in ms.items()}


class Member:
    __slots__ = (
        "idx",
        "name",
        "sock",
        "fd",
        "state",
        "probe",
        "slow",
        "got",
        "sent",
        "joins",
        "tail",
        "partial",
        "pending",
        "seen",
        "events",
        "closed_at",
        "refused",
        "heard",
        "since",
    )

    def __init__(self, idx: int, name: str) -> None:
        self.idx = idx
        self.name = name
        self.sock: socket.socket | None = None
        self.fd = -1
        self.state = CONNECTING
        self.probe = False
        self.slow = False
        self.got = 0  # benchmark messages received this step
        self.sent = 0  # benchmark messages sent this step
        self.joins = 0  # join notices received
        self.tail = b""  # end of the last chunk, so a marker split across chunks is still found
        self.partial = b""  # a probe's unfinished line
        self.pending = b""  # unsent rest of a message (partial send)
        self.seen = bytearray()  # probe: times each message id arrived
        self.events: list[tuple[int, bytes]] = []  # probe: non-benchmark lines, with arrival time
        self.closed_at: float | None = None
        self.refused = 0
        self.heard = False  # has the server said anything yet (so it has accepted us)
        self.since = 0.0  # when the connect started


@dataclass
class JoinResult:
    seconds: float | None
    joined: int
    refused: int
    failed: int
    notices: int
    notices_expected: int
    retries: int = 0

    def as_dict(self) -> dict[str, object]:
        return {
            "seconds": None if self.seconds is None else round(self.seconds, 4),
            "joined": self.joined,
            "refused": self.refused,
            "failed": self.failed,
            "notices": self.notices,
            "notices_expected": self.notices_expected,
            "login_retries": self.retries,
        }


@dataclass
class Fleet:
    """N chat members on one server, driven from one epoll loop."""

    dialect: Dialect
    port: int
    n: int
    quickack: bool = False
    slow: int = 0  # how many members (the last ones) never read once joined
    prefix: str = "m"
    #: Filler bytes before each message's mark, to make lines as long as real chat lines.
    pad: int = 0
    members: list[Member] = field(init=False)

    def __post_init__(self) -> None:
        self.members = [Member(i, f"{self.prefix}{i}") for i in range(self.n)]
        for m in self.members[self.n - self.slow :]:
            m.slow = True
        self.ep = select.epoll()
        self.by_fd: dict[int, Member] = {}
        self.buf = bytearray(RECV_SIZE)
        self.view = memoryview(self.buf)
        self.joining = True
        self.join_notices = 0
        self.last_join_at = 0.0
        self.got_total = 0
        self.sent_flags = bytearray()  # per message id: 1 if it went out
        self.senders: list[Member] = []
        self.blocked = 0
        self.login_retries = 0

    # ---- connections -------------------------------------------------
    def _connect(self, m: Member) -> None:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        if m.slow:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, SLOW_RCVBUF)
        s.bind((source_address(m.idx), 0))
        err = s.connect_ex((HOST, self.port))
        if err not in (0, errno.EINPROGRESS):
            s.close()
            m.state = CLOSED
            m.closed_at = time.monotonic()
            return
        m.sock, m.fd, m.state, m.since, m.heard = s, s.fileno(), CONNECTING, time.monotonic(), False
        self.by_fd[m.fd] = m
        self.ep.register(m.fd, select.EPOLLOUT)

    def _on_connected(self, m: Member) -> None:
        assert m.sock is not None
        if m.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):
            self._close(m)
            return
        m.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        m.sock.send(self.dialect.login(m.name))  # a few dozen bytes into an empty buffer: never partial
        m.state = LOGGING_IN
        self.ep.modify(m.fd, select.EPOLLIN)

    def _close(self, m: Member) -> None:
        if m.sock is not None:
            with contextlib.suppress(OSError, KeyError, ValueError):
                self.ep.unregister(m.fd)
            m.sock.close()
            self.by_fd.pop(m.fd, None)
        m.state = CLOSED
        m.closed_at = time.monotonic()

    def close(self) -> None:
        for m in self.members:
            if m.state != CLOSED:
                self._close(m)
        self.ep.close()

    @property
    def live(self) -> list[Member]:
        return [m for m in self.members if m.state == JOINED]

    # ---- the loop ----------------------------------------------------
    def run(self, until: Callable[[], bool], timeout: float, tick: Callable[[float], None] | None = None) -> bool:
        """Serve events until ``until()`` holds (True) or ``timeout`` passes (False)."""
        deadline = time.monotonic() + timeout
        poll, by_fd = self.ep.poll, self.by_fd
        while True:
            now = time.monotonic()
            if tick is not None:
                tick(now)
            if until():
                return True
            if now >= deadline:
                return False
            wait = min(deadline - now, TICK if tick is not None else 0.05)
            for fd, _ in poll(wait):
                m = by_fd.get(fd)
                if m is None:
                    continue
                if m.state == CONNECTING:
                    self._on_connected(m)
                elif self.joining:
                    self._read_joining(m)
                elif m.probe:
                    self._read_probe(m)
                else:
                    self._read_counting(m)

    def _recv(self, m: Member) -> int:
        assert m.sock is not None
        try:
            n = m.sock.recv_into(self.buf)
        except BlockingIOError:
            return -1
        except OSError:
            n = 0
        if n == 0:
            self._close(m)
        elif self.quickack:
            m.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
        return n

    def _read_joining(self, m: Member) -> None:
        n = self._recv(m)
        if n <= 0:
            return
        m.heard = True
        data = m.tail + self.buf[:n]
        d = self.dialect
        joins = data.count(d.join_marker)
        if joins:
            if m.joins == 0:
                m.state = JOINED
            m.joins += joins
            self.join_notices += joins
            self.last_join_at = time.monotonic()
        m.refused += data.count(d.refusal_marker)
        keep = max(len(d.join_marker), len(d.refusal_marker)) - 1
        m.tail = bytes(data[-keep:])

    def _read_counting(self, m: Member) -> None:
        n = self._recv(m)
        if n > 0:
            c = self.buf.count(MARK, 0, n)
            m.got += c
            if not m.slow:
                self.got_total += c

    def _read_probe(self, m: Member) -> None:
        n = self._recv(m)
        if n <= 0:
            return
        t = now_us()
        data = m.partial + self.buf[:n]
        end = data.rfind(b"\n")
        if end < 0:
            m.partial = bytes(data)
            return
        m.partial = bytes(data[end + 1 :])
        seen, lats = m.seen, self.latencies
        got = 0
        for line in bytes(data[:end]).split(b"\n"):
            i = line.find(MARK)
            if i < 0:
                if len(m.events) < MAX_EVENTS_KEPT:
                    m.events.append((t, line.rstrip(b"\r")))
                continue
            sp = line.find(b" ", i)
            gid = int(line[i + 1 : sp])
            lats.append(t - int(line[sp + 1 :]))
            if gid >= len(seen):
                seen.extend(bytes(gid + 1024 - len(seen)))
            seen[gid] += 1
            got += 1
        m.got += got
        self.got_total += got

    # ---- joining -------------------------------------------------------
    def join(self, *, paced: int | None, timeout: float) -> JoinResult:
        """Connect and log in every member; ``paced`` caps how many may be logging in at once.

        Done when every member has received the join notice of itself and of
        every member after it: n(n+1)/2 notices in all.
        """
        expected = self.n * (self.n + 1) // 2
        self.joining = True
        start = time.monotonic()
        todo = iter(self.members)
        in_flight = [0]

        def feed(now: float) -> None:
            if paced is None:
                for m in todo:
                    self._connect(m)
                return
            # In flight: connected or logging in but not yet joined.
            flying = [m for m in self.members[: in_flight[0]] if m.state in (CONNECTING, LOGGING_IN)]
            for m in flying:
                # ngircd sometimes leaves a paced connection unaccepted in its queue: start it again.
                if not m.heard and now - m.since > STUCK_LOGIN:
                    self._close(m)
                    self._connect(m)
                    self.login_retries += 1
            busy = len(flying)
            while busy < paced and in_flight[0] < self.n:
                self._connect(next(todo))
                in_flight[0] += 1
                busy += 1

        done = self.run(lambda: self.join_notices >= expected, timeout, tick=feed)
        # Wait for stragglers so the notices of the last joins are out of every buffer.
        self.run(lambda: False, 0.05)
        joined = sum(1 for m in self.members if m.state == JOINED)
        failed = sum(1 for m in self.members if m.state == CLOSED)
        return JoinResult(
            seconds=(self.last_join_at - start) if done else None,
            joined=joined,
            refused=sum(m.refused for m in self.members),
            failed=failed,
            notices=self.join_notices,
            notices_expected=expected,
            retries=self.login_retries,
        )

    def start_run_phase(self, probes: int = MAX_PROBES) -> None:
        """Joining is over: the slow members stop reading, the rest count (and a few probe)."""
        self.joining = False
        for m in self.members:
            if m.state != JOINED:
                self._close(m)  # never got in: not part of the room
        readers = [m for m in self.live if not m.slow]
        step = max(1, len(readers) // max(1, probes))
        self.probe_pool = readers[::step][:probes]
        self.senders = readers

    def freeze_slow(self) -> None:
        """From now on the slow members never read again."""
        for m in self.members:
            if m.slow and m.state != CLOSED:
                self.ep.unregister(m.fd)

    def settle(self, quiet: float = 0.2, timeout: float = 3.0) -> None:
        """Let every in-flight line arrive: run until nothing has come for ``quiet`` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            before = self.got_total + self.join_notices
            self.run(lambda: False, quiet)
            if self.got_total + self.join_notices == before:
                return

    # ---- one measured step ----------------------------------------------
    def step(
        self, rate: float, duration: float, *, on_second: Callable[[float], None] | None = None
    ) -> dict[str, object]:
        """Send ``rate`` messages/s for ``duration`` s, spread over the senders; measure what arrives."""
        readers = [m for m in self.live if not m.slow]
        senders = [m for m in self.senders if m.state != CLOSED]
        if not senders or not readers:
            return {"error": "no live members left"}
        planned = int(rate * duration) + 1
        n_probes = max(2, min(len(self.probe_pool), PROBE_LINE_BUDGET // planned))
        for m in self.members:
            m.got = m.sent = 0
            m.probe = False
            m.events = []
        for m in self.probe_pool[:n_probes]:
            if m.state != CLOSED:
                m.probe, m.seen, m.partial = True, bytearray(planned + 1024), b""
        self.latencies: list[int] = []
        self.sent_flags = bytearray()
        self.got_total = 0
        self.blocked = 0
        say = self.dialect.say_prefix + b"x" * self.pad
        eol = self.dialect.eol
        n_send = len(senders)
        self.step_senders = senders
        state = {"gid": 0, "next_second": 1.0}
        cpu0, t0 = time.process_time(), time.monotonic()
        end = t0 + duration

        def send_due(now: float) -> None:
            due = int(rate * (min(now, end) - t0))
            gid = state["gid"]
            stamp = now_us()
            flags = self.sent_flags
            while gid < due:
                m = senders[gid % n_send]
                ok = 0
                if m.state != CLOSED:
                    ok = self._send(m, b"%s|%d %d%s" % (say, gid, stamp, eol))
                flags.append(ok)
                m.sent += ok
                gid += 1
            state["gid"] = gid
            if on_second is not None and now - t0 >= state["next_second"]:
                state["next_second"] += 1.0
                on_second(now - t0)

        self.run(lambda: False, duration, tick=send_due)
        send_cpu = time.process_time() - cpu0
        self.run(lambda: False, GRACE)
        on_time = self.got_total
        window = time.monotonic() - t0
        sent = sum(self.sent_flags)
        owed = {m.idx: sent - m.sent for m in readers}

        def complete() -> bool:
            return all(m.got >= owed[m.idx] or m.state == CLOSED for m in readers)

        drain_start = time.monotonic()
        last, last_change = -1, drain_start
        while not complete() and time.monotonic() - drain_start < DRAIN_CAP:
            self._flush_pending(senders)
            self.run(complete, 0.05)
            if self.got_total != last:
                last, last_change = self.got_total, time.monotonic()
            elif time.monotonic() - last_change > DRAIN_IDLE:
                break
        return self._step_result(rate, duration, window, readers, owed, sent, on_time, send_cpu, time.monotonic() - t0)

    def _send(self, m: Member, data: bytes) -> int:
        """1 if the message went out (fully or with a queued rest), 0 if the socket was full."""
        assert m.sock is not None
        if m.pending:
            self._flush(m)
            if m.pending:
                self.blocked += 1
                return 0
        try:
            n = m.sock.send(data)
        except BlockingIOError:
            self.blocked += 1
            return 0
        except OSError:
            self._close(m)
            return 0
        if n < len(data):
            m.pending = data[n:]
        return 1

    def _flush(self, m: Member) -> None:
        assert m.sock is not None
        try:
            n = m.sock.send(m.pending)
        except BlockingIOError:
            return
        except OSError:
            self._close(m)
            return
        m.pending = m.pending[n:]

    def _flush_pending(self, senders: list[Member]) -> None:
        for m in senders:
            if m.pending and m.state != CLOSED:
                self._flush(m)

    def _step_result(
        self,
        rate: float,
        duration: float,
        window: float,
        readers: list[Member],
        owed: dict[int, int],
        sent: int,
        on_time: int,
        send_cpu: float,
        wall: float,
    ) -> dict[str, object]:
        owed_total = sum(owed.values())
        delivered = sum(min(m.got, owed[m.idx]) for m in readers)
        count_dup = sum(max(0, m.got - owed[m.idx]) for m in readers)
        lost_probe, dup_probe = self._probe_accounting(readers)
        lat = latency_summary(self.latencies)
        cpu = send_cpu / duration if duration else 0.0
        return {
            "rate_msgs": round(rate, 1),
            "members": self.n,
            "readers": len(readers),
            "sent": sent,
            "blocked_sends": self.blocked,
            "offered_dps": round(rate * (len(readers) - 1)),
            "achieved_dps": round(min(on_time, owed_total) / duration) if duration else 0,
            "owed": owed_total,
            "on_time_pct": round(100.0 * on_time / owed_total, 2) if owed_total else 100.0,
            "delivered": delivered,
            "lost": owed_total - delivered,
            "duplicated": max(count_dup, dup_probe),
            "probe_lost": lost_probe,
            "probes": sum(1 for m in readers if m.probe),
            "latency_samples": len(self.latencies),
            **lat,
            "closed_members": sum(1 for m in self.members if m.state == CLOSED),
            "gen_cpu": round(cpu, 3),
            "gen_saturated": cpu > GEN_SATURATED,
            "window_s": round(window, 3),
            "wall_s": round(wall, 3),
        }

    def _probe_accounting(self, readers: list[Member]) -> tuple[int, int]:
        """Exact per-message loss and duplicates as the probes saw them."""
        lost = dup = 0
        flags = self.sent_flags
        senders = self.step_senders
        for m in readers:
            if not m.probe:
                continue
            seen = m.seen
            for gid, ok in enumerate(flags):
                if not ok:
                    continue
                c = seen[gid] if gid < len(seen) else 0
                if c == 0 and senders[gid % len(senders)] is not m:
                    lost += 1
                elif c > 1:
                    dup += c - 1
        return lost, dup

    # ---- the slow member ---------------------------------------------------
    def read_slow(self, timeout: float = 2.0) -> dict[str, object]:
        """Finally read what the slow members were sent: how many messages, and were they dropped?"""
        out = []
        for m in self.members:
            if not m.slow:
                continue
            got, eof, last = 0, m.state == CLOSED, b""
            deadline = time.monotonic() + timeout
            if m.sock is not None and not eof:
                m.sock.settimeout(0.2)
                while time.monotonic() < deadline:
                    try:
                        data = m.sock.recv(RECV_SIZE)
                    except TimeoutError:
                        break
                    except OSError:
                        eof = True
                        break
                    if not data:
                        eof = True
                        break
                    got += data.count(MARK)
                    last = (last + data)[-300:]
            tail = [ln.decode("utf-8", "replace") for ln in last.split(b"\n")[-3:] if ln and MARK not in ln]
            out.append({"name": m.name, "messages_read_afterwards": got, "disconnected": eof, "last_lines": tail})
        return {"slow_members": out}

    def leave_events(self, name: str) -> list[float]:
        """When the probes heard that ``name`` left (seconds on the monotonic clock)."""
        key = name.encode()
        return [
            t / 1e6 for m in self.members for t, line in m.events if key in line and self.dialect.leave_marker in line
        ]


# ---------------------------------------------------------------------------------------------
# Calculator sessions: closed loop, one request in flight per session.

CALC_OPS = ("+", "-", "*")


@dataclass
class CalcSession:
    sock: socket.socket
    idx: int
    k: int = 0
    sent_at: int = 0
    partial: bytes = b""
    expected: str = ""


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

    def send_next(c: CalcSession) -> None:
        a, b, op = c.idx, c.k, CALC_OPS[c.k % len(CALC_OPS)]
        c.expected = str(a + b if op == "+" else a - b if op == "-" else a * b)
        c.sent_at = now_us()
        c.sock.send(f"{a} {op} {b}\n".encode())
        c.k += 1

    cpu0, t0 = time.process_time(), time.monotonic()
    for c in pending:
        by_fd[c.sock.fileno()] = c
        ep.register(c.sock.fileno(), select.EPOLLIN)
        send_next(c)
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
                send_next(c)
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
        "gen_cpu": round(cpu / wall, 3),
        "gen_saturated": cpu / wall > GEN_SATURATED,
    }


# ---------------------------------------------------------------------------------------------
# Date/time over UDP: several sockets, one request in flight each; a reply that takes too long is lost.

DATE_RE = re.compile(rb"\d{4}-\d{2}-\d{2}\n")
TIME_RE = re.compile(rb"\d{2}:\d{2}:\d{2}\n")
UDP_TIMEOUT = 0.2
UDP_KINDS = ((b"SEND_DATE", DATE_RE), (b"SEND_TIME", TIME_RE))


def datetime_load(port: int, sockets: int, duration: float) -> dict[str, object]:
    """Requests alternate DATE/TIME per socket, so a late reply to the previous request is told apart."""
    ep = select.epoll()
    socks: dict[int, dict] = {}
    for _ in range(sockets):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.connect((HOST, port))
        s.setblocking(False)
        socks[s.fileno()] = {"sock": s, "k": 0, "at": 0.0, "t_us": 0}
        ep.register(s.fileno(), select.EPOLLIN)
    lats: list[int] = []
    sent = matched = late = wrong = lost = 0

    def send(st: dict) -> None:
        nonlocal sent
        st["k"] += 1
        st["at"] = time.monotonic()
        st["t_us"] = now_us()
        st["sock"].send(UDP_KINDS[st["k"] % 2][0])
        sent += 1

    cpu0, t0 = time.process_time(), time.monotonic()
    for st in socks.values():
        send(st)
    end = t0 + duration
    while (now := time.monotonic()) < end:
        for fd, _ in ep.poll(0.02):
            st = socks[fd]
            try:
                data = st["sock"].recv(2048)
            except (BlockingIOError, ConnectionRefusedError):
                continue
            if UDP_KINDS[st["k"] % 2][1].fullmatch(data):
                matched += 1
                lats.append(now_us() - st["t_us"])
                send(st)
            elif UDP_KINDS[(st["k"] + 1) % 2][1].fullmatch(data):
                late += 1  # the answer to a request already counted lost
            else:
                wrong += 1
                send(st)
        now = time.monotonic()
        for st in socks.values():
            if now - st["at"] > UDP_TIMEOUT:
                lost += 1
                send(st)
    wall = time.monotonic() - t0
    cpu = time.process_time() - cpu0
    for st in socks.values():
        st["sock"].close()
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
        "gen_cpu": round(cpu / wall, 3),
        "gen_saturated": cpu / wall > GEN_SATURATED,
    }
