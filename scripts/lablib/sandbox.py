"""Show the sandbox a student's program runs in (scripts/lab own and scripts/lab grade): limits, firewall.

A student's program is untrusted code. Each one runs in a container as a
non-root user, with no capabilities, ``no-new-privileges``, a read-only root
filesystem (writable: a small /tmp tmpfs), memory (no swap), CPU and process
limits, bounded logs, and in a network namespace that only reaches its own
subnet: a *holder* container owns the namespace (address, alias, firewall
rules, tcpdump when grading) and the student's container joins it
(``network_mode: container:<holder>``), so the rules are in place before the
student's first instruction and the student cannot change them (no NET_ADMIN).

The holder's rules, in the shared namespace (iptables OUTPUT; IPv6 all off):
loopback and replies to connections others opened are allowed; new packets
only go to the namespace's own subnet, never to its gateway (the Docker host)
nor anywhere else. The grader's networks are also ``internal: true``.
"""

from __future__ import annotations

import argparse
import ipaddress
import itertools
import os
import re
import secrets
import sys
import threading
import time
from collections.abc import Callable, Iterable
from contextlib import suppress
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

#: Every student container runs as a uid of its own from this range (group: the image's `lab`,
#: 10001), so the kernel's per-user process limit (RLIMIT_NPROC) counts that container alone.
#: A fork bomb then fails cheaply at that check: a fork refused only by the pids cgroup has
#: already copied the process and held the cgroup lock every container start needs, which
#: stalls the whole Docker host.
UID_BASE = 200_000
UID_SPAN = 1_000_000
SANDBOX_GROUP = 10001
#: Where the submission is mounted, read-only.
SUBMISSION_DIR = "/submission"
#: Label on everything a sandbox creates, valued by its owner (a grade run id, an own session).
OWNER_LABEL = "org.socklab.sandbox"
#: Output the grader and `own` keep of each program (docker's json-file log, rotated at this size).
LOG_MAX_BYTES = 1 << 20
#: Output that counts as a flood: docker's log (rotated at LOG_MAX_BYTES) keeps at least this much of one.
FLOOD_BYTES = LOG_MAX_BYTES // 2
#: Containers' relative CPU weight under contention (docker's default is 1024): the checker and
#: the capture keep their timing even while students' programs spin.
STUDENT_CPU_SHARES = 256
#: Open files (and sockets) per process of a student's program.
OPEN_FILES = 1024
#: Seconds a container gets to exit on SIGTERM before it is killed.
STOP_TIMEOUT = 2
#: How long one Docker API call may take before the grader gives up on it.
API_TIMEOUT = 60


@dataclass(frozen=True)
class Limits:
    """What one student container may use. Threads count as processes (pids cgroup)."""

    memory_mb: int = 128
    cpus: float = 0.5
    #: Processes and threads. Enough for a thread per client at the lab level; strict grading of
    #: thread-per-client servers (50 clients, maybe 2 threads each) needs 128. Measured here: seven
    #: fork bombs of 128 processes made every container start on the machine take 20-35 s; of 64, 2-3 s.
    pids: int = 64
    tmpfs_mb: int = 16

    @classmethod
    def from_mapping(cls, data: dict[str, Any] | None) -> Limits:
        data = dict(data or {})
        unknown = set(data) - {"memory_mb", "cpus", "pids", "tmpfs_mb"}
        if unknown:
            raise ValueError(f"unknown limits: {', '.join(sorted(unknown))} (memory_mb, cpus, pids, tmpfs_mb)")
        return replace(cls(), **{k: type(getattr(cls(), k))(v) for k, v in data.items()})

    def describe(self) -> str:
        return (
            f"memory {self.memory_mb} MB (no swap), {self.cpus:g} CPU, {self.pids} processes/threads, "
            f"/tmp tmpfs {self.tmpfs_mb} MB, output kept up to {LOG_MAX_BYTES >> 20} MB"
        )


def log_config() -> Any:
    import docker.types

    # Two files of the cap each: reading them back always yields at least the cap when the program flooded.
    return docker.types.LogConfig(type="json-file", config={"max-size": str(LOG_MAX_BYTES), "max-file": "2"})


_uids = itertools.count(UID_BASE + secrets.randbelow(UID_SPAN // 1000) * 1000)
_uid_lock = threading.Lock()


def fresh_uid() -> int:
    """A uid no other sandbox of this process uses (another process starts elsewhere in the range)."""
    with _uid_lock:
        return next(_uids)


def student_settings(limits: Limits, uid: int | None = None) -> dict[str, Any]:
    """Keyword arguments for ``containers.create`` that confine an untrusted program."""
    import docker.types

    memory = f"{limits.memory_mb}m"
    nproc = docker.types.Ulimit(name="nproc", soft=limits.pids, hard=limits.pids)
    nofile = docker.types.Ulimit(name="nofile", soft=OPEN_FILES, hard=OPEN_FILES)
    return {
        "user": f"{uid if uid is not None else fresh_uid()}:{SANDBOX_GROUP}",
        "ulimits": [nproc, nofile],
        "cap_drop": ["ALL"],
        "security_opt": ["no-new-privileges"],
        "read_only": True,
        "tmpfs": {"/tmp": f"size={limits.tmpfs_mb}m,mode=1777,noexec,nosuid,nodev"},
        "mem_limit": memory,
        "memswap_limit": memory,  # the same as the memory limit: no swap
        "nano_cpus": int(limits.cpus * 1e9),
        "cpu_shares": STUDENT_CPU_SHARES,
        "pids_limit": limits.pids,
        "ipc_mode": "none",  # a private IPC namespace without /dev/shm (a second writable tmpfs)
        "init": True,  # docker-init reaps what the program leaves and forwards SIGTERM
        "working_dir": "/tmp",
        "environment": {"HOME": "/tmp", "PYTHONUNBUFFERED": "1", "PYTHONDONTWRITEBYTECODE": "1"},
        "log_config": log_config(),
        "stop_signal": "SIGTERM",
    }


def submission_mount(path: Path) -> tuple[dict[str, dict[str, str]], str]:
    """The read-only bind mount for a submission (file or folder) and its path inside the container.

    Symlinks are resolved on the host, so a class folder may link to shared files.
    """
    real = path.resolve(strict=True)
    if real.is_dir():
        return {str(real): {"bind": SUBMISSION_DIR, "mode": "ro"}}, SUBMISSION_DIR
    inside = f"{SUBMISSION_DIR}/{path.name}"
    return {str(real): {"bind": inside, "mode": "ro"}}, inside


# --- the network namespace's firewall -----------------------------------------------------------


def firewall_script(subnet: str, gateway: str) -> str:
    """iptables commands (sh) that let the namespace reach only its own subnet, not the host."""
    rules = [
        "iptables -P OUTPUT ACCEPT",
        "iptables -A OUTPUT -o lo -j ACCEPT",
        # Replies to connections others opened (the lab's clients, the checker, the host's scripts/lab check).
        "iptables -A OUTPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT",
        # REJECT, not DROP: the program's connect fails at once with a clear error instead of a timeout.
        f"iptables -A OUTPUT -d {gateway} -j REJECT --reject-with icmp-admin-prohibited",  # the Docker host
        f"iptables -A OUTPUT -d {subnet} -j ACCEPT",
        "iptables -A OUTPUT -j REJECT --reject-with icmp-net-unreachable",
        "ip6tables -A OUTPUT -o lo -j ACCEPT 2>/dev/null || true",
        "ip6tables -A OUTPUT -j DROP 2>/dev/null || true",
    ]
    return "set -e; " + "; ".join(rules)


def apply_firewall(holder: Any, subnet: str, gateway: str) -> None:
    """Install the rules in the holder's (and so the student's) namespace; raise if that fails."""
    code, out = holder.exec_run(["sh", "-c", firewall_script(subnet, gateway)], user="root")
    if code != 0:
        text = (out or b"").decode("utf-8", "replace").strip()
        raise SandboxError(f"could not install the sandbox's firewall in {holder.name}: {text}")


def holder_settings(capture: bool = False) -> dict[str, Any]:
    """A holder runs trusted code only (sleep, or tcpdump): the capabilities its firewall and capture need.

    A capturing holder runs tcpdump as the user running the lab, so the pcap is
    theirs (the image's tcpdump has file capabilities). For root, tcpdump's
    ``-Z root`` still calls setuid/setgroups, which need their capabilities.
    """
    caps = ["NET_ADMIN", "NET_RAW"]
    if capture and os.getuid() == 0:
        caps += ["SETUID", "SETGID"]
    settings: dict[str, Any] = {
        "cap_drop": ["ALL"],
        "cap_add": caps,
        "init": True,
        "log_config": log_config(),
        "mem_limit": "64m",
    }
    if capture:
        settings["user"] = host_ids()
    return settings


class SandboxError(Exception):
    """The sandbox could not be set up (not the student's fault)."""


def start_holder(
    client: Any,
    resources: Resources,
    *,
    name: str,
    network: str,
    ip: str | None,
    subnet: str,
    labels: dict[str, str],
    aliases: list[str] | None = None,
    capture: Path | None = None,
    hostname: str | None = None,
    image: str,
) -> Any:
    """Start a holder at ``ip`` (None: dynamic) on ``network``, its firewall in place; ``capture``: tcpdump's file.

    The capture starts before the student's program (it is the holder's own
    process), so the pcap holds every packet of the namespace from the first SYN.
    """

    settings = holder_settings(capture=capture is not None)
    if capture is None:
        command, entrypoint, volumes = ["infinity"], "sleep", {}
    else:
        capture.parent.mkdir(parents=True, exist_ok=True)
        # -C/-W: one file, restarted past the size cap, so a flood cannot fill the disk.
        command = ["-i", "eth0", "-n", "-U", "--immediate-mode", "-Z", "root", "-C", str(CAPTURE_MAX_MB), "-W", "1"]
        command += ["-w", f"/capture/{capture.name}"]
        entrypoint, volumes = "tcpdump", {str(capture.parent.resolve()): {"bind": "/capture", "mode": "rw"}}
    endpoint = client.api.create_endpoint_config(ipv4_address=ip, aliases=aliases or None)
    holder = resources.container(
        client.containers.create(
            image,
            command,
            entrypoint=entrypoint,
            name=name,
            hostname=hostname or name[:63],
            labels=labels,
            volumes=volumes,
            network=network,
            networking_config={network: endpoint},
            **settings,
        )
    )
    holder.start()
    if capture is not None:
        wait_until(lambda: capture.exists() or _exited(holder), HOLDER_TIMEOUT, f"tcpdump in {name} to start")
    if _exited(holder):
        output = holder.logs(tail=20).decode("utf-8", "replace").strip()
        raise SandboxError(f"{name} stopped at once: {output}")
    apply_firewall(holder, subnet, subnet_gateway(subnet))
    return holder


#: Megabytes of capture kept per holder (tcpdump -C).
CAPTURE_MAX_MB = 32
#: Seconds a holder may take to be ready.
HOLDER_TIMEOUT = 15.0


def _exited(container: Any) -> bool:
    container.reload()
    return container.status in {"exited", "dead"}


def wait_until(condition: Callable[[], object], timeout: float, what: str, interval: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise SandboxError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)


def start_student(
    client: Any,
    resources: Resources,
    *,
    name: str,
    holder: Any,
    submission: Path,
    argv: list[str],
    labels: dict[str, str],
    limits: Limits,
    image: str,
    environment: dict[str, str] | None = None,
    volumes: dict[str, dict[str, str]] | None = None,
    interactive: bool = False,
) -> Any:
    """Start an untrusted program in ``holder``'s network namespace, its submission mounted read-only.

    ``volumes``: more bind mounts (read-only ones only: the sandbox's files are the tmpfs).
    """
    mounts, _inside = submission_mount(submission)
    mounts |= volumes or {}
    settings = student_settings(limits)
    settings["environment"] = {**settings["environment"], **(environment or {})}
    container = resources.container(
        client.containers.create(
            image,
            entrypoint=argv,  # replaces the image's entrypoint and its default command
            name=name,
            labels=labels,
            volumes=mounts,
            network_mode=f"container:{holder.id}",
            stdin_open=interactive,
            tty=interactive,
            **settings,
        )
    )
    container.start()
    return container


def blocked_packets(holder: Any) -> dict[str, int]:
    """Packets the firewall refused, by rule: {"host": n, "outside": n} (empty if it cannot be read)."""
    code, out = holder.exec_run(["iptables", "-L", "OUTPUT", "-v", "-x", "-n"], user="root")
    if code != 0:
        return {}
    counts = {"host": 0, "outside": 0}
    for line in (out or b"").decode().splitlines():
        if "REJECT" not in line:
            continue
        packets = int(line.split()[0])
        counts["host" if "admin-prohib" in line else "outside"] += packets
    return counts


# --- what happened to a student container ------------------------------------------------------


CGROUP_ROOTS = (Path("/sys/fs/cgroup"),)


def _cgroup_file(container_id: str, controller: str, name: str) -> Path | None:
    """A container's cgroup file seen from the host (cgroup v1 with the cgroupfs or systemd driver, or v2)."""
    candidates = [
        f"{controller}/docker/{container_id}/{name}",
        f"{controller}/system.slice/docker-{container_id}.scope/{name}",
        f"system.slice/docker-{container_id}.scope/{name}",
        f"docker/{container_id}/{name}",
    ]
    for root in CGROUP_ROOTS:
        for relative in candidates:
            path = root / relative
            if path.is_file():
                return path
    return None


def hit_process_limit(container_id: str) -> int:
    """How often the container was refused a new process or thread (0 when unknown)."""
    path = _cgroup_file(container_id, "pids", "pids.events")
    if path is None:
        return 0
    with suppress(OSError):
        match = re.search(r"^max (\d+)", path.read_text(), re.M)
        return int(match.group(1)) if match else 0
    return 0


def process_count(container_id: str) -> int:
    """Processes and threads in the container now (0 when unknown)."""
    path = _cgroup_file(container_id, "pids", "pids.current")
    if path is None:
        return 0
    with suppress(OSError, ValueError):
        return int(path.read_text().strip())
    return 0


def hit_memory_limit(container_id: str) -> int:
    """How often the container hit its memory limit (cgroup v1 failcnt, v2 memory.events max; 0 if unknown)."""
    path = _cgroup_file(container_id, "memory", "memory.failcnt")
    if path is not None:
        with suppress(OSError, ValueError):
            return int(path.read_text().strip())
    path = _cgroup_file(container_id, "memory", "memory.events")
    if path is not None:
        with suppress(OSError):
            match = re.search(r"^max (\d+)", path.read_text(), re.M)
            return int(match.group(1)) if match else 0
    return 0


@dataclass
class Outcome:
    """What a student container did, in words a student understands."""

    status: str = "unknown"  # running | exited | created
    exit_code: int | None = None
    oom_killed: bool = False
    process_limit_hits: int = 0
    processes: int = 0
    memory_limit_hits: int = 0
    output: str = ""
    output_bytes: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def flooded(self) -> bool:
        return self.output_bytes >= FLOOD_BYTES

    def problems(self, limits: Limits) -> list[str]:
        found = []
        if self.oom_killed:
            found.append(f"killed: ran out of memory (limit {limits.memory_mb} MB)")
        elif self.memory_limit_hits:
            found.append(f"hit the memory limit ({limits.memory_mb} MB) {self.memory_limit_hits} times")
        if self.process_limit_hits or self.processes >= limits.pids:
            refused = f": {self.process_limit_hits} forks or threads refused" if self.process_limit_hits else ""
            found.append(f"reached the process limit ({limits.pids} processes/threads){refused}")
        if self.flooded:
            found.append(f"flooded its output (more than {FLOOD_BYTES >> 10} KB; only the end is kept)")
        if self.status == "exited" and self.exit_code not in (None, 0, 143):
            found.append(f"exited with status {self.exit_code}")
        return found + self.notes


#: Characters of a program's output a report shows (its end: where the traceback is).
OUTPUT_SHOWN = 4000


#: Exit status of a process killed by SIGKILL (128 + 9), which is how the OOM killer ends it.
SIGKILL_STATUS = 137


def had_oom_event(container: Any) -> bool:
    """Did the engine report an OOM kill for this container?

    Engine 20.10 may record the exit before the OOM event, leaving State.OOMKilled
    false; its event log still has the "oom" event. Asks only for events up to
    the next second, so this returns within about a second.
    """
    with suppress(Exception):
        events = container.client.events(
            since=int(time.time()) - OOM_EVENT_WINDOW,
            until=int(time.time()) + 1,
            filters={"container": container.id, "event": "oom"},
            decode=True,
        )
        return any(True for _ in events)
    return False


#: How far back (seconds) to look for an OOM event: longer than any graded run.
OOM_EVENT_WINDOW = 3600


def observe(container: Any) -> Outcome:
    """Read a student container's state, limit counters and (bounded) output. Call before removing it."""
    container.reload()
    state = container.attrs.get("State", {})
    outcome = Outcome(
        status=state.get("Status", "unknown"),
        exit_code=state.get("ExitCode") if state.get("Status") == "exited" else None,
        oom_killed=bool(state.get("OOMKilled")),
        process_limit_hits=hit_process_limit(container.id),
        processes=process_count(container.id),
        memory_limit_hits=hit_memory_limit(container.id),
    )
    if outcome.exit_code == SIGKILL_STATUS and not outcome.oom_killed:
        outcome.oom_killed = had_oom_event(container)
    with suppress(Exception):
        raw = container.logs(stdout=True, stderr=True)  # at most 2 x LOG_MAX_BYTES (log_config)
        outcome.output_bytes = len(raw)
        text = raw[-OUTPUT_SHOWN * 4 :].decode("utf-8", "replace")
        outcome.output = text[-OUTPUT_SHOWN:]
    return outcome


# --- bookkeeping: everything created is removed ----------------------------------------------------


class Resources:
    """Containers and networks created for one job, removed in reverse order by ``close()``.

    Thread-safe; ``close()`` never raises and returns what it could not remove.
    """

    def __init__(self, client: Any) -> None:
        self.client = client
        self._containers: list[Any] = []
        self._networks: list[Any] = []
        self._lock = threading.Lock()

    def container(self, container: Any) -> Any:
        with self._lock:
            self._containers.append(container)
        return container

    def network(self, network: Any) -> Any:
        with self._lock:
            self._networks.append(network)
        return network

    def stop_all(self, containers: Iterable[Any], timeout: int = STOP_TIMEOUT) -> None:
        threads = [threading.Thread(target=_quiet(c.stop, timeout=timeout)) for c in containers]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    def close(self) -> list[str]:
        import docker.errors

        problems: list[str] = []
        with self._lock:
            containers, self._containers = self._containers[::-1], []
            networks, self._networks = self._networks[::-1], []
        for network in networks:
            _disconnect_all(network)
        for container in containers:
            try:
                container.remove(force=True, v=True)
            except docker.errors.NotFound:
                pass
            except Exception as exc:
                problems.append(f"container {container.name}: {exc}")
        for network in networks:
            problem = _remove_network(network)
            if problem:
                problems.append(problem)
        return problems


#: Docker releases a removed container's endpoint a moment later ("has active endpoints"): retry this long.
NETWORK_REMOVE_TIMEOUT = 10.0


def _disconnect_all(network: Any) -> None:
    """Detach every container first: removing a container still attached has left Docker 20.10 with a stale
    endpoint (seen once in 60 submissions), and then the network can never be removed."""
    with suppress(Exception):
        network.reload()
        for container_id in network.attrs.get("Containers") or {}:
            with suppress(Exception):
                network.disconnect(container_id, force=True)


def _remove_network(network: Any) -> str:
    """Remove a network, retrying while Docker still releases endpoints; return the problem, if any."""
    import docker.errors

    deadline = time.monotonic() + NETWORK_REMOVE_TIMEOUT
    while True:
        try:
            network.remove()
            return ""
        except docker.errors.NotFound:
            return ""
        except docker.errors.APIError as exc:
            if "active endpoints" not in str(exc) or time.monotonic() > deadline:
                return f"network {network.name}: {exc}"
        time.sleep(0.2)


def _quiet(func: Callable[..., Any], **kwargs: Any) -> Callable[[], None]:
    def call() -> None:
        with suppress(Exception):
            func(**kwargs)

    return call


def sweep(client: Any, owner: str) -> list[str]:
    """Remove every container and network labelled with ``owner`` (after a crash or Ctrl-C)."""
    label = {"label": f"{OWNER_LABEL}={owner}"}
    leftovers = Resources(client)
    for container in client.containers.list(all=True, filters=label):
        leftovers.container(container)
    for network in client.networks.list(filters=label):
        leftovers.network(network)
    return leftovers.close()


def user_path(path: Path) -> Path:
    """A path the user typed, relative to where they typed it (scripts/lab runs verbs from the repository)."""
    return path if path.is_absolute() else Path(os.environ.get("SOCKLAB_CALLER_CWD", os.getcwd())) / path


def subnet_gateway(subnet: str) -> str:
    return str(next(ipaddress.ip_network(subnet).hosts()))


def host_ids() -> str:
    """uid:gid of the user running the grader: the capture writes its pcap as them."""
    return f"{os.getuid()}:{os.getgid()}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/lab sandbox", description=__doc__.splitlines()[0])
    parser.parse_args(argv)
    limits = Limits()
    print(__doc__.split("\n", 2)[2].strip())
    print(f"\nuser: a fresh uid >= {UID_BASE} per container; default limits: {limits.describe()}")
    print("grading.yaml may change them (limits: memory_mb, cpus, pids, tmpfs_mb).")
    print("\nfirewall (example subnet 172.30.1.0/24):")
    for rule in firewall_script("172.30.1.0/24", "172.30.1.1").removeprefix("set -e; ").split("; "):
        print(f"  {rule}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
