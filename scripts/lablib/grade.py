"""Grade a class: check and score each team's submission in DIR in a sandbox; reports, results.json, HTML table.

    scripts/lab grade DIR [--config FILE] [--jobs N] [--out DIR]

DIR holds one file (``Lab2_<TEAM>.py``) or one folder per team. The YAML config
(default: DIR/grading.yaml, else grading/grading.yaml) says for each lab part how
to start each role from a submission and what each checker case is worth:

    level: lab                    # the checker's level: lab or strict
    points: 1                     # points of a case not listed under its role
    parts:
      calc:
        calc-server:
          run: python3 {file} calc-server {port}
          points: {calc.concurrent-sessions: 2}
        calc-client:
          run: python3 {file} calc-client {host} {port} {name}

Placeholders: {file} the submission's program (its folder: {dir}), {port} the
role's port, {host} the address a server binds (0.0.0.0) or the server a client
reaches, {name} a client's name (servers: the team's name). Every submission
gets its own internal network (172.30.N.0/24), one sandboxed container per role
(each with its own address and pcap), and a checker container
(``python3 -m services check ROLE --json``) on that network. Per team it writes
report.md and a Gradescope results.json; for the class summary.md, summary.json
and index.html (teams x cases; each failure links its exchange and pcap).
"""

from __future__ import annotations

import argparse
import datetime as dt
import fnmatch
import html
import ipaddress
import json
import os
import random
import re
import secrets
import shlex
import signal
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lablib import common, sandbox

sys.path.insert(0, str(common.ROOT))
from services.check.core import CLIENT_ROLES, LEVELS, ROLE_SERVICE, ROLES, CaseResult, cases_for  # noqa: E402
from services.cli import PORTS  # noqa: E402

DEFAULT_CONFIG = common.ROOT / "grading" / "grading.yaml"
CONFIG_NAME = "grading.yaml"
#: The grader's networks: 172.30.N.0/24, one per submission being graded.
SUBNET_BASE = "172.30"
SUBNET_CHOICES = range(1, 255)
NETWORK_ATTEMPTS = 6
#: Addresses inside a submission's subnet: the checker, then one per role from ROLE_HOST_BASE on.
CHECKER_HOST = 2
ROLE_HOST_BASE = 10
#: A client role's program is started per connection by a relay listening on this port in its namespace.
RELAY_PORT = 17000
LISTEN_POLL = 0.25
#: Seconds (defaults; grading.yaml's ``timeouts`` may change them).
LISTEN_TIMEOUT = 10.0
CHECK_TIMEOUT = 60.0
#: A client role is recorded for ``duration`` s and then some for the checker's own start and judging.
CLIENT_SLACK = 30.0
CHECKER_SLACK = 20.0
#: Characters of a program's output and of the checker's errors kept in reports.
TAIL_CHARS = 4000
SERVER_BIND = "0.0.0.0"
SUBMISSION_SKIP = {CONFIG_NAME, "README.md", "README", ".gitignore"}
DEFAULT_MAIN = "Lab2_*.py"

# -- programs that run inside the grader's containers (from TOOLS_DIR) ------------------------------------------

#: In a client role's sandbox: for each connection, read "host port name", start the client with
#: those filled into its command, its stdin/stdout/stderr the connection (so the checker can script it).
RELAY = r"""
import socket, subprocess, sys
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("0.0.0.0", int(sys.argv[1])))
srv.listen(4)
proc = None
while True:
    conn, _ = srv.accept()
    head = b""
    while not head.endswith(b"\n"):
        byte = conn.recv(1)
        if not byte:
            break
        head += byte
    host, port, name = (head.decode().split() + ["", "", ""])[:3]
    if proc is not None and proc.poll() is None:
        proc.kill()
    argv = [a.replace("{host}", host).replace("{port}", port).replace("{name}", name) for a in sys.argv[2:]]
    print("relay: starting", argv, flush=True)
    proc = subprocess.Popen(argv, stdin=conn.fileno(), stdout=conn.fileno(), stderr=subprocess.STDOUT)
    conn.close()
"""

#: The checker's --cmd for a client role: connect to the relay, send host/port/name, then be the client's stdio.
CONNECT = r"""
import os, socket, sys, threading, time
end = time.monotonic() + 10
while True:
    try:
        s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=2)
        break
    except OSError:
        if time.monotonic() > end:
            raise
        time.sleep(0.1)
s.settimeout(None)
s.sendall((" ".join(sys.argv[3:6]) + "\n").encode())
def pump():
    for data in iter(lambda: os.read(0, 65536), b""):
        s.sendall(data)
    s.shutdown(socket.SHUT_WR)
threading.Thread(target=pump, daemon=True).start()
for data in iter(lambda: s.recv(65536), b""):
    os.write(1, data)
# Linger a moment: the checker judges as soon as its --cmd exits, and its reader of our
# stdout may not have caught up yet (seen under load: the client's last answers missing).
time.sleep(0.5)
os._exit(0)
"""

#: The checker container: run every role's check at once (each its own process and time limit),
#: each result to /out/<role>.json. The roles are independent: a submission takes as long as its slowest.
DRIVER = r"""
import json, os, subprocess, sys, threading, time
def run(job):
    if "go" in job:
        end = time.monotonic() + job["go"]
        while not os.path.exists("/out/" + job["role"] + ".go") and time.monotonic() < end:
            time.sleep(0.1)
        if not os.path.exists("/out/" + job["role"] + ".go"):
            return
        with open("/out/" + job["role"] + ".go") as f:
            if f.read() != "run":
                return
    start = time.monotonic()
    try:
        done = subprocess.run(job["argv"], capture_output=True, timeout=job["timeout"])
        result = {"exit": done.returncode, "stdout": done.stdout.decode("utf-8", "replace"),
                  "stderr": done.stderr.decode("utf-8", "replace")[-4000:]}
    except subprocess.TimeoutExpired:
        result = {"exit": None, "timeout": True, "stdout": "", "stderr": ""}
    result["seconds"] = round(time.monotonic() - start, 2)
    with open("/out/" + job["role"] + ".json", "w") as f:
        json.dump(result, f)
threads = [threading.Thread(target=run, args=(job,)) for job in json.loads(sys.argv[1])]
for t in threads:
    t.start()
for t in threads:
    t.join()
"""

#: The grader's scripts, mounted read-only at this path in its containers (written once per run).
TOOLS_DIR = "/grader"
TOOLS = {"relay.py": RELAY, "connect.py": CONNECT, "driver.py": DRIVER}


class GradeError(Exception):
    """A problem with the grader's input (config, folder): reported to the TA, nothing is run."""


# -- configuration ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RoleSpec:
    part: str
    role: str
    run: str
    port: int
    level: str
    points: dict[str, float]
    default_points: float
    duration: float | None = None
    check_args: tuple[str, ...] = ()

    @property
    def is_client(self) -> bool:
        return self.role in CLIENT_ROLES

    @property
    def proto(self) -> str:
        return "udp" if self.role in {"udp-echo-server", "datetime-server", "datetime-client"} else "tcp"

    def cases(self) -> list[str]:
        return [c.name for c in cases_for(self.role, self.level)]

    def points_of(self, case: str) -> float:
        return self.points.get(case, self.default_points)

    def check_timeout(self, timeouts: Timeouts) -> float:
        return (self.duration or 0) + CLIENT_SLACK if self.is_client else timeouts.check


@dataclass(frozen=True)
class Timeouts:
    listen: float = LISTEN_TIMEOUT
    check: float = CHECK_TIMEOUT


@dataclass(frozen=True)
class Config:
    roles: tuple[RoleSpec, ...]
    limits: sandbox.Limits = field(default_factory=sandbox.Limits)
    timeouts: Timeouts = field(default_factory=Timeouts)
    main: str = DEFAULT_MAIN
    source: str = ""


ROLE_KEYS = {"run", "points", "port", "level", "duration", "check_args"}


def load_config(path: Path) -> Config:
    import yaml

    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise GradeError(f"cannot read {path}: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("parts"), dict) or not data["parts"]:
        raise GradeError(f"{path}: expected a mapping with 'parts' (part -> role -> {{run, points}})")
    level = data.get("level", "lab")
    default_points = float(data.get("points", 1))
    roles = []
    for part, role_map in data["parts"].items():
        if not isinstance(role_map, dict):
            raise GradeError(f"{path}: part {part!r} must map roles to settings")
        for role, spec in role_map.items():
            roles.append(_role_spec(path, str(part), role, spec or {}, level, default_points))
    try:
        limits = sandbox.Limits.from_mapping(data.get("limits"))
        timeouts = Timeouts(**{k: float(v) for k, v in (data.get("timeouts") or {}).items()})
    except (TypeError, ValueError) as exc:
        raise GradeError(f"{path}: {exc}") from exc
    return Config(tuple(roles), limits, timeouts, str(data.get("main", DEFAULT_MAIN)), str(path))


def _role_spec(path: Path, part: str, role: str, spec: dict[str, Any], level: str, default: float) -> RoleSpec:
    where = f"{path}: {part}/{role}"
    if role not in ROLES:
        raise GradeError(f"{where}: unknown role; roles: {', '.join(ROLES)}")
    unknown = set(spec) - ROLE_KEYS
    if unknown:
        raise GradeError(f"{where}: unknown keys {', '.join(sorted(unknown))} (known: {', '.join(sorted(ROLE_KEYS))})")
    if not isinstance(spec.get("run"), str) or not spec["run"].strip():
        raise GradeError(f"{where}: 'run' (the command template, e.g. python3 {{file}} {role} {{port}}) is missing")
    role_level = spec.get("level", level)
    if role_level not in LEVELS:
        raise GradeError(f"{where}: level must be one of {', '.join(LEVELS)}")
    points = spec.get("points", {})
    role_default = default
    if isinstance(points, int | float):
        role_default, points = float(points), {}
    known = [c.name for c in cases_for(role, role_level)]
    unknown_cases = set(points) - set(known)
    if unknown_cases:
        raise GradeError(f"{where}: no case {', '.join(sorted(unknown_cases))} at level {role_level}; cases: {known}")
    return RoleSpec(
        part=part,
        role=role,
        run=spec["run"],
        port=int(spec.get("port", PORTS[ROLE_SERVICE[role]])),
        level=role_level,
        points={k: float(v) for k, v in points.items()},
        default_points=role_default,
        duration=float(spec["duration"]) if "duration" in spec else None,
        check_args=tuple(str(a) for a in spec.get("check_args", ())),
    )


# -- submissions --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Submission:
    team: str
    path: Path
    #: The program {file} names, as a path inside the container (None: not found in the folder).
    file: str | None
    dir: str

    @property
    def slug(self) -> str:
        return re.sub(r"[^A-Za-z0-9_.-]", "_", self.team)[:40] or "team"


def find_submissions(folder: Path, main: str) -> list[Submission]:
    if not folder.is_dir():
        raise GradeError(f"{folder} is not a folder of submissions")
    found = []
    for entry in sorted(folder.iterdir(), key=lambda p: p.name.lower()):
        if entry.name.startswith(".") or entry.name in SUBMISSION_SKIP or entry.name == "__pycache__":
            continue
        if entry.is_dir():
            programs = sorted(p.name for p in entry.iterdir() if fnmatch.fnmatch(p.name, main))
            file = f"{sandbox.SUBMISSION_DIR}/{programs[0]}" if len(programs) == 1 else None
            found.append(Submission(entry.name, entry, file, sandbox.SUBMISSION_DIR))
        elif entry.is_file():
            team = re.sub(r"^Lab2_", "", entry.stem) or entry.stem
            found.append(Submission(team, entry, f"{sandbox.SUBMISSION_DIR}/{entry.name}", sandbox.SUBMISSION_DIR))
    if not found:
        raise GradeError(f"no submissions in {folder}")
    teams = [s.slug for s in found]
    clash = sorted({t for t in teams if teams.count(t) > 1})
    if clash:
        raise GradeError(f"two submissions would share a report folder: {', '.join(clash)}")
    return found


def fill(template: str, values: dict[str, str]) -> list[str]:
    """shlex-split ``template`` and replace the placeholders present in ``values`` in each word."""
    words = shlex.split(template)
    for key, value in values.items():
        words = [w.replace("{" + key + "}", value) for w in words]
    return words


# -- results ------------------------------------------------------------------------------------------------


@dataclass
class RoleResult:
    spec: RoleSpec
    #: What happened before the checks: "ok", or a short reason the checks could not run.
    status: str = "ok"
    cases: list[CaseResult] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    output: str = ""
    pcap: str = ""
    log: str = ""
    exchanges: dict[str, str] = field(default_factory=dict)
    check_seconds: float = 0.0

    def score(self, case: CaseResult) -> float:
        return self.spec.points_of(case.name) if case.passed else 0.0

    @property
    def total(self) -> float:
        return sum(self.score(c) for c in self.cases)

    @property
    def max_total(self) -> float:
        return sum(self.spec.points_of(c) for c in self.spec.cases())


@dataclass
class TeamResult:
    submission: Submission
    roles: list[RoleResult] = field(default_factory=list)
    error: str = ""
    seconds: float = 0.0

    @property
    def score(self) -> float:
        return sum(r.total for r in self.roles)

    @property
    def max_score(self) -> float:
        return sum(r.max_total for r in self.roles)


def unchecked(spec: RoleSpec, reason: str) -> list[CaseResult]:
    return [CaseResult(name, spec.level, False, f"not run: {reason}", ran=False) for name in spec.cases()]


def merge_cases(spec: RoleSpec, reported: list[dict[str, Any]]) -> list[CaseResult]:
    """The role's configured cases, in order, with what the checker reported for each."""
    by_name = {r["name"]: r for r in reported}
    merged = []
    for name in spec.cases():
        r = by_name.get(name)
        if r is None:
            merged.append(CaseResult(name, spec.level, False, "not reported by the checker", ran=False))
            continue
        fields = ("passed", "message", "transcript", "ms", "ran")
        merged.append(CaseResult(name, r.get("level", spec.level), **{k: r[k] for k in fields if k in r}))
    return merged


# -- one submission -----------------------------------------------------------------------------------------


class SubnetPool:
    """Hands out 172.30.N.0/24 subnets no network on this engine uses (other runs may race: callers retry)."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.lock = threading.Lock()
        self.mine: set[int] = set()

    def take(self) -> int:
        with self.lock:
            used = set(self.mine)
            for network in self.client.networks.list():
                for pool in (network.attrs.get("IPAM") or {}).get("Config") or []:
                    with suppress(ValueError, KeyError):
                        net = ipaddress.ip_network(pool["Subnet"])
                        if net.overlaps(ipaddress.ip_network(f"{SUBNET_BASE}.0.0/16")):
                            used.add(int(str(net.network_address).split(".")[2]))
            free = [n for n in SUBNET_CHOICES if n not in used]
            if not free:
                raise sandbox.SandboxError(f"no free subnet left in {SUBNET_BASE}.0.0/16")
            n = random.choice(free)
            self.mine.add(n)
            return n

    def give_back(self, n: int) -> None:
        with self.lock:
            self.mine.discard(n)


class Grader:
    def __init__(self, client: Any, config: Config, out: Path, image: str) -> None:
        self.client = client
        self.config = config
        self.out = out
        self.image = image
        self.run_id = f"slgrade-{secrets.token_hex(3)}"
        self.labels = {sandbox.OWNER_LABEL: self.run_id}
        self.subnets = SubnetPool(client)
        tools = out / ".grader"
        tools.mkdir(parents=True, exist_ok=True)
        for name, text in TOOLS.items():
            (tools / name).write_text(text.lstrip())
        self.tools_mount = {str(tools.resolve()): {"bind": TOOLS_DIR, "mode": "ro"}}

    # -- the whole pipeline of one team ------------------------------------------------------------------

    def grade(self, index: int, sub: Submission) -> TeamResult:
        started = time.monotonic()
        result = TeamResult(sub)
        team_dir = self.out / sub.slug
        team_dir.mkdir(parents=True, exist_ok=True)
        resources = sandbox.Resources(self.client)
        subnet_n: int | None = None
        try:
            if sub.file is None:
                reason = f"no single program matching {self.config.main} in the folder"
                result.roles = [RoleResult(s, "no program", unchecked(s, reason)) for s in self.config.roles]
                return result
            network, subnet_n = self._network(index, resources)
            result.roles = self._run(index, sub, network, subnet_n, team_dir, resources)
        except Exception as exc:  # the grader's own failure (Docker, disk): say so, never blame the team
            result.error = f"grader error: {type(exc).__name__}: {exc}"
            result.roles = [RoleResult(s, "grader error", unchecked(s, result.error)) for s in self.config.roles]
        finally:
            problems = resources.close()
            if subnet_n is not None:
                self.subnets.give_back(subnet_n)
            if problems:
                result.error = (result.error + "; " if result.error else "") + "cleanup: " + "; ".join(problems)
            result.seconds = round(time.monotonic() - started, 1)
        return result

    def _network(self, index: int, resources: sandbox.Resources) -> tuple[Any, int]:
        import docker.errors
        import docker.types

        last: Exception | None = None
        for _ in range(NETWORK_ATTEMPTS):
            n = self.subnets.take()
            subnet = f"{SUBNET_BASE}.{n}.0/24"
            ipam = docker.types.IPAMConfig(
                pool_configs=[docker.types.IPAMPool(subnet=subnet, gateway=sandbox.subnet_gateway(subnet))]
            )
            try:
                network = self.client.networks.create(
                    f"{self.run_id}-{index:03d}", driver="bridge", internal=True, ipam=ipam, labels=self.labels
                )
                return resources.network(network), n
            except docker.errors.APIError as exc:  # another run took the subnet meanwhile
                self.subnets.give_back(n)
                last = exc
        raise sandbox.SandboxError(f"could not create a network: {last}")

    def _run(
        self, index: int, sub: Submission, network: Any, n: int, team_dir: Path, resources: sandbox.Resources
    ) -> list[RoleResult]:
        subnet = f"{SUBNET_BASE}.{n}.0/24"
        checker_ip = f"{SUBNET_BASE}.{n}.{CHECKER_HOST}"
        roles = [RoleResult(spec) for spec in self.config.roles]
        placed: dict[str, tuple[Any, Any, str]] = {}  # role -> (holder, student, ip)

        def place(i: int, result: RoleResult) -> None:
            spec = result.spec
            ip = f"{SUBNET_BASE}.{n}.{ROLE_HOST_BASE + i}"
            name = f"{self.run_id}-{index:03d}-{spec.role}"
            pcap = team_dir / f"{spec.role}.pcap"
            pcap.unlink(missing_ok=True)
            holder = sandbox.start_holder(
                self.client,
                resources,
                name=f"{name}-net",
                network=network.name,
                ip=ip,
                subnet=subnet,
                labels=self.labels,
                capture=pcap,
                hostname=spec.role,
                image=self.image,
            )
            values = {"file": sub.file or "", "dir": sub.dir, "port": str(spec.port)}
            if spec.is_client:
                argv = ["python3", f"{TOOLS_DIR}/relay.py", str(RELAY_PORT), *fill(spec.run, values)]
            else:
                argv = fill(spec.run, values | {"host": SERVER_BIND, "name": sub.team})
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
                volumes=self.tools_mount,
            )
            result.pcap = pcap.name
            placed[spec.role] = (holder, student, ip)

        with ThreadPoolExecutor(max_workers=4) as pool:
            list(pool.map(place, range(len(roles)), roles))  # raises the first setup failure
        checks_dir = team_dir / "checks"
        checks_dir.mkdir(exist_ok=True)
        for stale in checks_dir.iterdir():
            stale.unlink()
        # The checker starts at once: client roles are checked while the servers are still starting;
        # each server role's check waits for its go-file, written when the server listens (or never will).
        jobs = [self._job(r.spec, placed[r.spec.role][2], checker_ip) for r in roles]
        checker = self._start_checker(jobs, checker_ip, checks_dir, network, resources)
        self._wait_listening(roles, placed, checks_dir)
        limit = max(job["timeout"] for job in jobs) + self.config.timeouts.listen + CHECKER_SLACK
        try:
            checker.wait(timeout=limit)
        except Exception:  # requests' ReadTimeout, or the engine: the per-role files say what finished
            with suppress(Exception):
                checker.kill()
        for result in roles:
            if result.status == "ok":
                self._read_check(result, checks_dir / f"{result.spec.role}.json", checker)
            else:
                result.cases = unchecked(result.spec, result.status)
        self._observe(roles, placed, team_dir)
        return roles

    def _wait_listening(self, roles: list[RoleResult], placed: dict[str, tuple[Any, Any, str]], go: Path) -> None:
        """Each server role: wait until it listens on its port, or exits, or the time is up; tell the checker."""
        pending = {r.spec.role: r for r in roles if not r.spec.is_client}
        deadline = time.monotonic() + self.config.timeouts.listen
        while pending:
            for role, result in list(pending.items()):
                holder, student, _ip = placed[role]
                ports = listening(holder, result.spec.proto)
                where = f"{result.spec.port}/{result.spec.proto}"
                if result.spec.port in ports:
                    result.status = "ok"
                else:
                    student.reload()
                    if student.status != "running":
                        code = student.attrs["State"].get("ExitCode")
                        result.status = f"exited (status {code}) before listening on {where}"
                    elif time.monotonic() > deadline:
                        shown = ", ".join(f"{p}/{result.spec.proto}" for p in sorted(ports))
                        result.status = (
                            f"wrong port: listens on {shown}, not {where}"
                            if ports
                            else f"never listened on {where} within {self.config.timeouts.listen:g} s"
                        )
                    else:
                        continue
                ready = go / f".{role}.go"
                ready.write_text("run" if result.status == "ok" else "skip")
                os.replace(ready, go / f"{role}.go")  # atomic: the checker never reads half a file
                del pending[role]
            if pending:
                time.sleep(LISTEN_POLL)

    def _job(self, spec: RoleSpec, ip: str, checker_ip: str) -> dict[str, Any]:
        """The checker's command line for one role (``ip``: the role's own address)."""
        argv = ["python3", "-m", "services", "check", spec.role, "--level", spec.level, "--json"]
        if spec.is_client:
            connect = ["python3", f"{TOOLS_DIR}/connect.py", ip, str(RELAY_PORT)]
            cmd = shlex.join([*connect, "{host}", "{port}", "{name}"])
            argv += ["--listen", checker_ip, "--port", str(spec.port), "--cmd", cmd]
            if spec.duration is not None:
                argv += ["--duration", f"{spec.duration:g}"]
        else:
            argv += ["--host", ip, "--port", str(spec.port)]
        job = {
            "role": spec.role,
            "argv": [*argv, *spec.check_args],
            "timeout": spec.check_timeout(self.config.timeouts),
        }
        if not spec.is_client:
            job["go"] = self.config.timeouts.listen + CHECKER_SLACK  # s to wait for the go-file
        return job

    def _start_checker(
        self, jobs: list[dict[str, Any]], ip: str, checks_dir: Path, network: Any, resources: sandbox.Resources
    ) -> Any:
        endpoint = self.client.api.create_endpoint_config(ipv4_address=ip)
        checker = resources.container(
            self.client.containers.create(
                self.image,
                entrypoint=["python3", f"{TOOLS_DIR}/driver.py", json.dumps(jobs)],
                name=f"{network.name}-checker",
                hostname="checker",
                user=sandbox.host_ids(),
                cap_drop=["ALL"],
                security_opt=["no-new-privileges"],
                read_only=True,
                tmpfs={"/tmp": "size=16m"},
                mem_limit="256m",
                pids_limit=512,
                working_dir="/tmp",
                environment={"HOME": "/tmp", "TZ": "UTC"},
                volumes={str(checks_dir.resolve()): {"bind": "/out", "mode": "rw"}, **self.tools_mount},
                labels=self.labels,
                network=network.name,
                networking_config={network.name: endpoint},
                log_config=sandbox.log_config(),
            )
        )
        checker.start()
        return checker

    def _read_check(self, result: RoleResult, path: Path, checker: Any) -> None:
        spec = result.spec
        try:
            done = json.loads(path.read_text())
        except (OSError, ValueError):
            tail = ""
            with suppress(Exception):
                tail = checker.logs(tail=20).decode("utf-8", "replace").strip()
            result.status = "checker did not finish"
            result.cases = unchecked(spec, f"the checker did not finish in time{': ' + tail if tail else ''}")
            return
        result.check_seconds = float(done.get("seconds", 0))
        if done.get("timeout"):
            result.status = f"checks timed out after {spec.check_timeout(self.config.timeouts):g} s"
            result.cases = unchecked(spec, result.status)
            return
        try:
            doc = json.loads(done["stdout"])
            result.cases = merge_cases(spec, doc["cases"])
        except (ValueError, KeyError, TypeError):
            result.status = "checker error"
            result.cases = unchecked(spec, f"checker error: {done.get('stderr', '')[-TAIL_CHARS:]}")

    def _observe(self, roles: list[RoleResult], placed: dict[str, tuple[Any, Any, str]], team_dir: Path) -> None:
        """Read each program's fate and output, then stop programs and captures (tcpdump closes its file)."""
        logs = team_dir / "logs"
        logs.mkdir(exist_ok=True)
        for result in roles:
            holder, student, _ip = placed[result.spec.role]
            outcome = sandbox.observe(student)
            blocked = sandbox.blocked_packets(holder)
            result.problems = outcome.problems(self.config.limits)
            if blocked.get("host"):
                result.problems.append(f"tried to reach the Docker host: {blocked['host']} packets refused")
            if blocked.get("outside"):
                result.problems.append(f"tried to reach outside its network: {blocked['outside']} packets refused")
            result.output = outcome.output
            (logs / f"{result.spec.role}.log").write_text(outcome.output)
            result.log = f"logs/{result.spec.role}.log"
        students = [placed[r.spec.role][1] for r in roles]
        holders = [placed[r.spec.role][0] for r in roles]
        stopper = sandbox.Resources(self.client)
        stopper.stop_all(students)
        stopper.stop_all(holders)


def listening(holder: Any, proto: str) -> set[int]:
    """Ports with a listening (TCP) or bound (UDP) socket in the holder's namespace."""
    flag = "-Hltn" if proto == "tcp" else "-Hlun"
    code, out = holder.exec_run(["ss", flag])
    if code != 0:
        return set()
    ports = set()
    for line in (out or b"").decode().splitlines():
        fields = line.split()
        if len(fields) < 4:
            continue
        address, _, port = fields[3].rpartition(":")
        if address.startswith("127.") or port == str(RELAY_PORT):
            continue  # Docker's DNS resolver listens on 127.0.0.11 in every namespace; the relay is ours
        with suppress(ValueError):
            ports.add(int(port))
    return ports


# -- reports ------------------------------------------------------------------------------------------------


def render_exchange(case: CaseResult) -> str:
    from services.check.cli import render

    return render(case)


def write_team(out: Path, team: TeamResult) -> None:
    team_dir = out / team.submission.slug
    exchanges = team_dir / "exchanges"
    exchanges.mkdir(parents=True, exist_ok=True)
    for role in team.roles:
        for case in role.cases:
            if case.passed:
                continue
            name = f"{role.spec.role}.{case.name}.txt"
            text = [f"team {team.submission.team}, {role.spec.part} / {role.spec.role} [{case.level}]", ""]
            text += [render_exchange(case), ""]
            if role.status != "ok":
                text.append(f"program: {role.status}")
            text += [f"program: {p}" for p in role.problems]
            if role.output:
                text += ["", f"--- the program's output (end; all of it in ../{role.log}) ---", role.output[-1500:]]
            (exchanges / name).write_text("\n".join(text) + "\n")
            role.exchanges[case.name] = f"exchanges/{name}"
    (team_dir / "results.json").write_text(json.dumps(gradescope(team), indent=2) + "\n")
    (team_dir / "report.md").write_text(team_markdown(team))


def gradescope(team: TeamResult) -> dict[str, Any]:
    """Gradescope's autograder results format: one test per case."""
    tests = []
    for role in team.roles:
        for case in role.cases:
            output = "passed" if case.passed else case.message
            if not case.passed and case.transcript:
                output += "\n\n" + render_exchange(case)
            if not case.passed and (role.problems or role.status != "ok"):
                output += "\n\nprogram: " + "; ".join(([role.status] if role.status != "ok" else []) + role.problems)
            tests.append(
                {
                    "name": f"{role.spec.part}: {case.name}",
                    "score": role.score(case),
                    "max_score": role.spec.points_of(case.name),
                    "status": "passed" if case.passed else "failed",
                    "output": output,
                }
            )
    doc: dict[str, Any] = {"score": team.score, "tests": tests}
    if team.error:
        doc["output"] = team.error
    return doc


def _fmt(x: float) -> str:
    return f"{x:g}"


def team_markdown(team: TeamResult) -> str:
    sub = team.submission
    lines = [f"# {sub.team}: {_fmt(team.score)} / {_fmt(team.max_score)}", ""]
    lines += [f"Submission `{sub.path.name}`, graded in {team.seconds:g} s.", ""]
    if team.error:
        lines += [f"**{team.error}**", ""]
    lines += ["| part | role | program | score | capture |", "|---|---|---|---|---|"]
    for role in team.roles:
        state = role.status if role.status != "ok" else "ran"
        if role.problems:
            state += "; " + "; ".join(role.problems)
        pcap = f"[{role.pcap}]({role.pcap})" if role.pcap else "-"
        lines.append(
            f"| {role.spec.part} | {role.spec.role} | {state} | {_fmt(role.total)} / {_fmt(role.max_total)} | {pcap} |"
        )
    for role in team.roles:
        lines += ["", f"## {role.spec.part}: {role.spec.role} ({_fmt(role.total)} / {_fmt(role.max_total)})", ""]
        for case in role.cases:
            mark = "pass" if case.passed else ("not run" if not case.ran else "FAIL")
            line = f"- **{mark}** `{case.name}` ({_fmt(role.score(case))}/{_fmt(role.spec.points_of(case.name))})"
            if not case.passed:
                line += f": {case.message}"
                if case.name in role.exchanges:
                    line += f" ([exchange]({role.exchanges[case.name]}))"
            lines.append(line)
        if role.output:
            lines += ["", f"Program output (end; [all of it]({role.log})):", "", "```", role.output[-1500:], "```"]
    return "\n".join(lines) + "\n"


def verdicts(teams: list[TeamResult]) -> dict[str, dict[str, str]]:
    """team -> "role/case" -> pass | fail | not run: what a second run must reproduce."""
    table = {}
    for team in teams:
        table[team.submission.team] = {
            f"{r.spec.role}/{c.name}": "pass" if c.passed else ("fail" if c.ran else "not run")
            for r in team.roles
            for c in r.cases
        }
    return table


def write_summary(out: Path, config: Config, teams: list[TeamResult], seconds: float) -> None:
    summary = {
        "config": config.source,
        "seconds": round(seconds, 1),
        "teams": [
            {
                "team": t.submission.team,
                "folder": t.submission.slug,
                "score": t.score,
                "max_score": t.max_score,
                "roles": {r.spec.role: {"score": r.total, "status": r.status, "problems": r.problems} for r in t.roles},
                "error": t.error,
            }
            for t in teams
        ],
        "verdicts": verdicts(teams),
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    (out / "summary.md").write_text(summary_markdown(config, teams, seconds))
    (out / "index.html").write_text(summary_html(config, teams, seconds))


def summary_markdown(config: Config, teams: list[TeamResult], seconds: float) -> str:
    specs = config.roles
    head = ["team", "score", *(s.role for s in specs), "notes"]
    lines = [f"# Class results ({len(teams)} submissions, graded in {seconds:.0f} s)", ""]
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for t in teams:
        cells = [f"[{t.submission.team}]({t.submission.slug}/report.md)", f"{_fmt(t.score)} / {_fmt(t.max_score)}"]
        cells += [f"{_fmt(r.total)}/{_fmt(r.max_total)}" for r in t.roles]
        notes = [t.error] if t.error else []
        notes += [f"{r.spec.role}: {r.status}" for r in t.roles if r.status != "ok"]
        notes += [f"{r.spec.role}: {p}" for r in t.roles for p in r.problems]
        cells.append("; ".join(notes).replace("|", "\\|"))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


CSS = """body{font-family:system-ui,sans-serif;margin:1.5em}table{border-collapse:collapse;font-size:13px}
td,th{border:1px solid #ccc;padding:3px 6px;text-align:center}th.case{writing-mode:vertical-rl;
transform:rotate(180deg);white-space:nowrap;font-weight:normal}td.team{text-align:left}.pass{background:#dfd}
.fail{background:#fdd}.skip{background:#eee;color:#777}.note{text-align:left;font-size:12px;max-width:30em}"""


def summary_html(config: Config, teams: list[TeamResult], seconds: float) -> str:
    e = html.escape
    specs = config.roles
    role_row = "".join(f'<th colspan="{len(s.cases())}">{e(s.part)}: {e(s.role)}</th>' for s in specs)
    case_row = "".join(f'<th class="case">{e(c)}</th>' for s in specs for c in s.cases())
    rows = []
    for t in teams:
        slug = t.submission.slug
        cells = [f'<td class="team"><a href="{e(slug)}/report.md">{e(t.submission.team)}</a></td>']
        cells.append(f"<td>{_fmt(t.score)} / {_fmt(t.max_score)}</td>")
        for r in t.roles:
            pcap = f' <a href="{e(slug)}/{e(r.pcap)}" title="capture">pcap</a>' if r.pcap else ""
            for c in r.cases:
                if c.passed:
                    cells.append('<td class="pass">&#10003;</td>')
                    continue
                css, mark = ("fail", "&#10007;") if c.ran else ("skip", "&ndash;")
                link = r.exchanges.get(c.name)
                title = e(c.message, quote=True)
                shown = f'<a href="{e(slug)}/{e(link)}" title="{title}">{mark}</a>' if link else mark
                cells.append(f'<td class="{css}">{shown}{pcap}</td>')
        notes = [t.error] if t.error else []
        notes += [f"{r.spec.role}: {r.status}" for r in t.roles if r.status != "ok"]
        notes += [f"{r.spec.role}: {p}" for r in t.roles for p in r.problems]
        cells.append(f'<td class="note">{"<br>".join(e(n) for n in notes)}</td>')
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>socklab grades</title><style>{CSS}</style></head><body>
<h1>Class results</h1>
<p>{len(teams)} submissions, graded in {seconds:.0f} s with {e(config.source)}.
&#10003; passed, &#10007; failed (links to the exchange; pcap: that role's capture), &ndash; not run.</p>
<table>
<tr><th rowspan="2">team</th><th rowspan="2">score</th>{role_row}<th rowspan="2">notes</th></tr>
<tr>{case_row}</tr>
{chr(10).join(rows)}
</table></body></html>
"""


# -- running the class --------------------------------------------------------------------------------------


class Progress:
    """One status line on stderr: rewritten in place on a terminal, a line per team otherwise."""

    WIDTH = 30

    def __init__(self, total: int) -> None:
        self.total, self.done, self.running = total, 0, 0
        self.start = time.monotonic()
        self.tty = sys.stderr.isatty()
        self.lock = threading.Lock()

    def update(self, done: int, running: int, last: str = "") -> None:
        with self.lock:
            self.done, self.running = done, running
            filled = self.WIDTH * done // max(1, self.total)
            bar = "#" * filled + "." * (self.WIDTH - filled)
            line = f"[{bar}] {done}/{self.total} graded, {running} running, {time.monotonic() - self.start:.0f} s"
            if self.tty:
                sys.stderr.write(f"\r{line} {last[:40]:<40}")
            elif last:
                sys.stderr.write(f"{line}  {last}\n")
            sys.stderr.flush()

    def finish(self) -> None:
        if self.tty:
            sys.stderr.write("\n")


def grade_class(grader: Grader, submissions: list[Submission], jobs: int) -> list[TeamResult]:
    results: dict[int, TeamResult] = {}
    progress = Progress(len(submissions))
    progress.update(0, 0)
    pool = ThreadPoolExecutor(max_workers=jobs)
    futures: dict[Future[TeamResult], int] = {}
    try:
        for i, sub in enumerate(submissions):
            futures[pool.submit(grader.grade, i, sub)] = i
        pending = set(futures)
        while pending:
            finished, pending = wait(pending, timeout=1, return_when=FIRST_COMPLETED)
            last = ""
            for future in finished:
                team = future.result()
                results[futures[future]] = team
                write_team(grader.out, team)
                last = f"{team.submission.team}: {_fmt(team.score)}/{_fmt(team.max_score)}"
            running = min(jobs, len(pending))
            progress.update(len(results), running, last)
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
        progress.finish()
    return [results[i] for i in sorted(results)]


def default_jobs() -> int:
    return 2 * (os.cpu_count() or 1)


def resolve_config(folder: Path, given: str | None) -> Path:
    if given:
        return Path(given)
    local = folder / CONFIG_NAME
    return local if local.is_file() else DEFAULT_CONFIG


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="scripts/lab grade",
        description=__doc__.split("\n\n")[0],
        epilog="See docs/grading.md. The config format is in grading/grading.yaml.",
    )
    parser.add_argument("folder", type=Path, help="one file or folder per team")
    parser.add_argument("--config", help=f"grading YAML (default: FOLDER/{CONFIG_NAME}, else grading/grading.yaml)")
    parser.add_argument(
        "--jobs", type=int, default=default_jobs(), help="submissions graded at once (default 2x cores)"
    )
    parser.add_argument("--out", type=Path, help="results folder (default grades/<UTC time>)")
    parser.add_argument("--no-build", action="store_true", help="use the existing lab image as it is")
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error("--jobs must be at least 1")
    started = time.monotonic()
    args.folder = sandbox.user_path(args.folder)
    args.config = str(sandbox.user_path(Path(args.config))) if args.config else None
    args.out = sandbox.user_path(args.out) if args.out else None
    try:
        config = load_config(resolve_config(args.folder, args.config))
        submissions = find_submissions(args.folder, config.main)
        image = common.IMAGE if args.no_build else common.ensure_images()
        client = grade_client(args.jobs)
    except (GradeError, common.LabError) as exc:
        print(f"scripts/lab grade: {exc}", file=sys.stderr)
        return 2
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
    out = args.out or common.ROOT / "grades" / stamp
    out.mkdir(parents=True, exist_ok=True)
    grader = Grader(client, config, out, image)
    common.log(
        f"grading {len(submissions)} submissions with {config.source}, {args.jobs} at a time "
        f"(sandbox: {config.limits.describe()}) ..."
    )
    teams: list[TeamResult] = []
    # A CI job's timeout or `kill` sends SIGTERM: unwind like Ctrl-C so the sweep below still runs.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        teams = grade_class(grader, submissions, args.jobs)
    except KeyboardInterrupt:
        common.log("interrupted: removing the containers and networks of this run ...")
        return 130
    finally:
        left = sandbox.sweep(client, grader.run_id)
        if left:
            common.log("could not remove: " + "; ".join(left))
    seconds = time.monotonic() - started
    write_summary(out, config, teams, seconds)
    for line in summary_lines(teams):
        print(line)
    shown = out.relative_to(Path.cwd()) if out.is_relative_to(Path.cwd()) else out
    print(f"\n{len(teams)} submissions graded in {seconds:.1f} s: {shown}/index.html, {shown}/summary.md")
    return 1 if any(t.error for t in teams) else 0


def summary_lines(teams: list[TeamResult]) -> Iterator[str]:
    width = max((len(t.submission.team) for t in teams), default=4)
    for t in teams:
        bad = [r.spec.role + (f" ({r.status})" if r.status != "ok" else "") for r in t.roles if r.total < r.max_total]
        note = t.error or ("missed: " + ", ".join(bad) if bad else "all passed")
        yield f"{t.submission.team:<{width}}  {_fmt(t.score):>5} / {_fmt(t.max_score):<5} {note}"


def grade_client(jobs: int) -> Any:
    """A Docker client for many threads: a connection pool per job and a time limit on every API call."""
    import docker

    common.docker_client()  # a clear error when the engine is unreachable
    return docker.from_env(timeout=sandbox.API_TIMEOUT, max_pool_size=max(10, jobs * 6))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
