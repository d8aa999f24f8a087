"""The chat load generator: many chat members in one process (calculator and UDP load: ``request_load``).

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
A step's counts become figures in :mod:`benchmarks.step_result`.
"""

from __future__ import annotations

import contextlib
import errno
import select
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from benchmarks.dialects import MARK, Dialect
from benchmarks.measure import HOST, RECV_SIZE, now_us
from benchmarks.member import CLOSED, CONNECTING, JOINED, LOGGING_IN, Member, source_address
from benchmarks.step_result import JoinResult, StepCounts, StepResult

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
SLOW_RCVBUF = 4096
MAX_EVENTS_KEPT = 200
#: A paced login the server has not answered in this long is started again.
STUCK_LOGIN = 3.0


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
        self.latencies: list[int] = []  # µs, from the probes, this step
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
    ) -> StepResult | None:
        """Send ``rate`` messages/s for ``duration`` s, spread over the senders; measure what arrives.

        None when no member is left to send or to read.
        """
        readers = [m for m in self.live if not m.slow]
        senders = [m for m in self.senders if m.state != CLOSED]
        if not senders or not readers:
            return None
        self._start_step(int(rate * duration) + 1)
        cpu0, t0 = time.process_time(), time.monotonic()
        head = self.dialect.say_prefix + b"x" * self.pad
        sending = Sending(self, senders, head, rate, t0, duration, on_second)
        self.run(lambda: False, duration, tick=sending.send_due)
        send_cpu = time.process_time() - cpu0
        self.run(lambda: False, GRACE)
        on_time = self.got_total
        window = time.monotonic() - t0
        sent = sum(self.sent_flags)
        owed = {m.idx: sent - m.sent for m in readers}
        self._drain(readers, owed, senders)
        counts = StepCounts(
            rate=rate,
            duration=duration,
            window=window,
            wall=time.monotonic() - t0,
            members=self.n,
            closed_members=sum(1 for m in self.members if m.state == CLOSED),
            readers=readers,
            owed=owed,
            sent_flags=self.sent_flags,
            senders=senders,
            blocked=self.blocked,
            on_time=on_time,
            send_cpu=send_cpu,
            latencies=self.latencies,
        )
        return StepResult.from_counts(counts)

    def _start_step(self, planned: int) -> None:
        """Zero the counters; make a few readers probes, as many as the line budget allows."""
        n_probes = max(2, min(len(self.probe_pool), PROBE_LINE_BUDGET // planned))
        for m in self.members:
            m.got = m.sent = 0
            m.probe = False
            m.events = []
        for m in self.probe_pool[:n_probes]:
            if m.state != CLOSED:
                m.probe, m.seen, m.partial = True, bytearray(planned + 1024), b""
        self.latencies = []
        self.sent_flags = bytearray()
        self.got_total = 0
        self.blocked = 0

    def _drain(self, readers: list[Member], owed: dict[int, int], senders: list[Member]) -> None:
        """Wait for stragglers until every reader has what it is owed, or nothing moves for a while."""

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

    def send(self, m: Member, data: bytes) -> int:
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


@dataclass(slots=True)
class Sending:
    """One step's send schedule, called every tick: the messages due by now, round-robin over the senders.

    Every message is ``<say prefix><pad>|<id> <send time µs>``; ``fleet.sent_flags[id]``
    records whether it went out.
    """

    fleet: Fleet
    senders: list[Member]
    head: bytes  # the dialect's say prefix and the padding
    rate: float
    t0: float
    duration: float
    on_second: Callable[[float], None] | None
    gid: int = 0  # the next message id
    next_second: float = 1.0  # when on_second is due (seconds into the step)

    def send_due(self, now: float) -> None:
        fleet, senders = self.fleet, self.senders
        due = int(self.rate * (min(now, self.t0 + self.duration) - self.t0))
        gid = self.gid
        stamp = now_us()
        flags, head, eol = fleet.sent_flags, self.head, fleet.dialect.eol
        n_send = len(senders)
        while gid < due:
            m = senders[gid % n_send]
            ok = 0
            if m.state != CLOSED:
                ok = fleet.send(m, b"%s|%d %d%s" % (head, gid, stamp, eol))
            flags.append(ok)
            m.sent += ok
            gid += 1
        self.gid = gid
        if self.on_second is not None and now - self.t0 >= self.next_second:
            self.next_second += 1.0
            self.on_second(now - self.t0)
