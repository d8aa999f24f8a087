"""What a sandboxed program may use and how its container is configured (no Docker calls here)."""

from __future__ import annotations

import itertools
import os
import secrets
import threading
from dataclasses import dataclass, fields, replace
from pathlib import Path, PurePosixPath
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
#: Set only where the grader itself runs in a container (the handout's `lab.py selftest`): the engine's
#: path of the folder mounted in the grader's container at SOCKLAB_WORKDIR. Every bind-mount
#: source the grader gives the engine must then lie in that folder, and is named by its host path.
HOST_WORKDIR_ENV = "SOCKLAB_HOST_WORKDIR"
WORKDIR_ENV = "SOCKLAB_WORKDIR"
DEFAULT_WORKDIR = "/work"
#: Label on everything a sandbox creates, valued by its owner (a grade run id, an own session).
OWNER_LABEL = "org.socklab.sandbox"
#: Output the grader and `own` keep of each program (docker's json-file log, rotated at this size).
LOG_MAX_BYTES = 1 << 20
#: Output that counts as a flood: docker's log (rotated at LOG_MAX_BYTES) keeps at least this much of one.
FLOOD_BYTES = LOG_MAX_BYTES // 2
#: Characters of a program's output a report shows (its end: where the traceback is).
OUTPUT_SHOWN = 4000
#: Containers' relative CPU weight under contention (docker's default is 1024): the checker and
#: the capture keep their timing even while students' programs spin.
STUDENT_CPU_SHARES = 256
#: Open files (and sockets) per process of a student's program.
OPEN_FILES = 1024
#: Seconds a container gets to exit on SIGTERM before it is killed.
STOP_TIMEOUT = 2
#: How long one Docker API call may take before the grader gives up on it.
API_TIMEOUT = 60
#: Memory of a holder (sleep or tcpdump: trusted code only).
HOLDER_MEMORY = "64m"
#: Megabytes of capture kept per holder (tcpdump -C).
CAPTURE_MAX_MB = 32
#: Seconds a holder may take to be ready.
HOLDER_TIMEOUT = 15.0


class SandboxError(Exception):
    """The sandbox could not be set up (not the student's fault)."""


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
        known = {f.name: f for f in fields(cls)}
        unknown = set(data) - set(known)
        if unknown:
            raise ValueError(f"unknown limits: {', '.join(sorted(unknown))} ({', '.join(known)})")
        default = cls()
        return replace(default, **{k: type(getattr(default, k))(v) for k, v in data.items()})

    def describe(self) -> str:
        return (
            f"memory {self.memory_mb} MB (no swap), {self.cpus:g} CPU, {self.pids} processes/threads, "
            f"/tmp tmpfs {self.tmpfs_mb} MB, output kept up to {LOG_MAX_BYTES >> 20} MB"
        )


def log_config() -> Any:
    import docker.types

    # Two files of the cap each: reading them back always yields at least the cap when the program flooded.
    return docker.types.LogConfig(type="json-file", config={"max-size": str(LOG_MAX_BYTES), "max-file": "2"})


class _UidCounter:
    """Hands out uids from a random block of the range, chosen on first use (no work at import)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._next: itertools.count[int] | None = None

    def __call__(self) -> int:
        with self._lock:
            if self._next is None:
                self._next = itertools.count(UID_BASE + secrets.randbelow(UID_SPAN // 1000) * 1000)
            return next(self._next)


#: A uid no other sandbox of this process uses (another process starts elsewhere in the range).
fresh_uid = _UidCounter()


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
        "mem_limit": HOLDER_MEMORY,
    }
    if capture:
        settings["user"] = host_ids()
    return settings


def submission_mount(path: Path, inside_name: str | None = None) -> tuple[list[Any], str]:
    """The read-only bind mount of a submission (file or folder) and its path inside the container.

    A folder is mounted at SUBMISSION_DIR, a file as SUBMISSION_DIR/``inside_name``
    (default: its own name). Given as a ``Mount``, not a ``src:dst`` string, so a
    ``:`` or a comma in a name cannot change what is mounted.
    """
    import docker.types

    real = path.resolve(strict=True)
    inside = SUBMISSION_DIR if real.is_dir() else f"{SUBMISSION_DIR}/{inside_name or path.name}"
    return [docker.types.Mount(inside, engine_path(real), type="bind", read_only=True)], inside


def engine_path(path: Path) -> str:
    """``path`` as the engine's host names it: a bind mount's source.

    The grader on the engine's host (the repository): ``path`` itself, resolved. The grader in a
    container (SOCKLAB_HOST_WORKDIR set): ``path`` must lie in the shared folder SOCKLAB_WORKDIR and
    is named under the engine's path of that folder (as the engine itself reports it: on Docker
    Desktop a path in its VM, not the Windows or macOS one).
    """
    real = path.resolve()
    host = os.environ.get(HOST_WORKDIR_ENV)
    if not host:
        return str(real)
    inside = Path(os.environ.get(WORKDIR_ENV) or DEFAULT_WORKDIR)
    try:
        relative = real.relative_to(inside)
    except ValueError:
        raise SandboxError(f"{real} is outside {inside}, the only folder the engine's host shares") from None
    return str(PurePosixPath(host, *relative.parts))


def user_path(path: Path) -> Path:
    """A path the user typed, relative to where they typed it (scripts/lab runs verbs from the repository)."""
    return path if path.is_absolute() else Path(os.environ.get("SOCKLAB_CALLER_CWD", os.getcwd())) / path


def host_ids() -> str:
    """uid:gid of the user running the grader: the capture writes its pcap as them."""
    return f"{os.getuid()}:{os.getgid()}"
