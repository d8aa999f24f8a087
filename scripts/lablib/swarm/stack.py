"""The Swarm stack file of the lab, derived from compose.yaml and the catalogue, so the two never drift.

Each long-running program of the local lab (the servers and the date/time
client: the catalogue's roles with a fixed address) becomes a Swarm service
with compose.yaml's own settings for it (image, entrypoint, hostname,
environment, capabilities, health check, init, stop grace), and what Swarm
needs instead of what it cannot do:

* one attachable overlay network ``lab`` with a fixed subnet instead of the
  bridge: Swarm gives addresses itself, so there are no fixed ones;
* ``endpoint_mode: dnsrr`` on every service, so a lab name resolves to the
  task's own address (no virtual IP in between) and a capture shows both ends;
* placement constraints from variables (``scripts/lab up --swarm`` sets them
  from the nodes' ``socklab.role`` labels): servers on the manager, the
  date/time client anywhere, unless labels say otherwise;
* the capture as a *global* service (one task per node) that records the
  overlay's bridge on its node (services/overlay_capture.py) instead of the
  host-network sidecar on the lab's bridge.

Values stay Compose variables (``${SOCKLAB_…:-default}``), interpolated by
``docker stack deploy`` as by Compose, so ``swarm/stack.yaml`` (this module's
output, checked by tests/unit/test_swarm_stack.py) works by hand too.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from lablib import common
from services import roles

STACK_FILE = common.ROOT / "swarm" / "stack.yaml"
#: The stack file format: 3.8 has everything used here (init, cap_add via the CLI, placement, dnsrr).
VERSION = "3.8"
#: The network's key, as in compose.yaml; the stack's network is called ``<stack>_lab``.
NETWORK = "lab"
CAPTURE = common.CAPTURE_SERVICE
#: compose.yaml settings a Swarm service takes over as they are.
KEPT = ("image", "init", "stop_grace_period", "cap_add", "environment", "hostname", "entrypoint", "healthcheck")
#: The capture needs CAP_SYS_ADMIN to enter the overlay's namespace (nsenter), the rest to capture.
CAPTURE_CAPS = ["NET_ADMIN", "NET_RAW", "SYS_ADMIN"]
CAPTURE_MODULE = "services.overlay_capture"
#: The underlay's MTU (the nodes' LAN): the overlay's interfaces get 50 bytes less for VXLAN's headers.
#: Measured on Engine 20.10: option 1500 -> eth0 1450 (Docker's default), 1450 -> 1400, 1350 -> 1300.
DEFAULT_MTU = 1500
#: Where Docker keeps network namespaces on a node (its exec root is /var/run/docker by default).
DEFAULT_NETNS = "/var/run/docker/netns"
#: Folder that exists on every Linux node, so the global capture can start anywhere.
DEFAULT_CAPTURES = "/var/tmp"
#: Placement when no label says otherwise: servers on the manager (the instructor's machine),
#: the date/time client on any node (the image is a Linux image, so this always holds).
DEFAULT_SERVERS_ON = "node.role == manager"
DEFAULT_CLIENTS_ON = "node.platform.os == linux"
#: The node label scripts/lab reads: socklab.role=servers / socklab.role=clients.
ROLE_LABEL = "socklab.role"


def var(name: str, default: object) -> str:
    """A Compose variable with its default, left for ``docker stack deploy`` to fill in."""
    return f"${{{name}:-{default}}}"


#: The variables of the stack file, with their defaults.
SETTINGS: dict[str, str] = {
    "SOCKLAB_SWARM_SUBNET": roles.SWARM_SUBNET,
    "SOCKLAB_SWARM_MTU": str(DEFAULT_MTU),
    "SOCKLAB_SWARM_CAPTURES": DEFAULT_CAPTURES,
    "SOCKLAB_DOCKER_NETNS": DEFAULT_NETNS,
    "SOCKLAB_SERVERS_ON": DEFAULT_SERVERS_ON,
    "SOCKLAB_CLIENTS_ON": DEFAULT_CLIENTS_ON,
}


def setting(name: str) -> str:
    return var(name, SETTINGS[name])


def load_compose(path: Path = common.COMPOSE_FILE) -> dict[str, Any]:
    return yaml.safe_load(path.read_text())


def long_running() -> tuple[roles.Role, ...]:
    """The roles the stack runs: every one with a fixed lab address (servers and the date/time client)."""
    return tuple(r for r in roles.ROLES if r.octet is not None)


def program_service(compose_service: dict[str, Any]) -> dict[str, Any]:
    """A service's own settings from compose.yaml, without what Swarm ignores or refuses."""
    return {key: compose_service[key] for key in KEPT if key in compose_service}


def role_service(role: roles.Role, compose: dict[str, Any]) -> dict[str, Any]:
    service = program_service(compose["services"][role.name])
    placement = setting("SOCKLAB_SERVERS_ON" if role.is_server else "SOCKLAB_CLIENTS_ON")
    service["networks"] = [NETWORK]
    service["deploy"] = {
        "endpoint_mode": "dnsrr",
        "replicas": 1,
        "placement": {"constraints": [placement]},
    }
    return service


def capture_service(compose: dict[str, Any]) -> dict[str, Any]:
    """One capture task per node, recording the overlay's bridge there (services/overlay_capture.py)."""
    local = compose["services"][CAPTURE]
    captures = setting("SOCKLAB_SWARM_CAPTURES")
    return {
        "image": local["image"],
        "hostname": CAPTURE,
        "user": "root",
        "init": True,  # SIGTERM reaches tcpdump, which closes the pcap
        "entrypoint": ["python3", "-m", CAPTURE_MODULE],
        "cap_add": CAPTURE_CAPS,
        "stop_grace_period": local["stop_grace_period"],
        "environment": {
            "SOCKLAB_SUBNET": setting("SOCKLAB_SWARM_SUBNET"),
            # Swarm's templates: each task knows its node and its stack.
            "SOCKLAB_NODE": "{{.Node.Hostname}}",
            "SOCKLAB_STACK": '{{index .Service.Labels "com.docker.stack.namespace"}}',
            "SOCKLAB_CAPTURES_HOST": captures,
        },
        "volumes": [
            {"type": "bind", "source": captures, "target": "/captures"},
            {"type": "bind", "source": setting("SOCKLAB_DOCKER_NETNS"), "target": "/netns", "read_only": True},
        ],
        "networks": [NETWORK],
        "healthcheck": local["healthcheck"],  # healthy once tcpdump has created the pcap
        "deploy": {"mode": "global", "endpoint_mode": "dnsrr"},
    }


def generate(compose: dict[str, Any] | None = None) -> dict[str, Any]:
    """The stack: the long-running roles in catalogue order, the capture, the overlay."""
    compose = compose if compose is not None else load_compose()
    services = {role.name: role_service(role, compose) for role in long_running()}
    services[CAPTURE] = capture_service(compose)
    network = {
        "driver": "overlay",
        "attachable": True,  # `scripts/lab client` containers join it from any node
        "driver_opts": {"com.docker.network.driver.mtu": setting("SOCKLAB_SWARM_MTU")},
        "ipam": {"config": [{"subnet": setting("SOCKLAB_SWARM_SUBNET")}]},
    }
    return {"version": VERSION, "services": services, "networks": {NETWORK: network}}


HEADER = """\
# The lab as a Docker Swarm stack. GENERATED from compose.yaml and services/roles.py by
#   scripts/lab swarm stack > swarm/stack.yaml
# (tests/unit/test_swarm_stack.py fails when this file and the generator disagree).
# scripts/lab up --swarm deploys it; by hand, on a manager, with the image on every node:
#   docker stack deploy --resolve-image never -c swarm/stack.yaml socklab
# See docs/swarm.md for the variables, labels and captures.
"""


class _Dumper(yaml.SafeDumper):
    """Writes shared values out in full: a stack file for people to read has no YAML anchors."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def render(stack: dict[str, Any] | None = None) -> str:
    body = yaml.dump(stack if stack is not None else generate(), Dumper=_Dumper, sort_keys=False, width=120)
    return HEADER + body
