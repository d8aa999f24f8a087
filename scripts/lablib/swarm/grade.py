"""``scripts/lab grade DIR --swarm``: each team graded by a one-shot Swarm task, on any node (docs/swarm.md).

Per team the manager creates a Swarm config (the team's input: submission,
grading config, the submission's fields) and a service of one task that never
restarts (restart condition ``none``). The task runs ``gradetask`` on its
node: the local grader, through that node's Docker socket, so the team's
sandbox is exactly the local one (holder namespace, firewall, capture, the
limits, no-new-privileges, no swap) and the verdicts are the local ones. The
task prints its parcel (parcel.py) to its log; the manager reads it with
``docker service logs`` (any node's task, no shared folder), unpacks the
team's files into the out folder, writes the team's reports, and removes the
service and its config. At most ``--jobs`` teams run at once; Swarm spreads
them over the nodes.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import secrets
import signal
import subprocess
import sys
import tarfile
import time
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lablib import common
from lablib.grading import Config, GradeError, Submission, TeamResult, load_config
from lablib.grading.cli import Progress, check_team_names, finish_report, grade_client, team_memory_mb
from lablib.grading.reports import fmt, write_team
from lablib.grading.results import RoleResult, unchecked
from lablib.grading.submissions import find_submissions
from lablib.swarm import engine, gradetask, parcel, teamdoc

#: Label of every service and config a run creates, valued by the run's id.
RUN_LABEL = "org.socklab.swarmgrade"
RUN_PREFIX = "slswgrade-"
#: The task image: the lab image's name with this suffix (socklab:latest -> socklab-gradetask:latest).
IMAGE_SUFFIX = "-gradetask"
DOCKERFILE = common.ROOT / "swarm" / "gradetask.Dockerfile"
#: Set by that Dockerfile (its first instruction, so its intermediate images carry it too).
TASK_IMAGE_LABEL = "org.socklab.image=gradetask"
DOCKER_SOCKET = "/var/run/docker.sock"
#: A folder that exists on every node, mounted at the same path in the task (docs/swarm.md).
WORK_DIR = os.environ.get("SOCKLAB_SWARM_GRADE_DIR", "/var/tmp")
#: Swarm keeps a config up to 500 KB: a team's input must fit (a submission is a few source files).
INPUT_MAX = 500 * 1024
#: The task's log holds its parcel: json-file, never rotated below the largest parcel.
LOG_OPTIONS = {"max-size": f"{2 * parcel.MAX_PAYLOAD >> 20}m", "max-file": "1"}
#: Seconds a stopped task gets to remove its team's sandbox (SIGTERM, then SIGKILL).
STOP_GRACE = 60
#: Task states after which nothing more happens.
FINAL_STATES = {"complete", "failed", "rejected", "shutdown", "orphaned", "remove"}
POLL = 1.0
#: Seconds to wait for a removed service's containers to go from this node.
REMOVE_TIMEOUT = 90.0


def task_image(lab_image: str) -> str:
    return common.image_beside(lab_image, IMAGE_SUFFIX)


def build_task_image(lab_image: str) -> str:
    """Build the task image on this node (seconds when only scripts/ changed); ship it like the lab image."""
    tag = task_image(lab_image)
    common.log(f"building {tag} from {lab_image} + scripts/lablib ...")
    common.build_from_lab_image(lab_image, tag, DOCKERFILE, {"scripts/lablib": common.ROOT / "scripts" / "lablib"})
    # Each change to scripts/ leaves the previous task image untagged; drop those no container uses.
    subprocess.run(["docker", "image", "prune", "-f", "--filter", f"label={TASK_IMAGE_LABEL}"], capture_output=True)
    return tag


def team_input(sub: Submission, config_text: str) -> bytes:
    """The gzipped tar a task unpacks: the submission, the config, the submission's fields."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        tar.add(sub.path, arcname=f"{gradetask.SUBMISSION_DIR}/{sub.path.name}")
        for name, text in (
            (gradetask.CONFIG_FILE, config_text),
            (gradetask.FIELDS_FILE, json.dumps(teamdoc.submission_fields(sub))),
        ):
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def failed_team(sub: Submission, config: Config, reason: str) -> TeamResult:
    """A team the grader could not grade: its error, every case not run (as a local grader error)."""
    error = f"grader error: {reason}"
    roles = [RoleResult(s, "grader error", unchecked(s, error)) for s in config.roles_for(sub.name, sub.folder)]
    return TeamResult(sub, roles=roles, error=error, parts=config.parts)


@dataclass
class Running:
    index: int
    sub: Submission
    service: Any
    config: Any
    started: float


class SwarmGrader:
    """Start, watch, collect and remove one service per team; everything labelled with the run's id."""

    def __init__(self, client: Any, config: Config, config_text: str, out: Path, image: str) -> None:
        self.client, self.config, self.config_text, self.out, self.image = client, config, config_text, out, image
        self.run_id = f"{RUN_PREFIX}{secrets.token_hex(3)}"
        self.labels = {RUN_LABEL: self.run_id}
        #: What each node's engine kept that it cannot remove (from the tasks: grading/run.engine_faults).
        self.engine_faults: list[str] = []

    def start(self, index: int, sub: Submission) -> Running | TeamResult:
        import docker.types

        data = team_input(sub, self.config_text)
        if len(data) > INPUT_MAX:
            return failed_team(
                sub, self.config, f"the submission is {len(data)} bytes packed; a task takes {INPUT_MAX}"
            )
        name = f"{self.run_id}-{index:03d}"
        config = self.client.configs.create(name=name, data=data, labels=self.labels)
        env = {gradetask.WORK_ENV: WORK_DIR, gradetask.NAME_ENV: name, gradetask.INDEX_ENV: str(index)}
        env[gradetask.RUN_ENV] = f"{RUN_LABEL}={self.run_id}"
        env |= {k: v for k, v in os.environ.items() if k in ("SOCKLAB_IMAGE", "SOCKLAB_STUDENT_IMAGE")}
        env.setdefault("SOCKLAB_IMAGE", common.IMAGE)
        try:
            service = self.client.services.create(
                self.image,
                name=name,
                labels=self.labels,
                container_labels=self.labels,
                env=[f"{k}={v}" for k, v in env.items()],
                user="root",  # the node's Docker socket; the team's programs run in the sandbox as their own uids
                mounts=[
                    docker.types.Mount(DOCKER_SOCKET, DOCKER_SOCKET, type="bind"),
                    docker.types.Mount(WORK_DIR, WORK_DIR, type="bind"),
                    docker.types.Mount(str(gradetask.HOST_CGROUP), "/sys/fs/cgroup", type="bind", read_only=True),
                ],
                configs=[docker.types.ConfigReference(config.id, name, filename=str(gradetask.INPUT))],
                restart_policy=docker.types.RestartPolicy(condition="none"),
                # What the team's sandbox may hold on the node: Swarm places a team where that much is unreserved.
                resources=docker.types.Resources(mem_reservation=team_memory_mb(self.config) << 20),
                log_driver="json-file",
                log_driver_options=LOG_OPTIONS,
                stop_grace_period=STOP_GRACE * 10**9,
            )
        except Exception:
            config.remove()
            raise
        return Running(index, sub, service, config, time.monotonic())

    def state(self, run: Running) -> tuple[str, dict[str, Any]]:
        tasks = run.service.tasks()
        if not tasks:
            return "new", {}
        task = max(tasks, key=lambda t: t.get("CreatedAt", ""))
        return task["Status"]["State"], task

    def collect(self, run: Running, task: dict[str, Any]) -> TeamResult:
        """The team's result from its task's log (its files unpacked into the out folder)."""
        where = self.node_of(task)
        state, err = task["Status"]["State"], task["Status"].get("Err", "")
        log = b"".join(run.service.logs(stdout=True, stderr=False)).decode("utf-8", "replace")
        unpacked = parcel.unpack(log)
        if isinstance(unpacked, str):
            stderr = b"".join(run.service.logs(stdout=False, stderr=True, tail=20)).decode("utf-8", "replace")
            reason = f"the task on {where} ended {state}{': ' + err if err else ''}; {unpacked}"
            if "No such image" in err:
                reason += f" (copy the images there: scripts/lab swarm ship <user>@{where})"
            return failed_team(run.sub, self.config, reason + (f"; {stderr.strip()[-1500:]}" if stderr.strip() else ""))
        doc = unpacked.document
        if "failure" in doc:
            return failed_team(run.sub, self.config, f"on {doc.get('node', where)}: {doc['failure']}")
        try:
            team = teamdoc.from_document(doc, run.sub, self.config)
        except (ValueError, TypeError, KeyError) as exc:
            return failed_team(run.sub, self.config, f"the task's result does not fit the config: {exc}")
        parcel.extract(unpacked, self.out)
        self.engine_faults += [
            f"on {doc.get('node', where)}: {fault}" for fault in doc.get("engine_faults", []) if isinstance(fault, str)
        ]
        return team

    def node_of(self, task: dict[str, Any]) -> str:
        try:
            return engine.Node.from_attrs(self.client.nodes.get(task["NodeID"]).attrs).hostname
        except Exception:
            return "its node"

    def remove(self, run: Running) -> None:
        """The service (Swarm removes its task's container), then its config once no task holds it."""
        import docker.errors

        with suppress(docker.errors.NotFound):
            run.service.remove()
        wait_gone(self.client, {"label": f"com.docker.swarm.service.id={run.service.id}"})
        with suppress(docker.errors.NotFound):
            run.config.remove()

    def sweep(self) -> list[str]:
        """Remove every service and config of this run (after Ctrl-C); what is left, if anything."""
        label = {"label": f"{RUN_LABEL}={self.run_id}"}
        for service in self.client.services.list(filters=label):
            service.remove()
        wait_gone(self.client, label)
        for config in self.client.configs.list(filters=label):
            config.remove()
        return leftovers(self.client, self.run_id)


def wait_gone(client: Any, filters: dict[str, str]) -> None:
    """Wait until this node has no container matching ``filters`` (a stopping task removes its sandbox)."""
    deadline = time.monotonic() + REMOVE_TIMEOUT
    while client.containers.list(all=True, filters=filters, sparse=True) and time.monotonic() < deadline:
        time.sleep(POLL / 2)


def leftovers(client: Any, run_id: str) -> list[str]:
    label = {"label": f"{RUN_LABEL}={run_id}"}
    found = [f"service {s.name}" for s in client.services.list(filters=label)]
    found += [f"config {c.name}" for c in client.configs.list(filters=label)]
    found += [f"container {c.name}" for c in client.containers.list(all=True, filters=label, ignore_removed=True)]
    return found + [f"network {n.name}" for n in client.networks.list(filters=label)]


def grade_class(grader: SwarmGrader, submissions: list[Submission], jobs: int) -> list[TeamResult]:
    """Every team as a Swarm task, ``jobs`` at once; each team's files are written as soon as it is collected."""
    results: dict[int, TeamResult] = {}
    waiting = list(enumerate(submissions))
    running: list[Running] = []
    progress = Progress(len(submissions))
    progress.update(0, 0)
    try:
        while waiting or running:
            while waiting and len(running) < jobs:
                index, sub = waiting.pop(0)
                started = grader.start(index, sub)
                if isinstance(started, TeamResult):
                    results[index] = started
                    write_team(grader.out, started)
                else:
                    running.append(started)
            states = [(run, *grader.state(run)) for run in running]
            # A task no node can take while none of this run's tasks runs will never start.
            idle = not any(state not in FINAL_STATES | {"new", "pending"} for _run, state, _task in states)
            last = ""
            for run, state, task in states:
                err = (task.get("Status") or {}).get("Err") or ""
                if state in FINAL_STATES:
                    team = grader.collect(run, task)
                elif state == "pending" and engine.NO_NODE in err and idle:
                    team = failed_team(run.sub, grader.config, f"no node can run the task: {err}")
                else:
                    continue
                grader.remove(run)
                running.remove(run)
                results[run.index] = team
                write_team(grader.out, team)
                last = f"{team.submission.team}: {fmt(team.score)}/{fmt(team.max_score)}"
            progress.update(len(results), len(running), last)
            if running:
                time.sleep(POLL)
    finally:
        progress.finish()
    return [results[i] for i in sorted(results)]


def main(args: argparse.Namespace) -> int:
    started = time.monotonic()
    try:
        config = load_config(args.config)
        submissions = find_submissions(args.folder, config.program_pattern)
        check_team_names(config, submissions)
        client = grade_client(args.jobs)
        engine.require_swarm(client, manager=True)
        lab_image = common.IMAGE if args.no_build else common.ensure_images()
        image = build_task_image(lab_image)
    except (GradeError, common.LabError) as exc:
        print(f"scripts/lab grade --swarm: {exc}", file=sys.stderr)
        return 2
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    grader = SwarmGrader(client, config, args.config.read_text(), out, image)
    nodes = [n for n in engine.nodes(client) if n.state == "ready" and n.availability == "active"]
    common.log(
        f"grading {len(submissions)} submissions as Swarm tasks ({len(nodes)} nodes), {args.jobs} at a time, "
        f"run {grader.run_id} (sandbox on each node: {config.limits.describe()}) ..."
    )
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        teams = grade_class(grader, submissions, args.jobs)
    except KeyboardInterrupt:
        common.log("interrupted: removing this run's services and configs (each task removes its sandbox) ...")
        return 130
    finally:
        left = grader.sweep()
        if left:
            common.log("could not remove: " + "; ".join(left))
    return finish_report(args, config, out, teams, time.monotonic() - started, grader.engine_faults)
