"""Show the lab's hosts: service, IP address, port, state (including clients started with run)."""

from __future__ import annotations

import argparse
import sys

from lablib import common

#: What each server listens on (services/cli.py PORTS holds the numbers).
LISTENS = {
    "udp-echo-server": ("udp-echo", "udp"),
    "tcp-echo-server": ("tcp-echo", "tcp"),
    "datetime-server": ("datetime", "udp"),
    "calc-server": ("calc", "tcp"),
    "chat-server": ("chat", "tcp"),
}


def _ports() -> dict[str, int]:
    sys.path.insert(0, str(common.ROOT))
    from services.cli import PORTS

    return PORTS


def _state(container: object) -> str:
    state = container.attrs["State"]  # type: ignore[attr-defined]
    health = (state.get("Health") or {}).get("Status")
    return f"{state['Status']} ({health})" if health else state["Status"]


def print_hosts(project: str | None = None) -> int:
    """Print the project's containers as a table; return how many there are."""
    try:
        containers = common.project_containers(project)
    except common.LabError as exc:
        print(f"scripts/lab: {exc}", file=sys.stderr)
        return 0
    ports = _ports()
    rows = []
    for container in containers:
        service = container.labels.get(common.SERVICE_LABEL, "?")
        listen = LISTENS.get(service)
        port = f"{ports[listen[0]]}/{listen[1]}" if listen else ""
        if service == common.CAPTURE_SERVICE:
            ip, port = "host netns", f"tcpdump -i {common.lab_env().get('SOCKLAB_BRIDGE', 'socklab0')}"
        else:
            ip = common.container_ip(container)
        rows.append((service, container.name, ip, port, _state(container)))
    if not rows:
        print(f"project {project or common.project_name()}: no containers")
        return 0
    rows.sort(key=lambda r: (r[2] == "host netns", tuple(int(x) if x.isdigit() else 0 for x in r[2].split(".")), r[1]))
    header = ("SERVICE", "CONTAINER", "IP", "LISTENS", "STATE")
    widths = [max(len(str(r[i])) for r in (header, *rows)) for i in range(len(header))]
    for row in (header, *rows):
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
    return len(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/lab ps", description=__doc__)
    parser.parse_args(argv)
    print_hosts()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
