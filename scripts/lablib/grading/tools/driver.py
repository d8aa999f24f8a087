"""The checker container: run every role's check at once, each result to OUT/<role>.json.

    python3 driver.py OUT JOBS_JSON

JOBS_JSON is a list of ``{"role", "argv", "timeout"[, "go"]}``. A job with
``go`` (seconds) first waits for OUT/<role>.go: ``run`` starts it, anything
else (or no file in time) skips it. The roles are independent: a submission
takes as long as its slowest. Each result is ``{"exit", "stdout", "stderr",
"seconds"}`` (``"timeout": true`` when the check ran out of time).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

#: Characters of a check's stderr kept.
STDERR_KEPT = 4000
GO_POLL = 0.1


def wait_for_go(out: Path, role: str, seconds: float) -> bool:
    """True when the grader said ``run`` for this role within ``seconds``."""
    go = out / f"{role}.go"
    end = time.monotonic() + seconds
    while not go.exists() and time.monotonic() < end:
        time.sleep(GO_POLL)
    return go.exists() and go.read_text() == "run"


def run_job(out: Path, job: dict) -> None:
    if "go" in job and not wait_for_go(out, job["role"], job["go"]):
        return
    start = time.monotonic()
    try:
        done = subprocess.run(job["argv"], capture_output=True, timeout=job["timeout"])
        result = {
            "exit": done.returncode,
            "stdout": done.stdout.decode("utf-8", "replace"),
            "stderr": done.stderr.decode("utf-8", "replace")[-STDERR_KEPT:],
        }
    except subprocess.TimeoutExpired:
        result = {"exit": None, "timeout": True, "stdout": "", "stderr": ""}
    result["seconds"] = round(time.monotonic() - start, 2)
    partial = out / f".{job['role']}.json"
    partial.write_text(json.dumps(result))
    os.replace(partial, out / f"{job['role']}.json")  # the grader never reads half a file


def main(argv: list[str]) -> None:
    out = Path(argv[0])
    threads = [threading.Thread(target=run_job, args=(out, job)) for job in json.loads(argv[1])]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


if __name__ == "__main__":
    main(sys.argv[1:])
