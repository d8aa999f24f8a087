"""What happened to a student container: exit, limits hit, output; in words a student understands."""

from __future__ import annotations

import re
import struct
import time
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .settings import FLOOD_BYTES, OUTPUT_SHOWN, Limits

CGROUP_ROOT = Path("/sys/fs/cgroup")
#: pcap file layout: the global header, then a header per record (its third field: the bytes that follow).
PCAP_HEADER, PCAP_RECORD = 24, 16
#: Exit status of a process killed by SIGKILL (128 + 9), which is how the OOM killer ends it.
SIGKILL_STATUS = 137
#: How far back (seconds) to look for an OOM event: longer than any graded run.
OOM_EVENT_WINDOW = 3600


def cgroup_counter(container_id: str, controller: str, name: str, key: str | None = None) -> int | None:
    """A number from a container's cgroup file seen from the host; None when there is no such file.

    ``key``: the file holds ``key value`` lines (pids.events, memory.events) and
    the value of that key is wanted (0 when the key is absent); otherwise the
    whole file is one number. Knows cgroup v1 (cgroupfs or systemd driver) and v2.
    """
    candidates = (
        f"{controller}/docker/{container_id}/{name}",
        f"{controller}/system.slice/docker-{container_id}.scope/{name}",
        f"system.slice/docker-{container_id}.scope/{name}",
        f"docker/{container_id}/{name}",
    )
    path = next((CGROUP_ROOT / c for c in candidates if (CGROUP_ROOT / c).is_file()), None)
    if path is None:
        return None
    try:
        text = path.read_text()
    except OSError:
        return None
    if key is None:
        with suppress(ValueError):
            return int(text.strip())
        return None
    match = re.search(rf"^{re.escape(key)} (\d+)", text, re.M)
    return int(match.group(1)) if match else 0


def hit_process_limit(container_id: str) -> int:
    """How often the container was refused a new process or thread (0 when unknown)."""
    return cgroup_counter(container_id, "pids", "pids.events", key="max") or 0


def process_count(container_id: str) -> int:
    """Processes and threads in the container now (0 when unknown)."""
    return cgroup_counter(container_id, "pids", "pids.current") or 0


def hit_memory_limit(container_id: str) -> int:
    """How often the container hit its memory limit (cgroup v1 failcnt, v2 memory.events max; 0 if unknown)."""
    v1 = cgroup_counter(container_id, "memory", "memory.failcnt")
    if v1 is not None:
        return v1
    return cgroup_counter(container_id, "memory", "memory.events", key="max") or 0


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


def pcap_packets(path: Path) -> int:
    """Packets in a pcap file (0 if it is not one); reads only the record headers."""
    try:
        with path.open("rb") as f:
            magic = f.read(PCAP_HEADER)[:4]
            order = {b"\xd4\xc3\xb2\xa1": "<", b"\xa1\xb2\xc3\xd4": ">", b"\x4d\x3c\xb2\xa1": "<"}.get(magic)
            if order is None:
                return 0
            count = 0
            while len(header := f.read(PCAP_RECORD)) == PCAP_RECORD:
                f.seek(struct.unpack(order + "IIII", header)[2], 1)
                count += 1
            return count
    except OSError:
        return 0


def captured_packets(holder: Any) -> int | None:
    """What a stopped capturing holder's tcpdump says it captured (None when it did not say)."""
    with suppress(Exception):
        match = re.search(rb"(\d+) packets? captured", holder.logs(tail=20))
        return int(match.group(1)) if match else None
    return None


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
