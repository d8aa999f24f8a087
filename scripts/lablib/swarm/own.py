"""``scripts/lab own --swarm ROLE FILE``: a student's program in a role's place, on the node it is run from.

The program runs in the same sandbox as ``scripts/lab own`` (a holder container
owning the network namespace and its firewall, the program joining it), the
holder attached to the stack's overlay with the role's name as its alias, so
every node's clients reach it by the lab name and this node's capture records it.

A server's name must lead to the student's program alone (DNS round-robin would
otherwise mix the reference in): on a manager this scales the reference service
to 0 and back afterwards; on a worker the instructor does that (the message
says how), and the program starts only once the name resolves to it alone.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass
from typing import Any

from lablib import common, sandbox
from lablib import own as local_own
from lablib.swarm import engine
from lablib.swarm import lab as swarm_lab
from lablib.swarm import stack as stackfile
from services import roles

#: Seconds for the reference's task to go (scale to 0) and for DNS to forget it.
SCALE_TIMEOUT = 60.0


@dataclass
class SwarmOwn:
    stack: str
    role: str
    holder: Any
    student: Any
    ip: str
    resources: sandbox.Resources
    #: The reference service and its replicas before, when this node scaled it down.
    scaled: tuple[Any, int] | None

    @property
    def name(self) -> str:
        return self.student.name


def overlay_subnet(client: Any, network: str) -> str:
    """The overlay's subnet: from the engine where this node knows the network, else the stack's setting."""
    import docker.errors

    try:
        return client.networks.get(network).attrs["IPAM"]["Config"][0]["Subnet"]
    except docker.errors.NotFound:  # a worker learns a network only when something of it runs here
        return os.environ.get("SOCKLAB_SWARM_SUBNET", roles.SWARM_SUBNET)


def scale_reference(client: Any, stack: str, role: str, manager: bool) -> tuple[Any, int] | None:
    """Scale the reference service of ``role`` to 0 (on a manager); return it and its replicas before."""
    name = f"{stack}_{role}"
    if not manager:
        common.log(f"this node is a worker: the reference {role} must be stopped by the instructor first:")
        common.log(f"    docker service scale {name}=0     (and =1 afterwards), on a manager")
        return None
    found = [s for s in engine.services(client, stack) if s.name == name]
    if not found:
        raise common.LabError(f"no service {name}: is the swarm lab up (scripts/lab up --swarm)?")
    service = found[0]
    replicas = service.attrs["Spec"]["Mode"].get("Replicated", {}).get("Replicas", 1)
    common.log(f"scaling the reference {name} to 0 (was {replicas}) ...")
    service.scale(0)
    deadline = time.monotonic() + SCALE_TIMEOUT
    while engine.live_tasks(service) or any(
        t["Status"]["State"] == "running" for t in service.tasks(filters={"desired-state": "shutdown"})
    ):
        if time.monotonic() > deadline:
            break
        time.sleep(engine.POLL)
    return service, replicas


def resolves_to(holder: Any, name: str) -> set[str]:
    code, out = holder.exec_run(["getent", "ahostsv4", name])
    return {line.split()[0] for line in out.decode().splitlines()} if code == 0 else set()


def start(role: str, file: Any, args: list[str], cmd: str | None, as_client: bool) -> SwarmOwn:
    client = common.docker_client()
    info = engine.require_swarm(client, manager=False)
    stack = swarm_lab.stack_name()
    network = swarm_lab.network_name(stack)
    file = sandbox.user_path(file)
    if not file.exists():
        raise common.LabError(f"{file}: no such file")
    if not as_client and role not in {r.name for r in roles.SERVERS}:
        names = ", ".join(r.name for r in roles.SERVERS)
        raise common.LabError(f"{role} is not a server of the lab ({names}); use --as-client for a client")
    argv = local_own.program_argv(file, args, cmd)
    subnet = overlay_subnet(client, network)
    scaled = None if as_client else scale_reference(client, stack, role, bool(info.get("ControlAvailable")))
    labels = {engine.CLIENT_LABEL: stack, local_own.ROLE_LABEL: role, sandbox.OWNER_LABEL: f"own-{stack}"}
    suffix = f"{role}-{int(time.time()) % 100000}"
    resources = sandbox.Resources(client)
    try:
        holder = sandbox.start_holder(
            client, resources, name=f"{stack}-own-{suffix}-net", network=network, ip=None, subnet=subnet,
            labels=labels, aliases=None if as_client else [role], hostname=role, image=common.IMAGE,
        )  # fmt: skip
        holder.reload()
        ip = holder.attrs["NetworkSettings"]["Networks"][network]["IPAddress"]
        if not as_client:
            wait_alone(holder, role, ip)
        student = sandbox.start_student(
            client, resources, name=f"{stack}-own-{suffix}", holder=holder, submission=file, argv=argv,
            labels=labels, limits=sandbox.Limits(), image=common.IMAGE,
        )  # fmt: skip
    except BaseException:
        for problem in resources.close():
            common.log(problem)
        restore_reference(scaled)
        raise
    return SwarmOwn(stack, role, holder, student, ip, resources, scaled)


def wait_alone(holder: Any, role: str, ip: str) -> None:
    """Wait until the lab name resolves to the student's address only (the reference is gone)."""
    deadline = time.monotonic() + SCALE_TIMEOUT
    while (found := resolves_to(holder, role)) != {ip}:
        if time.monotonic() > deadline:
            others = ", ".join(sorted(found - {ip})) or "nothing"
            raise common.LabError(f"{role} still resolves to {others} besides your program: stop the reference first")
        time.sleep(engine.POLL)


def restore_reference(scaled: tuple[Any, int] | None) -> None:
    if scaled is not None:
        service, replicas = scaled
        service.reload()
        service.scale(replicas)
        common.log(f"the reference {service.name} is scaled back to {replicas}")


def stop(own: SwarmOwn) -> None:
    try:
        common.stop_all([own.student], sandbox.STOP_TIMEOUT)  # SIGTERM first: the program may say goodbye
        for problem in own.resources.close():
            common.log(problem)
    finally:
        restore_reference(own.scaled)


def run(args: Any, program_args: list[str]) -> int:
    """``scripts/lab own --swarm``: start, show the program's output until it ends or Ctrl-C, then restore."""
    if args.restore or args.detach:
        print("scripts/lab own --swarm: runs in the foreground only (Ctrl-C ends it)", file=sys.stderr)
        return 2
    if args.file is None:
        print("scripts/lab own --swarm: FILE is required", file=sys.stderr)
        return 2
    try:
        own = start(args.role, args.file, program_args, args.cmd, args.as_client)
    except (common.LabError, sandbox.SandboxError, local_own.OwnError) as exc:
        print(f"scripts/lab own --swarm: {exc}", file=sys.stderr)
        return 1
    print(f"your program: {own.name} at {own.ip} on {swarm_lab.network_name(own.stack)} as {own.role}", flush=True)
    print(f"this node's capture records it ({stackfile.CAPTURE} service; Wireshark: ip.addr == {own.ip})", flush=True)
    code = None
    try:
        for chunk in own.student.logs(stream=True, follow=True):
            sys.stdout.write(chunk.decode("utf-8", "replace"))
            sys.stdout.flush()
        own.student.reload()
        code = own.student.attrs["State"]["ExitCode"]
    except KeyboardInterrupt:
        pass
    finally:
        stop(own)
    if code is not None:
        print(f"your program exited with status {code}")
    return 0
