"""Bookkeeping: every container and network a sandbox creates is recorded and removed in reverse order."""

from __future__ import annotations

import threading
import time
from contextlib import suppress
from typing import Any

from .settings import OWNER_LABEL

#: Docker releases a removed container's endpoint a moment later ("has active endpoints"): retry this long.
NETWORK_REMOVE_TIMEOUT = 10.0
NETWORK_REMOVE_POLL = 0.2


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
        time.sleep(NETWORK_REMOVE_POLL)


def sweep(client: Any, owner: str) -> list[str]:
    """Remove every container and network labelled with ``owner`` (after a crash or Ctrl-C)."""
    label = {"label": f"{OWNER_LABEL}={owner}"}
    leftovers = Resources(client)
    for container in client.containers.list(all=True, filters=label):
        leftovers.container(container)
    for network in client.networks.list(filters=label):
        leftovers.network(network)
    return leftovers.close()
