"""Helpers for tests that run the real programs: start a process, talk to it, expect replies.

Modelled on miniircd's send/expect test client: every expectation has a
timeout and reports what actually arrived, so a failure says what went wrong.
"""

from __future__ import annotations

import os
import re
import socket
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from services.check import CaseResult
from services.check.process import Process

ROOT = Path(__file__).resolve().parent.parent
#: Student-style submissions (tests/fixtures/students/README.md).
STUDENTS = ROOT / "tests" / "fixtures" / "students"
TIMEOUT = 5.0
#: Starting a Python program can take seconds on a loaded machine; replies after that get TIMEOUT.
STARTUP_TIMEOUT = 20.0
LISTEN_RE = re.compile(r"listening on (?P<host>[^\s:]+):(?P<port>\d+)/(?P<proto>tcp|udp)")


def wait_for(cond: Callable[[], object], timeout: float = TIMEOUT, interval: float = 0.02, what: str = "") -> object:
    """Poll ``cond`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = cond()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what or cond}")
        time.sleep(interval)


class Child(Process):
    """A child process for a test (see ``services.check.process``), plus waits on its output."""

    def wait_line(self, pattern: str, timeout: float = TIMEOUT) -> re.Match[str]:
        """Wait for an output line matching the regex ``pattern``; return the match."""
        rx = re.compile(pattern)

        def found() -> re.Match[str] | None:
            return next((m for m in map(rx.search, list(self.lines)) if m), None)

        try:
            return wait_for(found, timeout, what=f"output matching {pattern!r}")  # type: ignore[return-value]
        except AssertionError:
            raise AssertionError(f"no line matching {pattern!r}; output so far:\n{self.output()}") from None

    def listening_port(self, timeout: float = STARTUP_TIMEOUT) -> int:
        """Servers print ``... listening on HOST:PORT/PROTO`` once ready; started with --port 0 this says which port."""
        return int(self.wait_line(LISTEN_RE.pattern, timeout)["port"])

    def wait(self, timeout: float | None = TIMEOUT) -> int:
        return super().wait(timeout)

    def stop(self, timeout: float = TIMEOUT) -> int:
        """SIGTERM, then SIGKILL if it does not exit in time."""
        return super().stop(timeout)

    def __enter__(self) -> Child:
        return self


class Program(Child):
    """``python3 -m services NAME ...`` as a child process, its output collected line by line."""

    def __init__(self, name: str, *args: str, env: dict[str, str] | None = None, stdin: bool = False) -> None:
        full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
        super().__init__([sys.executable, "-m", "services", name, *args], cwd=ROOT, env=full_env, stdin=stdin)

    def __enter__(self) -> Program:
        return self


@contextmanager
def listening(name: str, *args: str) -> Iterator[Program]:
    """Server ``name`` on 127.0.0.1 and a free port, yielded once it has said which port it listens on."""
    with Program(name, "--host", "127.0.0.1", "--port", "0", *args) as prog:
        prog.listening_port()
        yield prog


class LineClient:
    """A raw TCP client speaking lines: ``send`` a line, ``expect`` the exact next line."""

    def __init__(self, port: int, host: str = "127.0.0.1", timeout: float = TIMEOUT) -> None:
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.settimeout(timeout)
        self.buf = b""

    def send(self, text: str) -> None:
        self.sock.sendall(text.encode("utf-8") + b"\n")

    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def read_line(self) -> str:
        """The next line, without its LF; raises on timeout or EOF with what was buffered."""
        while b"\n" not in self.buf:
            try:
                chunk = self.sock.recv(65536)
            except TimeoutError:
                raise AssertionError(f"no complete line within the timeout; buffered {self.buf!r}") from None
            if not chunk:
                raise AssertionError(f"connection closed; buffered {self.buf!r}")
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\n")
        return line.decode("utf-8").removesuffix("\r")

    def expect(self, expected: str | re.Pattern[str]) -> str:
        line = self.read_line()
        if isinstance(expected, re.Pattern):
            assert expected.fullmatch(line), f"expected /{expected.pattern}/, got {line!r}"
        else:
            assert line == expected, f"expected {expected!r}, got {line!r}"
        return line

    def converse(self, steps: Iterable[tuple[bytes, Sequence[str]]]) -> None:
        """For each step, send its raw bytes, then expect each of its reply lines in order."""
        for data, replies in steps:
            self.send_raw(data)
            for reply in replies:
                self.expect(reply)

    def expect_closed(self) -> None:
        """The server closed the connection (EOF) with nothing more to say."""
        while True:
            try:
                chunk = self.sock.recv(65536)
            except TimeoutError:
                raise AssertionError("connection still open") from None
            except ConnectionResetError:
                return
            if not chunk:
                assert not self.buf, f"unread data before EOF: {self.buf!r}"
                return
            self.buf += chunk

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> LineClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def udp_request(port: int, payload: bytes, host: str = "127.0.0.1", timeout: float = TIMEOUT) -> bytes:
    """Send one datagram and return the one reply."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.sendto(payload, (host, port))
        data, _ = s.recvfrom(65535)
        return data


def failed(results: list[CaseResult]) -> set[str]:
    """Checker cases that ran and failed."""
    return {r.name for r in results if r.ran and not r.passed}


def not_run(results: list[CaseResult]) -> set[str]:
    return {r.name for r in results if not r.ran}


@contextmanager
def student(file: str, role: str) -> Iterator[int]:
    """A student fixture's server on an ephemeral port (it prints "Server ready on port N")."""
    with Child([sys.executable, str(STUDENTS / file), role, "0"]) as proc:
        yield int(proc.wait_line(r"port (\d+)")[1])
