"""benchmarks/step_result.py: a step's figures from its raw counts, without sockets."""

from __future__ import annotations

from benchmarks.member import Member
from benchmarks.step_result import StepCounts, StepResult


def member(idx: int, got: int, *, probe: bool = False, seen: bytes = b"") -> Member:
    m = Member(idx, f"m{idx}", got=got, probe=probe)
    m.seen = bytearray(seen)
    return m


def counts(readers: list[Member], **kw: object) -> StepCounts:
    base: dict = {
        "rate": 100.0,
        "duration": 1.0,
        "window": 1.1,
        "wall": 1.2,
        "members": 3,
        "closed_members": 0,
        "readers": readers,
        "owed": {m.idx: 4 for m in readers},
        "sent_flags": bytearray([1, 1, 1, 1, 1, 1]),
        "senders": readers,
        "blocked": 0,
        "on_time": 12,
        "send_cpu": 0.5,
        "latencies": [1000, 2000, 3000],
    }
    return StepCounts(**{**base, **kw})


def test_everything_delivered_on_time() -> None:
    # Six messages from three senders: each reader is owed the four it did not send itself.
    readers = [member(0, 4), member(1, 4), member(2, 4, probe=True, seen=bytes([1, 1, 0, 1, 1, 0]))]
    got = StepResult.from_counts(counts(readers)).as_dict()
    assert got == {
        "rate_msgs": 100.0,
        "members": 3,
        "readers": 3,
        "sent": 6,
        "blocked_sends": 0,
        "offered_dps": 200,
        "achieved_dps": 12,
        "owed": 12,
        "on_time_pct": 100.0,
        "delivered": 12,
        "lost": 0,
        "duplicated": 0,
        "probe_lost": 0,  # ids 2 and 5 were its own (senders[i % 3] is member 2)
        "probes": 1,
        "latency_samples": 3,
        "p50_ms": 2.0,
        "p99_ms": 3.0,
        "max_ms": 3.0,
        "closed_members": 0,
        "gen_cpu": 0.5,
        "gen_saturated": False,
        "window_s": 1.1,
        "wall_s": 1.2,
    }


def test_losses_duplicates_and_late_lines_are_counted() -> None:
    readers = [member(0, 3), member(1, 6), member(2, 4, probe=True, seen=bytes([0, 2, 0, 1, 1, 0]))]
    got = StepResult.from_counts(counts(readers, on_time=6, send_cpu=0.95))
    assert (got.delivered, got.lost) == (11, 1)
    assert got.duplicated == 2  # member 1 counted two more than it was owed; the probe saw one twice
    assert got.probe_lost == 1  # id 0, from member 0, never reached the probe
    assert (got.on_time_pct, got.achieved_dps) == (50.0, 6)
    assert got.gen_saturated is True
