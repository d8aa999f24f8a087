"""The lab under test: one Compose project with its own subnet and bridge, driven through Compose v2 and the Docker SDK.

``Lab.start()`` brings the whole lab up (``compose up -d --wait``) under a unique
project name; tests reach the containers by service name, run one-off clients
(``compose run --rm -T``) with their stdin/stdout piped to the test, read logs
and the capture, and inject faults. ``Lab.teardown()`` removes everything the
project created, ``run`` containers included, and checks nothing is left.
"""

from __future__ import annotations

import contextlib
import io
import ipaddress
import os
import random
import re
import secrets
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import docker
import docker.errors

from ..helpers import LISTEN_RE, ROOT, wait_for
from . import pcap

sys.path.insert(0, str(ROOT / "scripts"))
from lablib import common  # noqa: E402  (scripts/ is not a package on the default path)

from services import roles  # noqa: E402
from services.check.process import Process  # noqa: E402

PROJECT_LABEL = "com.docker.compose.project"
SERVICE_LABEL = "com.docker.compose.service"
ONEOFF_LABEL = "com.docker.compose.oneoff"
NETWORK = "lab"  # the network's key in compose.yaml
SERVERS = tuple(r.name for r in roles.SERVERS)
#: Services `compose up` starts and keeps running: the servers, the clients with a fixed address, the capture.
LONG_RUNNING = (*SERVERS, *(r.name for r in roles.CLIENTS if r.octet is not None), "capture")

#: The test lab lives in 172.29.N.0/24 on bridge sltestN (a Linux interface name has at most 15 chars).
NET_PREFIX_BASE = "172.29"
BRIDGE_BASE = "sltest"
SUBNET_CHOICES = range(1, 255)
START_ATTEMPTS = 4
#: Compose's messages when the subnet or bridge name is taken by another network.
COLLISION_RE = re.compile(r"Pool overlaps|already in use|already exists|conflicts with", re.I)

UP_TIMEOUT = 180  # s: `compose up --wait` of the warm lab takes 5 s; a cold engine much longer
DOWN_TIMEOUT = 60
HEALTH_TIMEOUT = 30
CLIENT_START_TIMEOUT = 30  # s: `compose run` to a running container with an address
CLIENT_TIMEOUT = 30  # s: default bound on a one-off client's whole run
CAPTURE_TIMEOUT = 10  # s: for a packet to reach the pcap after it crossed the bridge
LOG_TAIL = 60  # lines per container attached to a failing test's report
CLIENT_STOP_TIMEOUT = 10  # s: `compose run` stops its container on SIGTERM before it exits
CLIENT_READ_TIMEOUT = 5  # s: for the rest of an exited client's output

#: The line relay the tests speak a protocol through (a real file, mounted into a client container).
RELAY = Path(__file__).with_name("relay.py")
RELAY_IN_CONTAINER = "/opt/socklab-tests/relay.py"
RELAY_CONNECTED_RE = r"^#relay connected (?P<ip>[\d.]+):(?P<port>\d+)$"

T = TypeVar("T")


class LabStartError(Exception):
    pass


class SubnetTaken(LabStartError):
    """The chosen subnet or bridge name collides with an existing network: pick another."""


@dataclass
class ClientResult:
    returncode: int
    stdout: str
    stderr: str
    ip: str

    @property
    def lines(self) -> list[str]:
        return self.stdout.splitlines()


class Client:
    """A one-off client container, ``compose run --rm -T --no-deps --name NAME SERVICE ARGS``.

    Its stdin and stdout are pipes to the test, collected line by line by a
    ``services.check.process.Process`` (stderr apart: a test tells the client's
    errors from its output); ``container``/``ip`` look the container up by its name.
    """

    def __init__(self, lab: Lab, service: str, name: str, argv: list[str]) -> None:
        self.lab, self.service, self.name = lab, service, name
        self.process = Process(argv, env=lab.env, stdin=True, stderr_apart=True)
        self.lines, self.err_lines = self.process.lines, self.process.err_lines
        self._ip: str | None = None

    def container(self, timeout: float = CLIENT_START_TIMEOUT) -> Any:
        def running() -> Any:
            if self.process.returncode is not None:
                raise AssertionError(f"{self.name} exited ({self.process.returncode}) before running:\n{self.output()}")
            try:
                container = self.lab.docker.containers.get(self.name)
            except docker.errors.NotFound:
                return None
            return container if container.status == "running" else None

        container = wait_for(running, timeout, interval=0.1, what=f"client container {self.name} to run")
        self._ip = self._ip or self.lab.ip_of(container)  # remembered: a --rm container vanishes when done
        return container

    @property
    def ip(self) -> str:
        """The client container's own address on the lab network (waits until it has one)."""
        if not self._ip:
            self._ip = wait_for(
                lambda: self.lab.ip_of(self.container()), CLIENT_START_TIMEOUT, 0.1, f"an address for {self.name}"
            )
        return self._ip

    def write(self, text: str) -> None:
        self.process.write(text)

    def send(self, *lines: str) -> None:
        self.write("".join(f"{line}\n" for line in lines))

    def close_stdin(self) -> None:
        self.process.close_stdin()

    def output(self) -> str:
        return self.process.output()

    def wait_line(self, pattern: str, timeout: float = 10, start: int = 0) -> re.Match[str]:
        """Wait for a stdout line (from index ``start`` on) matching the regex ``pattern``."""
        rx = re.compile(pattern)

        def found() -> re.Match[str] | None:
            return next((m for m in map(rx.search, self.lines[start:]) if m), None)

        try:
            return wait_for(found, timeout, interval=0.05, what=f"{pattern!r}")  # type: ignore[return-value]
        except AssertionError:
            raise AssertionError(
                f"{self.name}: no line matching {pattern!r}; output so far:\n{self.output()}"
            ) from None

    def line(self, index: int, timeout: float = 10) -> str:
        """Stdout line number ``index`` (0-based), once it has arrived."""
        try:
            wait_for(lambda: len(self.lines) > index, timeout, interval=0.05, what=f"line {index}")
        except AssertionError:
            raise AssertionError(
                f"{self.name}: no line {index + 1} within {timeout} s; output:\n{self.output()}"
            ) from None
        return self.lines[index]

    def wait(self, timeout: float = CLIENT_TIMEOUT) -> int:
        """The exit status, once the rest of its output is read."""
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"{self.name} still running after {timeout} s; output:\n{self.output()}") from None
        self.process.join_readers(CLIENT_READ_TIMEOUT)
        return code

    def stop(self) -> None:
        self.process.stop(CLIENT_STOP_TIMEOUT)


class Lab:
    def __init__(self, client: Any, project: str, subnet_index: int) -> None:
        self.docker = client
        self.project = project
        self.prefix = f"{NET_PREFIX_BASE}.{subnet_index}"
        self.bridge = f"{BRIDGE_BASE}{subnet_index}"
        assert len(self.bridge) <= 15, self.bridge
        self.workdir = Path(tempfile.mkdtemp(prefix=f"{project}-"))
        self.captures = self.workdir / "captures"
        self.captures.mkdir()
        self.compose_argv = common.lab_compose(project)
        self.env = common.lab_env(
            SOCKLAB_PROJECT=project,
            SOCKLAB_NET_PREFIX=self.prefix,
            SOCKLAB_BRIDGE=self.bridge,
            SOCKLAB_CAPTURES=str(self.captures),  # a test run never writes into the user's captures/
            SOCKLAB_IMAGE=common.IMAGE,
            SOCKLAB_TZ="UTC",  # the date/time checks compare with docker's UTC log timestamps
        )
        self.clients: list[Client] = []
        self._counter = 0
        self.keep_capture = False

    # --- lifecycle ---------------------------------------------------------------

    @classmethod
    def start(cls, client: Any) -> Lab:
        """Build the image, then bring a lab up on a free subnet (retrying on collisions)."""
        common.ensure_images()
        tried: list[str] = []
        for _ in range(START_ATTEMPTS):
            # Another run may take the same subnet between this look and `compose up`: then retry.
            lab = cls(client, f"socklab-test-{secrets.token_hex(3)}", random.choice(free_subnets(client)))
            try:
                lab.up()
                return lab
            except SubnetTaken as exc:
                tried.append(f"{lab.prefix}.0/24 ({exc})")
                lab.teardown()
            except BaseException:
                lab.teardown()
                raise
        raise LabStartError("no free subnet for the test lab; tried:\n" + "\n".join(tried))

    def up(self) -> None:
        done = self.compose("up", "-d", "--wait", timeout=UP_TIMEOUT, check=False)
        if done.returncode != 0:
            if COLLISION_RE.search(done.stderr):
                raise SubnetTaken(done.stderr.strip().splitlines()[-1])
            # Read the logs now: the caller tears the lab down, and with it the evidence.
            raise LabStartError(
                f"compose up failed (exit {done.returncode}):\n{done.stdout}{done.stderr}\n{self.all_logs()}"
            )
        self.wait_healthy()

    def wait_healthy(self, services: tuple[str, ...] = LONG_RUNNING, timeout: float = HEALTH_TIMEOUT) -> None:
        """Every service running (and healthy where it has a health check); every server said it listens."""

        def ready() -> bool:
            for service in services:
                container = self.container(service)
                state = container.attrs["State"]
                if state["Status"] != "running" or state.get("Health", {}).get("Status", "healthy") != "healthy":
                    return False
            return True

        wait_for(ready, timeout, interval=0.2, what=f"{', '.join(services)} to be healthy")
        for service in services:
            if service in SERVERS:
                self.wait_log(service, LISTEN_RE.pattern, timeout)

    def teardown(self) -> list[str]:
        """Remove every container, network and volume of the project; return the problems met (none, normally)."""
        problems: list[str] = []
        # `compose down` leaves `run` containers (and so the network): remove every container by label first.
        for container in self.project_containers():
            try:
                container.remove(force=True, v=True)
            except docker.errors.NotFound:
                pass
            except docker.errors.APIError as exc:
                problems.append(f"removing {container.name}: {exc}")
        for client in self.clients:  # their containers are gone, so each `compose run` ends
            client.stop()
        try:
            done = self.compose("down", "-v", "--remove-orphans", "--timeout", "3", timeout=DOWN_TIMEOUT, check=False)
            if done.returncode != 0:
                problems.append(f"compose down exit {done.returncode}: {done.stderr.strip()}")
        except subprocess.TimeoutExpired:
            problems.append("compose down timed out")
        try:
            common.remove_project(self.project)
        except common.LabError as exc:
            problems.append(str(exc))
        label = {"label": f"{PROJECT_LABEL}={self.project}"}
        left = [c.name for c in self.project_containers()] + [n.name for n in self.docker.networks.list(filters=label)]
        left += [v.name for v in self.docker.volumes.list(filters=label)]
        left += [
            n.name
            for n in self.docker.networks.list()
            if n.attrs.get("Options", {}).get("com.docker.network.bridge.name") == self.bridge
        ]
        if left:
            problems.append(f"left behind: {', '.join(left)}")
        if not self.keep_capture:
            shutil.rmtree(self.workdir, ignore_errors=True)
        return problems

    @staticmethod
    def wait_for_value(cond: Callable[[], T], timeout: float, what: str) -> T:
        """``wait_for`` that hands back the value it waited for."""
        return wait_for(cond, timeout, interval=0.2, what=what)  # type: ignore[return-value]

    # --- Compose and containers ------------------------------------------------------

    def compose(self, *args: str, timeout: float = 60, check: bool = True, input: str | None = None) -> Any:
        done = subprocess.run(
            [*self.compose_argv, *args], env=self.env, capture_output=True, text=True, timeout=timeout, input=input
        )
        if check and done.returncode != 0:
            raise AssertionError(f"compose {' '.join(args)} failed ({done.returncode}):\n{done.stdout}{done.stderr}")
        return done

    def project_containers(self, oneoff: bool | None = None) -> list[Any]:
        filters = [f"{PROJECT_LABEL}={self.project}"]
        if oneoff is not None:
            filters.append(f"{ONEOFF_LABEL}={'True' if oneoff else 'False'}")
        return self.docker.containers.list(all=True, filters={"label": filters})

    def container(self, service: str) -> Any:
        """The (single, non-run) container of a service, freshly inspected."""
        found = self.docker.containers.list(
            all=True,
            filters={
                "label": [f"{PROJECT_LABEL}={self.project}", f"{SERVICE_LABEL}={service}", f"{ONEOFF_LABEL}=False"]
            },
        )
        assert len(found) == 1, f"expected one {service} container, found {[c.name for c in found]}"
        return found[0]

    def containers(self) -> dict[str, Any]:
        return {c.labels[SERVICE_LABEL]: c for c in self.project_containers(oneoff=False)}

    def network(self) -> Any:
        found = self.docker.networks.list(
            filters={"label": [f"{PROJECT_LABEL}={self.project}", f"com.docker.compose.network={NETWORK}"]}
        )
        assert len(found) == 1, f"expected the lab network, found {[n.name for n in found]}"
        return found[0]

    def ip_of(self, container: Any) -> str:
        container.reload()
        networks = container.attrs["NetworkSettings"]["Networks"] or {}
        for name, net in networks.items():
            if name.endswith(f"_{NETWORK}") and net.get("IPAddress"):
                return net["IPAddress"]
        return ""

    def ip(self, service: str) -> str:
        address = self.ip_of(self.container(service))
        assert address.startswith(self.prefix + "."), f"{service} has address {address!r}, not in {self.prefix}.0/24"
        return address

    def exec(self, service_or_container: str | Any, cmd: str | list[str], user: str = "") -> tuple[int, str]:
        """Run a command in a running container; ``user="root"`` for iptables and the like."""
        container = self._resolve(service_or_container)
        result = container.exec_run(cmd, user=user, demux=False)
        return result.exit_code, (result.output or b"").decode("utf-8", "replace")

    def exec_ok(self, service_or_container: str | Any, cmd: str | list[str], user: str = "") -> str:
        code, out = self.exec(service_or_container, cmd, user)
        assert code == 0, f"{cmd!r} exited {code}:\n{out}"
        return out

    def logs(self, service_or_container: str | Any, timestamps: bool = False, tail: int | str = "all") -> str:
        container = self._resolve(service_or_container)
        return container.logs(stdout=True, stderr=True, timestamps=timestamps, tail=tail).decode("utf-8", "replace")

    def log_lines(self, service: str) -> list[str]:
        return self.logs(service).splitlines()

    def timestamped_log(self, service: str) -> list[tuple[datetime, str]]:
        """(time, line) for each log line, from ``docker logs --timestamps`` (RFC 3339, nanoseconds)."""
        rows = []
        for raw in self.logs(service, timestamps=True).splitlines():
            stamp, _, line = raw.partition(" ")
            rows.append((parse_docker_time(stamp), line))
        return rows

    def wait_log(self, service: str, pattern: str, timeout: float = 10, since_line: int = 0) -> re.Match[str]:
        """Wait for a line of the service's log (from line ``since_line`` on) matching ``pattern``."""
        rx = re.compile(pattern)

        def found() -> re.Match[str] | None:
            return next((m for m in map(rx.search, self.log_lines(service)[since_line:]) if m), None)

        try:
            return wait_for(found, timeout, interval=0.1, what=pattern)  # type: ignore[return-value]
        except AssertionError:
            tail = "\n".join(self.log_lines(service)[-30:])
            raise AssertionError(
                f"{service}: no log line matching {pattern!r} in {timeout} s; log tail:\n{tail}"
            ) from None

    def copy_out(self, service_or_container: str | Any, path: str) -> bytes:
        """One file from a container, through ``get_archive`` (a tar stream)."""
        container = self._resolve(service_or_container)
        stream, _stat = container.get_archive(path)
        with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as tar:
            member = tar.next()
            assert member is not None and member.isfile(), f"{path} in {container.name} is not a file"
            handle = tar.extractfile(member)
            assert handle is not None
            return handle.read()

    def _resolve(self, service_or_container: str | Any) -> Any:
        if isinstance(service_or_container, str):
            return self.container(service_or_container)
        return service_or_container

    # --- clients ---------------------------------------------------------------

    def start_client(
        self,
        service: str,
        *args: str,
        env: dict[str, str] | None = None,
        entrypoint: str | None = None,
        volumes: tuple[str, ...] = (),
    ) -> Client:
        """Start a one-off client container (own dynamic IP on the lab network); stdin/stdout piped."""
        self._counter += 1
        name = f"{self.project}-{service}-t{self._counter}"
        argv = [*self.compose_argv, "run", "--rm", "-T", "--no-deps", "--name", name]
        for key, value in {"PYTHONUNBUFFERED": "1", **(env or {})}.items():
            argv += ["-e", f"{key}={value}"]
        if entrypoint is not None:
            argv += ["--entrypoint", entrypoint]
        for volume in volumes:
            argv += ["-v", volume]
        argv += [service, *args]
        client = Client(self, service, name, argv)
        self.clients.append(client)
        return client

    def run_client(
        self,
        service: str,
        args: list[str] | tuple[str, ...] = (),
        stdin: str = "",
        env: dict[str, str] | None = None,
        timeout: float = CLIENT_TIMEOUT,
    ) -> ClientResult:
        """Run a client to completion: start it, learn its IP, feed it ``stdin``, wait for it to exit."""
        client = self.start_client(service, *args, env=env)
        ip = client.ip  # while it waits for input, so the container is surely still there
        client.write(stdin)
        client.close_stdin()
        code = client.wait(timeout)
        return ClientResult(code, "\n".join(client.lines), "\n".join(client.err_lines), ip)

    def relay(self, service: str, host: str, port: int) -> Client:
        """A raw line relay to ``host:port`` from a new ``service`` container (see RELAY)."""
        client = self.start_client(
            service,
            RELAY_IN_CONTAINER,
            host,
            str(port),
            entrypoint="python3",
            volumes=(f"{RELAY}:{RELAY_IN_CONTAINER}:ro",),
        )
        client.wait_line(RELAY_CONNECTED_RE, timeout=CLIENT_START_TIMEOUT)
        return client

    def remove_client(self, client: Client) -> None:
        """Remove a client's container at once (it may hang, e.g. cut off from the network), then reap compose run."""
        with contextlib.suppress(docker.errors.NotFound):
            self.docker.containers.get(client.name).remove(force=True)
        client.stop()

    # --- faults ----------------------------------------------------------------

    def drop_input(self, target: str | Any, proto: str, probability: float) -> list[str]:
        """Drop a random share of incoming ``proto`` packets in a container's own network namespace.

        The kernel here has no netem; iptables' statistic match on INPUT drops
        silently (a drop on OUTPUT would give the sender EPERM instead). Returns
        the rule, for ``undrop``.
        """
        rule = [
            "INPUT",
            "-p",
            proto,
            "-m",
            "statistic",
            "--mode",
            "random",
            "--probability",
            str(probability),
            "-j",
            "DROP",
        ]
        self.exec_ok(target, ["iptables", "-A", *rule], user="root")
        return rule

    def undrop(self, target: str | Any, rule: list[str]) -> None:
        self.exec_ok(target, ["iptables", "-D", *rule], user="root")

    def dropped(self, target: str | Any) -> int:
        """Packets the DROP rules on INPUT have dropped so far (iptables' counters)."""
        out = self.exec_ok(target, ["iptables", "-L", "INPUT", "-v", "-x", "-n"], user="root")
        return sum(int(line.split()[0]) for line in out.splitlines() if " DROP " in f" {line} ")

    # --- capture ----------------------------------------------------------------

    def capture_path(self) -> str:
        """The pcap the capture sidecar is writing, as a path inside its container."""
        out = self.exec_ok("capture", ["sh", "-c", "readlink /proc/1/fd/*"], user="root")
        found = [line for line in out.split() if line.endswith(".pcap")]
        assert len(found) == 1, f"capture has no single pcap open: {out!r}"
        return found[0]

    def packets(self) -> list[pcap.Packet]:
        """Everything captured so far (tcpdump -U flushes each packet), copied out with get_archive."""
        return pcap.parse(self.copy_out("capture", self.capture_path()))

    def wait_packets(
        self, select: Callable[[list[pcap.Packet]], T], done: Callable[[T], object], timeout: float = CAPTURE_TIMEOUT
    ) -> T:
        """Re-read the capture until ``done(select(packets))``; return that selection.

        A packet reaches the file a moment after it crossed the bridge, so the
        last packets of an exchange are polled for, not assumed.
        """
        latest: list[T] = []

        def check() -> bool:
            latest[:] = [select(self.packets())]
            return bool(done(latest[0]))

        try:
            wait_for(check, timeout, interval=0.2, what="the capture")
        except AssertionError:
            shown = (
                pcap.dump(latest[0])
                if latest and isinstance(latest[0], list) and all(isinstance(p, pcap.Packet) for p in latest[0])
                else repr(latest[0] if latest else None)
            )
            raise AssertionError(
                f"the capture never showed what was expected within {timeout} s; selected:\n{shown}"
            ) from None
        return latest[0]

    # --- reporting ----------------------------------------------------------------

    def all_logs(self, tail: int | str = LOG_TAIL) -> str:
        parts = []
        for container in sorted(self.project_containers(), key=lambda c: c.name):
            try:
                text = container.logs(stdout=True, stderr=True, timestamps=True, tail=tail).decode("utf-8", "replace")
            except docker.errors.APIError as exc:
                text = f"(no logs: {exc})"
            parts.append(f"----- {container.name} ({container.status}) -----\n{text.rstrip()}")
        for client in self.clients:
            parts.append(f"----- {client.name} (compose run output) -----\n{client.output()}")
        return "\n".join(parts)


def free_subnets(client: Any) -> list[int]:
    """Indices N whose 172.29.N.0/24 and bridge sltestN no existing network uses."""
    taken: list[ipaddress.IPv4Network] = []
    bridges: set[str] = set()
    for network in client.networks.list():
        attrs = network.attrs
        bridges.add((attrs.get("Options") or {}).get("com.docker.network.bridge.name", ""))
        for config in (attrs.get("IPAM") or {}).get("Config") or []:
            subnet = config.get("Subnet", "")
            if subnet and ":" not in subnet:
                taken.append(ipaddress.ip_network(subnet, strict=False))
    free = [
        n
        for n in SUBNET_CHOICES
        if f"{BRIDGE_BASE}{n}" not in bridges
        and not any(ipaddress.ip_network(f"{NET_PREFIX_BASE}.{n}.0/24").overlaps(t) for t in taken)
    ]
    if not free:
        raise LabStartError(f"every {NET_PREFIX_BASE}.N.0/24 subnet is taken by another Docker network")
    return free


def parse_docker_time(stamp: str) -> datetime:
    """``2024-05-01T10:11:12.123456789Z`` -> an aware datetime (microseconds: Python has no finer)."""
    match = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)", stamp)
    assert match, f"not a docker log timestamp: {stamp!r}"
    fraction = (match[2] or "0")[:6].ljust(6, "0")
    zone = "+00:00" if match[3] == "Z" else match[3]
    return datetime.fromisoformat(f"{match[1]}.{fraction}{zone}")


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}
