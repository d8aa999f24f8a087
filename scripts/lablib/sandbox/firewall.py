"""The firewall of a sandbox's network namespace: only its own subnet, never the Docker host, nothing else.

It fails closed: the OUTPUT policy is DROP before the first rule, IPv6 is
switched off in the namespace (the holder's sysctls) and every IPv6 packet is
dropped, and any rule that cannot be installed stops the sandbox (``set -e``).
Docker's embedded resolver (127.0.0.11, in every namespace on a user-defined
network) is refused before loopback is accepted: on Engine 20.10 it forwards
names from internal networks to the host's resolvers (CVE-2024-29018).
"""

from __future__ import annotations

import ipaddress
from typing import Any

from .settings import SandboxError

#: Docker's embedded DNS resolver, present in every container on a user-defined network.
EMBEDDED_DNS = "127.0.0.11"
#: The holder's sysctls: no IPv6 at all in the namespace (the student's container shares it).
NO_IPV6 = {"net.ipv6.conf.all.disable_ipv6": "1", "net.ipv6.conf.default.disable_ipv6": "1"}


class FirewallError(SandboxError):
    """The firewall could not be installed: nothing may run in that namespace (the run stops)."""


def subnet_gateway(subnet: str) -> str:
    """The network's gateway: its first host address, which is the Docker host's side of the bridge."""
    return str(next(ipaddress.ip_network(subnet).hosts()))


def firewall_rules(subnet: str, gateway: str) -> list[str]:
    """iptables commands that let the namespace reach only its own subnet, not the host, not the resolver."""
    return [
        "iptables -P OUTPUT DROP",  # closed until the last rule is in
        # REJECT, not DROP: the program's connect fails at once with a clear error instead of a timeout.
        f"iptables -A OUTPUT -d {EMBEDDED_DNS} -p tcp -j REJECT --reject-with tcp-reset",
        f"iptables -A OUTPUT -d {EMBEDDED_DNS} -j REJECT --reject-with icmp-port-unreachable",
        "iptables -A OUTPUT -o lo -j ACCEPT",
        # Replies to connections others opened (the lab's clients, the checker, the host's scripts/lab check).
        "iptables -A OUTPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT",
        f"iptables -A OUTPUT -d {gateway} -j REJECT --reject-with icmp-admin-prohibited",  # the Docker host
        f"iptables -A OUTPUT -d {subnet} -j ACCEPT",
        "iptables -A OUTPUT -j REJECT --reject-with icmp-net-unreachable",
        "ip6tables -P INPUT DROP",
        "ip6tables -P OUTPUT DROP",
        "ip6tables -P FORWARD DROP",
    ]


def firewall_script(subnet: str, gateway: str) -> str:
    """The rules as one ``sh -c`` script that stops at the first failing command."""
    return "set -e; " + "; ".join(firewall_rules(subnet, gateway))


def apply_firewall(holder: Any, subnet: str, gateway: str) -> None:
    """Install the rules in the holder's (and so the student's) namespace; FirewallError if that fails."""
    code, out = holder.exec_run(["sh", "-c", firewall_script(subnet, gateway)], user="root")
    if code != 0:
        text = (out or b"").decode("utf-8", "replace").strip()
        raise FirewallError(f"could not install the sandbox's firewall in {holder.name}: {text}")


def blocked_packets(holder: Any) -> dict[str, int]:
    """Packets the firewall refused, by rule: {"host": n, "outside": n, "resolver": n} (empty if unreadable)."""
    code, out = holder.exec_run(["iptables", "-L", "OUTPUT", "-v", "-x", "-n"], user="root")
    if code != 0:
        return {}
    counts = {"host": 0, "outside": 0, "resolver": 0}
    for line in (out or b"").decode().splitlines():
        if "REJECT" not in line:
            continue
        packets = int(line.split()[0])
        kind = "resolver" if EMBEDDED_DNS in line else "host" if "admin-prohib" in line else "outside"
        counts[kind] += packets
    return counts
