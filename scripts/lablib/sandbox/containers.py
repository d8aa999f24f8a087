"""Start the two containers of a sandbox: the holder (namespace, firewall, capture) and the student's program."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .firewall import NO_IPV6, apply_firewall, subnet_gateway
from .resources import Resources
from .settings import (
    CAPTURE_MAX_MB,
    HOLDER_TIMEOUT,
    Limits,
    SandboxError,
    engine_path,
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
    hosts: dict[str, str] | None = None,
    lifetime: float | None = None,
    capture_mb: int = CAPTURE_MAX_MB,
    image: str,
) -> Any:
    """Start a holder at ``ip`` (None: dynamic) on ``network``, its firewall in place; ``capture``: tcpdump's file.

    The capture starts before the student's program (it is the holder's own
    process), so the pcap holds every packet of the namespace from the first SYN.
    ``hosts``: name -> address for /etc/hosts, which the student's container
    shares: the only way to resolve a name, since the resolver is refused.
    ``lifetime``: seconds after which it ends by itself (a grader killed outright leaves nothing running);
    ``capture_mb``: the capture's size cap (tcpdump -C: past it the file restarts, keeping the end).
    """
    settings = holder_settings(capture=capture is not None)
    if capture is None:
        command, volumes = ["sleep", "infinity" if lifetime is None else f"{lifetime:.0f}"], {}
    else:
        capture.parent.mkdir(parents=True, exist_ok=True)
        # -C/-W: one file, restarted past the size cap, so a flood cannot fill the disk.
        command = ["tcpdump", "-i", "eth0", "-n", "-U", "--immediate-mode", "-Z", "root"]
        command += ["-C", str(capture_mb), "-W", "1", "-w", f"/capture/{capture.name}"]
        command = limited(command, lifetime, "TERM")  # TERM: tcpdump closes its file
        volumes = {engine_path(capture.parent): {"bind": "/capture", "mode": "rw"}}
    endpoint = client.api.create_endpoint_config(ipv4_address=ip, aliases=aliases or None)
    holder = resources.container(
        client.containers.create(
            image,
            entrypoint=command,
            name=name,
            hostname=hostname or name[:63],
            labels=labels,
            volumes=volumes,
            network=network,
            networking_config={network: endpoint},
            extra_hosts=hosts or None,
            sysctls=NO_IPV6,
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
    submission_name: str | None = None,
    labels: dict[str, str],
    limits: Limits,
    image: str,
    environment: dict[str, str] | None = None,
    volumes: dict[str, dict[str, str]] | None = None,
    interactive: bool = False,
    lifetime: float | None = None,
) -> Any:
    """Start an untrusted program in ``holder``'s network namespace, its submission mounted read-only.

    ``submission_name``: the file's name inside the container (default its own);
    ``volumes``: more bind mounts (read-only ones only: the sandbox's files are the tmpfs);
    ``lifetime``: seconds after which the program is killed (a grader killed outright leaves nothing running).
    """
    mounts, _inside = submission_mount(submission, submission_name)
    settings = student_settings(limits)
    settings["environment"] = {**settings["environment"], **(environment or {})}
    container = resources.container(
        client.containers.create(
            image,
            entrypoint=limited(argv, lifetime, "KILL"),  # replaces the image's entrypoint and its default command
            name=name,
            labels=labels,
            mounts=mounts,
            volumes=volumes or {},
            network_mode=f"container:{holder.id}",
            stdin_open=interactive,
            tty=interactive,
            **settings,
        )
    )
    container.start()
    return container


def limited(argv: list[str], lifetime: float | None, signal: str) -> list[str]:
    """``argv`` ended with ``signal`` after ``lifetime`` s (coreutils ``timeout``, in both images).

    ``--preserve-status``: the exit status stays the program's own (137 when killed, 143 on docker stop).
    """
    if lifetime is None:
        return argv
    return ["timeout", "--preserve-status", "-s", signal, f"{lifetime:.0f}", *argv]


def exited(container: Any) -> bool:
    container.reload()
    return container.status in {"exited", "dead"}


def wait_until(condition: Callable[[], object], timeout: float, what: str, interval: float = START_POLL) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise SandboxError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)
