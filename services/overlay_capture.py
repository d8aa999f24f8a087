"""Capture a Swarm overlay network's traffic on this node, as its containers send and receive it.

Run by the Swarm lab's global ``capture`` service (one task per node; see
scripts/lablib/swarm/stack.py and docs/swarm.md) as ``python3 -m services.overlay_capture``.

On a node, Docker keeps each overlay network in a network namespace of its own
(``/var/run/docker/netns/1-<network id>``): a bridge ``br0`` with the subnet's
gateway address, one veth port per local container of the network, and the
``vxlan0`` port that carries the packets of other nodes' containers. tcpdump on
that ``br0`` sees every packet of this node's containers with their real task
addresses, the other node's packets already decapsulated (the underlay's own
interface shows only VXLAN, UDP 4789). The namespace exists while a local
container is on the network: the capture task itself is one, so it always does.

The service mounts Docker's namespace folder read-only at ``/netns`` and has
CAP_SYS_ADMIN for ``nsenter``; this program finds the namespace whose ``br0``
holds an address of ``SOCKLAB_SUBNET``, prints where the pcap goes, and then
*becomes* tcpdump (exec), so SIGTERM from ``docker stack rm`` closes the file.
"""

from __future__ import annotations

import ipaddress
import os
import re
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

NETNS_DIR = Path("/netns")
CAPTURES_DIR = Path("/captures")
#: Where the health check finds the pcap's path (as compose.yaml's capture does).
NAME_FILE = Path("/tmp/pcap-name")
#: The overlay's bridge inside its namespace.
BRIDGE = "br0"
#: Seconds to wait for the overlay's namespace (it normally exists before this program starts).
FIND_TIMEOUT = 30.0
FIND_INTERVAL = 0.5
#: Seconds one ``ip addr`` inside a namespace may take.
IP_TIMEOUT = 5.0
#: Characters kept of names that end up in a file name (node host names are the swarm's, not ours).
UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
#: ``ip -o -4 addr show`` lines: "2: br0    inet 10.0.1.1/24 brd ...".
ADDR_LINE = re.compile(r"^\d+:\s+(?P<dev>\S+)\s+inet\s+(?P<cidr>\S+)")


class CaptureError(Exception):
    pass


def bridge_in(ip_output: str, subnet: ipaddress.IPv4Network) -> str | None:
    """The overlay's bridge if these ``ip -o -4 addr`` lines show it with an address of ``subnet``."""
    for line in ip_output.splitlines():
        match = ADDR_LINE.match(line)
        if not match or match["dev"] != BRIDGE:
            continue
        if ipaddress.ip_interface(match["cidr"]).ip in subnet:
            return match["dev"]
    return None


def pcap_name(stack: str, node: str, now: datetime) -> str:
    """``<stack>-<node>-<UTC time>.pcap``: one file per node and run, its origin in its name."""
    stack, node = (UNSAFE.sub("_", part).strip("._") or "unknown" for part in (stack, node))
    return f"{stack}-{node}-{now.strftime('%Y%m%d-%H%M%S')}.pcap"


def addresses(namespace: Path) -> str:
    """``ip -o -4 addr`` inside a namespace ('' if it is not a network namespace we may enter)."""
    argv = ["nsenter", f"--net={namespace}", "ip", "-o", "-4", "addr", "show"]
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=IP_TIMEOUT)
    except subprocess.TimeoutExpired:
        return ""
    return done.stdout if done.returncode == 0 else ""


def find_namespace(subnet: ipaddress.IPv4Network, netns_dir: Path = NETNS_DIR) -> Path:
    """The overlay namespace of ``subnet`` on this node, waiting up to FIND_TIMEOUT for it."""
    deadline = time.monotonic() + FIND_TIMEOUT
    while True:
        # Overlay namespaces are called "<n>-<network id>"; containers' own have no dash.
        for namespace in sorted(netns_dir.glob("*-*")):
            if bridge_in(addresses(namespace), subnet):
                return namespace
        if time.monotonic() > deadline:
            seen = ", ".join(p.name for p in sorted(netns_dir.iterdir())) or "none"
            raise CaptureError(
                f"no overlay namespace with {BRIDGE} in {subnet} under {netns_dir} after {FIND_TIMEOUT:g} s "
                f"(namespaces: {seen}); is Docker's netns folder mounted there?"
            )
        time.sleep(FIND_INTERVAL)


def tcpdump_argv(namespace: Path, pcap: Path, owner: tuple[int, int]) -> list[str]:
    """nsenter into the overlay, drop to the captures folder's owner, run tcpdump on its bridge.

    -U and --immediate-mode write each packet at once, so the file is complete up
    to the last packet when the task is stopped.
    """
    uid, gid = owner
    return [
        "nsenter",
        f"--net={namespace}",
        "setpriv",
        f"--reuid={uid}",
        f"--regid={gid}",
        "--clear-groups",
        "tcpdump",
        "-i",
        BRIDGE,
        "-n",
        "-U",
        "--immediate-mode",
        "-Z",
        "root",
        "-w",
        str(pcap),
    ]


def main(argv: list[str] | None = None) -> int:
    try:
        subnet = ipaddress.ip_network(os.environ["SOCKLAB_SUBNET"], strict=False)
        namespace = find_namespace(subnet)  # type: ignore[arg-type]
    except (KeyError, ValueError) as exc:
        print(f"overlay_capture: SOCKLAB_SUBNET must be the overlay's subnet ({exc})", file=sys.stderr)
        return 2
    except CaptureError as exc:
        print(f"overlay_capture: {exc}", file=sys.stderr)
        return 1
    name = pcap_name(os.environ.get("SOCKLAB_STACK", ""), os.environ.get("SOCKLAB_NODE", ""), datetime.now(UTC))
    pcap = CAPTURES_DIR / name
    NAME_FILE.write_text(f"{pcap}\n")
    host_dir = os.environ.get("SOCKLAB_CAPTURES_HOST", str(CAPTURES_DIR))
    # scripts/lab down --swarm collects these lines from every node (docker service logs).
    print(f"capture: node {os.environ.get('SOCKLAB_NODE', '?')}: {host_dir.rstrip('/')}/{name}", flush=True)
    print(f"capture: {BRIDGE} in {namespace.name} ({subnet})", flush=True)
    stat = CAPTURES_DIR.stat()
    argv_exec = tcpdump_argv(namespace, pcap, (stat.st_uid, stat.st_gid))
    os.execvp(argv_exec[0], argv_exec)
    return 1  # not reached: exec replaced this process


if __name__ == "__main__":
    sys.exit(main())
