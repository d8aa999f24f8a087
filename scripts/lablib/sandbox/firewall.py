"""The firewall of a sandbox's network namespace: only its own subnet, never the Docker host."""

from __future__ import annotations

import ipaddress
from typing import Any

from .settings import SandboxError


def subnet_gateway(subnet: str) -> str:
    """The network's gateway: its first host address, which is the Docker host's side of the bridge."""
    return str(next(ipaddress.ip_network(subnet).hosts()))


def firewall_rules(subnet: str, gateway: str) -> list[str]:
    """iptables commands that let the namespace reach only its own subnet, not the host."""
    return [
        "iptables -P OUTPUT ACCEPT",
        "iptables -A OUTPUT -o lo -j ACCEPT",
        # Replies to connections others opened (the lab's clients, the checker, the host's scripts/lab check).
        "iptables -A OUTPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT",
        # REJECT, not DROP: the program's connect fails at once with a clear error instead of a timeout.
        f"iptables -A OUTPUT -d {gateway} -j REJECT --reject-with icmp-admin-prohibited",  # the Docker host
        f"iptables -A OUTPUT -d {subnet} -j ACCEPT",
        "iptables -A OUTPUT -j REJECT --reject-with icmp-net-unreachable",
        "ip6tables -A OUTPUT -o lo -j ACCEPT 2>/dev/null || true",
        "ip6tables -A OUTPUT -j DROP 2>/dev/null || true",
    ]


def firewall_script(subnet: str, gateway: str) -> str:
    """The rules as one ``sh -c`` script that stops at the first failing command."""
    return "set -e; " + "; ".join(firewall_rules(subnet, gateway))


def apply_firewall(holder: Any, subnet: str, gateway: str) -> None:
    """Install the rules in the holder's (and so the student's) namespace; raise if that fails."""
    code, out = holder.exec_run(["sh", "-c", firewall_script(subnet, gateway)], user="root")
    if code != 0:
        text = (out or b"").decode("utf-8", "replace").strip()
        raise SandboxError(f"could not install the sandbox's firewall in {holder.name}: {text}")


def blocked_packets(holder: Any) -> dict[str, int]:
    """Packets the firewall refused, by rule: {"host": n, "outside": n} (empty if it cannot be read)."""
    code, out = holder.exec_run(["iptables", "-L", "OUTPUT", "-v", "-x", "-n"], user="root")
    if code != 0:
        return {}
    counts = {"host": 0, "outside": 0}
    for line in (out or b"").decode().splitlines():
        if "REJECT" not in line:
            continue
        packets = int(line.split()[0])
        counts["host" if "admin-prohib" in line else "outside"] += packets
    return counts
