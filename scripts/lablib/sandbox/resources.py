"""Bookkeeping: every container and network a sandbox creates is recorded and removed in reverse order."""

from __future__ import annotations

import threading
import time
from typing import Any

from .settings import OWNER_LABEL

#: Docker releases a removed container's endpoint a moment later ("has active endpoints"): retry this long.
NETWORK_REMOVE_TIMEOUT = 10.0
NETWORK_REMOVE_POLL = 0.2
#: Seconds a removed container may take to disappear from the engine.
CONTAINER_GONE_TIMEOUT = 30.0


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
        """Remove everything, in an order that never leaves Docker 20.10 a stale endpoint (see below)."""
        with self._lock:
            containers, self._containers = self._containers[::-1], []
            networks, self._networks = self._networks[::-1], []
        # Programs living in another container's namespace first, each gone before the next step: removing
        # or disconnecting a namespace's holder while a container sharing it is still stopping is what
        # leaves libnetwork an endpoint no API call removes ("has active endpoints", no container listed).
        # Nothing is ever disconnected: removing a container releases its endpoint in order.
        ordered = [c for c in containers if _is_guest(c)] + [c for c in containers if not _is_guest(c)]
        problems = [p for c in ordered if (p := _remove_container(c))]
        problems += [p for network in networks if (p := _remove_network(network))]
        return problems


def _is_guest(container: Any) -> bool:
    """Does the container live in another container's network namespace (``network_mode: container:…``)?"""
    mode = (container.attrs.get("HostConfig") or {}).get("NetworkMode", "")
    return str(mode).startswith("container:")


def _remove_container(container: Any) -> str:
    """Remove (killing it if needed) and wait until the engine no longer knows it; return the problem, if any."""
    import docker.errors

    try:
        container.remove(force=True, v=True)
    except docker.errors.NotFound:
        return ""
    except Exception as exc:
        return f"container {container.name or container.short_id}: {exc}"
    deadline = time.monotonic() + CONTAINER_GONE_TIMEOUT
    while True:
        try:
            container.reload()
        except docker.errors.NotFound:
            return ""
        except Exception as exc:
            return f"container {container.name or container.short_id}: {exc}"
        if time.monotonic() > deadline:
            return f"container {container.name or container.short_id}: still there after {CONTAINER_GONE_TIMEOUT:g} s"
        time.sleep(NETWORK_REMOVE_POLL)


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
    for container in client.containers.list(all=True, filters=label, sparse=True):  # no inspect: no race
        leftovers.container(container)
    for network in client.networks.list(filters=label):
        leftovers.network(network)
    return leftovers.close()
