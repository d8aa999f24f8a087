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


def holder_exec(holder: Any, argv: list[str], what: str, user: str = "") -> tuple[int, bytes]:
    """``argv`` run in a holder (exit status, output); SandboxError naming ``what`` and the holder's
    state if it no longer runs (the engine refuses an exec then: 409)."""
    import docker.errors

    try:
        code, out = holder.exec_run(argv, user=user)
    except docker.errors.APIError as exc:
        raise SandboxError(f"{holder.name} stopped before {what}: {stopped_state(holder)} ({exc})") from exc
    return code, out or b""


def stopped_state(container: Any) -> str:
    """A stopped container's state as a person reads it: status, exit code, when it ran."""
    try:
        container.reload()
    except Exception as exc:  # gone altogether
        return f"no longer there ({type(exc).__name__})"
    state = container.attrs.get("State", {})
    return (
        f"{state.get('Status')}, exit code {state.get('ExitCode')}, "
        f"ran from {state.get('StartedAt', '?')[:19]} to {state.get('FinishedAt', '?')[:19]}"
    )


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
    code, out = holder_exec(holder, ["sh", "-c", firewall_script(subnet, gateway)], "its firewall", user="root")
    if code != 0:
        text = out.decode("utf-8", "replace").strip()
        raise FirewallError(f"could not install the sandbox's firewall in {holder.name}: {text}")


def blocked_packets(holder: Any) -> dict[str, int]:
    """Packets the firewall refused, by rule: {"host": n, "outside": n, "resolver": n} (empty if unreadable)."""
    code, out = holder_exec(holder, ["iptables", "-L", "OUTPUT", "-v", "-x", "-n"], "its counters", user="root")
    if code != 0:
        return {}
    counts = {"host": 0, "outside": 0, "resolver": 0}
    for line in out.decode().splitlines():
        if "REJECT" not in line:
            continue
        packets = int(line.split()[0])
        kind = "resolver" if EMBEDDED_DNS in line else "host" if "admin-prohib" in line else "outside"
        counts[kind] += packets
    return counts
