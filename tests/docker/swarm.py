"""A one-node swarm for the tests, left as it was found, and the lab's stack on it driven through scripts/lab.

``OneNodeSwarm.join()`` uses the swarm the engine is in (if it manages one) or
initialises one (``docker swarm init`` on 127.0.0.1, its ``docker_gwbridge``
made first on a subnet of its own, so it cannot take another test's bridge
range); ``leave()`` undoes exactly what ``join()`` did. ``StackLab`` runs
``scripts/lab up/down/client --swarm`` as a user would, with its own stack
name, overlay subnet and captures folder.
"""

from __future__ import annotations

import ipaddress
import os
import random
import secrets
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..helpers import ROOT, wait_for
from .lab import Client

sys.path.insert(0, str(ROOT / "scripts"))
from lablib import common  # noqa: E402
from lablib.swarm import engine  # noqa: E402

#: Test stacks' overlays: 10.231.N.0/24; the swarm the tests create: its pools and gwbridge in 10.232.
OVERLAY_BASE = "10.231"
GWBRIDGE_BASE = "10.232"
ADDR_POOL = "10.232.128.0/17"
SWARM_LEFTOVERS = ("docker_gwbridge", "ingress")
TEST_LABEL = "org.socklab.test"
VERB_TIMEOUT = 300  # s: up --swarm builds, deploys and waits for health on a loaded machine
CLIENT_TIMEOUT = 90


def used_subnets(client: Any) -> list[ipaddress.IPv4Network]:
    nets = []
    for network in client.networks.list(greedy=False):
        for config in (network.attrs.get("IPAM") or {}).get("Config") or []:
            if config.get("Subnet") and ":" not in config["Subnet"]:
                nets.append(ipaddress.ip_network(config["Subnet"]))
    return nets


def free_subnet(client: Any, base: str) -> str:
    used = used_subnets(client)
    choices = [f"{base}.{n}.0/24" for n in range(1, 128)]
    random.shuffle(choices)
    for cidr in choices:
        if not any(ipaddress.ip_network(cidr).overlaps(u) for u in used):
            return cidr
    raise RuntimeError(f"no free /24 in {base}.0.0/16")


def run_verb(args: list[str], env: dict[str, str], timeout: float = VERB_TIMEOUT) -> subprocess.CompletedProcess[str]:
    """``scripts/lab ARGS`` through its verb table, with this interpreter (the venv's)."""
    argv = [sys.executable, "-m", "lablib.verbs", *args]
    return subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)


@dataclass
class OneNodeSwarm:
    client: Any
    created: bool = False
    made_gwbridge: bool = False
    networks_before: set[str] = field(default_factory=set)
    #: What `scripts/lab up --swarm` said on this engine before it was in a swarm (None: it was in one).
    no_swarm_output: subprocess.CompletedProcess[str] | None = None

    def join(self, env: dict[str, str]) -> None:
        info = engine.swarm_info(self.client)
        self.networks_before = {n.name for n in self.client.networks.list()}
        if info.get("LocalNodeState") == "active":
            if not info.get("ControlAvailable"):
                raise RuntimeError("this engine is a swarm worker: the swarm tests need a manager")
            return  # someone's swarm: use it, change nothing of it
        self.no_swarm_output = run_verb(["up", "--swarm", "--no-build"], env, timeout=60)
        if "docker_gwbridge" not in self.networks_before:
            subnet = free_subnet(self.client, GWBRIDGE_BASE)
            self.client.networks.create(
                "docker_gwbridge",
                driver="bridge",
                ipam={"Config": [{"Subnet": subnet}]},
                options={
                    "com.docker.network.bridge.name": "docker_gwbridge",
                    "com.docker.network.bridge.enable_icc": "false",
                    "com.docker.network.bridge.enable_ip_masquerade": "true",
                },
                labels={TEST_LABEL: "swarm"},
            )
            self.made_gwbridge = True
        init = ["docker", "swarm", "init", "--advertise-addr", "127.0.0.1"]
        init += ["--default-addr-pool", ADDR_POOL, "--default-addr-pool-mask-length", "24"]
        done = subprocess.run(init, capture_output=True, text=True, timeout=60)
        if done.returncode != 0:
            self.leave()
            raise RuntimeError(f"docker swarm init failed: {done.stderr.strip()}")
        self.created = True

    def leave(self) -> list[str]:
        """Undo join(): leave the swarm it created and remove what the swarm left. Returns problems."""
        problems: list[str] = []
        if self.created:
            done = subprocess.run(["docker", "swarm", "leave", "--force"], capture_output=True, text=True, timeout=60)
            if done.returncode != 0:
                problems.append(f"docker swarm leave: {done.stderr.strip()}")
            self.created = False
        if self.made_gwbridge or "docker_gwbridge" not in self.networks_before:
            for name in SWARM_LEFTOVERS:
                if name in self.networks_before:
                    continue
                done = subprocess.run(["docker", "network", "rm", name], capture_output=True, text=True)
                if done.returncode != 0 and "No such network" not in done.stderr and "not found" not in done.stderr:
                    problems.append(f"docker network rm {name}: {done.stderr.strip()}")
        left = {n.name for n in self.client.networks.list()} & set(SWARM_LEFTOVERS) - self.networks_before
        if left:
            problems.append(f"swarm leftovers: {', '.join(sorted(left))}")
        return problems


class StackLab:
    """The lab's stack under a test name, on a free overlay subnet, with its captures in a temporary folder."""

    def __init__(self, client: Any, subnet: str) -> None:
        self.docker = client
        self.stack = f"slswtest-{secrets.token_hex(3)}"
        self.subnet = subnet
        self.workdir = Path(tempfile.mkdtemp(prefix=f"{self.stack}-"))
        self.captures = self.workdir / "captures"
        self.captures.mkdir()
        self.env = {
            **os.environ,
            "PYTHONPATH": str(ROOT / "scripts"),
            "SOCKLAB_PROJECT": self.stack,
            "SOCKLAB_SWARM_SUBNET": subnet,
            "SOCKLAB_SWARM_CAPTURES": str(self.captures),
            "SOCKLAB_IMAGE": common.IMAGE,
            "SOCKLAB_TZ": "UTC",
        }
        self.clients: list[Client] = []
        self.up_result: subprocess.CompletedProcess[str] | None = None

    @property
    def network(self) -> str:
        return f"{self.stack}_lab"

    def up(self, *extra: str) -> subprocess.CompletedProcess[str]:
        self.up_result = run_verb(["up", "--swarm", *extra], self.env)
        return self.up_result

    def down(self) -> subprocess.CompletedProcess[str]:
        for client in self.clients:
            client.stop()
        return run_verb(["down", "--swarm"], self.env)

    def leftovers(self) -> list[str]:
        return engine.leftovers(self.docker, self.stack)

    def services(self) -> dict[str, Any]:
        return {engine.short_name(s, self.stack): s for s in engine.services(self.docker, self.stack)}

    def task_address(self, service: str) -> str:
        tasks = engine.live_tasks(self.services()[service])
        assert len(tasks) == 1, tasks
        return engine.task_address(tasks[0], self.network)

    def running_address(self, service: str) -> str:
        """The address of the service's one running task, or '' while it has none (or several)."""
        tasks = [t for t in engine.live_tasks(self.services()[service]) if t["Status"]["State"] == "running"]
        return engine.task_address(tasks[0], self.network) if len(tasks) == 1 else ""

    def service_log(self, service: str) -> str:
        done = subprocess.run(
            ["docker", "service", "logs", "--raw", f"{self.stack}_{service}"], capture_output=True, text=True
        )
        return done.stdout + done.stderr

    def client(self, name: str, *program_args: str) -> Client:
        """``scripts/lab client NAME --swarm``, its stdin and stdout piped to the test."""
        argv = [sys.executable, "-m", "lablib.verbs", "client", name, "--swarm"]
        if program_args:
            argv += ["--", *program_args]
        started = Client(_Runner(self), name, f"{self.stack}-{name}", argv)  # type: ignore[arg-type]
        self.clients.append(started)
        return started

    def run_client(self, name: str, stdin: str, timeout: float = CLIENT_TIMEOUT) -> subprocess.CompletedProcess[str]:
        """``scripts/lab client NAME --swarm`` fed ``stdin`` to its end; its output once it exited."""
        argv = [sys.executable, "-m", "lablib.verbs", "client", name, "--swarm"]
        return subprocess.run(
            argv, cwd=ROOT, env=self.env, input=stdin, capture_output=True, text=True, timeout=timeout
        )

    def pcaps(self) -> list[Path]:
        return sorted(self.captures.glob(f"{self.stack}-*.pcap"))

    def wait_for(self, cond: Any, timeout: float, what: str) -> Any:
        return wait_for(cond, timeout, interval=0.3, what=what)

    def cleanup(self, keep: bool = False) -> list[str]:
        for client in self.clients:
            client.stop()
        left = self.leftovers()
        if left:
            run_verb(["down", "--swarm"], self.env)
            left = self.leftovers()
        if not keep:
            shutil.rmtree(self.workdir, ignore_errors=True)
        return left


@dataclass
class _Runner:
    """What ``lab.Client`` needs of a lab: the environment its process runs with."""

    stack_lab: StackLab

    @property
    def env(self) -> dict[str, str]:
        return self.stack_lab.env
