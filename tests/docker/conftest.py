"""One lab for the whole Docker session, always torn down; the containers' logs shown when a test fails.

The lab is a Compose project ``socklab-test-<random>`` on its own subnet
(172.29.N.0/24) and bridge (sltestN), so it never touches a student's running
``socklab`` lab. Without a Docker engine the tests are skipped, except in CI
(``CI=true``), where that is a failure: CI must not pass by testing nothing.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from typing import Any

import pytest

from ..helpers import ROOT
from .lab import Lab, in_ci
from .swarm import OneNodeSwarm

LAB = pytest.StashKey[Lab]()
FAILED = pytest.StashKey[list[str]]()


def _say(config: pytest.Config, text: str) -> None:
    """Print past pytest's output capture: a session fixture's teardown output is otherwise swallowed."""
    capman = config.pluginmanager.getplugin("capturemanager")
    if capman is None:
        print(text, flush=True)
        return
    with capman.global_and_fixture_disabled():
        print(text, flush=True)


@pytest.fixture(scope="session")
def docker_client() -> Any:
    from lablib import common  # on sys.path once .lab is imported

    try:
        return common.docker_client()
    except common.LabError as exc:
        if in_ci():
            pytest.fail(f"CI=true but Docker is not usable: {exc}", pytrace=False)
        pytest.skip(f"Docker tests need a Docker engine: {exc}")


@pytest.fixture(scope="session")
def lab(request: pytest.FixtureRequest, docker_client: Any) -> Iterator[Lab]:
    config = request.config
    config.stash[FAILED] = []
    # CI stops a run with SIGTERM: unwind like Ctrl-C so the finally below still removes the lab.
    previous = signal.signal(signal.SIGTERM, signal.default_int_handler)
    started = time.monotonic()
    lab = Lab.start(docker_client)  # tears itself down if it cannot come up
    _say(config, f"\nlab {lab.project} up on {lab.prefix}.0/24 ({lab.bridge}) in {time.monotonic() - started:.1f} s")
    config.stash[LAB] = lab
    try:
        yield lab
    finally:
        failed = config.stash[FAILED]
        if failed:
            lab.keep_capture = True
            _say(
                config, f"\n===== lab logs ({len(failed)} failed: {', '.join(failed)}) =====\n{lab.all_logs(tail=200)}"
            )
            _say(config, f"capture kept in {lab.captures}")
        del config.stash[LAB]
        problems = lab.teardown()
        signal.signal(signal.SIGTERM, previous)
        assert not problems, "lab teardown: " + "; ".join(problems)


@pytest.fixture(scope="session")
def one_node_swarm(docker_client: Any) -> Iterator[OneNodeSwarm]:
    """A one-node swarm for the session (tests/docker/swarm.py): initialised only if the engine is in none."""
    swarm = OneNodeSwarm(docker_client)
    try:
        swarm.join({**os.environ, "PYTHONPATH": str(ROOT / "scripts")})
    except RuntimeError as exc:
        problems = swarm.leave()
        pytest.fail(f"{exc}; {problems}")
    try:
        yield swarm
    finally:
        problems = swarm.leave()
        assert not problems, "; ".join(problems)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Note each failed test; attach the lab's recent logs to its report while the containers still exist."""
    report = yield
    if report.failed and LAB in item.config.stash:
        item.config.stash[FAILED].append(item.nodeid)
        try:
            report.sections.append(("lab logs (recent)", item.config.stash[LAB].all_logs(tail=30)))
        except Exception as exc:  # the report must never fail because logs could not be read
            report.sections.append(("lab logs", f"could not read them: {exc!r}"))
    return report
