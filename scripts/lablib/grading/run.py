"""Grade one submission: its network, a sandbox per role, the checker, then what each program did.

The steps of ``Grader.grade``, in order: create the team's network; start
every role (holder with firewall and capture, then the program); start the
checker (client roles are checked at once; each server role waits for its
go-file); wait until each server listens, and write its go-file; wait for the
checker; read each role's results; observe each program; stop and remove all.
"""

from __future__ import annotations

import os
import secrets
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import common, sandbox
from . import checker
from .config import Config, RoleSpec
from .network import SubnetPool, TeamNetwork
from .results import RoleResult, TeamResult, unchecked
from .submissions import Submission, fill

#: A server binds this address ({host} of a server role).
SERVER_BIND = "0.0.0.0"
LISTEN_POLL = 0.25
#: Roles of one team started at once.
START_WORKERS = 4


@dataclass(frozen=True)
class Placed:
    """One role of a team, running: the namespace's holder, the student's program, and its address."""

    holder: Any
    student: Any
    ip: str


class Grader:
    def __init__(self, client: Any, config: Config, out: Path, image: str) -> None:
        self.client = client
        self.config = config
        self.out = out
        self.image = image
        self.run_id = f"slgrade-{secrets.token_hex(3)}"
        self.labels = {sandbox.OWNER_LABEL: self.run_id}
        self.subnets = SubnetPool(client)

    def grade(self, index: int, sub: Submission) -> TeamResult:
        """Grade ``sub`` completely; never raises (the grader's own failures become the team's ``error``)."""
        started = time.monotonic()
        result = TeamResult(sub)
        team_dir = self.out / sub.slug
        team_dir.mkdir(parents=True, exist_ok=True)
        resources = sandbox.Resources(self.client)
        network: TeamNetwork | None = None
        try:
            if sub.file is None:
                reason = f"no single program matching {self.config.program_pattern} in the folder"
                result.roles = [RoleResult(s, "no program", unchecked(s, reason)) for s in self.config.roles]
                return result
            network = self.subnets.create(f"{self.run_id}-{index:03d}", self.labels, resources)
            result.roles = self._grade_roles(index, sub, network, team_dir, resources)
        except Exception as exc:  # the grader's own failure (Docker, disk): say so, never blame the team
            result.error = f"grader error: {type(exc).__name__}: {exc}"
            result.roles = [RoleResult(s, "grader error", unchecked(s, result.error)) for s in self.config.roles]
        finally:
            problems = resources.close()
            if network is not None:
                self.subnets.give_back(network.n)
            if problems:
                result.error = (result.error + "; " if result.error else "") + "cleanup: " + "; ".join(problems)
            result.seconds = round(time.monotonic() - started, 1)
        return result

    def _grade_roles(
        self, index: int, sub: Submission, network: TeamNetwork, team_dir: Path, resources: sandbox.Resources
    ) -> list[RoleResult]:
        roles = [RoleResult(spec) for spec in self.config.roles]
        with ThreadPoolExecutor(max_workers=START_WORKERS) as pool:
            started = pool.map(
                lambda i, r: self._start_role(index, i, r, sub, network, team_dir, resources), range(len(roles)), roles
            )
            placed = dict(zip((r.spec.role for r in roles), started, strict=True))  # raises the first failure
        checks_dir = fresh_folder(team_dir / "checks")
        # The checker starts at once: client roles are checked while the servers are still starting;
        # each server role's check waits for its go-file, written when the server listens (or never will).
        jobs = [checker.job(r.spec, placed[r.spec.role].ip, network.checker_ip, self.config.timeouts) for r in roles]
        running = checker.start(
            self.client,
            resources,
            image=self.image,
            jobs=jobs,
            ip=network.checker_ip,
            checks_dir=checks_dir,
            network=network.name,
            labels=self.labels,
        )
        self._wait_listening(roles, placed, checks_dir)
        try:
            running.wait(timeout=checker.time_limit(jobs, self.config.timeouts))
        except Exception:  # requests' ReadTimeout, or the engine: the per-role files say what finished
            with suppress(Exception):
                running.kill()
        for result in roles:
            if result.status == "ok":
                checker.read_result(result, checks_dir / f"{result.spec.role}.json", running, self.config.timeouts)
            else:
                result.cases = unchecked(result.spec, result.status)
        self._observe(roles, placed, team_dir)
        return roles

    def _start_role(
        self,
        index: int,
        position: int,
        result: RoleResult,
        sub: Submission,
        network: TeamNetwork,
        team_dir: Path,
        resources: sandbox.Resources,
    ) -> Placed:
        """The role's holder (address, firewall, capture), then the team's program in its namespace."""
        spec = result.spec
        ip = network.role_ip(position)
        name = f"{self.run_id}-{index:03d}-{spec.role}"
        pcap = team_dir / f"{spec.role}.pcap"
        pcap.unlink(missing_ok=True)
        holder = sandbox.start_holder(
            self.client,
            resources,
            name=f"{name}-net",
            network=network.name,
            ip=ip,
            subnet=network.subnet,
            labels=self.labels,
            capture=pcap,
            hostname=spec.role,
            image=self.image,
        )
        if spec.is_client:
            argv, volumes = checker.relay_argv(command(spec, sub)), checker.relay_mount()
        else:
            argv, volumes = command(spec, sub), {}
        student = sandbox.start_student(
            self.client,
            resources,
            name=name,
            holder=holder,
            submission=sub.path,
            argv=argv,
            labels=self.labels,
            limits=self.config.limits,
            image=self.image,
            volumes=volumes,
        )
        result.pcap = pcap.name
        return Placed(holder, student, ip)

    def _wait_listening(self, roles: list[RoleResult], placed: dict[str, Placed], go: Path) -> None:
        """Each server role: wait until it listens on its port, or exits, or the time is up; tell the checker."""
        pending = {r.spec.role: r for r in roles if not r.spec.is_client}
        deadline = time.monotonic() + self.config.timeouts.listen
        while pending:
            for role, result in list(pending.items()):
                status = self._listen_status(result, placed[role], time.monotonic() > deadline)
                if status is None:
                    continue
                result.status = status
                ready = go / f".{role}.go"
                ready.write_text("run" if status == "ok" else "skip")
                os.replace(ready, go / f"{role}.go")  # atomic: the checker never reads half a file
                del pending[role]
            if pending:
                time.sleep(LISTEN_POLL)

    def _listen_status(self, result: RoleResult, placed: Placed, late: bool) -> str | None:
        """``ok`` when the server listens on its port, the reason it never will, or None (still waiting)."""
        spec = result.spec
        ports = checker.listening(placed.holder, spec.proto)
        where = f"{spec.port}/{spec.proto}"
        if spec.port in ports:
            return "ok"
        placed.student.reload()
        if placed.student.status != "running":
            return f"exited (status {placed.student.attrs['State'].get('ExitCode')}) before listening on {where}"
        if not late:
            return None
        if ports:
            return f"wrong port: listens on {', '.join(f'{p}/{spec.proto}' for p in sorted(ports))}, not {where}"
        return f"never listened on {where} within {self.config.timeouts.listen:g} s"

    def _observe(self, roles: list[RoleResult], placed: dict[str, Placed], team_dir: Path) -> None:
        """Read each program's fate and output, then stop programs and captures (tcpdump closes its file)."""
        logs = team_dir / "logs"
        logs.mkdir(exist_ok=True)
        for result in roles:
            where = placed[result.spec.role]
            outcome = sandbox.observe(where.student)
            blocked = sandbox.blocked_packets(where.holder)
            result.problems = outcome.problems(self.config.limits)
            if blocked.get("host"):
                result.problems.append(f"tried to reach the Docker host: {blocked['host']} packets refused")
            if blocked.get("outside"):
                result.problems.append(f"tried to reach outside its network: {blocked['outside']} packets refused")
            result.output = outcome.output
            (logs / f"{result.spec.role}.log").write_text(outcome.output)
            result.log = f"logs/{result.spec.role}.log"
        common.stop_all([p.student for p in placed.values()], sandbox.STOP_TIMEOUT)
        common.stop_all([p.holder for p in placed.values()], sandbox.STOP_TIMEOUT)


def command(spec: RoleSpec, sub: Submission) -> list[str]:
    """The role's command line as the grader runs it in the sandbox.

    A client's ``{host}``, ``{port}`` and ``{name}`` stay as they are here: the relay in
    its sandbox fills them in per connection with the checker's address, port and name.
    """
    values = {"file": sub.file or "", "dir": sub.dir, "port": str(spec.port)}
    if spec.is_client:
        return fill(spec.run, values)
    return fill(spec.run, values | {"host": SERVER_BIND, "name": sub.team})


def fresh_folder(path: Path) -> Path:
    """``path`` as an empty folder (files of an earlier run removed)."""
    path.mkdir(exist_ok=True)
    for stale in path.iterdir():
        stale.unlink()
    return path
