"""The course's four templates (course/templates/) as real processes on 127.0.0.1.

Each server template upper-cases what it receives; each client template reads one
line from stdin, sends it and prints the reply. They also work with socklab's own
echo servers and clients, which is what lets them run unmodified in the lab.
"""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator

import pytest

from tests.helpers import ROOT, STARTUP_TIMEOUT, Child, LineClient, Program, udp_request

TEMPLATES = ROOT / "course" / "templates"
READY_RE = r"^The server is ready to receive on port (?P<port>\d+)$"
PROMPT = "Input lowercase sentence: "
RUN_TIMEOUT = 15.0


def template_server(name: str, *args: str) -> Child:
    """``python3 TEMPLATE ARGS`` as students run it, its output collected line by line."""
    return Child([sys.executable, "-u", str(TEMPLATES / name), *args], cwd=ROOT)


def run_template(name: str, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(TEMPLATES / name), *args], input=stdin, capture_output=True, text=True, timeout=RUN_TIMEOUT
    )


@pytest.fixture(scope="module")
def udp_template_port() -> Iterator[int]:
    with template_server("UDP_Server.py", "0") as server:
        yield int(server.wait_line(READY_RE, STARTUP_TIMEOUT)["port"])


@pytest.fixture(scope="module")
def tcp_template_port() -> Iterator[int]:
    with template_server("TCP_Server.py", "0") as server:
        yield int(server.wait_line(READY_RE, STARTUP_TIMEOUT)["port"])


@pytest.mark.parametrize(
    ("client", "port_fixture", "reply"),
    [
        ("UDP_Client.py", "udp_template_port", "HELLO, LAB 2"),
        ("TCP_Client.py", "tcp_template_port", "From Server: HELLO, LAB 2"),
    ],
)
def test_client_template_with_server_template(
    client: str, port_fixture: str, reply: str, request: pytest.FixtureRequest
) -> None:
    port = request.getfixturevalue(port_fixture)
    done = run_template(client, "127.0.0.1", str(port), stdin="hello, lab 2\n")
    assert (done.returncode, done.stdout, done.stderr) == (0, f"{PROMPT}{reply}\n", "")


def test_udp_server_template_replies_to_each_datagram(udp_template_port: int) -> None:
    assert udp_request(udp_template_port, b"one") == b"ONE"
    assert udp_request(udp_template_port, "straße".encode()) == b"STRASSE"
    assert udp_request(udp_template_port, b"bad \xff") == "BAD \ufffd".encode()  # not UTF-8: replaced, no crash
    assert udp_request(udp_template_port, b"still here") == b"STILL HERE"


def test_tcp_server_template_serves_lines_then_the_next_client(tcp_template_port: int) -> None:
    with LineClient(tcp_template_port) as first:
        for line in ("first", "second line"):
            first.send(line)
            first.expect(line.upper())
    with LineClient(tcp_template_port) as second:  # one client at a time: the next is served after the first left
        second.send("next client")
        second.expect("NEXT CLIENT")


def test_client_templates_with_socklabs_servers() -> None:
    """What Q1/Q4 in the lab do: the template clients against the lab's reference servers."""
    with Program("udp-echo-server", "--host", "127.0.0.1", "--port", "0") as udp:
        done = run_template("UDP_Client.py", "127.0.0.1", str(udp.listening_port()), stdin="hello\n")
        assert (done.returncode, done.stdout) == (0, f"{PROMPT}HELLO\n")
    with Program("tcp-echo-server", "--host", "127.0.0.1", "--port", "0") as tcp:
        done = run_template("TCP_Client.py", "127.0.0.1", str(tcp.listening_port()), stdin="hello\n")
        assert (done.returncode, done.stdout) == (0, f"{PROMPT}From Server: HELLO\n")


@pytest.mark.parametrize(("client", "server"), [("udp-echo-client", "udp"), ("tcp-echo-client", "tcp")])
def test_socklabs_clients_with_server_templates(
    client: str, server: str, udp_template_port: int, tcp_template_port: int
) -> None:
    port = udp_template_port if server == "udp" else tcp_template_port
    with Program(client, "--host", "127.0.0.1", "--port", str(port), stdin=True) as program:
        program.write("from the lab's client\n")
        program.close_stdin()
        assert program.wait() == 0
        assert "FROM THE LAB'S CLIENT" in program.lines, program.output()


@pytest.mark.parametrize(
    ("template", "args", "message"),
    [
        ("UDP_Server.py", ["twelve"], "usage: python3 UDP_Server.py [PORT]"),
        ("TCP_Server.py", ["70000"], "usage: python3 TCP_Server.py [PORT]"),
        ("TCP_Server.py", ["1", "2"], "usage: python3 TCP_Server.py [PORT]"),
        ("UDP_Client.py", ["localhost", "-1"], "usage: python3 UDP_Client.py [HOST [PORT]]"),
        ("TCP_Client.py", ["a", "1", "b"], "usage: python3 TCP_Client.py [HOST [PORT]]"),
    ],
)
def test_bad_arguments_get_the_usage(template: str, args: list[str], message: str) -> None:
    done = run_template(template, *args)
    assert (done.returncode, done.stdout, done.stderr) == (1, "", message + "\n")


def test_client_templates_say_when_no_line_comes(udp_template_port: int, tcp_template_port: int) -> None:
    for client, port in (("UDP_Client.py", udp_template_port), ("TCP_Client.py", tcp_template_port)):
        done = run_template(client, "127.0.0.1", str(port), stdin="")
        assert (done.returncode, done.stderr) == (1, "no input: type a line (or pipe one in)\n"), client


@pytest.fixture
def unused_tcp_port() -> int:
    """A port nothing listens on (bound, then released: nothing else takes it in that instant)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_tcp_client_template_reports_a_refused_connection(unused_tcp_port: int) -> None:
    done = run_template("TCP_Client.py", "127.0.0.1", str(unused_tcp_port), stdin="x\n")
    assert done.returncode == 1 and done.stderr.startswith(f"cannot connect to 127.0.0.1:{unused_tcp_port}: ")
    assert "Connection refused" in done.stderr
