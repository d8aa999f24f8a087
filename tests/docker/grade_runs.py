"""Which grade run a `scripts/lab grade` process is, on an engine other runs share.

Other graders (a colleague's, another test session's) create runs on the same
engine at the same time, so "the run that appeared after I started mine" may
be theirs. A grader holds its run's lock file open for as long as it lives
(``sandbox.runs.RunLock``): the lock among the process's open files names its run.
"""

from __future__ import annotations

import os
import warnings
from contextlib import suppress
from pathlib import Path
from typing import Any

from lablib import sandbox
from lablib.grading.run import engine_faults


def owner_of(pid: int) -> str:
    """The run id of grader process ``pid`` (the lock it holds open), or "" while it holds none."""
    with suppress(OSError):
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            with suppress(OSError):
                target = Path(os.readlink(fd))
                if target.parent == sandbox.runs.LOCK_DIR and target.suffix == ".lock":
                    return target.stem
    return ""


class EngineFault(UserWarning):
    """Docker 20.10 kept a network for a stale endpoint (moby/moby#43286): only an engine restart frees it."""


def leftovers(client: Any, owner: str) -> list[str]:
    """What ``owner`` (a run, a sandbox session) left on the engine, which is then removed.

    A network the engine refuses to remove for a stale endpoint, with nothing attached,
    is the engine's fault, not the code's under test: it is warned (EngineFault), not listed.
    """
    label = {"label": f"{sandbox.OWNER_LABEL}={owner}"}
    names = [c.name for c in client.containers.list(all=True, filters=label)]
    names += [n.name for n in client.networks.list(filters=label)]
    kept, _ = engine_faults(sandbox.sweep(client, owner))
    for fault in kept:
        warnings.warn(EngineFault(fault), stacklevel=2)
    stale = {fault.split(":", 1)[0].removeprefix("network ") for fault in kept}
    return [name for name in names if name not in stale]


def without_engine_faults(problems: list[str]) -> list[str]:
    """``problems`` of a cleanup but for the engine's own faults (warned: see ``leftovers``)."""
    kept, rest = engine_faults(problems)
    for fault in kept:
        warnings.warn(EngineFault(fault), stacklevel=2)
    return rest
