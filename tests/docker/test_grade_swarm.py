"""`scripts/lab grade --swarm` on the one-node swarm: the same verdicts as a local run, and nothing left behind.

A part of tests/fixtures/class (a correct program, one with a faulty client, one
that crashes, one that runs out of memory) is graded twice with the same
config: as Swarm tasks and locally. Both must give the same verdict for every
case, the same status and problems for every role of the teams whose reasons do
not depend on the machine's load, an out-of-memory kill seen (read from the node's
cgroups inside the task), and the same files per team.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from ..helpers import ROOT, wait_for
from .swarm import OneNodeSwarm

sys.path.insert(0, str(ROOT / "scripts"))
from lablib import common  # noqa: E402
from lablib import grading as grade  # noqa: E402
from lablib.swarm import grade as swarm_grade  # noqa: E402

pytestmark = pytest.mark.slow

CLASS = ROOT / "tests" / "fixtures" / "class"
TEAMS = ("Alpha", "Crash", "Foxtrot", "MemoryHog")
CONFIG = """
level: lab
points: 1
timeouts: {listen: 30, check: 90}  # generous: two runs on a busy machine must agree
parts:
  udp-echo:
    udp-echo-server: {run: "python3 {file} udp-echo-server {port}"}
  calc:
    calc-server: {run: "python3 {file} calc-server {port}", points: {calc.concurrent-sessions: 2}}
    calc-client: {run: "python3 {file} calc-client {host} {port} {name}"}
  chat:
    chat-server: {run: "python3 {file} chat-server {port}"}
"""
#: Seconds for a stopped run to remove its services, configs and the tasks' sandboxes.
STOP_TIMEOUT = 180
#: Seconds until a task has started its team's sandbox (the task image built, the task placed).
SANDBOX_TIMEOUT = 240
#: The files every graded team gets, both ways (pcaps, logs, reports).
TEAM_FILES = {"report.md", "results.json", "calc-server.pcap", "logs/calc-server.log"}


def run_state(client: Any) -> set[str]:
    """What of swarm grade runs exists now: services, configs, and containers and networks on this node.

    Everything such a run makes carries its label, the sandboxes its tasks start too
    (a local run beside it, another helper's, is not counted).
    """
    label = {"label": swarm_grade.RUN_LABEL}
    found = {f"service {s.name}" for s in client.services.list(filters=label)}
    found |= {f"config {c.name}" for c in client.configs.list(filters=label)}
    found |= {f"container {c.name}" for c in client.containers.list(all=True, filters=label, ignore_removed=True)}
    return found | {f"network {n.name}" for n in client.networks.list(filters=label)}


def make_class(work: Path) -> tuple[Path, Path]:
    klass = work / "class"
    klass.mkdir()
    for team in TEAMS:
        shutil.copy(CLASS / f"Lab2_{team}.py", klass)
    config = work / "grading.yaml"
    config.write_text(CONFIG)
    return klass, config


@pytest.fixture(scope="module")
def graded(
    docker_client: Any, one_node_swarm: OneNodeSwarm, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    common.ensure_images()
    work = tmp_path_factory.mktemp("grade-swarm")
    klass, config = make_class(work)
    found: dict[str, Any] = {}
    before = run_state(docker_client)
    for way, extra in (("swarm", ["--swarm"]), ("local", [])):
        out = work / way
        started = time.monotonic()
        code = grade.main([str(klass), "--config", str(config), "--out", str(out), "--no-build", *extra])
        found[way] = {"code": code, "out": out, "seconds": time.monotonic() - started}
        found[way]["left"] = run_state(docker_client) - before
        found[way]["summary"] = json.loads((out / "summary.json").read_text())
    times = ", ".join(f"{way} {found[way]['seconds']:.1f} s" for way in found)
    print(f"\ngraded {len(TEAMS)} teams: {times}")
    return found


def test_swarm_grading_gives_the_local_verdicts(graded: dict[str, Any]) -> None:
    swarm, local = graded["swarm"]["summary"], graded["local"]["summary"]
    assert graded["swarm"]["code"] == graded["local"]["code"] == 0
    assert sorted(swarm["verdicts"]) == sorted(TEAMS)
    assert swarm["verdicts"] == local["verdicts"]
    failed = {t: sorted(c for c, v in cases.items() if v != "pass") for t, cases in swarm["verdicts"].items()}
    assert failed["Alpha"] == [] and failed["Foxtrot"] == ["calc-client/calc-client.no-malformed-lines"]
    assert len(failed["Crash"]) == len(swarm["verdicts"]["Crash"])  # nothing passes


def test_swarm_grading_gives_the_local_statuses_and_problems(graded: dict[str, Any]) -> None:
    def roles(summary: dict[str, Any]) -> dict[str, Any]:
        return {t["team"]: t["roles"] for t in summary["teams"]}

    swarm, local = roles(graded["swarm"]["summary"]), roles(graded["local"]["summary"])
    # MemoryHog's reason varies with the machine's load, in either way of grading (killed before it
    # listens, or still not listening at the listen timeout): only its verdicts must agree (above).
    steady = [team for team in TEAMS if team != "MemoryHog"]
    assert {t: swarm[t] for t in steady} == {t: local[t] for t in steady}
    assert swarm["Crash"]["calc-server"]["status"].startswith("exited (status 1) before listening")
    # The node's cgroups and the kill's cause, read inside the task: a program killed (status 137)
    # is said to have run out of memory, as locally. (Whether it dies before the listen timeout
    # depends on the load: on a busy machine it may still be growing when its checks end.)
    for role, found in swarm["MemoryHog"].items():
        if "status 137" in found["status"]:
            assert any("out of memory" in p for p in found["problems"]), (role, found)


def test_each_team_gets_its_files_back_from_the_task(graded: dict[str, Any]) -> None:
    out: Path = graded["swarm"]["out"]
    for team in TEAMS:
        have = {str(p.relative_to(out / "teams" / team)) for p in (out / "teams" / team).rglob("*") if p.is_file()}
        assert have >= TEAM_FILES, (team, sorted(have))
        local = graded["local"]["out"] / "teams" / team
        assert have == {str(p.relative_to(local)) for p in local.rglob("*") if p.is_file()}
    assert (out / "teams" / "Alpha" / "calc-server.pcap").stat().st_size > 24  # more than a pcap header
    assert "| Alpha" in (out / "summary.md").read_text() or "[Alpha]" in (out / "summary.md").read_text()


def test_nothing_of_either_run_is_left(graded: dict[str, Any]) -> None:
    assert graded["swarm"]["left"] == set()  # the local run's own cleanup: tests/docker/test_grade.py
    leftovers = [p for p in Path(swarm_grade.WORK_DIR).glob(f"{swarm_grade.RUN_PREFIX}*")]
    assert leftovers == []


def test_a_stopped_run_removes_its_services_configs_and_sandboxes(
    docker_client: Any, graded: dict[str, Any], tmp_path: Path
) -> None:
    """SIGTERM while the tasks grade: the run removes its services; each task removes its team's sandbox."""
    klass, config = make_class(tmp_path)
    before = run_state(docker_client)
    argv = [sys.executable, "-m", "lablib.verbs", "grade", str(klass), "--config", str(config), "--swarm"]
    argv += ["--out", str(tmp_path / "out"), "--no-build"]
    env = {**os.environ, "PYTHONPATH": str(ROOT / "scripts")}
    proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        # A holder or program container of a team: the task is grading on the node.
        wait_for(
            lambda: (
                proc.poll() is not None
                or any(n.startswith("container slgrade-") for n in run_state(docker_client) - before)
            ),
            SANDBOX_TIMEOUT,
            interval=0.5,
            what="a task's sandbox",
        )
        running = proc.poll() is None
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=STOP_TIMEOUT)
        assert running, f"the run ended before a sandbox was seen: {output}"
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, output
    assert "interrupted: removing this run's services and configs" in output
    assert run_state(docker_client) - before == set(), output
    assert not list(Path(swarm_grade.WORK_DIR).glob(f"{swarm_grade.RUN_PREFIX}*"))
