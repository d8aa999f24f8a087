"""The datetime-client judging: a correct client fails with odds below 1e-6, a wrong one always fails.

The model of a correct client is the course's: it starts within CLIENT_START_S, sends
SEND_DATE or SEND_TIME at random (each with probability 1/2), and waits
``random.uniform(1, 2)`` s plus a round trip (at most ROUND_TRIP_S) between requests.
The bound is computed from the checker's constants (a union bound over the worst
case), and the recording and the judges are run on simulated clients.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterator

import pytest

from services.check import cases_clients as cc
from services.check.clients import Run
from services.check.core import Config
from services.check.session import CaseFailed

CFG = Config("127.0.0.1", 0)
LAB_CASES = [c for c in cc.DATETIME_CASES if c.level == "lab" and not c.needs_cmd]
Client = Callable[[random.Random], Iterator[tuple[float, bytes]]]


def correct(rng: random.Random) -> Iterator[tuple[float, bytes]]:
    t = rng.uniform(0, cc.CLIENT_START_S)
    while True:
        yield t, rng.choice([b"SEND_DATE", b"SEND_TIME"])
        t += rng.uniform(1, 2) + rng.uniform(0, cc.ROUND_TRIP_S)


def fixed_gaps(gap: float) -> Client:
    def client(rng: random.Random) -> Iterator[tuple[float, bytes]]:
        t, i = rng.uniform(0, 1), 0
        while True:
            yield t, (b"SEND_DATE", b"SEND_TIME")[i % 2]
            t, i = t + gap + rng.uniform(0, 0.02), i + 1

    return client


def one_kind(rng: random.Random) -> Iterator[tuple[float, bytes]]:
    for t, _ in correct(rng):
        yield t, b"SEND_TIME"


def record(client: Client, rng: random.Random, duration: float = cc.DATETIME_DURATION) -> Run:
    """What clients.record_datetime records: requests until settled, or until ``duration``."""
    run = Run()
    for t, data in client(rng):
        if t > duration or cc.settled(run):
            break
        run.datagrams.append((t, data))
    return run


def failed(run: Run) -> set[str]:
    out = set()
    for c in LAB_CASES:
        try:
            c.judge(run, CFG)
        except CaseFailed:
            out.add(c.name)
    return out


def worst_case_requests(duration: float) -> int:
    """Requests a correct client surely sends within ``duration``: the latest start, the longest gaps."""
    return 1 + math.floor((duration - cc.CLIENT_START_S) / (cc.MAX_GAP + cc.ROUND_TRIP_S))


def failure_bound(duration: float) -> float:
    """P(a correct client fails) <= P(one kind in n requests) + P(< VARIED_GAPS of n - 1 gaps over VARIED_ABOVE)."""
    n = worst_case_requests(duration)
    p_long = (cc.MAX_GAP - cc.VARIED_ABOVE) / (cc.MAX_GAP - cc.MIN_GAP)
    gaps = n - 1
    few_long = sum(math.comb(gaps, k) * p_long**k * (1 - p_long) ** (gaps - k) for k in range(cc.VARIED_GAPS))
    return 2.0 ** (1 - n) + few_long


def test_a_correct_client_fails_with_odds_below_one_in_a_million() -> None:
    assert worst_case_requests(cc.DATETIME_DURATION) >= cc.DATETIME_REQUESTS_NEEDED == 22
    bound = failure_bound(cc.DATETIME_DURATION)
    assert bound < 1e-6, bound
    assert bound == pytest.approx(2.0**-21, rel=1e-3)  # the mix dominates: 4.8e-7


def test_the_bound_holds_where_failures_are_common_enough_to_count() -> None:
    """With a 12 s recording the bound is 0.7; the simulated rate must stay under it (and not be 0)."""
    rng = random.Random(12)
    trials = 4000
    rate = sum(bool(failed(record(correct, rng, 12.0))) for _ in range(trials)) / trials
    assert 0 < rate <= failure_bound(12.0)


def test_simulated_correct_clients_all_pass_and_recording_stops_early() -> None:
    rng = random.Random(2026)
    runs = [record(correct, rng) for _ in range(20000)]
    assert [failed(run) for run in runs if failed(run)] == []
    lengths = sorted(run.datagrams[-1][0] for run in runs)
    assert lengths[len(lengths) // 2] < 12.0  # the median run is judged after a few requests


@pytest.mark.parametrize(
    ("client", "fault"),
    [
        (fixed_gaps(1.0), "datetime-client.gaps"),
        (fixed_gaps(3.0), "datetime-client.gaps"),
        (fixed_gaps(0.5), "datetime-client.gaps"),
        (one_kind, "datetime-client.mix"),
    ],
)
def test_wrong_clients_fail_exactly_their_case(client: Client, fault: str) -> None:
    rng = random.Random(fault)
    for _ in range(300):
        assert failed(record(client, rng)) == {fault}
