"""Which grade run a `scripts/lab grade` process is, on an engine other runs share.

Other graders (a colleague's, another test session's) create runs on the same
engine at the same time, so "the run that appeared after I started mine" may
be theirs. A grader holds its run's lock file open for as long as it lives
(``sandbox.runs.RunLock``): the lock among the process's open files names its run.
"""

from __future__ import annotations

import os
from contextlib import suppress
from pathlib import Path

from lablib import sandbox


def owner_of(pid: int) -> str:
    """The run id of grader process ``pid`` (the lock it holds open), or "" while it holds none."""
    with suppress(OSError):
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            with suppress(OSError):
                target = Path(os.readlink(fd))
                if target.parent == sandbox.runs.LOCK_DIR and target.suffix == ".lock":
                    return target.stem
    return ""
