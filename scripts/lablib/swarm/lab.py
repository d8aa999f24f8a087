"""``scripts/lab up --swarm`` and ``down --swarm``: the lab as a stack on the swarm this node manages.

up: check this engine manages a swarm (else say to run ``docker swarm init``),
build the image, choose placement from the nodes' labels, ``docker stack
deploy`` the stack generated from compose.yaml, wait until every service is
healthy (or say at once which one no node can take), show where each task runs.

down: stop this node's clients of the stack, read where every node's capture
wrote, ``docker stack rm``, wait until its services, networks and containers
are gone, and list the pcaps. It never leaves the swarm: that is the instructor's.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from lablib import common
from lablib.swarm import engine
from lablib.swarm import stack as stackfile
from services import roles

#: Seconds for the stack to become healthy (a first start on a loaded node is slow).
UP_TIMEOUT = 180.0
#: Seconds for `docker stack rm` to take everything away (tasks stop within their grace period).
DOWN_TIMEOUT = 60.0
DEPLOY_TIMEOUT = 120


def stack_name() -> str:
    """The stack is named like the local lab's project (SOCKLAB_PROJECT, default socklab)."""
    return common.project_name()


def network_name(stack: str) -> str:
    return f"{stack}_{stackfile.NETWORK}"


def write_stack(directory: Path) -> Path:
    path = directory / "stack.yaml"
    path.write_text(stackfile.render())
    return path


def deploy(stack: str, env: dict[str, str]) -> None:
    """``docker stack deploy`` the freshly generated stack file; the image is used as it is on each node."""
    with tempfile.TemporaryDirectory(prefix="socklab-stack-") as tmp:
        path = write_stack(Path(tmp))
        argv = ["docker", "stack", "deploy", "--resolve-image", "never", "--prune", "-c", str(path), stack]
        common.log(f"deploying stack {stack}: {' '.join(argv[:-3])} <generated stack> {stack}")
        done = subprocess.run(
            argv, env={**os.environ, **env}, capture_output=True, text=True, timeout=DEPLOY_TIMEOUT, cwd=tmp
        )
    if done.returncode != 0:
        raise common.LabError(f"docker stack deploy failed (exit {done.returncode}):\n{done.stderr.strip()}")


def host_rows(client: Any, stack: str) -> list[tuple[str, str, str, str]]:
    """(service, node, address on the lab network, state) of every live task of the stack."""
    by_id = {n.id: n.hostname for n in engine.nodes(client)}
    rows = []
    for service in sorted(engine.services(client, stack), key=lambda s: s.name):
        for task in engine.live_tasks(service):
            node = by_id.get(task.get("NodeID", ""), "-")
            address = engine.task_address(task, network_name(stack))
            rows.append((engine.short_name(service, stack), node, address, task["Status"]["State"]))
    return rows


def print_hosts(client: Any, stack: str) -> None:
    rows = host_rows(client, stack)
    widths = [max(len(r[i]) for r in [("SERVICE", "NODE", "ADDRESS", "STATE"), *rows]) for i in range(4)]
    for row in [("SERVICE", "NODE", "ADDRESS", "STATE"), *rows]:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


def capture_lines(stack: str) -> list[str]:
    """Where each node's capture writes, as the capture tasks said it (``docker service logs``)."""
    argv = ["docker", "service", "logs", "--raw", f"{stack}_{stackfile.CAPTURE}"]
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    except subprocess.TimeoutExpired:
        return []
    lines = (done.stdout + done.stderr).splitlines()
    return sorted({line for line in lines if line.startswith("capture: node ")})


def up(args: Any) -> int:
    client = common.docker_client()
    engine.require_swarm(client, manager=True)
    stack = stack_name()
    start = time.monotonic()
    if not args.no_build:
        common.ensure_images()
    all_nodes = engine.nodes(client)
    env = engine.placement_env(all_nodes, args.servers_on, args.clients_on)
    env.setdefault("SOCKLAB_IMAGE", common.IMAGE)
    for variable, value in sorted(env.items()):
        common.log(f"{variable}={value}")
    if len(all_nodes) > 1:
        common.log(
            f"{len(all_nodes)} nodes: each needs the image {common.IMAGE} (scripts/lab swarm ship NODE..., "
            "docs/swarm.md)"
        )
    deploy(stack, env)
    try:
        engine.wait_ready(client, stack, UP_TIMEOUT)
    except engine.PlacementError as exc:
        common.log(f"removing stack {stack} again: it cannot run on this swarm as placed")
        left = remove(client, stack)
        if left:
            also = f"\n  not removed yet: {', '.join(left)} (scripts/lab down --swarm)"
            raise engine.PlacementError(f"{exc}{also}") from None
        raise
    common.log(f"stack {stack} is up in {time.monotonic() - start:.1f} s")
    print_hosts(client, stack)
    print(f"\nOverlay network: {network_name(stack)} (each lab name resolves to its task's own address)")
    print("Clients, from any node of the swarm (each is a new host on the overlay):")
    for role in roles.INTERACTIVE_CLIENTS:
        print(f"  scripts/lab client {role.name.removesuffix('-client'):<9} --swarm   # {role.hint}")
    print("Each node records its own containers' traffic:")
    for line in capture_lines(stack) or ["(the captures have not said where yet: scripts/lab down --swarm will)"]:
        print(f"  {line}")
    return 0


def stop_local_clients(client: Any, stack: str) -> None:
    """This node's client and own containers on the stack's network (they would keep it alive)."""
    found = client.containers.list(all=True, filters={"label": f"{engine.CLIENT_LABEL}={stack}"}, ignore_removed=True)
    for container in found:
        common.log(f"removing client {container.name}")
        container.remove(force=True)


def remove(client: Any, stack: str) -> list[str]:
    """``docker stack rm`` and wait until nothing of it is left on this node's view; return what is left."""
    stop_local_clients(client, stack)
    done = subprocess.run(["docker", "stack", "rm", stack], capture_output=True, text=True, timeout=DEPLOY_TIMEOUT)
    if done.returncode != 0:
        # Typically the network, which still had the stopping tasks' endpoints: retried below.
        common.log(f"docker stack rm {stack}: {done.stderr.strip()}")
    deadline = time.monotonic() + DOWN_TIMEOUT
    why = ""
    while True:
        left = engine.leftovers(client, stack)
        if not left or time.monotonic() > deadline:
            return [f"{item} ({why})" if why and item.startswith("network ") else item for item in left]
        if all(item.startswith("network ") for item in left):
            # Every task is gone, so the network's endpoints go too: remove it as `stack rm` would have.
            names = [item.removeprefix("network ") for item in left]
            why = subprocess.run(["docker", "network", "rm", *names], capture_output=True, text=True).stderr.strip()
        time.sleep(engine.POLL)


def down(args: Any) -> int:
    client = common.docker_client()
    engine.require_swarm(client, manager=True)
    stack = stack_name()
    if not engine.services(client, stack) and not engine.leftovers(client, stack):
        common.log(f"no stack {stack} on this swarm: nothing to remove")
        return 0
    captures = capture_lines(stack)  # ask before the tasks and their logs are gone
    left = remove(client, stack)
    if left:
        raise common.LabError(
            f"stack {stack}: still there after {DOWN_TIMEOUT:g} s: {', '.join(left)}"
            " (a client on another node keeps the network until it quits)"
        )
    common.log(f"stack {stack} removed (this node stays in the swarm)")
    for line in captures:
        print(line)
    return 0


def run(verb: str, args: Any) -> int:
    """``scripts/lab up --swarm`` / ``down --swarm``: 1 and the message on a LabError."""
    try:
        return {"up": up, "down": down}[verb](args)
    except common.LabError as exc:
        print(f"scripts/lab {verb} --swarm: {exc}", file=sys.stderr)
        return 1
