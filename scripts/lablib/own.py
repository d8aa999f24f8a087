"""Run your own program in the lab, sandboxed, in a server's place (or --as-client beside the servers).

    scripts/lab own calc-server Lab2_Team7.py -- calc-server 12002
    scripts/lab own chat-client Lab2_Team7.py --as-client -- chat-client chat-server 12003
    scripts/lab own calc-server server.js --cmd "node {file}" -- 12002
    scripts/lab own --restore calc-server

A server takes the reference server's place: the reference container is stopped
and yours gets its service name (as a network alias), its fixed address and so
its port, so the lab's clients reach yours and the capture records it. With
--as-client your program is one more host on the lab network (a dynamic
address). The file is mounted read-only; a .py file runs with the lab image's
python3, anything else with --cmd ({file} is the file inside the container).
Your program runs in the sandbox of `scripts/lab sandbox`. The command stays in
the foreground showing your program's output; Ctrl-C (or your program ending)
removes it and restarts the reference server. With --detach it returns at once:
put the reference back with `scripts/lab own --restore ROLE` (`scripts/lab down`
removes everything too).
"""

from __future__ import annotations

import argparse
import ipaddress
import shlex
import subprocess
import sys
import time
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lablib import common, sandbox
from lablib.up import LAB_SETTINGS
from services import roles

NETWORK_KEY = "lab"  # the network's key in compose.yaml
ROLE_LABEL = "org.socklab.own.role"
#: Roles a program can take: the servers (in their place) and any client name (beside them).
SERVERS = tuple(r.name for r in roles.SERVERS)
#: Seconds the restored reference server gets to report healthy.
RESTORE_TIMEOUT = 30.0


class OwnError(Exception):
    pass


@dataclass
class Own:
    """A user's program running in the lab: its namespace holder, its container, its address."""

    project: str
    role: str
    holder: Any
    student: Any
    ip: str
    reference: Any | None

    @property
    def name(self) -> str:
        return self.student.name


def lab_network(client: Any, project: str) -> Any:
    found = client.networks.list(
        filters={"label": [f"{common.PROJECT_LABEL}={project}", f"com.docker.compose.network={NETWORK_KEY}"]}
    )
    if not found:
        raise OwnError(f"the lab (project {project}) is not running: start it with scripts/lab up")
    return found[0]


def reference_container(client: Any, project: str, role: str) -> Any | None:
    found = client.containers.list(
        all=True,
        filters={
            "label": [
                f"{common.PROJECT_LABEL}={project}",
                f"{common.SERVICE_LABEL}={role}",
                "com.docker.compose.oneoff=False",
            ]
        },
    )
    return found[0] if found else None


def own_containers(client: Any, project: str, role: str) -> list[Any]:
    labels = [f"{common.PROJECT_LABEL}={project}", f"{ROLE_LABEL}={role}"]
    return client.containers.list(all=True, filters={"label": labels})


def start(
    project: str,
    role: str,
    file: Path,
    args: list[str],
    *,
    cmd: str | None = None,
    as_client: bool = False,
    limits: sandbox.Limits | None = None,
    client: Any = None,
    interactive: bool = False,
) -> Own:
    """Start ``file`` in the lab as ``role`` (stopping the reference server first) and return it.

    The caller owns the result: ``stop(own)`` removes it and restores the reference.
    """
    client = client or common.docker_client()
    file = sandbox.user_path(file)
    if not file.exists():
        raise OwnError(f"{file}: no such file")
    if not as_client and role not in SERVERS:
        raise OwnError(f"{role} is not a server of the lab ({', '.join(SERVERS)}); use --as-client for a client")
    argv = program_argv(file, args, cmd)
    network = lab_network(client, project)
    subnet = network.attrs["IPAM"]["Config"][0]["Subnet"]
    if own_containers(client, project, role):
        raise OwnError(f"your program already runs as {role}: scripts/lab own --restore {role} first")
    reference = None
    ip = ""
    if not as_client:
        ip = f"{ipaddress.ip_network(subnet).network_address + roles.get(role).octet}"
        reference = reference_container(client, project, role)
        if reference is not None and reference.status == "running":
            common.log(f"stopping the reference {role} ({reference.name}) ...")
            reference.stop(timeout=common.STOP_TIMEOUT)
    labels = {common.PROJECT_LABEL: project, ROLE_LABEL: role, sandbox.OWNER_LABEL: f"own-{project}"}
    labels[common.SERVICE_LABEL] = f"{role}-own" if not as_client else f"{role}-own-client"
    resources = sandbox.Resources(client)
    suffix = role if not as_client else f"{role}-{int(time.time()) % 100000}"
    try:
        holder = sandbox.start_holder(
            client,
            resources,
            name=f"{project}-own-{suffix}-net",
            network=network.name,
            ip=ip or None,  # None: a dynamic address
            subnet=subnet,
            labels=labels,
            aliases=[role] if not as_client else None,
            hostname=role,
            hosts=lab_hosts(subnet),  # names through /etc/hosts: the sandbox refuses Docker's resolver
            image=common.IMAGE,
        )
        student = sandbox.start_student(
            client,
            resources,
            name=f"{project}-own-{suffix}",
            holder=holder,
            submission=file,
            argv=argv,
            labels=labels,
            limits=limits or sandbox.Limits(),
            image=common.STUDENT_IMAGE,  # nothing of socklab in it
            interactive=interactive,
        )
    except Exception:
        resources.close()
        if reference is not None:
            restart_reference(reference)
        raise
    holder.reload()
    ip = ip or common.container_ip(holder)
    return Own(project, role, holder, student, ip, reference)


def lab_hosts(subnet: str) -> dict[str, str]:
    """The lab's hosts with fixed addresses (the catalogue's), by name, on ``subnet``."""
    base = ipaddress.ip_network(subnet).network_address
    return {r.name: str(base + r.octet) for r in roles.ROLES if r.octet is not None}


def program_argv(file: Path, args: list[str], cmd: str | None) -> list[str]:
    _mounts, inside = sandbox.submission_mount(file)
    if cmd:
        return [w.replace("{file}", inside) for w in shlex.split(cmd)] + args
    if file.is_dir() or file.suffix != ".py":
        raise OwnError(f"{file} is not a .py file: say how to run it with --cmd (e.g. --cmd './{file.name}')")
    return ["python3", inside, *args]


def stop(own: Own) -> None:
    """Remove the user's program and its holder; restart the reference server it replaced."""
    remove_own(own.project, own.role)
    if own.reference is not None:
        restart_reference(own.reference)


def remove_own(project: str, role: str) -> int:
    containers = own_containers(common.docker_client(), project, role)
    resources = sandbox.Resources(common.docker_client())
    # Program first, then its holder (the namespace it lives in).
    for container in sorted(containers, key=lambda c: c.name.endswith("-net")):
        resources.container(container)
    common.stop_all(containers, sandbox.STOP_TIMEOUT)
    for problem in resources.close():
        common.log(problem)
    return len(containers)


def restart_reference(reference: Any) -> None:
    import docker.errors

    try:
        reference.reload()
        if reference.status != "running":
            reference.start()
    except docker.errors.NotFound:
        common.log(f"the reference {reference.name} is gone; scripts/lab up brings it back")
        return
    deadline = time.monotonic() + RESTORE_TIMEOUT
    while time.monotonic() < deadline:
        reference.reload()
        health = (reference.attrs["State"].get("Health") or {}).get("Status", "healthy")
        if reference.status == "running" and health == "healthy":
            common.log(f"the reference {reference.labels.get(common.SERVICE_LABEL)} is back ({reference.name})")
            return
        time.sleep(0.3)
    common.log(f"the reference {reference.name} did not become healthy in {RESTORE_TIMEOUT:g} s: see scripts/lab ps")


def restore(project: str, role: str) -> None:
    removed = remove_own(project, role)
    reference = reference_container(common.docker_client(), project, role) if role in SERVERS else None
    if reference is not None:
        restart_reference(reference)
    elif not removed:
        common.log(f"nothing to restore for {role}")


def next_steps(own: Own, as_client: bool) -> list[str]:
    import os

    settings = "".join(f"{var}={os.environ[var]} " for var in LAB_SETTINGS if var in os.environ)
    compose = "docker compose" if common._plugin_works() else " ".join(common.compose_cmd())
    lines = [f"your program: {own.name} at {own.ip} (sandboxed: {own.role}, output below)"]
    if not as_client:
        partner = roles.client_of(own.role).name
        lines += [
            "next, in another terminal:",
            f"  {settings}{compose} run --rm --no-deps {partner}   # the reference client, against your server",
            f"  scripts/lab check {own.role}                      # the conformance checker's verdict",
            f"  scripts/lab check {own.role} --level strict       # socklab's own spec",
        ]
    pcap = common.capture_file(own.project)
    if pcap is not None:
        lines.append(f"capture: {pcap.relative_to(common.ROOT)} (Wireshark filter: ip.addr == {own.ip})")
    return lines


def main(argv: list[str] | None = None) -> int:
    args_in = sys.argv[1:] if argv is None else argv
    program_args: list[str] = []
    if "--" in args_in:
        cut = args_in.index("--")
        args_in, program_args = args_in[:cut], args_in[cut + 1 :]
    parser = argparse.ArgumentParser(
        prog="scripts/lab own", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("role", help=f"a server to replace ({', '.join(SERVERS)}), or a name with --as-client")
    parser.add_argument("file", nargs="?", type=Path, help="your program (mounted read-only)")
    parser.add_argument("--as-client", action="store_true", help="join as one more client host (dynamic address)")
    parser.add_argument("--cmd", help="how to start a program that is not a .py file ({file}: its path inside)")
    parser.add_argument("--detach", action="store_true", help="return at once (then: scripts/lab own --restore ROLE)")
    parser.add_argument("--restore", action="store_true", help="remove your program from ROLE, restart the reference")
    parser.add_argument("--swarm", action="store_true", help="in the swarm lab, on this node (scripts/lab up --swarm)")
    args = parser.parse_args(args_in)
    if args.swarm:
        from lablib.swarm import own as swarm_own

        return swarm_own.run(args, program_args)
    project = common.project_name()
    try:
        if args.restore:
            restore(project, args.role)
            return 0
        if args.file is None:
            parser.error("FILE is required (or --restore)")
        interactive = args.as_client and not args.detach and sys.stdin.isatty()
        own = start(project, args.role, args.file, program_args, cmd=args.cmd, as_client=args.as_client,
                    interactive=interactive)  # fmt: skip
    except (OwnError, common.LabError, sandbox.SandboxError) as exc:
        print(f"scripts/lab own: {exc}", file=sys.stderr)
        return 1
    for line in next_steps(own, args.as_client):
        print(line, flush=True)
    if args.detach:
        print(f"detached: scripts/lab logs is for the lab's services; yours: docker logs -f {own.name}")
        print(f"put the reference back: scripts/lab own --restore {args.role}")
        return 0
    try:
        if interactive:
            subprocess.run(["docker", "attach", own.name])
        else:
            follow(own)
    except KeyboardInterrupt:
        pass
    finally:
        code = exit_code(own)
        stop(own)
    if code is not None:
        print(f"your program exited with status {code}")
    return 0


def follow(own: Own) -> None:
    """Show the program's output until it ends (Ctrl-C stops following)."""
    for chunk in own.student.logs(stream=True, follow=True):
        sys.stdout.write(chunk.decode("utf-8", "replace"))
        sys.stdout.flush()


def exit_code(own: Own) -> int | None:
    with suppress(Exception):
        own.student.reload()
        if own.student.status == "exited":
            return int(own.student.attrs["State"]["ExitCode"])
    return None


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
