"""The checker container of a submission: its jobs (one per role), its start, and reading its results."""

from __future__ import annotations

import json
import os
import shlex
from contextlib import suppress
from pathlib import Path
from typing import Any

from .. import sandbox
from .config import RoleSpec, Timeouts
from .network import TeamNetwork
from .results import RoleResult, merge_cases, unchecked

#: The grader's in-container programs (grading/tools), mounted read-only here. A grader running in a
#: container (the handout's selftest) names a copy in the folder the engine's host shares instead.
TOOLS_DIR_ENV = "SOCKLAB_GRADER_TOOLS"
TOOLS_HOST_DIR = Path(os.environ.get(TOOLS_DIR_ENV) or Path(__file__).resolve().parent / "tools")
TOOLS_DIR = "/grader"
#: Where the checker container writes each role's result (a host folder per team).
CHECKS_DIR = "/out"
#: A client role's program is started per connection by a relay listening on this port in its namespace.
RELAY_PORT = 17000
#: Linux's default ephemeral ports (net.ipv4.ip_local_port_range, which Docker leaves as it is): a UDP
#: socket the kernel bound there is a client's (sendto without bind), not a server on a wrong port.
EPHEMERAL_PORTS = range(32768, 61000)
#: Seconds the checker may run beyond its longest check once every server role's go-file is written.
CHECKER_SLACK = 20.0
#: Seconds the checker waits beyond the listen timeout for a server role's go-file. The grader writes one
#: for every server role (run or skip) as soon as it knows, but each look at a server is an exec that a
#: loaded engine can take seconds to answer: at the start of a 75-team class a correct team's last go-file
#: came 28.3 s after its checker started, just after a wait of 28 s (listen 8 s + 20 s) had ended, and its
#: check never ran. The wait only ends a checker whose grader died.
GO_SLACK = 50.0
#: Characters of the checker's errors kept in reports.
TAIL_CHARS = 4000
CHECKER_MEMORY = "256m"
CHECKER_PIDS = 512


def tools_mount() -> dict[str, dict[str, str]]:
    return {sandbox.engine_path(TOOLS_HOST_DIR): {"bind": TOOLS_DIR, "mode": "ro"}}


def tool_mount(name: str) -> dict[str, dict[str, str]]:
    """One tool for a student's container: nothing else of the grader is there to read."""
    return {sandbox.engine_path(TOOLS_HOST_DIR / name): {"bind": f"{TOOLS_DIR}/{name}", "mode": "ro"}}


def relay_argv(command: list[str]) -> list[str]:
    """A client role's entrypoint: the relay, which starts ``command`` per connection."""
    return ["python3", f"{TOOLS_DIR}/relay.py", str(RELAY_PORT), *command]


def feed_argv(lines: list[str], command: list[str]) -> list[str]:
    """A server role's entrypoint when its team's program wants ``lines`` typed first."""
    return ["python3", f"{TOOLS_DIR}/feed.py", json.dumps(list(lines)), *command]


def job(spec: RoleSpec, ip: str, checker_ip: str, timeouts: Timeouts) -> dict[str, Any]:
    """The checker's command line for one role (``ip``: the role's own address)."""
    argv = ["python3", "-m", "services", "check", spec.role, "--level", spec.level, "--json"]
    if spec.is_client:
        connect = ["python3", f"{TOOLS_DIR}/connect.py", ip, str(RELAY_PORT)]
        cmd = shlex.join([*connect, "{host}", "{port}", "{name}", *spec.stdin])
        argv += ["--listen", checker_ip, "--port", str(spec.port), "--cmd", cmd]
        if spec.duration is not None:
            argv += ["--duration", f"{spec.duration:g}"]
    else:
        argv += ["--host", ip, "--port", str(spec.port)]
    entry: dict[str, Any] = {
        "role": spec.role,
        "argv": [*argv, *spec.check_args],
        "timeout": spec.check_timeout(timeouts),
    }
    if not spec.is_client:
        entry["go"] = timeouts.listen + GO_SLACK  # s to wait for the go-file
    return entry


def team_time_limit(specs: tuple[RoleSpec, ...], timeouts: Timeouts) -> float:
    """The longest a team's grading may take once its containers run: the checker's wait for a go-file, then
    its longest check."""
    return max((s.check_timeout(timeouts) for s in specs), default=0) + timeouts.listen + GO_SLACK


def time_limit(jobs: list[dict[str, Any]], timeouts: Timeouts) -> float:
    """How long the whole checker container may run."""
    return max(j["timeout"] for j in jobs) + timeouts.listen + CHECKER_SLACK


def start(
    client: Any,
    resources: sandbox.Resources,
    *,
    image: str,
    jobs: list[dict[str, Any]],
    network: TeamNetwork,
    checks_dir: Path,
    labels: dict[str, str],
) -> Any:
    """Start the checker at the team's checker address: it runs every job at once, each result into ``checks_dir``."""
    endpoint = client.api.create_endpoint_config(ipv4_address=network.checker_ip)
    checker = resources.container(
        client.containers.create(
            image,
            entrypoint=["python3", f"{TOOLS_DIR}/driver.py", CHECKS_DIR, json.dumps(jobs)],
            name=f"{network.name}-checker",
            hostname="checker",
            user=sandbox.host_ids(),
            cap_drop=["ALL"],
            security_opt=["no-new-privileges"],
            read_only=True,
            tmpfs={"/tmp": "size=16m"},
            mem_limit=CHECKER_MEMORY,
            pids_limit=CHECKER_PIDS,
            working_dir="/tmp",
            environment={"HOME": "/tmp", "TZ": "UTC"},
            volumes={sandbox.engine_path(checks_dir): {"bind": CHECKS_DIR, "mode": "rw"}, **tools_mount()},
            labels=labels,
            network=network.name,
            networking_config={network.name: endpoint},
            log_config=sandbox.log_config(),
        )
    )
    checker.start()
    return checker


def read_result(result: RoleResult, path: Path, checker: Any, timeouts: Timeouts) -> None:
    """Fill ``result.cases`` from the driver's file for the role (or say why there are none)."""
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
        result.status = f"checks timed out after {spec.check_timeout(timeouts):g} s"
        result.cases = unchecked(spec, result.status)
        return
    try:
        result.cases = merge_cases(spec, json.loads(done["stdout"])["cases"])
    except (ValueError, KeyError, TypeError):
        result.status = "checker error"
        result.cases = unchecked(spec, f"checker error: {done.get('stderr', '')[-TAIL_CHARS:]}")


def listening(holder: Any, proto: str) -> set[int]:
    """Ports with a listening (TCP) or bound (UDP) socket in the holder's namespace, but for ours and loopback."""
    code, out = sandbox.holder_exec(holder, ["ss", "-Hltn" if proto == "tcp" else "-Hlun"], "its listening ports")
    return listening_ports(out.decode(), proto) if code == 0 else set()


def listening_ports(ss_output: str, proto: str) -> set[int]:
    """The ports of ``ss -Hltn``/``-Hlun`` lines a server may be listening on (see ``listening``)."""
    ports = set()
    for line in ss_output.splitlines():
        fields = line.split()
        if len(fields) < 4:
            continue
        address, _, text = fields[3].rpartition(":")
        if address.startswith("127.") or not text.isdigit() or int(text) == RELAY_PORT:
            continue  # Docker's DNS resolver listens on 127.0.0.11 in every namespace; the relay is ours
        if proto == "udp" and int(text) in EPHEMERAL_PORTS:
            continue  # a client's socket: reporting it would name a random port, different in every run
        ports.add(int(text))
    return ports
