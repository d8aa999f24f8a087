"""calc-server as a real process on 127.0.0.1, spoken to over raw sockets."""

from __future__ import annotations

import contextlib
import re
import socket
import struct
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import LineClient, Program, listening, wait_for

FORMAT = "expected <number> <op> <number> separated by spaces, e.g. 12 + 42"


@pytest.fixture
def server() -> Iterator[Program]:
    with listening("calc-server") as prog:
        yield prog


def port_of(server: Program) -> int:
    return server.listening_port()


def named(server: Program, name: str = "Alice") -> LineClient:
    client = LineClient(port_of(server))
    client.send(name)
    return client


def reset(sock: socket.socket) -> None:
    """Close with RST instead of FIN, as a crashed client would."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def test_name_then_a_request_gets_the_exact_result(server: Program) -> None:
    with named(server) as client:
        client.send("12 + 42")
        client.expect("54")
    server.wait_line(r"^Alice@127\.0\.0\.1:\d+ sent '12 \+ 42' -> 54$")


@pytest.mark.parametrize(
    ("line", "reply"),
    [
        ("", f"ERROR {FORMAT} (got 0 items)"),
        ("12 +", f"ERROR {FORMAT} (got 2 items)"),
        ("12+42", f"ERROR {FORMAT} (got 1 item)"),
        ("12 % 4", "ERROR unknown operator '%': use one of + - * /"),
        ("a + b", "ERROR 'a' is not a number (examples: 12, -4.5, 2.5e3)"),
        ("1 / 0", "ERROR division by zero"),
        ("nan + 1", "ERROR 'nan' is not a number (examples: 12, -4.5, 2.5e3)"),
        ("1" * 500 + " + 1", "ERROR operand of 500 characters exceeds 64"),
    ],
)
def test_an_error_is_one_line_and_the_session_goes_on(server: Program, line: str, reply: str) -> None:
    with named(server) as client:
        client.send(line)
        client.expect(reply)
        client.send("4.5 / -6")
        client.expect("-0.75")


def test_a_bad_name_is_refused_and_the_server_waits_for_another(server: Program) -> None:
    with LineClient(port_of(server)) as client:
        client.send("   ")
        client.expect("ERROR name must not be empty")
        client.send("x" * 40)
        client.expect("ERROR name of 40 characters exceeds 32")
        client.send("Bob")
        client.send("3.24 * 45")
        client.expect("145.8")
    server.wait_line(r"^Bob@127\.0\.0\.1:\d+ sent '3\.24 \* 45' -> 145\.8$")


def test_a_request_split_byte_by_byte(server: Program) -> None:
    with LineClient(port_of(server)) as client:
        client.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # one segment per byte
        for byte in b"Alice\n0.1 + 0.2\n":
            client.send_raw(bytes([byte]))
        client.expect("0.3")


def test_three_requests_in_one_segment_get_three_replies_in_order(server: Program) -> None:
    with named(server) as client:
        client.send_raw(b"1 + 1\n2 * 3\n7 / 2\n")
        for expected in ("2", "6", "3.5"):
            client.expect(expected)


@pytest.mark.parametrize(
    "steps",
    [
        pytest.param([(b"Alice\r\n12 + 42\r\n", ["54"])], id="crlf-lines"),
        pytest.param(
            [(b"Alice\n", []), (b"1 \xff 2\n", ["ERROR invalid UTF-8 at byte 2"]), (b"1 - 2\n", ["-1"])],
            id="invalid-utf8-is-refused-and-the-session-goes-on",
        ),
        pytest.param(
            [(b"Alice\n", []), (b"7" * 2**20 + b"\n12 + 42\n", ["ERROR line of 1048576 bytes exceeds 1024", "54"])],
            id="a-1-mib-line-is-refused-then-the-next-request-is-answered",
        ),
    ],
)
def test_session(server: Program, steps: list[tuple[bytes, list[str]]]) -> None:
    with LineClient(port_of(server)) as client:
        client.converse(steps)


def test_q_ends_the_session(server: Program) -> None:
    with named(server) as client:
        client.send("1 + 1")
        client.expect("2")
        client.send("q")
        client.expect_closed()
    server.wait_line(r"^Session ended: Alice@127\.0\.0\.1:\d+ \(quit\)$")


def test_eof_ends_the_session_and_a_last_line_without_lf_still_counts(server: Program) -> None:
    with named(server, "Carol") as client:
        client.send_raw(b"6 * 7")
        client.sock.shutdown(socket.SHUT_WR)
        client.expect("42")
        client.expect_closed()
    server.wait_line(r"^Session ended: Carol@127\.0\.0\.1:\d+ \(disconnected\)$")


def test_twenty_concurrent_sessions_each_get_their_own_answers(server: Program) -> None:
    clients = [named(server, f"client{i}") for i in range(20)]
    try:
        for round_ in range(1, 4):
            for i, client in enumerate(clients):  # every client sends before any reads: interleaved
                client.send(f"{i} * {round_}")
            for i, client in enumerate(clients):
                client.expect(str(i * round_))
        for client in clients:
            client.send("q")
        for client in clients:
            client.expect_closed()
    finally:
        for client in clients:
            client.close()
    for i in range(20):
        server.wait_line(rf"^Session ended: client{i}@127\.0\.0\.1:\d+ \(quit\)$")


def test_silent_and_half_line_clients_do_not_block_others(server: Program) -> None:
    with LineClient(port_of(server)) as silent, named(server, "Slow") as slow, named(server) as client:
        slow.send_raw(b"12 + ")  # half a request, never finished
        client.send("12 + 42")
        client.expect("54")
        assert silent.sock.fileno() >= 0


def test_an_abrupt_disconnect_mid_line_does_not_hurt_the_server(server: Program) -> None:
    crasher = named(server, "Crash")
    crasher.send_raw(b"12 + 4")
    reset(crasher.sock)
    server.wait_line(r"^Session ended: Crash@127\.0\.0\.1:\d+ \(")
    with named(server) as client:
        client.send("12 + 42")
        client.expect("54")
    assert not [line for line in server.lines if line.startswith("Crash@") and " sent " in line]


def vm_rss_kib(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"^VmRSS:\s+(\d+) kB", status, re.M)[1])  # type: ignore[index]


def test_a_client_that_never_reads_cannot_grow_server_memory(server: Program) -> None:
    """Each 2-byte bad request earns a ~90-byte ERROR reply: without backpressure, memory would balloon."""
    requests = 300_000  # 600 KB that would earn 27 MB of replies
    rss_before = vm_rss_kib(server.proc.pid)
    flooder = socket.socket()
    flooder.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # small window: replies back up fast
    flooder.connect(("127.0.0.1", port_of(server)))
    flooder.settimeout(2)
    # A timeout means the server stopped reading and every buffer on the way is full, as it should be.
    with contextlib.suppress(TimeoutError):
        flooder.sendall(b"Flood\n" + b"x\n" * requests)

    def answered() -> int:
        return sum(1 for line in list(server.lines) if line.startswith("Flood@") and " sent " in line)

    counts = [-1]

    def stopped() -> bool:  # the count did not change since the previous poll
        counts.append(answered())
        return counts[-1] == counts[-2]

    wait_for(stopped, timeout=30, interval=0.5, what="the server to stop answering the flood")
    assert counts[-1] < requests, "the server kept reading from a client that never reads its replies"
    assert vm_rss_kib(server.proc.pid) - rss_before < 20 * 1024
    with named(server) as client:  # and everyone else is still served
        client.send("12 + 42")
        client.expect("54")
    reset(flooder)
    server.wait_line(r"^Session ended: Flood@127\.0\.0\.1:\d+ \(")


def test_a_silent_client_is_closed_after_the_idle_timeout() -> None:
    with Program("calc-server", "--host", "127.0.0.1", "--port", "0", "--idle-timeout", "0.5") as server:
        with LineClient(port_of(server)) as silent:
            silent.expect_closed()
        server.wait_line(r"^Session ended: 127\.0\.0\.1:\d+ \(idle for 0\.5 s\)$")


def test_sigterm_exits_0_and_ends_open_sessions(server: Program) -> None:
    with named(server) as client:
        client.send("1 + 1")
        client.expect("2")
        assert server.stop() == 0
        client.expect_closed()
    server.wait_line(r"^Session ended: Alice@127\.0\.0\.1:\d+ \(server stopping\)$")
