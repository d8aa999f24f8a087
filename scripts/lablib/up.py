"""Start the lab: build the image if needed, start servers + capture, wait until healthy, show the hosts."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

from lablib import common
from lablib.ps import print_hosts
from services import roles

#: Variables compose.yaml reads.
LAB_SETTINGS = (
    "SOCKLAB_PROJECT",
    "SOCKLAB_NET_PREFIX",
    "SOCKLAB_BRIDGE",
    "SOCKLAB_IMAGE",
    "SOCKLAB_TZ",
    "SOCKLAB_HEALTH_INTERVAL",
    "SOCKLAB_CAPTURES",
)

#: Interactive clients (profile "clients") and what to try in each, from the catalogue.
CLIENTS: tuple[tuple[str, str], ...] = tuple((r.name, r.hint) for r in roles.INTERACTIVE_CLIENTS)
#: Clients that run on their own at a fixed address (the date/time client): their log is worth following.
FOLLOWED: tuple[roles.Role, ...] = tuple(r for r in roles.CLIENTS if r.octet is not None)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/lab up", description=__doc__)
    parser.add_argument("--no-build", action="store_true", help="use the existing image as it is")
    parser.add_argument("services", nargs="*", help="only these services (default: all but the interactive clients)")
    parser.add_argument("--swarm", action="store_true", help="deploy the lab as a stack on this swarm (docs/swarm.md)")
    parser.add_argument("--servers-on", metavar="CONSTRAINT", help="--swarm: where the servers run (a placement)")
    parser.add_argument("--clients-on", metavar="CONSTRAINT", help="--swarm: where the date/time client runs")
    args = parser.parse_args(argv)
    if args.swarm:
        from lablib.swarm import lab as swarm_lab

        return swarm_lab.run("up", args)
    start = time.monotonic()
    try:
        if not args.no_build:
            common.ensure_images()
        common.ensure_captures_dir()
        compose = common.ensure_compose_plugin()
        argv_up = [*common.lab_compose(), "up", "-d", "--wait", "--remove-orphans", *args.services]
        common.log(f"starting project {common.project_name()} ...")
        done = subprocess.run(argv_up, env=common.lab_env())
    except common.LabError as exc:
        print(f"scripts/lab up: {exc}", file=sys.stderr)
        return 1
    if done.returncode != 0:
        print(
            f"scripts/lab up: compose up failed (exit {done.returncode}); see `scripts/lab ps` and `scripts/lab logs`",
            file=sys.stderr,
        )
        print_hosts()
        return done.returncode
    common.log(f"lab is up in {time.monotonic() - start:.1f} s")
    print_hosts()
    # A client's `run` must see the same settings as `up`, or Compose recreates the lab.
    settings = "".join(f"{var}={os.environ[var]} " for var in LAB_SETTINGS if var in os.environ)
    print("\nAttach clients (each one is a new host with its own IP; open several terminals):")
    for name, hint in CLIENTS:
        print(f"  {settings}{compose} run --rm {name:<16} # {hint}")
    print()
    for client in FOLLOWED:
        print(f"{f'Follow the {client.name}:':<30}scripts/lab logs -f {client.name}")
    pcap = common.capture_file()
    where = pcap.relative_to(common.ROOT) if pcap and pcap.is_relative_to(common.ROOT) else pcap or common.CAPTURES
    print(f"Traffic is recorded in:       {where} (open it in Wireshark; complete after scripts/lab down)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
