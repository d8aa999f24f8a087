"""``scripts/lab swarm``: the swarm lab's helpers (the lab itself: ``scripts/lab up --swarm``).

    scripts/lab swarm stack                         # print the stack file generated from compose.yaml
    scripts/lab swarm nodes                         # the swarm's nodes, their labels, what of the lab runs there
    scripts/lab swarm ship ada@lab-pc-2 bob@laptop  # the lab image to other nodes, no registry needed
    scripts/lab swarm ship --dry-run ada@lab-pc-2   # only print the commands

``ship`` reuses ``scripts/lab deploy``'s image transfer: each TARGET is a Docker
engine (``user@host`` or ``ssh://user@host`` over SSH, ``tcp://…``, or a Docker
context); the image goes as ``docker save | gzip -1 | docker load`` when both
CPUs match, is skipped when the node already has the same image, and is built
there otherwise (an arm64 laptop in an amd64 room).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from lablib import common, deploy
from lablib.swarm import engine
from lablib.swarm import lab as swarm_lab
from lablib.swarm import stack as stackfile


def cmd_stack(args: argparse.Namespace) -> int:
    sys.stdout.write(stackfile.render())
    return 0


def cmd_nodes(args: argparse.Namespace) -> int:
    client = common.docker_client()
    engine.require_swarm(client, manager=True)
    stack = swarm_lab.stack_name()
    rows = swarm_lab.host_rows(client, stack)
    for node in engine.nodes(client):
        print(node.describe())
        for service, host, address, state in rows:
            if host == node.hostname:
                print(f"    {service:<16} {address:<15} {state}")
    return 0


def cmd_ship(args: argparse.Namespace) -> int:
    if not args.dry_run and not args.no_build and args.image == common.IMAGE:
        common.ensure_images()  # ship the image of the current services/
    for spec in args.targets:
        target = deploy.parse_target(spec)
        runner = deploy.Runner(target, args.dry_run)
        for step in deploy.image_steps(runner, args.image, args.transfer):
            runner.run(step)
        if not args.dry_run:
            common.log(f"{target.spec} has {args.image}")
    return 0


COMMANDS: dict[str, Any] = {"stack": cmd_stack, "nodes": cmd_nodes, "ship": cmd_ship}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="scripts/lab swarm", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("stack", help="print the stack file (generated from compose.yaml and the catalogue)")
    sub.add_parser("nodes", help="list the nodes, their labels and the lab's tasks on each")
    ship = sub.add_parser("ship", help="copy the lab image to other nodes over SSH (no registry)")
    ship.add_argument("targets", nargs="+", metavar="TARGET", help="user@host, ssh://user@host, tcp://…, a context")
    ship.add_argument("--dry-run", action="store_true", help="print the commands, run nothing")
    ship.add_argument("--image", default=common.IMAGE, help="image to copy (default %(default)s)")
    ship.add_argument("--transfer", choices=("auto", "load", "build"), default="auto", help="default auto")
    ship.add_argument("--no-build", action="store_true", help="copy the local image as it is (no local rebuild)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(COMMANDS[args.command](args))
    except common.LabError as exc:
        print(f"scripts/lab swarm {args.command}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
