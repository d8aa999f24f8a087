"""calc-client as a real process with piped stdin, against a real calc-server on 127.0.0.1."""

from __future__ import annotations

import re
import signal
import socket
from collections.abc import Iterator

import pytest

from tests.helpers import Program, listening

NOT_SENT = "warning: expected <number> <op> <number> separated by spaces, e.g. 12 + 42 (got 1 item) — not sent"


@pytest.fixture
def server() -> Iterator[Program]:
    with listening("calc-server") as prog:
        yield prog


def client(server: Program, *args: str) -> Program:
    return Program("calc-client", "--host", "127.0.0.1", "--port", str(server.listening_port()), *args, stdin=True)


def test_a_malformed_line_is_warned_about_and_never_sent(server: Program) -> None:
    with client(server, "--name", "Alice") as calc:
        calc.write("12+42\n12 + 42\nq\n")
        assert calc.wait() == 0
        calc.wait_line(f"^{re.escape(NOT_SENT)}$")
        calc.wait_line(r"^54$")
    server.wait_line(r"^Session ended: Alice@127\.0\.0\.1:\d+ \(quit\)$")
    assert not [line for line in server.lines if "12+42" in line]


def test_the_name_is_asked_for_and_end_of_input_acts_as_q(server: Program) -> None:
    with client(server) as calc:
        calc.write("\nBob\n4.5 / -6\n")  # an empty name is refused locally, then asked again
        calc.close_stdin()
        assert calc.wait() == 0
        calc.wait_line(r"^warning: name must not be empty$")
        calc.wait_line(r"^Enter your name: Bob$")
        calc.wait_line(r"^-0\.75$")
    server.wait_line(r"^Session ended: Bob@127\.0\.0\.1:\d+ \(quit\)$")


def test_server_errors_are_printed_and_the_session_goes_on(server: Program) -> None:
    with client(server, "--name", "Carol") as calc:
        calc.write("1 / 0\n0.1 + 0.2\nq\n")
        assert calc.wait() == 0
        calc.wait_line(r"^0\.3$")  # output is complete once the last answer is in
        assert calc.lines.index("ERROR division by zero") < calc.lines.index("0.3")


def test_a_killed_server_is_reported(server: Program) -> None:
    with client(server, "--name", "Dave") as calc:
        calc.write("1 + 1\n")
        calc.wait_line(r"^2$")
        server.proc.kill()
        server.proc.wait()
        calc.write("2 + 2\n")
        assert calc.wait() == 1
        calc.wait_line(r"^error: server closed the connection$")


def test_a_paused_server_makes_the_client_time_out(server: Program) -> None:
    with client(server, "--name", "Eve", "--timeout", "0.5") as calc:
        calc.write("1 + 1\n")
        calc.wait_line(r"^2$")
        server.proc.send_signal(signal.SIGSTOP)
        try:
            calc.write("2 + 2\n")
            assert calc.wait() == 1
            calc.wait_line(r"^error: no reply from the server within 0\.5 s$")
        finally:
            server.proc.send_signal(signal.SIGCONT)


def test_connection_refused_is_reported() -> None:
    with socket.socket() as closed:  # bound but not listening: connecting to it is refused
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
        with Program("calc-client", "--host", "127.0.0.1", "--port", str(port), "--name", "Fay") as calc:
            assert calc.wait() == 1
            calc.wait_line(rf"^error: cannot connect to 127\.0\.0\.1:{port}: Connection refused$")


def test_a_bad_name_flag_is_a_usage_error() -> None:
    with Program("calc-client", "--host", "127.0.0.1", "--port", "9", "--name", "x" * 33) as calc:
        assert calc.wait() == 2
        calc.wait_line(r"^error: --name: name of 33 characters exceeds 32$")
