"""A grade run's lock (sandbox.runs): alive while its process lives, whatever its TMPDIR; free after SIGKILL."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

from tests.helpers import ROOT, wait_for

sys.path.insert(0, str(ROOT / "scripts"))
from lablib.sandbox import runs  # noqa: E402

HOLD = "import sys; from lablib.sandbox import runs; runs.RunLock(sys.argv[1]); print('locked', flush=True); input()"


def test_a_run_with_another_tmpdir_is_alive_until_killed(tmp_path: Path) -> None:
    owner = f"{runs.GRADE_PREFIX}locktest-{os.getpid()}"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "scripts"), "TMPDIR": str(tmp_path)}
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, owner], env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
        assert runs.is_alive(owner)
        if runs.LOCK_DIR.stat().st_uid == os.getuid():  # ours: every user's graders may lock there
            assert stat.S_IMODE(runs.LOCK_DIR.stat().st_mode) == runs.LOCK_DIR_MODE
    finally:
        holder.kill()
        holder.wait()
    wait_for(lambda: not runs.is_alive(owner), what="the lock of a killed run to be free")
    assert not (runs.LOCK_DIR / f"{owner}.lock").exists()
