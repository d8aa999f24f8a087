"""The echo servers and clients as real processes on 127.0.0.1."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from tests.helpers import LineClient, Program, listening, udp_request, wait_for


@pytest.fixture(scope="module")
def udp_port() -> Iterator[int]:
    with listening("udp-echo-server") as server:
        yield server.listening_port()


@pytest.fixture(scope="module")
def tcp_port() -> Iterator[int]:
    with listening("tcp-echo-server") as server:
        yield server.listening_port()


@pytest.mark.parametrize(
    ("request_", "reply"),
    [
        (b"hello", b"HELLO"),
        (b"hello\n", b"HELLO\n"),
        ("caf\u00e9".encode(), "CAF\u00c9".encode()),
        (b"x" * 2049, b"ERROR datagram of 2049 bytes exceeds 2048\n"),
        (b"bad \xff", b"ERROR invalid UTF-8 at byte 4\n"),
        (b"", b""),
    ],
)
def test_udp_echo_replies(udp_port: int, request_: bytes, reply: bytes) -> None:
    assert udp_request(udp_port, request_) == reply


def test_udp_echo_survives_a_huge_datagram(udp_port: int) -> None:
    assert udp_request(udp_port, b"z" * 60000) == b"ERROR datagram of 60000 bytes exceeds 2048\n"
    assert udp_request(udp_port, b"still here") == b"STILL HERE"


def test_udp_echo_client_reads_stdin_until_eof(udp_port: int) -> None:
    with Program("udp-echo-client", "--host", "127.0.0.1", "--port", str(udp_port), stdin=True) as client:
        client.write("first line\nsecond\n")
        client.close_stdin()
        assert client.wait() == 0
        wait_for(lambda: len(client.lines) >= 2)
        assert client.lines == ["FIRST LINE", "SECOND"]


def test_udp_echo_client_reports_a_lost_reply_and_does_not_hang() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:  # bound, never answers
        silent.bind(("127.0.0.1", 0))
        port = str(silent.getsockname()[1])
        with Program(
            "udp-echo-client", "--host", "127.0.0.1", "--port", port, "--message", "hi", "--timeout", "0.2"
        ) as c:
            assert c.wait() == 0
            assert silent.recv(100) == b"hi"
        assert c.lines == ["no reply within 0.2 s (lost)"]


def test_tcp_echo_split_line(tcp_port: int) -> None:
    with LineClient(tcp_port) as c:
        for byte in b"split line\n":
            c.send_raw(bytes([byte]))
        c.expect("SPLIT LINE")


@pytest.mark.parametrize(
    "steps",
    [
        pytest.param([(b"one\ntwo\nthree\n", ["ONE", "TWO", "THREE"])], id="coalesced-lines"),
        pytest.param(
            [
                (b"windows\r\n", ["WINDOWS"]),
                (b"caf\xc3\n", ["ERROR invalid UTF-8 at byte 3"]),
                (b"still fine\n", ["STILL FINE"]),
            ],
            id="crlf-and-bad-utf8-then-valid-line",
        ),
        pytest.param(
            [(b"y" * 100_000 + b"\n", ["ERROR line of 100000 bytes exceeds 1024"]), (b"after\n", ["AFTER"])],
            id="overlong-line-then-session-continues",
        ),
    ],
)
def test_tcp_echo_session(tcp_port: int, steps: list[tuple[bytes, list[str]]]) -> None:
    with LineClient(tcp_port) as c:
        c.converse(steps)


def test_tcp_echo_final_line_without_lf(tcp_port: int) -> None:
    with LineClient(tcp_port) as c:
        c.send_raw(b"no newline")
        c.sock.shutdown(socket.SHUT_WR)
        c.expect("NO NEWLINE")
        c.expect_closed()


def test_tcp_echo_serves_clients_independently(tcp_port: int) -> None:
    with LineClient(tcp_port) as a, LineClient(tcp_port) as b:
        a.send_raw(b"half a li")  # a stalls mid-line; b must not wait for it
        b.send("b here")
        b.expect("B HERE")
        a.send_raw(b"ne\n")
        a.expect("HALF A LINE")


def test_tcp_echo_client_message_and_stdin(tcp_port: int) -> None:
    port = str(tcp_port)
    with Program("tcp-echo-client", "--host", "127.0.0.1", "--port", port, "--message", "one shot") as c:
        assert c.wait() == 0
    assert c.lines == ["ONE SHOT"]
    with Program("tcp-echo-client", "--host", "127.0.0.1", "--port", port, stdin=True) as c:
        c.write("a\nb\n")
        c.close_stdin()
        assert c.wait() == 0
    assert c.lines == ["A", "B"]


def test_tcp_echo_client_without_server_fails_cleanly() -> None:
    with socket.socket() as s:  # a port that is free right now
        s.bind(("127.0.0.1", 0))
        port = str(s.getsockname()[1])
    with Program("tcp-echo-client", "--host", "127.0.0.1", "--port", port, "--message", "x") as c:
        assert c.wait() == 1
    assert "error: 127.0.0.1:" in c.output()


@pytest.mark.parametrize("name", ["udp-echo-server", "tcp-echo-server"])
def test_sigterm_exits_0(name: str) -> None:
    server = Program(name, "--host", "127.0.0.1", "--port", "0")
    server.listening_port()
    assert server.stop() == 0
