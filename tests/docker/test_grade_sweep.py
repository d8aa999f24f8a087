"""The sweep right after a grader was killed outright: nothing of that run is left, not even late arrivals.

A run killed with SIGKILL while it creates its sandboxes leaves the engine
finishing the requests it had sent: a container can appear after the next
sweep listed the run's resources. ``sandbox.sweep_abandoned`` looks again
while such a run still has containers; here it runs at once after the kill
(test_grade_cleanup.py waits until the killed run's containers ended first).
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from ..helpers import ROOT, wait_for
from .test_grade_cleanup import owned, start_run, work  # noqa: F401  (work: a fixture)

sys.path.insert(0, str(ROOT / "scripts"))
from lablib import sandbox  # noqa: E402

from .grade_runs import owner_of  # noqa: E402

pytestmark = pytest.mark.slow


def first_container_of(client: Any, proc: subprocess.Popen[bytes]) -> str:
    """The owner of ``proc``'s run, as soon as it has a container (holders come first)."""

    def found() -> str:
        owner = owner_of(proc.pid)
        label = {"label": f"{sandbox.OWNER_LABEL}={owner}"}
        return owner if owner and client.containers.list(all=True, filters=label, sparse=True) else ""

    return str(wait_for(found, timeout=90, interval=0.1, what="the run's first container"))


def test_a_sweep_at_once_after_sigkill_leaves_nothing(docker_client: Any, work: Path) -> None:  # noqa: F811
    killed = start_run(work, "killed")
    try:
        owner = first_container_of(docker_client, killed)
        killed.kill()  # while it is still creating its teams' sandboxes
        killed.wait(timeout=30)
    finally:
        if killed.poll() is None:
            killed.kill()
            killed.wait()
    assert owned(docker_client, owner), "the run left nothing to test with"
    started = time.monotonic()
    swept, problems = sandbox.sweep_abandoned(docker_client, sandbox.GRADE_PREFIX)
    seconds = time.monotonic() - started
    assert owner in swept
    assert problems == []
    assert owned(docker_client, owner) == []
    print(f"swept {len(swept)} dead run(s) in {seconds:.1f} s")
