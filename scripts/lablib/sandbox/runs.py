"""Which sandbox owners are still alive: a run holds a lock for as long as its process lives.

A grade run takes ``RunLock(owner)`` at its start: an flock on a file named
after it. The kernel drops the lock when the process ends, however it ends
(SIGKILL included), so a later ``sweep_abandoned`` can tell the leftovers of a
dead run (lock free) from a run still going beside it (lock held), and removes
only the former. Only owners of this machine (host label) with the given
prefix are considered: ``scripts/lab own --detach`` sessions are left alone.
"""

from __future__ import annotations

import fcntl
import os
import socket
import time
from contextlib import suppress
from pathlib import Path
from typing import Any

from .resources import sweep
from .settings import OWNER_LABEL

#: Owner names of `scripts/lab grade` runs (the ones swept when found dead).
GRADE_PREFIX = "slgrade-"
#: The machine that created a sandbox resource (a remote engine may serve several).
HOST_LABEL = "org.socklab.sandbox.host"
#: One folder for every grader of the machine, whoever runs it and whatever its TMPDIR: a run whose lock
#: is not where a sweeping run looks would count as dead, and its live containers would be removed.
LOCK_DIR = Path("/tmp/socklab-sandbox-runs")
#: Sticky and writable by all (like /tmp): every user's graders keep their locks here, none removes another's.
LOCK_DIR_MODE = 0o1777
#: Extra passes over a dead run's leftovers, LATE_PAUSE s apart, while requests of its killed grader complete.
LATE_PASSES = 3
LATE_PAUSE = 1.0


def host_name() -> str:
    return socket.gethostname()


def _lock_path(owner: str) -> Path:
    return LOCK_DIR / f"{owner}.lock"


class RunLock:
    """Held by a live run; released by ``release()`` or by the process ending in any way."""

    def __init__(self, owner: str) -> None:
        LOCK_DIR.mkdir(exist_ok=True)
        with suppress(PermissionError):  # mkdir's mode is cut by the umask; another user's folder stays theirs
            LOCK_DIR.chmod(LOCK_DIR_MODE)
        self.path = _lock_path(owner)
        self._fd = os.open(self.path, os.O_CREAT | os.O_RDWR, 0o644)
        fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)

    def release(self) -> None:
        self.path.unlink(missing_ok=True)
        os.close(self._fd)


def is_alive(owner: str) -> bool:
    """Does a process still hold ``owner``'s lock? (No lock file: the run is gone.)"""
    try:
        fd = os.open(_lock_path(owner), os.O_RDONLY)  # flock needs no write access: another user's lock works
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    with suppress(PermissionError):  # another user's file in the sticky folder: left for them
        _lock_path(owner).unlink(missing_ok=True)  # held by no one: the run is gone
    return False


def owners(client: Any, prefix: str) -> set[str]:
    """Owners (``prefix``…) of this machine's sandbox containers and networks on the engine."""
    filters = {"label": [f"{HOST_LABEL}={host_name()}", OWNER_LABEL]}
    # sparse: no inspect per container, so one removed meanwhile (another run cleaning up) is no error
    labels = [c.attrs.get("Labels") or {} for c in client.containers.list(all=True, filters=filters, sparse=True)]
    labels += [n.attrs.get("Labels") or {} for n in client.networks.list(filters=filters)]
    return {owner for owner in (lab.get(OWNER_LABEL, "") for lab in labels) if owner.startswith(prefix)}


def sweep_abandoned(client: Any, prefix: str) -> tuple[list[str], list[str]]:
    """Remove what dead runs (``prefix``…) of this machine left; (owners swept, what could not be removed).

    A grader killed in the middle of a request leaves the engine to finish it: a container it was
    creating appears after the listing (seen right after a SIGKILL). So while a dead run still has
    containers, look again, ``LATE_PAUSE`` s apart, at most ``LATE_PASSES`` more times.
    """
    dead = sorted(owner for owner in owners(client, prefix) if not is_alive(owner))
    problems = {owner: sweep(client, owner) for owner in dead}
    for _ in range(LATE_PASSES):
        late = [owner for owner in dead if _has_containers(client, owner)]
        if not late:
            break
        time.sleep(LATE_PAUSE)
        problems |= {owner: sweep(client, owner) for owner in late}  # the last pass says what is left
    return dead, [problem for owner in dead for problem in problems[owner]]


def _has_containers(client: Any, owner: str) -> bool:
    return bool(client.containers.list(all=True, filters={"label": f"{OWNER_LABEL}={owner}"}, sparse=True))
