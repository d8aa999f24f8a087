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
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from .. import common, sandbox
from . import checker
from .config import Config, RoleSpec
from .names import printable_text
from .network import SubnetPool, TeamNetwork
from .results import RoleResult, TeamResult, team_folder, unchecked
from .submissions import Submission, fill, substitute

#: A server binds this address ({host} of a server role).
SERVER_BIND = "0.0.0.0"
#: Seconds between two looks (an `ss` exec per waiting server role) at whether the servers listen: short
#: at first (a correct server listens within a second), then longer, so a program that never listens
#: costs the engine ~15 execs in 10 s, not 40 (each is a process started in its namespace).
LISTEN_POLL_FIRST, LISTEN_POLL_GROWTH, LISTEN_POLL_MAX = 0.2, 1.5, 1.0
CHECKER_POLL = 0.5
#: The grader's run ids (and so its containers' and networks' owner label) start with this.
RUN_PREFIX = sandbox.GRADE_PREFIX
#: Seconds a team's containers outlive the team's own time limit before they end by themselves.
LIFETIME_MARGIN = 30.0
#: Seconds the engine may take to start a team's containers. A team whose own programs flood the
#: engine (six roles writing output without end) or a machine under load can take tens of seconds;
#: past this, the first containers would reach their lifetime before the checks end, so the team
#: gets a grader error that says so instead.
START_ALLOWANCE = 60.0
#: Seconds between the ends of a team's holders should the grader be killed outright: each leaves the
#: network on its own (see _observe on why two at once are a hazard on Engine 20.10).
HOLDER_STAGGER = 2.0
#: Megabytes of captures kept per team (split between its roles, at least CAPTURE_MIN_MB each).
TEAM_CAPTURE_MB = 64
CAPTURE_MIN_MB = 4


class Stopped(Exception):
    """The run was interrupted: the team stops where it is."""


class SlowStart(Exception):
    """The engine took longer than START_ALLOWANCE to start a team's containers (not the team's fault)."""


#: Docker 20.10 now and then keeps a removed network's endpoint ("has active endpoints", no container
#: attached; moby/moby#43286): here 4 of 180 team networks when a team's holders left together, none of
#: 180 since they leave one at a time (Grader._leave_network). Only an engine restart frees it.
STALE_ENDPOINT = "has active endpoints"


def engine_faults(problems: list[str]) -> tuple[list[str], list[str]]:
    """Split cleanup problems into the engine's own faults (a stale endpoint) and the rest.

    A team's grades are complete before its network is removed, so a network the engine
    keeps is the run's note for the TA (a restart frees it), not the team's error.
    """
    engine = [p for p in problems if STALE_ENDPOINT in p]
    return engine, [p for p in problems if STALE_ENDPOINT not in p]


def lifetime(config: Config) -> float:
    """Seconds after which each container of a team ends by itself: its start, checks and observation."""
    return START_ALLOWANCE + checker.team_time_limit(config.roles, config.timeouts) + LIFETIME_MARGIN


#: Roles of one team started at once.
START_WORKERS = 4


@dataclass(frozen=True)
class Placed:
    """One role of a team, running: the namespace's holder, the student's program, and its address."""

    holder: Any
    student: Any
    ip: str


class Grader:
    def __init__(self, client: Any, config: Config, out: Path, image: str, student_image: str | None = None) -> None:
        """``image``: the lab image (holders, capture, checker); ``student_image``: the teams' programs (default:
        the student image built beside ``image``), which holds nothing of socklab."""
        self.client = client
        self.config = config
        self.out = out
        self.image = image
        self.student_image = student_image or common.student_image_of(image)
        self.run_id = f"{RUN_PREFIX}{secrets.token_hex(3)}"
        self.labels = {sandbox.OWNER_LABEL: self.run_id, sandbox.HOST_LABEL: sandbox.host_name()}
        # Held for as long as this grader lives (released by the kernel however the process ends): another
        # run's sweep of dead runs' leftovers leaves this one's alone, whoever uses it (cli, selftest, tests).
        self.lock = sandbox.RunLock(self.run_id)
        self.subnets = SubnetPool(client)
        #: Set when the run is interrupted: each team stops at its next step and removes what it made.
        self.stop = threading.Event()
        self._active = 0
        self._idle = threading.Condition()
        #: What the engine kept that it cannot remove (not any team's doing: see engine_faults()).
        self.engine_faults: list[str] = []
        # Every container of a team ends by itself after this, should the grader be killed outright.
        self.lifetime = lifetime(config)
        #: Each role's capture cap: a team's captures together stay under TEAM_CAPTURE_MB.
        self.capture_mb = max(CAPTURE_MIN_MB, TEAM_CAPTURE_MB // max(1, len(config.roles)))

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no team is being graded (after ``stop``); False if some still are after ``timeout`` s."""
        with self._idle:
            return self._idle.wait_for(lambda: self._active == 0, timeout)

    def _step(self) -> None:
        """Between two steps of a team: give up if the run was interrupted."""
        if self.stop.is_set():
            raise Stopped("the run was interrupted")

    def preflight(self) -> None:
        """Set up one empty sandbox the grader's way and remove it: a firewall that cannot be installed
        (FirewallError) or an engine that refuses the settings stops the run before any team is graded."""
        resources = sandbox.Resources(self.client)
        network: TeamNetwork | None = None
        try:
            network = self.subnets.create(f"{self.run_id}-preflight", self.labels, resources)
            sandbox.start_holder(
                self.client,
                resources,
                name=f"{self.run_id}-preflight-net",
                network=network.name,
                ip=network.role_ip(0),
                subnet=network.subnet,
                labels=self.labels,
                lifetime=self.lifetime,
                image=self.image,
            )
        finally:
            resources.close()
            if network is not None:
                self.subnets.give_back(network.n)

    def grade(self, index: int, sub: Submission) -> TeamResult:
        """Grade ``sub`` completely; raises only FirewallError (the grader's other failures become ``error``)."""
        with self._idle:
            self._active += 1
        try:
            return self._grade(index, sub)
        finally:
            with self._idle:
                self._active -= 1
                self._idle.notify_all()

    def _grade(self, index: int, sub: Submission) -> TeamResult:
        started = time.monotonic()
        result = TeamResult(sub, parts=self.config.parts)
        specs = self.config.roles_for(sub.name, sub.folder)
        team_dir = team_folder(self.out, sub)
        team_dir.mkdir(parents=True, exist_ok=True)
        resources = sandbox.Resources(self.client)
        network: TeamNetwork | None = None
        try:
            if sub.file is None:
                result.roles = [RoleResult(s, "no program", unchecked(s, sub.problem)) for s in specs]
                return result
            self._step()
            network = self.subnets.create(f"{self.run_id}-{index:03d}", self.labels, resources)
            result.roles = self._grade_roles(index, sub, specs, network, team_dir, resources)
        except sandbox.FirewallError:
            raise  # no team may run unconfined: the whole run stops (cli)
        except Exception as exc:  # the grader's own failure (Docker, disk): say so, never blame the team
            result.error = f"grader error: {type(exc).__name__}: {exc}"
            result.roles = [RoleResult(s, "grader error", unchecked(s, result.error)) for s in specs]
        finally:
            engine, problems = engine_faults(resources.close())
            if network is not None:
                self.subnets.give_back(network.n)
            with self._idle:
                self.engine_faults += engine
            if problems:
                result.error = (result.error + "; " if result.error else "") + "cleanup: " + "; ".join(problems)
            result.seconds = round(time.monotonic() - started, 1)
        return result

    def _grade_roles(
        self,
        index: int,
        sub: Submission,
        specs: tuple[RoleSpec, ...],
        network: TeamNetwork,
        team_dir: Path,
        resources: sandbox.Resources,
    ) -> list[RoleResult]:
        begun = time.monotonic()
        roles = [RoleResult(spec) for spec in specs]
        # Names through /etc/hosts only (the sandbox refuses Docker's resolver): the checker and each role.
        hosts = {"checker": network.checker_ip} | {s.role: network.role_ip(i) for i, s in enumerate(specs)}
        with ThreadPoolExecutor(max_workers=START_WORKERS) as pool:
            started = pool.map(
                lambda i, r: self._start_role(index, i, r, sub, network, hosts, team_dir, resources),
                range(len(roles)),
                roles,
            )
            placed = dict(zip((r.spec.role for r in roles), started, strict=True))  # raises the first failure
        checks_dir = fresh_folder(team_dir / "checks")
        self._step()
        if (took := time.monotonic() - begun) > START_ALLOWANCE:
            raise SlowStart(
                f"the engine took {took:.0f} s to start the team's containers (at most {START_ALLOWANCE:g} s): "
                "grade it again, with fewer --jobs"
            )
        # The checker starts at once: client roles are checked while the servers are still starting;
        # each server role's check waits for its go-file, written when the server listens (or never will).
        jobs = [checker.job(r.spec, placed[r.spec.role].ip, network.checker_ip, self.config.timeouts) for r in roles]
        running = checker.start(
            self.client,
            resources,
            image=self.image,
            jobs=jobs,
            network=network,
            checks_dir=checks_dir,
            labels=self.labels,
        )
        self._wait_listening(roles, placed, checks_dir)
        self._wait_checker(running, checker.time_limit(jobs, self.config.timeouts))
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
        hosts: dict[str, str],
        team_dir: Path,
        resources: sandbox.Resources,
    ) -> Placed:
        """The role's holder (address, firewall, capture), then the team's program in its namespace."""
        self._step()
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
            hosts=hosts,
            capture_mb=self.capture_mb,
            image=self.image,
            lifetime=self.lifetime + HOLDER_STAGGER * position,  # orphans leave the network one by one
        )
        if spec.is_client:  # its stdin lines come first on each connection (checker.job)
            argv, volumes = checker.relay_argv(command(spec, sub)), checker.tool_mount("relay.py")
        elif spec.stdin:
            typed = [substitute(line, server_values(spec, sub)) for line in spec.stdin]
            argv, volumes = checker.feed_argv(typed, command(spec, sub)), checker.tool_mount("feed.py")
        else:
            argv, volumes = command(spec, sub), {}
        student = sandbox.start_student(
            self.client,
            resources,
            name=name,
            holder=holder,
            submission=sub.path,
            submission_name=PurePosixPath(sub.file or "").name or None,
            argv=argv,
            labels=self.labels,
            limits=self.config.limits,
            image=self.student_image,
            volumes=volumes,
            lifetime=self.lifetime,
        )
        result.pcap = pcap.name
        return Placed(holder, student, ip)

    def _wait_checker(self, running: Any, limit: float) -> None:
        """Until the checker ends (its per-role files say what finished), the time is up, or the run stops."""
        deadline = time.monotonic() + limit
        while not sandbox.exited(running):
            self._step()
            if time.monotonic() > deadline:
                with suppress(Exception):
                    running.kill()
                    running.wait(timeout=sandbox.STOP_TIMEOUT * 5)  # gone from the network before the holders go
                return
            time.sleep(CHECKER_POLL)

    def _wait_listening(self, roles: list[RoleResult], placed: dict[str, Placed], go: Path) -> None:
        """Each server role: wait until it listens on its port, or exits, or the time is up; tell the checker."""
        pending = {r.spec.role: r for r in roles if not r.spec.is_client}
        deadline = time.monotonic() + self.config.timeouts.listen
        poll = LISTEN_POLL_FIRST
        seen: set[str] = set()  # roles seen listening at the last look
        while pending:
            for role, result in list(pending.items()):
                late = time.monotonic() > deadline
                status = self._listen_status(result, placed[role], late)
                # Listening at two looks in a row: a program that listens and crashes at once (a typo after
                # listen()) is then "exited", whichever moment the first look happened to catch.
                if status == "ok" and role not in seen and not late:
                    seen.add(role)
                    continue
                seen.discard(role)
                if status is None:
                    continue
                result.status = status
                ready = go / f".{role}.go"
                ready.write_text("run" if status == "ok" else "skip")
                os.replace(ready, go / f"{role}.go")  # atomic: the checker never reads half a file
                del pending[role]
            if pending:
                self._step()
                time.sleep(poll)
                poll = min(LISTEN_POLL_MAX, poll * LISTEN_POLL_GROWTH)

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
            if blocked.get("resolver"):
                result.problems.append(f"tried Docker's name resolver: {blocked['resolver']} packets refused")
            if blocked.get("outside"):
                result.problems.append(f"tried to reach outside its network: {blocked['outside']} packets refused")
            result.output = printable_text(outcome.output)
            (logs / f"{result.spec.role}.log").write_text(result.output)
            result.log = f"logs/{result.spec.role}.log"
        self._leave_network(list(placed.values()))
        for result in roles:  # tcpdump has closed its file: was any of it cut?
            captured = sandbox.captured_packets(placed[result.spec.role].holder)
            kept = sandbox.pcap_packets(team_dir / result.pcap)
            if captured is not None and kept < captured:
                result.problems.append(
                    f"capture cut at {self.capture_mb} MB: {result.pcap} keeps the last {kept} of {captured} packets"
                )

    def _leave_network(self, placed: list[Placed]) -> None:
        """Stop the programs (no endpoint of their own), then the holders one at a time.

        A stopping holder leaves the team's network (its stop returns once the engine has released
        it), and on Docker 20.10 two endpoints of one network leaving at once are a hazard: the course
        class graded with its holders stopped together kept 4 of 180 team networks for a stale
        endpoint (none of 180 this way: benchmarks/grade_stress.py, docs/grading.md), and once hung
        the engine (libnetwork's lock-order inversion between an endpoint's Leave and the watch loop's
        processEndpointDelete, fixed in Engine 20.10.27; this machine runs 20.10.24).
        """
        common.stop_all([p.student for p in placed], sandbox.STOP_TIMEOUT)
        for where in placed:
            common.stop_all([where.holder], sandbox.STOP_TIMEOUT)


def command(spec: RoleSpec, sub: Submission) -> list[str]:
    """The role's command line as the grader runs it in the sandbox.

    A client's ``{host}``, ``{port}`` and ``{name}`` stay as they are here: the relay in
    its sandbox fills them in per connection with the checker's address, port and name.
    """
    if spec.is_client:
        return fill(spec.run, program_values(spec, sub))
    return fill(spec.run, server_values(spec, sub))


def program_values(spec: RoleSpec, sub: Submission) -> dict[str, str]:
    """The placeholders known before the program starts: its file, folder and port."""
    return {"file": sub.file or "", "dir": sub.dir, "port": str(spec.port)}


def server_values(spec: RoleSpec, sub: Submission) -> dict[str, str]:
    """A server role's placeholders, for its command and its typed ``stdin`` lines alike."""
    return program_values(spec, sub) | {"host": SERVER_BIND, "name": sub.folder}


def fresh_folder(path: Path) -> Path:
    """``path`` as an empty folder (files of an earlier run removed)."""
    path.mkdir(exist_ok=True)
    for stale in path.iterdir():
        stale.unlink()
    return path
