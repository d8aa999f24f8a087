"""The grader's networks: one internal 172.30.N.0/24 per submission being graded."""

from __future__ import annotations

import ipaddress
import random
import threading
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

from .. import sandbox

SUBNET_BASE = "172.30"
SUBNET_CHOICES = range(1, 255)
#: Tries to create a network when another run takes the chosen subnet meanwhile.
NETWORK_ATTEMPTS = 6
#: Addresses inside a submission's subnet: the checker, then one per role from ROLE_HOST_BASE on.
CHECKER_HOST = 2
ROLE_HOST_BASE = 10


@dataclass(frozen=True)
class TeamNetwork:
    """A submission's network and the addresses on it."""

    network: Any
    n: int

    @property
    def name(self) -> str:
        return str(self.network.name)

    @property
    def subnet(self) -> str:
        return f"{SUBNET_BASE}.{self.n}.0/24"

    @property
    def checker_ip(self) -> str:
        return f"{SUBNET_BASE}.{self.n}.{CHECKER_HOST}"

    def role_ip(self, index: int) -> str:
        return f"{SUBNET_BASE}.{self.n}.{ROLE_HOST_BASE + index}"


class SubnetPool:
    """Hands out 172.30.N.0/24 subnets no network on this engine uses (other runs may race: callers retry)."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.lock = threading.Lock()
        self.mine: set[int] = set()

    def take(self) -> int:
        with self.lock:
            used = set(self.mine) | self._used_on_engine()
            free = [n for n in SUBNET_CHOICES if n not in used]
            if not free:
                raise sandbox.SandboxError(f"no free subnet left in {SUBNET_BASE}.0.0/16")
            n = random.choice(free)
            self.mine.add(n)
            return n

    def _used_on_engine(self) -> set[int]:
        grader_range = ipaddress.ip_network(f"{SUBNET_BASE}.0.0/16")
        used = set()
        for network in self.client.networks.list():
            for pool in (network.attrs.get("IPAM") or {}).get("Config") or []:
                with suppress(ValueError, KeyError):
                    net = ipaddress.ip_network(pool["Subnet"])
                    if net.overlaps(grader_range):
                        used.add(int(str(net.network_address).split(".")[2]))
        return used

    def give_back(self, n: int) -> None:
        with self.lock:
            self.mine.discard(n)

    def create(self, name: str, labels: dict[str, str], resources: sandbox.Resources) -> TeamNetwork:
        """An internal bridge network on a free subnet, recorded in ``resources``; give_back(n) when removed."""
        import docker.errors
        import docker.types

        last: Exception | None = None
        for _ in range(NETWORK_ATTEMPTS):
            n = self.take()
            subnet = f"{SUBNET_BASE}.{n}.0/24"
            pool = docker.types.IPAMPool(subnet=subnet, gateway=sandbox.subnet_gateway(subnet))
            try:
                network = self.client.networks.create(
                    name,
                    driver="bridge",
                    internal=True,
                    ipam=docker.types.IPAMConfig(pool_configs=[pool]),
                    labels=labels,
                )
                return TeamNetwork(resources.network(network), n)
            except docker.errors.APIError as exc:  # another run took the subnet meanwhile
                self.give_back(n)
                last = exc
        raise sandbox.SandboxError(f"could not create a network: {last}")
