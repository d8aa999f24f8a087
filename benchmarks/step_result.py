"""What one measured fan-out step (or a room's join) counted, and the figures the report shows from it.

The load generator (:mod:`benchmarks.loadgen`) only counts while it runs; the
arithmetic is here, on a finished :class:`StepCounts`, so it is written once
and reads at once: what was owed to each reader, what arrived, on time or not,
what the probes saw lost or duplicated.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from benchmarks.measure import generator_load, latency_summary
from benchmarks.member import Member


@dataclass(frozen=True)
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


@dataclass(frozen=True)
class StepCounts:
    """The raw record of one step, as the generator left it."""

    rate: float  # messages/s offered by the room
    duration: float  # seconds of sending
    window: float  # seconds from the first send to the end of the grace period
    wall: float  # seconds of the whole step, drain included
    members: int  # the room's size
    closed_members: int  # members whose connection was closed by the end
    readers: list[Member]  # members that read (every one but the slow ones)
    owed: dict[int, int]  # reader index -> messages it should have received
    sent_flags: bytearray  # per message id: 1 if it went out
    senders: list[Member]  # message id i was sent by senders[i % len(senders)]
    blocked: int  # sends refused by a full socket
    on_time: int  # messages received within the window
    send_cpu: float  # the generator's CPU seconds while sending
    latencies: list[int]  # µs, as the probes measured them


@dataclass(frozen=True)
class StepResult:
    """One step's figures; :meth:`as_dict` is the row the report and the JSON hold."""

    rate_msgs: float
    members: int
    readers: int
    sent: int
    blocked_sends: int
    offered_dps: int
    achieved_dps: int
    owed: int
    on_time_pct: float
    delivered: int
    lost: int
    duplicated: int
    probe_lost: int
    probes: int
    latency_samples: int
    p50_ms: float | None
    p99_ms: float | None
    max_ms: float | None
    closed_members: int
    gen_cpu: float
    gen_saturated: bool
    window_s: float
    wall_s: float

    @classmethod
    def from_counts(cls, c: StepCounts) -> StepResult:
        owed_total = sum(c.owed.values())
        delivered = sum(min(m.got, c.owed[m.idx]) for m in c.readers)
        count_dup = sum(max(0, m.got - c.owed[m.idx]) for m in c.readers)
        probe_lost, probe_dup = probe_accounting(c)
        return cls(
            rate_msgs=round(c.rate, 1),
            members=c.members,
            readers=len(c.readers),
            sent=sum(c.sent_flags),
            blocked_sends=c.blocked,
            offered_dps=round(c.rate * (len(c.readers) - 1)),
            achieved_dps=round(min(c.on_time, owed_total) / c.duration) if c.duration else 0,
            owed=owed_total,
            on_time_pct=round(100.0 * c.on_time / owed_total, 2) if owed_total else 100.0,
            delivered=delivered,
            lost=owed_total - delivered,
            duplicated=max(count_dup, probe_dup),
            probe_lost=probe_lost,
            probes=sum(1 for m in c.readers if m.probe),
            latency_samples=len(c.latencies),
            **latency_summary(c.latencies),
            closed_members=c.closed_members,
            **generator_load(c.send_cpu, c.duration),
            window_s=round(c.window, 3),
            wall_s=round(c.wall, 3),
        )

    def as_dict(self) -> dict[str, object]:
        return dataclasses.asdict(self)


def probe_accounting(c: StepCounts) -> tuple[int, int]:
    """Exact per-message loss and duplicates as the probes saw them (a sender never hears itself)."""
    lost = dup = 0
    senders = c.senders
    for m in c.readers:
        if not m.probe:
            continue
        seen = m.seen
        for gid, ok in enumerate(c.sent_flags):
            if not ok:
                continue
            n = seen[gid] if gid < len(seen) else 0
            if n == 0 and senders[gid % len(senders)] is not m:
                lost += 1
            elif n > 1:
                dup += n - 1
    return lost, dup
