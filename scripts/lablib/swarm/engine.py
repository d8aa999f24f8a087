"""What the swarm says: this node's place in it, the nodes and their labels, a stack's services and tasks.

Read through the Docker SDK; every question is read-only. Deploying and
removing stay with the docker CLI (``docker stack deploy`` / ``docker stack rm``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from lablib import common
from lablib.swarm import stack as stackfile

STACK_LABEL = "com.docker.stack.namespace"
#: On containers that ``scripts/lab client --swarm`` and ``own --swarm`` start: the stack they joined.
CLIENT_LABEL = "org.socklab.swarm.client"
#: What Swarm writes into a task's status when no node satisfies its placement.
NO_NODE = "no suitable node"
#: Seconds between looks at the tasks.
POLL = 0.5

INIT_HINT = (
    "this Docker engine is in no swarm. On the instructor's machine run\n"
    "    docker swarm init\n"
    "(add --advertise-addr <this machine's LAN address> if it has several), then on every other machine\n"
    "the `docker swarm join ...` command it prints. See docs/swarm.md."
)


class PlacementError(common.LabError):
    """A service's tasks wait for a node that the swarm does not have."""


@dataclass(frozen=True)
class Node:
    id: str
    hostname: str
    role: str  # manager | worker
    state: str  # ready | down | ...
    availability: str  # active | pause | drain
    labels: dict[str, str]
    addr: str

    @classmethod
    def from_attrs(cls, attrs: dict[str, Any]) -> Node:
        spec, desc, status = attrs["Spec"], attrs.get("Description", {}), attrs.get("Status", {})
        return cls(
            id=attrs["ID"],
            hostname=desc.get("Hostname", attrs["ID"][:12]),
            role=spec.get("Role", "?"),
            state=status.get("State", "?"),
            availability=spec.get("Availability", "?"),
            labels=dict(spec.get("Labels") or {}),
            addr=status.get("Addr", "?"),
        )

    def describe(self) -> str:
        labels = ", ".join(f"{k}={v}" for k, v in sorted(self.labels.items())) or "no labels"
        return f"{self.hostname} ({self.role}, {self.state}, {self.availability}; {labels})"


def swarm_info(client: Any) -> dict[str, Any]:
    return client.info().get("Swarm") or {}


def require_swarm(client: Any, manager: bool) -> dict[str, Any]:
    """This engine's swarm info; a LabError naming the command to run when it is not (a manager) in one."""
    info = swarm_info(client)
    state = info.get("LocalNodeState", "inactive")
    if state != "active":
        raise common.LabError(INIT_HINT if state == "inactive" else f"this node's swarm state is {state!r}")
    if manager and not info.get("ControlAvailable"):
        raise common.LabError(
            "this node is a swarm worker: run it on a manager (the instructor's machine), "
            "or make this one a manager there with `docker node promote <this node>`"
        )
    return info


def nodes(client: Any) -> list[Node]:
    return [Node.from_attrs(n.attrs) for n in client.nodes.list()]


def placement_env(all_nodes: list[Node], servers_on: str | None, clients_on: str | None) -> dict[str, str]:
    """The stack's placement variables: given ones first, then the nodes' socklab.role labels, else defaults.

    A label ``socklab.role=servers`` on some node puts the servers there; ``socklab.role=clients``
    the date/time client. Without labels the stack file's defaults hold (works on one node).
    """
    env: dict[str, str] = {}
    for variable, given, value in (
        ("SOCKLAB_SERVERS_ON", servers_on, "servers"),
        ("SOCKLAB_CLIENTS_ON", clients_on, "clients"),
    ):
        if given:
            env[variable] = given
        elif any(n.labels.get(stackfile.ROLE_LABEL) == value for n in all_nodes):
            env[variable] = f"node.labels.{stackfile.ROLE_LABEL} == {value}"
    return env


def services(client: Any, stack: str) -> list[Any]:
    return client.services.list(filters={"label": f"{STACK_LABEL}={stack}"})


def short_name(service: Any, stack: str) -> str:
    return service.name.removeprefix(f"{stack}_")


def constraints(service: Any) -> list[str]:
    placement = service.attrs["Spec"]["TaskTemplate"].get("Placement") or {}
    return list(placement.get("Constraints") or [])


def live_tasks(service: Any) -> list[dict[str, Any]]:
    return service.tasks(filters={"desired-state": "running"})


def task_address(task: dict[str, Any], network: str) -> str:
    """The task's address on ``network`` (without the prefix length), or '-'."""
    for attachment in task.get("NetworksAttachments") or []:
        if attachment["Network"]["Spec"]["Name"] == network:
            return ", ".join(a.split("/")[0] for a in attachment.get("Addresses") or []) or "-"
    return "-"


def is_ready(service: Any) -> bool:
    """Every task Swarm wants running runs (and so passed its health check), and there are as many as asked."""
    tasks = live_tasks(service)
    mode = service.attrs["Spec"]["Mode"]
    wanted = mode["Replicated"].get("Replicas", 1) if "Replicated" in mode else max(1, len(tasks))
    running = [t for t in tasks if t["Status"]["State"] == "running"]
    return len(running) >= wanted and len(running) == len(tasks)


def unplaceable(service: Any) -> str | None:
    """Swarm's reason when a task of ``service`` waits for a node that fits its placement."""
    for task in live_tasks(service):
        err = task["Status"].get("Err") or ""
        if task["Status"]["State"] == "pending" and NO_NODE in err:
            return err
    return None


def placement_message(service: Any, stack: str, reason: str, all_nodes: list[Node]) -> str:
    rules = " and ".join(constraints(service)) or "none"
    listed = "\n".join(f"    {n.describe()}" for n in all_nodes)
    example = all_nodes[0].hostname if all_nodes else "NODE"
    return (
        f"{short_name(service, stack)} cannot be placed: {reason}.\n"
        f"  its placement: {rules}\n"
        f"  the swarm's nodes:\n{listed}\n"
        f"  label the node that should run it, e.g.  docker node update --label-add {stackfile.ROLE_LABEL}=servers "
        f"{example}\n  or join such a node (docker swarm join), or drop --servers-on/--clients-on."
    )


def last_error(service: Any) -> str:
    """The most recent task error of a service, for a timeout's message."""
    tasks = sorted(service.tasks(), key=lambda t: t.get("UpdatedAt", ""), reverse=True)
    for task in tasks:
        err = task["Status"].get("Err")
        if err:
            return f"{task['Status']['State']}: {err}"
    return tasks[0]["Status"]["State"] if tasks else "no task yet"


def wait_ready(client: Any, stack: str, timeout: float) -> list[Any]:
    """Wait until every service of the stack runs (healthy); a PlacementError as soon as one cannot be placed."""
    deadline = time.monotonic() + timeout
    while True:
        found = services(client, stack)
        for service in found:
            reason = unplaceable(service)
            if reason:
                raise PlacementError(placement_message(service, stack, reason, nodes(client)))
        waiting = [s for s in found if not is_ready(s)]
        if found and not waiting:
            return found
        if time.monotonic() > deadline:
            states = "; ".join(f"{short_name(s, stack)}: {last_error(s)}" for s in waiting) or "no services"
            raise common.LabError(f"stack {stack} not ready after {timeout:g} s ({states})")
        time.sleep(POLL)


def leftovers(client: Any, stack: str) -> list[str]:
    """What of the stack still exists on this node's view: services, networks, secrets, configs, containers."""
    label = {"label": f"{STACK_LABEL}={stack}"}
    found = [f"service {s.name}" for s in client.services.list(filters=label)]
    found += [f"network {n.name}" for n in client.networks.list(filters=label)]
    found += [f"secret {s.name}" for s in client.secrets.list(filters=label)]
    found += [f"config {c.name}" for c in client.configs.list(filters=label)]
    found += [f"container {c.name}" for c in client.containers.list(all=True, filters=label, ignore_removed=True)]
    return found
