"""Show the lab's hosts: service, IP address, port, state (including clients started with run)."""

from __future__ import annotations

import argparse
import sys

from lablib import common
from services import roles

#: What each server listens on, ``PORT/TRANSPORT``, from the catalogue.
LISTENS: dict[str, str] = {r.name: f"{r.port}/{r.transport}" for r in roles.SERVERS}


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
    rows = []
    for container in containers:
        service = container.labels.get(common.SERVICE_LABEL, "?")
        port = LISTENS.get(service, "")
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
