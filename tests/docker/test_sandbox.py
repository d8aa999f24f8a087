"""The sandbox contains hostile submissions, reports what each did, and leaves the host and the others alone.

Six submissions are graded at once (calc-server only): a well-behaved one, a fork bomb,
a memory hog, an endless output stream, a program writing outside its tmpfs, and one
knocking at the Docker host's addresses (its network's gateway and 172.17.0.1) on a
port where this test listens. Each hostile one must be contained and reported; the
good one must still get full marks; the host must see no connection and be able to
start processes and containers as before.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ..helpers import ROOT

sys.path.insert(0, str(ROOT / "scripts"))
from lablib import common, sandbox  # noqa: E402
from lablib import grading as grade  # noqa: E402

from .grade_runs import leftovers  # noqa: E402
from .sandboxing import grade_teams  # noqa: E402

CLASS = ROOT / "tests" / "fixtures" / "class"
HOSTILE = ("ForkBomb", "MemoryHog", "Flood", "Vandal", "Escape")
CONFIG = """
level: lab
timeouts: {{listen: 6, check: 30}}
parts:
  calc:
    calc-server: {{run: "python3 {{file}} calc-server {{port}} {knock}"}}
"""


@pytest.fixture(scope="module")
def knocked() -> Iterator[tuple[int, list[Any]]]:
    """A TCP listener on every host address (the hostile program aims at it), and who connected."""
    listener = socket.create_server(("0.0.0.0", 0))
    listener.settimeout(0.2)
    seen: list[Any] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, peer = listener.accept()
            except OSError:
                continue
            seen.append(peer)
            conn.close()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1], seen
    finally:
        stop.set()
        thread.join(2)
        listener.close()


@pytest.fixture(scope="module")
def graded(docker_client: Any, knocked: tuple[int, list[Any]], tmp_path_factory: pytest.TempPathFactory) -> Any:
    started = time.monotonic()
    teams, grader = grade_teams(
        tmp_path_factory.mktemp("sandbox"), ("Alpha", *HOSTILE), CONFIG.format(knock=knocked[0])
    )
    return teams, time.monotonic() - started, grader


def role(graded: Any, team: str) -> grade.RoleResult:
    return graded[0][team].roles[0]


def test_the_good_submission_is_unaffected(graded: Any) -> None:
    alpha = graded[0]["Alpha"]
    assert alpha.score == alpha.max_score, grade.team_markdown(alpha)
    assert role(graded, "Alpha").problems == []


def test_fork_bomb_is_stopped_by_the_process_limit(graded: Any) -> None:
    result = role(graded, "ForkBomb")
    assert any("process limit" in p for p in result.problems), result.problems
    assert graded[0]["ForkBomb"].score == 0


def test_memory_hog_is_killed_at_its_limit(graded: Any) -> None:
    result = role(graded, "MemoryHog")
    assert any("out of memory" in p for p in result.problems), (result.status, result.problems, result.output[-300:])
    assert "exited (status 137)" in result.status
    held = [int(line.split()[1]) for line in result.output.splitlines() if line.startswith("holding")]
    assert held and max(held) < sandbox.Limits().memory_mb, result.output[-500:]


def test_endless_output_is_cut_and_reported(graded: Any) -> None:
    result = role(graded, "Flood")
    assert any("flooded its output" in p for p in result.problems), result.problems
    assert len(result.output) <= sandbox.OUTPUT_SHOWN
    log = graded[2].out / "teams" / "Flood" / result.log
    assert log.stat().st_size <= sandbox.OUTPUT_SHOWN * 4


def test_writes_outside_the_tmpfs_are_refused(graded: Any) -> None:
    result = role(graded, "Vandal")
    lines = result.output.splitlines()
    assert not [line for line in lines if line.startswith("WROTE /") and "/tmp/ok.txt" not in line], lines
    assert "WROTE /tmp/ok.txt" in lines
    denied = [line for line in lines if line.startswith("denied")]
    assert len(denied) == 8, lines  # 7 paths outside /tmp, and /tmp is full at its size
    assert any("Read-only file system" in line for line in denied)
    assert any("No space left on device" in line and "/tmp/filler" in line for line in denied)
    filled = int(next(line for line in denied if "/tmp/filler" in line).split()[3])
    assert filled <= sandbox.Limits().tmpfs_mb
    graded_copy = graded[2].out.parent / "class" / "Lab2_Vandal.py"
    assert graded_copy.read_text() == (CLASS / "Lab2_Vandal.py").read_text()  # nothing appended
    assert "exited (status 3)" in result.status


def test_the_docker_host_is_out_of_reach(graded: Any, knocked: tuple[int, list[Any]]) -> None:
    result = role(graded, "Escape")
    lines = result.output.splitlines()
    assert not any(line.startswith("ESCAPED") for line in lines), lines
    assert sum(line.startswith("blocked:") for line in lines) == 8, lines
    assert any("172.17.0.1" in line for line in lines)
    assert any("tried to reach" in p for p in result.problems), result.problems
    assert knocked[1] == [], f"the host accepted connections from {knocked[1]}"


def test_the_host_is_unaffected(graded: Any, docker_client: Any) -> None:
    _teams, seconds, _grader = graded
    assert seconds < 120, f"grading six submissions took {seconds:.0f} s"
    # Processes and containers still start at once after all that.
    started = time.monotonic()
    assert subprocess.run(["true"]).returncode == 0
    docker_client.containers.run(common.IMAGE, entrypoint=["true"], remove=True, network_mode="none")
    assert time.monotonic() - started < 15
    assert os.getloadavg() is not None


def test_nothing_is_left_behind(graded: Any, docker_client: Any) -> None:
    assert leftovers(docker_client, graded[2].run_id) == []


def test_results_are_reported_per_team(graded: Any) -> None:
    out: Path = graded[2].out
    for team in ("Alpha", *HOSTILE):
        grade.write_team(out, graded[0][team])
        assert (out / "teams" / team / "results.json").is_file()
        assert (out / "teams" / team / "calc-server.pcap").is_file()
