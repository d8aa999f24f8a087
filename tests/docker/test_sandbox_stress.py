"""Many sandboxes created and removed the grader's way leave no network that cannot be removed.

Docker 20.10 can keep a stale endpoint on a network ("has active endpoints"
with no container attached) when endpoints are torn down in a racy order, and
only an engine restart clears it. The grader never disconnects anything and
removes a namespace's guests (students) before its holder, each gone before
the next. Here TEAMS team networks with two sandboxes each (a capturing holder
and a student program) are set up and torn down, JOBS at once, half of them
while the students still run (the error path), half after stopping them (the
normal path). Every network must be removed, and nothing of the test remain.
"""

from __future__ import annotations

import secrets
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from ..helpers import ROOT

sys.path.insert(0, str(ROOT / "scripts"))
from lablib import common, sandbox  # noqa: E402
from lablib.grading.network import SubnetPool  # noqa: E402

pytestmark = pytest.mark.slow

TEAMS = 100
ROLES_PER_TEAM = 2  # so 200 sandboxes
JOBS = 6


def one_team(client: Any, pool: SubnetPool, owner: str, index: int, program: Path, captures: Path) -> list[str]:
    labels = {sandbox.OWNER_LABEL: owner, sandbox.HOST_LABEL: sandbox.host_name()}
    resources = sandbox.Resources(client)
    network = None
    try:
        network = pool.create(f"{owner}-{index:03d}", labels, resources)
        students = []
        for role in range(ROLES_PER_TEAM):
            holder = sandbox.start_holder(
                client,
                resources,
                name=f"{owner}-{index:03d}-{role}-net",
                network=network.name,
                ip=network.role_ip(role),
                subnet=network.subnet,
                labels=labels,
                capture=captures / f"{index:03d}.pcap" if role == 0 else None,  # one capture per team: faster
                lifetime=120,
                image=common.IMAGE,
            )
            students.append(
                sandbox.start_student(
                    client,
                    resources,
                    name=f"{owner}-{index:03d}-{role}",
                    holder=holder,
                    submission=program,
                    argv=["python3", f"{sandbox.SUBMISSION_DIR}/{program.name}"],
                    labels=labels,
                    limits=sandbox.Limits(),
                    image=common.STUDENT_IMAGE,
                    lifetime=120,
                )
            )
        if index % 2:  # the normal path: programs stopped first, as after observing them
            common.stop_all(students, sandbox.STOP_TIMEOUT)
    finally:
        problems = resources.close()
        if network is not None:
            pool.give_back(network.n)
    return problems


def test_hundreds_of_sandboxes_leave_no_network_behind(docker_client: Any, tmp_path: Path) -> None:
    common.ensure_images()
    owner = f"slstress-{secrets.token_hex(3)}"
    program = tmp_path / "sleeper.py"
    program.write_text("import time\nprint('up', flush=True)\ntime.sleep(600)\n")
    client = docker_client
    pool = SubnetPool(client)
    label = {"label": f"{sandbox.OWNER_LABEL}={owner}"}
    try:
        with ThreadPoolExecutor(max_workers=JOBS) as workers:
            runs = [workers.submit(one_team, client, pool, owner, i, program, tmp_path) for i in range(TEAMS)]
            problems = [p for run in runs for p in run.result()]
        assert problems == []
        assert client.networks.list(filters=label) == []
        assert client.containers.list(all=True, filters=label) == []
    finally:
        left = sandbox.sweep(client, owner)
    assert left == [], left
