"""Start an interactive client of the lab: one more host, in this terminal.

    scripts/lab client chat                 # on the local lab (scripts/lab up)
    scripts/lab client chat --swarm         # on the swarm lab's overlay, from any node of the swarm
    scripts/lab client calc -- --name Ada   # arguments after -- go to the program

CLIENT is a client role of the catalogue (services/roles.py), with or without
its ``-client`` suffix. Locally this is ``docker compose run --rm CLIENT``.
With --swarm it is ``docker run`` of the same service as compose.yaml defines
it (settings read through ``docker compose config``), attached to the stack's
attachable overlay network: the container runs on *this* node, so this node's
capture records its packets, and it reaches every lab name on any node.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import subprocess
import sys
from typing import Any

from lablib import common
from services import roles

#: Settings of compose.yaml's service that become `docker run` flags (the rest is Compose's business).
RUN_FLAGS = {
    "init": lambda value: ["--init"] if value else [],
    "hostname": lambda value: ["--hostname", value],
    "cap_add": lambda value: [flag for cap in value for flag in ("--cap-add", cap)],
    "environment": lambda value: [flag for k, v in sorted(value.items()) for flag in ("-e", f"{k}={v}")],
}
#: Seconds `docker compose config` may take.
CONFIG_TIMEOUT = 60


def client_role(name: str) -> roles.Role:
    """``chat`` or ``chat-client`` -> the chat-client role; a LabError listing the clients otherwise."""
    full = name if name.endswith("-client") else f"{name}-client"
    role = roles.BY_NAME.get(full)
    if role is None or not role.is_client:
        names = ", ".join(r.name.removesuffix("-client") for r in roles.CLIENTS)
        raise common.LabError(f"no client called {name!r}; clients: {names}")
    return role


def compose_service(name: str) -> dict[str, Any]:
    """compose.yaml's service ``name`` with every variable filled in, as Compose itself reads it."""
    argv = [*common.lab_compose(), "--profile", "clients", "config", "--format", "json"]
    done = subprocess.run(argv, env=common.lab_env(), capture_output=True, text=True, timeout=CONFIG_TIMEOUT)
    if done.returncode != 0:
        raise common.LabError(f"docker compose config failed (exit {done.returncode}): {done.stderr.strip()}")
    return json.loads(done.stdout)["services"][name]


def swarm_run_argv(role: roles.Role, stack: str, program_args: list[str], tty: bool) -> list[str]:
    """``docker run`` of compose.yaml's client service, on the stack's overlay, labelled as the stack's client."""
    from lablib.swarm import engine
    from lablib.swarm import lab as swarm_lab

    service = compose_service(role.name)
    argv = ["docker", "run", "--rm", "-i", *(["-t"] if tty else [])]
    argv += ["--name", f"{stack}-{role.name}-{secrets.token_hex(3)}", "--label", f"{engine.CLIENT_LABEL}={stack}"]
    argv += ["--network", swarm_lab.network_name(stack)]
    for key, flags in RUN_FLAGS.items():
        if key in service:
            argv += flags(service[key])
    entrypoint = service["entrypoint"]
    return [*argv, "--entrypoint", entrypoint[0], service["image"], *entrypoint[1:], *program_args]


def local_run_argv(role: roles.Role, program_args: list[str], tty: bool) -> list[str]:
    return [*common.lab_compose(), "run", "--rm", *([] if tty else ["-T"]), role.name, *program_args]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="scripts/lab client",
        usage="scripts/lab client [-h] [--swarm] CLIENT [-- ARG...]",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("client", help=", ".join(r.name.removesuffix("-client") for r in roles.CLIENTS))
    parser.add_argument("--swarm", action="store_true", help="join the swarm lab's overlay from this node")
    return parser


def parse(argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    """The verb's options, and the program's: every argument after the first ``--``."""
    cut = argv.index("--") if "--" in argv else len(argv)
    return build_parser().parse_args(argv[:cut]), argv[cut + 1 :]


def main(argv: list[str] | None = None) -> int:
    args, program_args = parse(sys.argv[1:] if argv is None else list(argv))
    tty = sys.stdin.isatty() and sys.stdout.isatty()
    try:
        role = client_role(args.client)
        if args.swarm:
            from lablib.swarm import engine
            from lablib.swarm import lab as swarm_lab

            docker = common.docker_client()
            info = engine.require_swarm(docker, manager=False)
            stack = swarm_lab.stack_name()
            # A manager knows every swarm network; a worker only those it already runs something of.
            if info.get("ControlAvailable") and not docker.networks.list(names=[swarm_lab.network_name(stack)]):
                raise common.LabError(f"the swarm lab {stack} is not up: scripts/lab up --swarm (on a manager)")
            run_argv = swarm_run_argv(role, stack, program_args, tty)
        else:
            run_argv = local_run_argv(role, program_args, tty)
    except common.LabError as exc:
        print(f"scripts/lab client: {exc}", file=sys.stderr)
        return 1
    if role.hint:
        common.log(f"{role.name}: {role.hint}")
    # The client takes over this terminal (exec): its exit status is the command's.
    os.execvpe(run_argv[0], run_argv, common.lab_env())
    return 1  # not reached


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
