"""The date/time server and client as real processes on 127.0.0.1."""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone

import pytest

from tests.helpers import Program, udp_request

HINT = "send SEND_DATE or SEND_TIME"
IST = timezone(timedelta(hours=5, minutes=30))
#: POSIX TZ strings need no zoneinfo files, so this works in the slimmest image.
TZ_IST = "IST-5:30"


def start_server(tz: str = "UTC0") -> Program:
    server = Program("datetime-server", "--host", "127.0.0.1", "--port", "0", env={"TZ": tz})
    server.listening_port()
    return server


@pytest.fixture(scope="module")
def server() -> Iterator[Program]:
    with start_server() as server:
        yield server


@pytest.fixture(scope="module")
def port(server: Program) -> int:
    return server.listening_port()


def ask_at(port: int, request: bytes, tz: timezone, fmt: str) -> tuple[bytes, set[bytes]]:
    """The reply, and every reply that would be right at some moment while the request was under way."""
    before = datetime.now(tz)
    reply = udp_request(port, request)
    after = datetime.now(tz)
    seconds = int((after - before).total_seconds()) + 2
    return reply, {(before + timedelta(seconds=s)).strftime(fmt).encode() + b"\n" for s in range(seconds)}


def test_send_time_and_date_exact(port: int) -> None:
    reply, expected = ask_at(port, b"SEND_TIME", UTC, "%H:%M:%S")
    assert reply in expected
    reply, expected = ask_at(port, b"SEND_DATE", UTC, "%Y-%m-%d")
    assert reply in expected


def test_nc_style_request_with_newline(port: int) -> None:
    assert re.fullmatch(rb"\d\d:\d\d:\d\d\n", udp_request(port, b"SEND_TIME\n"))


@pytest.mark.parametrize(
    ("request_", "shown"),
    [
        (b"send_time", "send_time"),
        (b"", ""),
        (b"  \n", ""),
        (b"\x00\xff\xfe", "\\x00\\xff\\xfe"),
        (b"W" * 5000, "W" * 40 + "..."),
    ],
)
def test_unknown_requests(port: int, request_: bytes, shown: str) -> None:
    assert udp_request(port, request_) == f"ERROR unknown request '{shown}': {HINT}\n".encode()


def test_survives_garbage_and_oversize_then_still_answers(port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for junk in (b"\xff" * 100, b"A" * 65000, b"", b"SEND_DATE" * 100):
            s.sendto(junk, ("127.0.0.1", port))
    assert udp_request(port, b"SEND_TIME")[-1:] == b"\n"
    assert re.fullmatch(rb"\d{4}-\d\d-\d\d\n", udp_request(port, b"SEND_DATE"))


def test_logs_each_request_with_client_address(server: Program, port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        s.settimeout(5)
        s.sendto(b"SEND_DATE", ("127.0.0.1", port))
        s.recv(100)
        server.wait_line(rf"^127\.0\.0\.1:{s.getsockname()[1]} 'SEND_DATE' -> ")


def test_tz_is_honoured() -> None:
    with start_server(TZ_IST) as ist:
        reply, expected = ask_at(ist.listening_port(), b"SEND_TIME", IST, "%H:%M:%S")
        assert reply in expected
        reply, expected = ask_at(ist.listening_port(), b"SEND_DATE", IST, "%Y-%m-%d")
        assert reply in expected


def test_client_prints_replies_and_summary(port: int) -> None:
    args = ("--host", "127.0.0.1", "--port", str(port), "--count", "3", "--min-gap", "0.05", "--max-gap", "0.1")
    with Program("datetime-client", *args) as client:
        assert client.wait() == 0
    replies = [line for line in client.lines if " -> " in line]
    assert len(replies) == 3
    for line in replies:
        assert re.fullmatch(r"SEND_TIME -> \d\d:\d\d:\d\d|SEND_DATE -> \d{4}-\d\d-\d\d", line), line
    assert client.lines[-1] == "sent 3, answered 3, lost 0"


def test_client_fixed_request(port: int) -> None:
    args = ("--host", "127.0.0.1", "--port", str(port), "--count", "2", "--min-gap", "0", "--max-gap", "0")
    with Program("datetime-client", *args, "--request", "SEND_DATE") as client:
        assert client.wait() == 0
    assert [line.split(" -> ")[0] for line in client.lines if " -> " in line] == ["SEND_DATE", "SEND_DATE"]


@pytest.mark.parametrize("listener", ["silent", "closed"])
def test_client_reports_lost_replies_and_exits_in_time(listener: str) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.1", 0))
        port = str(silent.getsockname()[1])
        if listener == "closed":  # nothing bound: the kernel answers with ICMP port unreachable
            silent.close()
        args = ("--host", "127.0.0.1", "--port", port, "--count", "2", "--timeout", "0.3")
        start = time.monotonic()
        with Program("datetime-client", *args, "--min-gap", "0.05", "--max-gap", "0.1", "--request", "SEND_TIME") as c:
            assert c.wait() == 0
        assert time.monotonic() - start < 4.0  # 2 x 0.3 s timeouts + 0.1 s gap + interpreter start
    assert c.lines[1:] == ["no reply to SEND_TIME within 0.3 s (lost)"] * 2 + ["sent 2, answered 0, lost 2"]


def test_client_sigterm_prints_summary_and_exits_0(port: int) -> None:
    client = Program(
        "datetime-client", "--host", "127.0.0.1", "--port", str(port), "--min-gap", "0.05", "--max-gap", "0.1"
    )
    client.wait_line(" -> ")
    assert client.stop() == 0
    assert re.fullmatch(r"sent (\d+), answered \d+, lost \d+", client.lines[-1])


def test_client_rejects_bad_gaps() -> None:
    with Program("datetime-client", "--min-gap", "2", "--max-gap", "1") as client:
        assert client.wait() == 2


def test_sigterm_exits_0() -> None:
    assert start_server().stop() == 0
