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
import shutil
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

CLASS = ROOT / "tests" / "fixtures" / "class"
HOSTILE = ("ForkBomb", "MemoryHog", "Flood", "Vandal", "Escape", "Cheat", "Tunnel", "NetFlood")
CONFIG = """
level: lab
timeouts: {{listen: 20, check: 30}}  # Cheat walks the whole filesystem first
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
def alone(docker_client: Any, knocked: tuple[int, list[Any]], tmp_path_factory: pytest.TempPathFactory) -> Any:
    """Alpha graded on its own, for comparison (verdicts and timing)."""
    common.ensure_images()
    work = tmp_path_factory.mktemp("alone")
    (work / "class").mkdir()
    shutil.copy(CLASS / "Lab2_Alpha.py", work / "class")
    (work / "grading.yaml").write_text(CONFIG.format(knock=knocked[0]))
    config = grade.load_config(work / "grading.yaml")
    client = grade.grade_client(1)
    grader = grade.Grader(client, config, work / "out", common.IMAGE)
    try:
        (team,) = grade.grade_class(grader, grade.find_submissions(work / "class", config.program_pattern), jobs=1)
    finally:
        left = sandbox.sweep(client, grader.run_id)
    assert not left, left
    return team


@pytest.fixture(scope="module")
def graded(docker_client: Any, knocked: tuple[int, list[Any]], tmp_path_factory: pytest.TempPathFactory) -> Any:
    common.ensure_images()
    work = tmp_path_factory.mktemp("sandbox")
    folder = work / "class"
    folder.mkdir()
    for team in ("Alpha", *HOSTILE):
        shutil.copy(CLASS / f"Lab2_{team}.py", folder)  # a copy: the grader refuses top-level symlinks
    config_path = work / "grading.yaml"
    config_path.write_text(CONFIG.format(knock=knocked[0]))
    config = grade.load_config(config_path)
    client = grade.grade_client(len(HOSTILE) + 1)
    grader = grade.Grader(client, config, work / "out", common.IMAGE)
    started = time.monotonic()
    try:
        teams = grade.grade_class(grader, grade.find_submissions(folder, config.program_pattern), jobs=len(HOSTILE) + 1)
    finally:
        left = sandbox.sweep(client, grader.run_id)
    assert not left, left
    return {t.submission.team: t for t in teams}, time.monotonic() - started, grader


def role(graded: Any, team: str) -> grade.RoleResult:
    return graded[0][team].roles[0]


def test_the_good_submission_is_unaffected(graded: Any, alone: Any) -> None:
    alpha = graded[0]["Alpha"]
    assert alpha.score == alpha.max_score, grade.team_markdown(alpha)
    assert role(graded, "Alpha").problems == []
    verdicts = grade.verdicts([alpha])["Alpha"]
    assert verdicts == grade.verdicts([alone])["Alpha"]
    # Its checks take about as long as when it is graded alone (a loaded machine varies: generous bounds).
    beside, by_itself = role(graded, "Alpha").check_seconds, alone.roles[0].check_seconds
    assert beside <= 3 * by_itself + 10, (beside, by_itself)


def test_the_network_flood_stays_in_its_own_network(graded: Any) -> None:
    result = role(graded, "NetFlood")
    assert graded[0]["NetFlood"].score == 0
    assert not any("outside its network" in p for p in result.problems), result.problems


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


def test_nothing_of_socklab_is_in_the_sandbox(graded: Any) -> None:
    result = role(graded, "Cheat")
    lines = result.output.splitlines()
    assert not [line for line in lines if "CHEATED" in line], lines
    assert "cheat: import services -> No module named 'services'" in lines
    assert "cheat: socklab files found: none" in lines
    assert "exited (status 1) before listening" in result.status
    assert graded[0]["Cheat"].score == 0
    report = grade.team_markdown(graded[0]["Cheat"])
    assert "No module named" in report and "exited (status 1)" in report  # the report says why


def test_no_way_out_through_the_resolver_ipv6_or_other_teams(graded: Any) -> None:
    result = role(graded, "Tunnel")
    lines = result.output.splitlines()
    assert not [line for line in lines if line.startswith("ESCAPED")], lines
    for start in (
        "blocked: resolver tcp - ",
        "blocked: resolver udp - ",
        "blocked: name lookup - ",
        "blocked: ipv6 addresses other than loopback: none",
        "blocked: other teams: 0 reached",
    ):
        assert any(line.startswith(start) for line in lines), (start, lines)
    assert any("resolver" in p for p in result.problems), result.problems
    assert any("outside its network" in p for p in result.problems), result.problems


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
    run_id = graded[2].run_id
    label = {"label": f"{sandbox.OWNER_LABEL}={run_id}"}
    assert docker_client.containers.list(all=True, filters=label) == []
    assert docker_client.networks.list(filters=label) == []


def test_results_are_reported_per_team(graded: Any) -> None:
    out: Path = graded[2].out
    for team in ("Alpha", *HOSTILE):
        grade.write_team(out, graded[0][team])
        assert (out / "teams" / team / "results.json").is_file()
        assert (out / "teams" / team / "calc-server.pcap").is_file()
