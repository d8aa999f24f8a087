"""services/datetime/protocol.py: exact replies, every kind of bad request, the client's plan."""

from __future__ import annotations

import random
from datetime import datetime

import pytest

from services.datetime.protocol import MAX_DATAGRAM, REQUESTS, answers, reply, schedule

NOW = datetime(2024, 3, 9, 20, 41, 7)
MORNING = datetime(1999, 12, 31, 7, 5, 9)
HINT = "send SEND_DATE or SEND_TIME"


@pytest.mark.parametrize(
    ("request_", "now", "expected"),
    [
        (b"SEND_DATE", NOW, b"2024-03-09\n"),
        (b"SEND_TIME", NOW, b"20:41:07\n"),
        (b"SEND_TIME", MORNING, b"07:05:09\n"),  # zero-padded, 24-hour
        (b"SEND_DATE", MORNING, b"1999-12-31\n"),
        (b"SEND_TIME\n", NOW, b"20:41:07\n"),  # what `echo SEND_TIME | nc -u` sends
        (b" \tSEND_DATE\r\n", NOW, b"2024-03-09\n"),
    ],
)
def test_valid_requests(request_: bytes, now: datetime, expected: bytes) -> None:
    assert reply(request_, now) == expected


@pytest.mark.parametrize(
    ("request_", "shown"),
    [
        (b"", ""),
        (b"   \n", ""),
        (b"send_time", "send_time"),
        (b"SEND_TIME please", "SEND_TIME please"),
        (b"SEND TIME", "SEND TIME"),
        (b"\xff\xfe\x00junk", "\\xff\\xfe\\x00junk"),
        (b"SEND_\xc3TIME", "SEND_\\xc3TIME"),
        (b"A\nB", "A\\nB"),
        (b"Q" * (MAX_DATAGRAM + 1), "Q" * 40 + "..."),
        (b"S" * 100, "S" * 40 + "..."),
    ],
)
def test_anything_else_is_unknown(request_: bytes, shown: str) -> None:
    assert reply(request_, NOW) == f"ERROR unknown request '{shown}': {HINT}\n".encode()


@pytest.mark.parametrize(
    ("request_", "reply_", "ok"),
    [
        ("SEND_TIME", b"20:41:07\n", True),
        ("SEND_DATE", b"2024-03-09\n", True),
        ("SEND_TIME", b"2024-03-09\n", False),
        ("SEND_DATE", b"20:41:07\n", False),
        ("SEND_TIME", b"25:00:00\n", False),
        ("SEND_TIME", f"ERROR unknown request 'x': {HINT}\n".encode(), False),
        ("SEND_DATE", b"\xff\xfe", False),
        # A student's server may write the date in any unambiguous form (the course leaves it open).
        ("SEND_DATE", b"28-11-2026\n", True),
        ("SEND_DATE", b"28/11/2026", True),
        ("SEND_DATE", b"28 Nov 2026\n", True),
        ("SEND_DATE", "Today: 28 Nov 2026 \u2013 Saturday".encode(), True),
        ("SEND_TIME", b"28/11/2026", False),
        ("SEND_DATE", b"12/34/2026", False),
    ],
)
def test_answers_matches_reply_shape_to_request(request_: str, reply_: bytes, ok: bool) -> None:
    assert answers(request_, reply_) is ok


def test_schedule_gaps_within_range_first_request_immediate() -> None:
    plan = list(schedule(random.Random(7), 200, 1.0, 2.0, None))
    assert len(plan) == 200
    assert plan[0][0] == 0.0
    assert all(1.0 <= gap <= 2.0 for gap, _ in plan[1:])
    assert {req for _, req in plan} == set(REQUESTS)  # both kinds show up in 200 random picks


def test_schedule_fixed_request() -> None:
    assert {req for _, req in schedule(random.Random(1), 20, 0, 0, "SEND_DATE")} == {"SEND_DATE"}


def test_schedule_count_zero_runs_forever() -> None:
    plan = schedule(random.Random(3), 0, 0.1, 0.2, None)
    assert len([next(plan) for _ in range(1000)]) == 1000


class ScriptedRandom:
    """A fake rng: records the ranges asked for and returns chosen values."""

    def __init__(self) -> None:
        self.ranges: list[tuple[float, float]] = []

    def uniform(self, a: float, b: float) -> float:
        self.ranges.append((a, b))
        return b

    def choice(self, seq: tuple[str, ...]) -> str:
        return seq[-1]


def test_schedule_uses_the_injected_rng() -> None:
    rng = ScriptedRandom()
    assert list(schedule(rng, 3, 0.5, 1.5, None)) == [(0.0, "SEND_TIME"), (1.5, "SEND_TIME"), (1.5, "SEND_TIME")]
    assert rng.ranges == [(0.5, 1.5), (0.5, 1.5)]
