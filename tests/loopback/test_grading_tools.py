"""The grader's in-container programs (scripts/lablib/grading/tools), run here on loopback."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

from tests.helpers import ROOT, wait_for

TOOLS = ROOT / "scripts" / "lablib" / "grading" / "tools"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_driver_runs_each_job_and_skips_on_skip(tmp_path: Path) -> None:
    (tmp_path / "b.go").write_text("skip")
    jobs = [
        {"role": "a", "argv": [sys.executable, "-c", "print('hi')"], "timeout": 20},
        {"role": "b", "argv": [sys.executable, "-c", "print('no')"], "timeout": 20, "go": 5},
        {"role": "c", "argv": [sys.executable, "-c", "import time; time.sleep(30)"], "timeout": 0.5},
    ]
    subprocess.run([sys.executable, str(TOOLS / "driver.py"), str(tmp_path), json.dumps(jobs)], check=True, timeout=60)
    a = json.loads((tmp_path / "a.json").read_text())
    assert (a["exit"], a["stdout"]) == (0, "hi\n")
    assert not (tmp_path / "b.json").exists()
    assert json.loads((tmp_path / "c.json").read_text())["timeout"] is True


def test_relay_and_connect_make_the_client_s_stdio_a_pipe(tmp_path: Path) -> None:
    port = free_port()
    client = "import sys; print('args', sys.argv[1:], flush=True); print('got', input(), flush=True)"
    relay = subprocess.Popen(
        [
            sys.executable,
            str(TOOLS / "relay.py"),
            str(port),
            sys.executable,
            "-c",
            client,
            "{host}",
            "{port}",
            "{name}",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        connect = [sys.executable, str(TOOLS / "connect.py"), "127.0.0.1", str(port), "10.0.0.1", "12002", "Tester"]
        done = subprocess.run(connect, input="hello\n", capture_output=True, text=True, timeout=30)
        assert done.stdout.splitlines() == ["args ['10.0.0.1', '12002', 'Tester']", "got hello"]
        # A menu-driven client: the config's stdin lines arrive before the checker's input.
        done = subprocess.run([*connect, "typed first"], input="x\n", capture_output=True, text=True, timeout=30)
        assert done.stdout.splitlines()[-1] == "got typed first"
        assert wait_for(lambda: relay.stdout and "relay: starting" in relay.stdout.readline())
    finally:
        relay.kill()
        relay.wait()


def test_feed_types_the_lines_and_keeps_stdin_open() -> None:
    program = (
        "import select, sys; print(input(), input(), flush=True); "
        "ready = select.select([sys.stdin], [], [], 0.5)[0]; print('open' if not ready else 'eof', flush=True)"
    )
    done = subprocess.run(
        [sys.executable, str(TOOLS / "feed.py"), json.dumps(["2", "12002"]), sys.executable, "-c", program],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert (done.returncode, done.stdout) == (0, "2 12002\nopen\n")


def test_feed_passes_the_exit_status_on() -> None:
    command = [sys.executable, str(TOOLS / "feed.py"), "[]", sys.executable, "-c", "raise SystemExit(7)"]
    assert subprocess.run(command, timeout=30).returncode == 7
