"""The date/time client's logic with a fake socket, clock and rng: no network, no waiting."""

from __future__ import annotations

import pytest

from services.datetime.client import Tally, make_asker, run
from services.datetime.protocol import schedule


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class FakeUdpSocket:
    """Replies are scripted per request: ``replies[i]`` is what arrives after the i-th send.

    ``late`` holds datagrams already queued before a send (late answers to earlier
    requests). A recv with nothing queued waits out its timeout on the fake clock.
    """

    def __init__(self, clock: FakeClock, replies: list[list[bytes]], late: list[bytes] | None = None) -> None:
        self.clock = clock
        self.replies = replies
        self.queue = list(late or [])
        self.sent: list[bytes] = []
        self.timeout: float | None = None

    def setblocking(self, flag: bool) -> None:
        self.timeout = None if flag else 0.0

    def settimeout(self, value: float) -> None:
        self.timeout = value

    def send(self, data: bytes) -> int:
        self.queue += self.replies[len(self.sent)]
        self.sent.append(data)
        return len(data)

    def recv(self, size: int) -> bytes:
        if self.queue:
            return self.queue.pop(0)
        if self.timeout == 0.0:
            raise BlockingIOError
        assert self.timeout is not None, "a blocking recv without a timeout could hang"
        self.clock.now += self.timeout
        raise TimeoutError


@pytest.fixture
def fake_clock() -> FakeClock:
    return FakeClock()


def test_answer_is_returned(fake_clock: FakeClock) -> None:
    sock = FakeUdpSocket(fake_clock, [[b"20:41:07\n"]])
    ask = make_asker(sock, 1.0, fake_clock)  # type: ignore[arg-type]
    assert ask("SEND_TIME") == b"20:41:07\n"
    assert sock.sent == [b"SEND_TIME"]


def test_no_reply_is_lost_after_exactly_the_timeout(fake_clock: FakeClock) -> None:
    sock = FakeUdpSocket(fake_clock, [[]])
    assert make_asker(sock, 1.5, fake_clock)("SEND_DATE") is None  # type: ignore[arg-type]
    assert fake_clock.now == pytest.approx(101.5)


def test_late_reply_queued_before_the_send_is_drained(
    fake_clock: FakeClock, capsys: pytest.CaptureFixture[str]
) -> None:
    # The answer to an earlier SEND_TIME arrived after that request timed out.
    sock = FakeUdpSocket(fake_clock, [[b"20:41:09\n"]], late=[b"20:41:07\n"])
    assert make_asker(sock, 1.0, fake_clock)("SEND_TIME") == b"20:41:09\n"  # type: ignore[arg-type]
    assert "discarded a late reply" in capsys.readouterr().out


def test_reply_of_the_wrong_kind_is_skipped(fake_clock: FakeClock) -> None:
    # A late date arrives after the time request was sent, then the real answer.
    sock = FakeUdpSocket(fake_clock, [[b"2024-03-09\n", b"20:41:07\n"]])
    assert make_asker(sock, 1.0, fake_clock)("SEND_TIME") == b"20:41:07\n"  # type: ignore[arg-type]


def test_only_wrong_kind_replies_count_as_lost(fake_clock: FakeClock) -> None:
    sock = FakeUdpSocket(fake_clock, [[b"2024-03-09\n", b"ERROR nope\n"]])
    assert make_asker(sock, 1.0, fake_clock)("SEND_TIME") is None  # type: ignore[arg-type]


def test_run_counts_lost_replies_and_prints_each(capsys: pytest.CaptureFixture[str]) -> None:
    answers = iter([b"20:41:07\n", None, b"2024-03-09\n", None])
    sleeps: list[float] = []
    tally = Tally()
    plan = [(0.0, "SEND_TIME"), (1.2, "SEND_TIME"), (1.7, "SEND_DATE"), (1.1, "SEND_DATE")]
    run(plan, lambda request: next(answers), sleeps.append, tally, 1.0)
    assert sleeps == [0.0, 1.2, 1.7, 1.1]
    assert (tally.sent, tally.answered) == (4, 2)
    assert tally.summary() == "sent 4, answered 2, lost 2"
    assert capsys.readouterr().out.splitlines() == [
        "SEND_TIME -> 20:41:07",
        "no reply to SEND_TIME within 1.0 s (lost)",
        "SEND_DATE -> 2024-03-09",
        "no reply to SEND_DATE within 1.0 s (lost)",
    ]


class MidRng:
    def uniform(self, a: float, b: float) -> float:
        return (a + b) / 2

    def choice(self, seq: tuple[str, ...]) -> str:
        return seq[0]


def test_run_with_schedule_sleeps_random_gaps_between_requests() -> None:
    sleeps: list[float] = []
    tally = Tally()
    run(schedule(MidRng(), 3, 1.0, 2.0, None), lambda request: b"2024-03-09\n", sleeps.append, tally, 1.0)
    assert sleeps == [0.0, 1.5, 1.5]
    assert tally.summary() == "sent 3, answered 3, lost 0"


def test_interrupted_wait_counts_as_lost() -> None:
    tally = Tally()

    def interrupted(request: str) -> bytes | None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run([(0.0, "SEND_TIME")], interrupted, lambda s: None, tally, 1.0)
    assert tally.summary() == "sent 1, answered 0, lost 1"
