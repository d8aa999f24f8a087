"""Start the two containers of a sandbox: the holder (namespace, firewall, capture) and the student's program."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .firewall import apply_firewall, subnet_gateway
from .resources import Resources
from .settings import (
    CAPTURE_MAX_MB,
    HOLDER_TIMEOUT,
    Limits,
    SandboxError,
    holder_settings,
    student_settings,
    submission_mount,
)

#: Seconds between two looks at a container that is starting.
START_POLL = 0.05


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
        wait_until(lambda: capture.exists() or exited(holder), HOLDER_TIMEOUT, f"tcpdump in {name} to start")
    if exited(holder):
        output = holder.logs(tail=20).decode("utf-8", "replace").strip()
        raise SandboxError(f"{name} stopped at once: {output}")
    apply_firewall(holder, subnet, subnet_gateway(subnet))
    return holder


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


def exited(container: Any) -> bool:
    container.reload()
    return container.status in {"exited", "dead"}


def wait_until(condition: Callable[[], object], timeout: float, what: str, interval: float = START_POLL) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise SandboxError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)
