"""A grade run cleans up after anything: Ctrl-C (once or twice), SIGTERM, SIGHUP, and even SIGKILL.

Each run grades two copies of a correct program on the calculator server part
(`scripts/lab grade`'s own entry point, in a process of its own). A signal
while teams are being graded must leave nothing with the run's label. After a
SIGKILL the run's containers end by themselves within its time limits, and the
next run removes what is left before it starts.
"""

from __future__ import annotations

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

sys.path.insert(0, str(ROOT / "scripts"))
from lablib import common, sandbox  # noqa: E402
from lablib.grading import config as grading_config  # noqa: E402
from lablib.grading import run as grading_run  # noqa: E402

from .grade_runs import leftovers, owner_of  # noqa: E402

pytestmark = pytest.mark.slow

GOOD = ROOT / "tests" / "fixtures" / "class" / "Lab2_Alpha.py"
CONFIG = """
timeouts: {listen: 5, check: 15}
parts: {calc: {calc-server: {run: "python3 {file} calc-server {port}"}}}
"""
#: Seconds a run may take to end after the signal, cleanup included.
END_TIMEOUT = 120.0


def grade_owners(client: Any) -> set[str]:
    return sandbox.runs.owners(client, sandbox.GRADE_PREFIX)


def owned(client: Any, owner: str) -> list[Any]:
    label = {"label": f"{sandbox.OWNER_LABEL}={owner}"}
    return client.containers.list(all=True, filters=label, sparse=True) + client.networks.list(filters=label)


@pytest.fixture
def work(docker_client: Any, tmp_path: Path) -> Path:
    common.ensure_images()
    (tmp_path / "class").mkdir()
    for team in ("A", "B"):
        shutil.copy(GOOD, tmp_path / "class" / f"Lab2_{team}.py")
    (tmp_path / "grading.yaml").write_text(CONFIG)
    return tmp_path


def start_run(work: Path, out: str) -> subprocess.Popen[bytes]:
    argv = [sys.executable, "-m", "lablib.verbs", "grade", str(work / "class"), "--config", str(work / "grading.yaml")]
    argv += ["--out", str(work / out), "--jobs", "2", "--no-build"]
    env = {**os.environ, "PYTHONPATH": str(ROOT / "scripts")}
    return subprocess.Popen(argv, cwd=ROOT, env=env, start_new_session=True, stderr=subprocess.PIPE)


def new_run_with_students(client: Any, proc: subprocess.Popen[bytes]) -> str:
    """The owner of ``proc``'s run (not another grader's on this engine), once its students' containers exist."""

    def found() -> str:
        for owner in grade_owners(client) & {owner_of(proc.pid)}:
            label = {"label": f"{sandbox.OWNER_LABEL}={owner}"}
            names = [c.attrs["Names"][0] for c in client.containers.list(filters=label, sparse=True)]
            if any(name.endswith("-calc-server") for name in names):
                return owner
        return ""

    return str(wait_for(found, timeout=90, interval=0.2, what="the run's students to start"))


@pytest.mark.parametrize(
    "signals",
    [("SIGINT",), ("SIGINT", "SIGINT"), ("SIGTERM",), ("SIGHUP",)],
    ids=["ctrl-c", "ctrl-c-twice", "sigterm", "sighup"],
)
def test_a_signal_leaves_nothing(docker_client: Any, work: Path, signals: tuple[str, ...]) -> None:
    proc = start_run(work, "out")
    try:
        owner = new_run_with_students(docker_client, proc)
        for name in signals:
            proc.send_signal(getattr(signal, name))
            time.sleep(0.5)
        proc.wait(timeout=END_TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, proc.stderr.read().decode() if proc.stderr else ""
    assert leftovers(docker_client, owner) == []
    assert not sandbox.is_alive(owner)


def test_after_sigkill_containers_end_and_the_next_run_sweeps(docker_client: Any, work: Path) -> None:
    killed = start_run(work, "killed")
    owner = new_run_with_students(docker_client, killed)
    killed.kill()
    killed.wait()
    assert owned(docker_client, owner), "the run left nothing to test with"
    config = grading_config.load_config(work / "grading.yaml")
    lifetime = grading_run.lifetime(config)
    label = {"label": f"{sandbox.OWNER_LABEL}={owner}"}

    def all_stopped() -> bool:
        return not docker_client.containers.list(filters=label, sparse=True)  # running ones only

    wait_for(all_stopped, timeout=lifetime + 30, interval=1, what="the killed run's containers to end")
    assert not sandbox.is_alive(owner)
    following = start_run(work, "next")
    following.wait(timeout=END_TIMEOUT * 2)
    assert following.returncode == 0, following.stderr.read().decode() if following.stderr else ""
    assert leftovers(docker_client, owner) == []
