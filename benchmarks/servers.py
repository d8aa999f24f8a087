"""The servers under test, each started as a child process on loopback and pinned to its own core.

* ``socklab``: ``python3 -m services chat-server`` (or calc/datetime), the lab's own servers;
* ``threaded``: :mod:`benchmarks.threaded_chat`, the course's thread-per-client skeleton;
* ``ngircd`` / ``ngircd-nopenalty``: the C IRC server from Debian, with a configuration
  the benchmark writes itself (see :mod:`benchmarks.ngircd`).

A server's output goes to a file, never a pipe, so a chatty server cannot block
on a full pipe nobody reads. Its memory (VmRSS) and CPU time come from /proc.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks import ngircd, threaded_chat
from benchmarks.dialects import CHAT, IRC, Dialect

ROOT = Path(__file__).resolve().parent.parent
#: The tree socklab's servers run from (``python3 -m benchmarks --services DIR``: another checkout's
#: servers under this harness, so two versions are compared with the same load generator).
SERVICES_ROOT = ROOT
LISTEN_RE = re.compile(r"listening on (?P<host>[^\s:]+):(?P<port>\d+)/(?P<proto>tcp|udp)")
#: Generous: on a machine shared with other work a Python server can take seconds to start.
START_TIMEOUT = 30.0
STOP_TIMEOUT = 5.0
CLK_TCK = os.sysconf("SC_CLK_TCK")
#: Cores: the server gets one, the generator the other (when there are two and taskset exists).
SERVER_CPU = 0
GENERATOR_CPU = 1


def pinning_available() -> bool:
    return shutil.which("taskset") is not None and (os.cpu_count() or 1) >= 2


def pin_generator() -> bool:
    """Pin this process (the generator) to its core; True if done."""
    if not pinning_available():
        return False
    os.sched_setaffinity(0, {GENERATOR_CPU})
    return True


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class ServerSpec:
    """How to start one kind of server. ``{port}`` in the command is filled in with a free port."""

    name: str
    dialect: Dialect | None
    argv: list[str]
    #: Paced join storm: at most this many clients logging in at once (None: all at once).
    join_pacing: int | None = None
    #: Stock IRC flood control: the most messages per second one client may send.
    per_client_rate: float | None = None
    #: ngircd: True for stock penalties, False for MaxPenaltyTime = 0; None otherwise.
    irc_penalties: bool | None = None
    note: str = ""


def python_server(name: str, program: list[str], dialect: Dialect | None = CHAT) -> ServerSpec:
    return ServerSpec(name, dialect, [sys.executable, *program, "--host", "127.0.0.1", "--port", "0"])


CHAT_SERVERS: dict[str, ServerSpec] = {
    "socklab": python_server("socklab", ["-m", "services", "chat-server"]),
    "threaded": ServerSpec(
        "threaded",
        CHAT,
        python_server("threaded", ["-m", "benchmarks.threaded_chat"]).argv,
        join_pacing=threaded_chat.LISTEN_BACKLOG,
        note=f"the skeleton's listen({threaded_chat.LISTEN_BACKLOG}): join storm paced to its backlog",
    ),
    "ngircd": ServerSpec(
        "ngircd",
        IRC,
        [],
        join_pacing=ngircd.JOIN_PACING,
        per_client_rate=ngircd.STOCK_CLIENT_RATE,
        irc_penalties=True,
        note=f"stock flood control: each client kept at {ngircd.STOCK_CLIENT_RATE:g} msg/s",
    ),
    "ngircd-nopenalty": ServerSpec(
        "ngircd-nopenalty",
        IRC,
        [],
        join_pacing=ngircd.JOIN_PACING,
        irc_penalties=False,
        note="MaxPenaltyTime = 0: no per-client throttle",
    ),
}

CALC = python_server("socklab-calc", ["-m", "services", "calc-server"], dialect=None)
DATETIME = python_server("socklab-datetime", ["-m", "services", "datetime-server"], dialect=None)


@dataclass
class Server:
    spec: ServerSpec
    pin: bool = True
    port: int = 0
    proc: subprocess.Popen | None = None
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="socklab-bench-")))

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    @property
    def log_path(self) -> Path:
        return self.workdir / "server.log"

    def start(self) -> Server:
        argv = list(self.spec.argv)
        if self.spec.irc_penalties is not None:
            self.port = free_port()
            conf = ngircd.write_config(self.workdir, self.port, penalties=self.spec.irc_penalties)
            argv = ngircd.command(conf)
        if self.pin and pinning_available():
            argv = ["taskset", "-c", str(SERVER_CPU), *argv]
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(SERVICES_ROOT)}
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(argv, cwd=SERVICES_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            self._wait_ready()
        except BaseException:
            self.stop()  # a server too slow to start must not outlive the benchmark
            raise
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        assert self.proc is not None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.spec.name} exited with {self.proc.returncode}: {self.log_tail()}")
            if self.port:
                with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            else:
                m = LISTEN_RE.search(self.log_path.read_text(errors="replace"))
                if m:
                    self.port = int(m["port"])
                    return
            time.sleep(0.02)
        raise RuntimeError(f"{self.spec.name} not ready within {START_TIMEOUT} s: {self.log_tail()}")

    def log_tail(self, lines: int = 5) -> str:
        try:
            return " | ".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def rss_kb(self) -> int | None:
        try:
            for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        except OSError:
            return None
        return None

    def cpu_seconds(self) -> float | None:
        try:
            fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime + stime

    def threads(self) -> int | None:
        try:
            return len(os.listdir(f"/proc/{self.pid}/task"))
        except OSError:
            return None

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(STOP_TIMEOUT)
        shutil.rmtree(self.workdir, ignore_errors=True)
        return self.proc.returncode

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
