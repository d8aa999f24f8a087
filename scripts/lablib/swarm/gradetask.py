"""One team graded inside a Swarm task, on whichever node Swarm chose (``scripts/lab grade --swarm``).

The task runs the gradetask image (the lab image plus ``scripts/``) as root,
with that node's Docker socket, the node's grading folder (default
``/var/tmp``) mounted at the same path, and the node's cgroup tree read-only.
It grades with the local grader, so the team's sandbox is the local one with
all its hardening (``grading.Grader`` on the node's engine):

``task``  (the entrypoint) copies the grader's code and unpacks the team's
          input (the submission, the config, the submission's fields: a Swarm
          config mounted at INPUT) into ``<folder>/<service name>/``, runs
          ``team`` from there, prints the parcel (parcel.py: the result and
          the team's files) to its log for the manager, and removes the folder.
``team``  grades the one submission and writes the result as JSON.

Why the copy: the grader bind-mounts its own files (the submission, the
checker's tools, each role's capture folder) into the containers it starts,
and the node's engine resolves those paths on the node. Run from a folder
that has the same path inside the task and on the node, every path the
grader derives from its own location is right on the node.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

from lablib.swarm import parcel

#: The grader's code in the gradetask image (the lab image's /opt/socklab plus scripts/).
CODE_IN_IMAGE = Path("/opt/socklab")
CODE_PARTS = ("scripts/lablib", "services")
#: The Docker SDK in the image (imported from there: no container mounts it).
VENDOR = CODE_IN_IMAGE / "vendor"
#: Where the task finds its team's input (a Swarm config: a gzipped tar).
INPUT = Path("/run/socklab/grade-input.tar.gz")
#: The node's /sys/fs/cgroup, read-only: the grader reads each program's limits hits there.
HOST_CGROUP = Path("/run/socklab/host-cgroup")
WORK_ENV, NAME_ENV, INDEX_ENV = "SOCKLAB_GRADE_WORK", "SOCKLAB_GRADE_NAME", "SOCKLAB_GRADE_INDEX"
#: The manager's run: its label (RUN_ENV's name = value) goes on the team's sandbox too.
RUN_ENV = "SOCKLAB_GRADE_RUN"
#: Inside a task's folder: the input, the grader's out folder, the result document.
INPUT_DIR, OUT_DIR, RESULT = "input", "out", "result.json"
SUBMISSION_DIR, CONFIG_FILE, FIELDS_FILE = "submission", "config.yaml", "submission.json"
#: Characters of the grader's error output kept when it fails outright.
TAIL_CHARS = 3000


def node_name() -> str:
    import docker

    try:
        return str(docker.from_env().info().get("Name", "?"))
    except Exception:
        return "?"


def prepare(work: Path) -> None:
    """The grader's code and the team's input, in ``work`` (a path the node's engine sees too)."""
    shutil.rmtree(work, ignore_errors=True)
    for part in CODE_PARTS:
        shutil.copytree(CODE_IN_IMAGE / part, work / "code" / part, ignore=shutil.ignore_patterns("__pycache__"))
    with tarfile.open(INPUT, mode="r:gz") as tar:
        for member in tar.getmembers():
            if member.name.startswith(("/", "..")) or ".." in Path(member.name).parts:
                raise ValueError(f"unsafe entry in the task's input: {member.name!r}")
        tar.extractall(work / INPUT_DIR)  # noqa: S202 -- checked above; made by the manager
    (work / OUT_DIR).mkdir()


def run_team(work: Path) -> tuple[int, str]:
    """``team`` from the copied code, SIGTERM passed on (Swarm stops a task with it: the sandbox is removed)."""
    env = {**os.environ, "PYTHONPATH": f"{work / 'code' / 'scripts'}:{work / 'code'}:{VENDOR}"}
    argv = [sys.executable, "-m", "lablib.swarm.gradetask", "team", str(work)]
    child = subprocess.Popen(argv, cwd=work, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    signal.signal(signal.SIGTERM, lambda *_: child.send_signal(signal.SIGTERM))
    _out, err = child.communicate()
    return child.returncode, err


def task() -> int:
    work = Path(os.environ[WORK_ENV]) / os.environ[NAME_ENV]
    doc: dict[str, Any] = {"node": node_name()}
    try:
        prepare(work)
        code, err = run_team(work)
        if (work / RESULT).is_file():
            doc |= json.loads((work / RESULT).read_text())
        else:
            doc["failure"] = f"the grader stopped with status {code}: {err[-TAIL_CHARS:].strip()}"
        raw = parcel.payload(doc, work / OUT_DIR)
    except Exception as exc:  # the task's own failure: the manager reports it as the team's grader error
        raw = parcel.payload({**doc, "failure": f"{type(exc).__name__}: {exc}"}, None)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    sys.stdout.write("\n".join(parcel.lines(raw)) + "\n")
    return 0


def team(work: Path) -> int:
    from lablib import common, sandbox
    from lablib.grading import Grader, Submission, grade_client, load_config
    from lablib.grading.run import engine_faults
    from lablib.sandbox import outcome
    from lablib.swarm import teamdoc

    if HOST_CGROUP.is_dir():
        outcome.CGROUP_ROOT = HOST_CGROUP  # the task's own /sys/fs/cgroup holds only its own cgroup
    config = load_config(work / INPUT_DIR / CONFIG_FILE)
    fields = json.loads((work / INPUT_DIR / FIELDS_FILE).read_text())
    path = work / INPUT_DIR / SUBMISSION_DIR / fields.pop("path_name")
    sub = Submission(**fields, path=path)
    client = grade_client(1)
    node = str(client.info().get("Name", "?"))
    for image in (common.IMAGE, common.STUDENT_IMAGE):
        if not client.images.list(name=image):
            raise sandbox.SandboxError(
                f"node {node} has no image {image}: on the manager run `scripts/lab swarm ship <user>@{node}`"
            )
    grader = Grader(client, config, work / OUT_DIR, common.IMAGE, common.STUDENT_IMAGE)
    label, _, run_id = os.environ[RUN_ENV].partition("=")
    grader.labels[label] = run_id  # the manager (and a test) finds the sandbox of its run on each node
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # unwind: the sandbox is removed below
    try:
        result = grader.grade(int(os.environ[INDEX_ENV]), sub)
    finally:
        left = sandbox.sweep(client, grader.run_id)
        grader.lock.release()
    doc = teamdoc.to_document(result)
    faults, left = engine_faults(left)
    doc["engine_faults"] = grader.engine_faults + faults
    if left:
        doc["team"]["error"] = "; ".join(filter(None, [doc["team"].get("error", ""), "cleanup: " + "; ".join(left)]))
    (work / RESULT).write_text(json.dumps(doc))
    return 0


def main(argv: list[str]) -> int:
    if argv[:1] == ["task"]:
        return task()
    if len(argv) == 2 and argv[0] == "team":
        return team(Path(argv[1]))
    print(
        "usage: python3 -m lablib.swarm.gradetask task | team WORK (run by scripts/lab grade --swarm)", file=sys.stderr
    )
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
