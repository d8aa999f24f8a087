"""Part 1's date/time service: the lab's client loop, its traffic in the capture, and a lossy link."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from . import pcap
from .lab import Lab

PORT = 12001
REPLY_FORMATS = {"SEND_DATE": "%Y-%m-%d", "SEND_TIME": "%H:%M:%S"}
ANSWER_RE = re.compile(r"^(?P<request>SEND_DATE|SEND_TIME) -> (?P<reply>.*)$")
LOST_RE = re.compile(r"^no reply to (?P<request>SEND_DATE|SEND_TIME) within [\d.]+ s \(lost\)$")
SUMMARY_RE = re.compile(r"^sent (?P<sent>\d+), answered (?P<answered>\d+), lost (?P<lost>\d+)$")
MIN_REQUESTS = 7  # six gaps: enough to see both the bounds and the randomness
#: The log line is written when the reply arrives, a few ms after the request, and docker stamps it when
#: it reads the line: allow for that jitter around 1-2 s (a busy 2-core machine delays wake-ups a little).
GAP_SLACK = timedelta(milliseconds=150)
CLOCK_SLACK = timedelta(seconds=2)  # the server's clock vs the log's timestamp (same host clock)


def requests(lab: Lab) -> list[tuple[datetime, str, str | None]]:
    """(log time, request, reply or None if lost) for each request the datetime-client service logged."""
    rows: list[tuple[datetime, str, str | None]] = []
    for stamp, line in lab.timestamped_log("datetime-client"):
        if m := ANSWER_RE.match(line):
            rows.append((stamp, m["request"], m["reply"]))
        elif m := LOST_RE.match(line):
            rows.append((stamp, m["request"], None))
    return rows


def test_client_loop_asks_every_one_to_two_seconds(lab: Lab) -> None:
    """The datetime-client service (its own host, .20) asks the server (.12) at random 1-2 s gaps.

    A line is logged when the reply arrives, a few ms after the request left, so
    the gap between two answered requests' log times is the client's pause.
    """
    assert lab.ip("datetime-client") == f"{lab.prefix}.20"
    assert lab.ip("datetime-server") == f"{lab.prefix}.12"

    def enough() -> list[tuple[datetime, str, str | None]] | None:
        rows = requests(lab)
        return rows if sum(reply is not None for *_, reply in rows) >= MIN_REQUESTS else None

    rows = lab.wait_for_value(enough, 30, f"{MIN_REQUESTS} answers in the datetime-client log")
    answered = [(stamp, request, reply) for stamp, request, reply in rows if reply is not None]
    for stamp, request, reply in answered:
        shown = datetime.strptime(reply, REPLY_FORMATS[request])  # raises if malformed
        if request == "SEND_DATE":
            assert shown.date() in {stamp.date(), (stamp - CLOCK_SLACK).date()}, (stamp, reply)
        else:  # the server runs on UTC (compose TZ default), as docker's timestamps are
            server_time = datetime.combine(stamp.date(), shown.time(), UTC)
            offset = abs(server_time - stamp)
            assert min(offset, timedelta(days=1) - offset) <= CLOCK_SLACK, (stamp, reply)
    gaps = [
        later[0] - earlier[0]
        for earlier, later in zip(rows, rows[1:], strict=False)
        if earlier[2] is not None and later[2] is not None
    ]
    assert len(gaps) >= MIN_REQUESTS - 2, rows
    assert all(timedelta(seconds=1) - GAP_SLACK <= gap <= timedelta(seconds=2) + GAP_SLACK for gap in gaps), gaps
    assert max(gaps) - min(gaps) > timedelta(milliseconds=20), f"gaps look fixed, not random: {gaps}"

    # On the wire: every request has its reply, from the server's port to the client's.
    server = (lab.ip("datetime-server"), PORT)
    pairs = lab.wait_packets(
        lambda packets: pcap.udp_exchanges(packets, lab.ip("datetime-client"), server),
        lambda pairs: len(pairs) >= len(answered) and sum(reply is not None for _, reply in pairs) >= len(answered),
    )
    seen = set()
    for request, reply in pairs:
        word = request.payload.decode()
        assert word in REPLY_FORMATS, request
        if reply is not None:
            assert reply.payload.endswith(b"\n"), reply
            datetime.strptime(reply.payload.decode().removesuffix("\n"), REPLY_FORMATS[word])
            seen.add(word)
    assert seen == set(REPLY_FORMATS) or len(pairs) < 20, f"only {seen} requests in {len(pairs)}"


def test_lossy_link_reports_lost_replies_and_keeps_going(lab: Lab) -> None:
    """30 % of the packets arriving at the datetime-client service are dropped (iptables; no netem here).

    The drop sits on the client's INPUT, so requests still reach the server and
    the capture on the bridge shows every one answered; the client waits its
    1 s timeout, reports the reply lost, and goes on with the next request.
    """
    client = lab.container("datetime-client")
    before = len(lab.log_lines("datetime-client"))
    rule = lab.drop_input(client, "udp", 0.3)
    try:

        def lost_then_answered() -> list[str] | None:
            lines = lab.log_lines("datetime-client")[before + 1 :]  # the first may have left before the rule
            lost = [i for i, line in enumerate(lines) if LOST_RE.match(line)]
            later = [i for i, line in enumerate(lines) if ANSWER_RE.match(line) and lost and i > lost[0]]
            return lines if len(later) >= 2 else None

        # ~1.5 s per request: P(no loss in 40 requests) = 0.7**40, about 1e-6.
        lines = lab.wait_for_value(lost_then_answered, 60, "a lost reply, then two answers")
    finally:
        lab.undrop(client, rule)
    for line in lines:
        assert ANSWER_RE.match(line) or LOST_RE.match(line) or line.startswith("(discarded a late reply"), line
        if m := ANSWER_RE.match(line):
            datetime.strptime(m["reply"], REPLY_FORMATS[m["request"]])
    assert lab.container("datetime-client").status == "running"

    # Every request reached the server and was answered on the wire: the losses were on the client's link.
    server = (lab.ip("datetime-server"), PORT)
    requests_sent = sum(bool(ANSWER_RE.match(line) or LOST_RE.match(line)) for line in lines)
    pairs = lab.wait_packets(
        lambda packets: pcap.udp_exchanges(packets, lab.ip("datetime-client"), server)[-requests_sent:],
        lambda pairs: len(pairs) == requests_sent and all(reply is not None for _, reply in pairs),
    )
    assert len(pairs) == requests_sent
