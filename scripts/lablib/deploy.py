"""Run the servers on a cloud VM: ship the image, start them there, print the firewall rules and the teardown.

    scripts/lab deploy ssh://ubuntu@203.0.113.10 --allow 198.51.100.0/24
    scripts/lab deploy --down ssh://ubuntu@203.0.113.10

TARGET is the remote Docker engine: ``ssh://user@host[:port]`` (or ``user@host``),
``tcp://…``/``unix://…``, or the name of a Docker context. Every remote command
is a plain ``docker``/``docker compose`` command with ``DOCKER_HOST`` (or
``DOCKER_CONTEXT``) set; ``--dry-run`` prints them instead of running them.

The image gets there one of two ways (``--transfer``): ``load`` streams this
machine's image (``docker save | gzip | docker load``: the exact image you
tested, no registry needed on the VM); ``build`` builds it on the target from
``services/`` (the target pulls its base from Docker Hub, for its own CPU).
``auto`` skips the transfer when the target already has the same image, loads
when both CPUs match and builds otherwise (an arm64 VM from an amd64 laptop:
the legacy builder cannot cross-build).
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import shlex
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from lablib import common
from services import roles

DEPLOY_DIR = Path("deploy")
DEPLOY_COMPOSE = DEPLOY_DIR / "compose.yaml"
CLOUD_INIT = DEPLOY_DIR / "cloud-init.yaml"
SETUP_SCRIPT = "/usr/local/sbin/socklab-setup"
DEFAULT_PROJECT = "socklab-server"
#: What the target builds on when it builds the image itself (it has a registry: it is on the internet).
REMOTE_BASE = common.UPSTREAM_BASE
#: Seconds for the target's servers to become healthy (a first start on a small VM is slow).
UP_TIMEOUT = 300
#: Placeholders printed where the user has to fill something in.
SG_VAR = "$SG"
ALLOW_VAR = "$ALLOW"
OPEN_WORLD = {"0.0.0.0/0", "::/0"}
SG_QUERY = "--query 'Reservations[].Instances[].SecurityGroups[0].GroupId'"


@dataclass(frozen=True)
class Published:
    """One server as the outside sees it: its host port (a variable of deploy/compose.yaml) and transport."""

    service: str
    proto: str
    container_port: int
    variable: str
    client: str

    @classmethod
    def of(cls, role: roles.Role) -> Published:
        """A server of the catalogue as deployed: ``calc-server`` is published as ``SOCKLAB_PUBLISH_CALC``."""
        key = role.name.removesuffix("-server").replace("-", "_").upper()
        return cls(role.name, role.transport, role.port, f"SOCKLAB_PUBLISH_{key}", roles.client_of(role.name).name)

    @property
    def host_port(self) -> int:
        return int(os.environ.get(self.variable, self.container_port))


SERVERS = tuple(Published.of(r) for r in roles.SERVERS)


# --- the target -------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """A Docker engine to deploy to, as the environment variable that points the docker CLI at it."""

    spec: str
    variable: str  # DOCKER_HOST or DOCKER_CONTEXT
    value: str
    address: str | None  # where clients connect, if the spec tells

    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in {"DOCKER_HOST", "DOCKER_CONTEXT"}}
        return {**env, self.variable: self.value}

    @property
    def prefix(self) -> str:
        return f"{self.variable}={shlex.quote(self.value)}"


def _url_host(url: str) -> str | None:
    parts = urlsplit(url)
    return parts.hostname if parts.scheme in {"ssh", "tcp"} else None


def context_endpoint(name: str) -> str | None:
    """The Docker endpoint of a context, or None if no such context exists."""
    try:
        done = subprocess.run(
            ["docker", "context", "inspect", "--format", "{{.Endpoints.docker.Host}}", name],
            capture_output=True,
            text=True,
        )
    except OSError:  # no docker CLI here: a dry run still works
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def parse_target(spec: str, public_ip: str | None = None) -> Target:
    """``ssh://u@h``, ``tcp://h:2376``, ``unix:///path``, a context name, or ``u@h`` / ``h`` (ssh)."""
    if "://" in spec:
        scheme = spec.split("://", 1)[0]
        if scheme not in {"ssh", "tcp", "unix"}:
            raise common.LabError(f"target {spec!r}: use ssh://user@host, tcp://host:port, unix:///path or a context")
        return Target(spec, "DOCKER_HOST", spec, public_ip or _url_host(spec))
    name = spec.removeprefix("context:")
    endpoint = context_endpoint(name) if "@" not in spec else None
    if endpoint is not None:
        return Target(spec, "DOCKER_CONTEXT", name, public_ip or _url_host(endpoint))
    if spec.startswith("context:"):
        raise common.LabError(f"no Docker context named {name!r} (docker context ls lists them)")
    url = f"ssh://{spec}"
    return Target(spec, "DOCKER_HOST", url, public_ip or _url_host(url))


# --- commands: printed or run -------------------------------------------------------------


@dataclass
class Cmd:
    argv: list[str]
    remote: bool = True  # run against the target (else against this machine's engine)
    env: dict[str, str] = field(default_factory=dict)  # settings for this command (shown when printed)

    def show(self, target: Target) -> str:
        settings = [f"{k}={shlex.quote(v)}" for k, v in self.env.items()]
        if self.remote:
            settings.insert(0, target.prefix)
        return " ".join([*settings, shlex.join(self.argv)])


@dataclass
class Step:
    """One command, or a pipeline of them; ``why`` is printed above it."""

    why: str
    pipeline: list[Cmd]
    check: bool = True
    input: str | None = None  # fed to the (single) command's stdin

    def show(self, target: Target) -> str:
        return " | ".join(c.show(target) for c in self.pipeline)


class Runner:
    """Runs steps against a target, or only prints them (``--dry-run``)."""

    def __init__(self, target: Target, dry_run: bool) -> None:
        self.target, self.dry_run = target, dry_run

    def run(self, step: Step, quiet: bool = False) -> subprocess.CompletedProcess[str] | None:
        if self.dry_run:
            print(f"# {step.why}\n{step.show(self.target)}")
            return None
        if not quiet:
            common.log(f"{step.why}: {step.show(self.target)}")
        start = time.monotonic()
        done = self._execute(step.pipeline, step.input)
        if step.check and done.returncode != 0:
            sys.stderr.write(done.stdout + done.stderr)
            raise common.LabError(f"{step.why} failed (exit {done.returncode}): {step.show(self.target)}")
        if not quiet:
            common.log(f"{step.why}: done in {time.monotonic() - start:.1f} s")
        return done

    def query(self, argv: list[str], remote: bool = True) -> str | None:
        """A read-only question (runs even in a dry run when local): its stdout, or None if it failed."""
        if self.dry_run and remote:
            return None
        done = self._execute([Cmd(argv, remote)])
        return done.stdout.strip() if done.returncode == 0 else None

    def _execute(self, pipeline: list[Cmd], input: str | None = None) -> subprocess.CompletedProcess[str]:
        if len(pipeline) == 1:
            cmd = pipeline[0]
            return subprocess.run(
                cmd.argv, env=self._env(cmd), cwd=common.ROOT, capture_output=True, text=True, input=input
            )
        # A pipeline: each stage's stdout feeds the next; the first failing stage decides the status.
        procs: list[subprocess.Popen[bytes]] = []
        stdin = None
        for i, cmd in enumerate(pipeline):
            last = i == len(pipeline) - 1
            proc = subprocess.Popen(
                cmd.argv,
                env=self._env(cmd),
                cwd=common.ROOT,
                stdin=stdin,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE if last else None,
            )
            if stdin is not None:
                stdin.close()  # only the child holds the pipe now: it sees EOF/EPIPE properly
            stdin = proc.stdout
            procs.append(proc)
        out, err = procs[-1].communicate()
        codes = [p.wait() for p in procs]
        code = next((c for c in codes if c != 0), 0)
        return subprocess.CompletedProcess([c.argv for c in pipeline], code, out.decode(), err.decode())

    def _env(self, cmd: Cmd) -> dict[str, str]:
        return {**(self.target.env if cmd.remote else os.environ), **cmd.env}


# --- deploy ---------------------------------------------------------------------------------


def compose(project: str, *args: str, capture: bool = True) -> list[str]:
    """``docker compose`` on deploy/compose.yaml (paths relative to the repository, where commands run)."""
    profile = ["--profile", "capture"] if capture else []
    project_args = ["--project-directory", str(DEPLOY_DIR), "-f", str(DEPLOY_COMPOSE), "-p", project]
    return [*display_compose(), *project_args, *profile, *args]


def display_compose() -> list[str]:
    try:
        return common.compose_cmd()
    except common.LabError:
        return ["docker", "compose"]


def setup_step(target: Target) -> Step:
    """Install Docker on a running VM over ssh: the script deploy/cloud-init.yaml runs at first boot."""
    url = urlsplit(target.value)
    if target.variable != "DOCKER_HOST" or url.scheme != "ssh" or not url.hostname:
        raise common.LabError("--setup needs an ssh target (ssh://user@host or user@host)")
    import yaml  # the venv has it; only --setup needs it

    user_data = yaml.safe_load((common.ROOT / CLOUD_INIT).read_text())
    script = next(f["content"] for f in user_data["write_files"] if f["path"] == SETUP_SCRIPT)
    dest = f"{url.username}@{url.hostname}" if url.username else url.hostname
    port = ["-p", str(url.port)] if url.port else []
    argv = ["ssh", *port, dest, "sudo", "bash", "-s"]
    return Step(
        f"install Docker on {dest} (the script of {CLOUD_INIT}, < stdin)", [Cmd(argv, remote=False)], input=script
    )


def image_steps(runner: Runner, image: str, transfer: str) -> list[Step]:
    """How the image reaches the target (see the module's docstring)."""
    load = Step(
        f"copy {image} to the target",
        [Cmd(["docker", "save", image], remote=False), Cmd(["gzip", "-1"], remote=False), Cmd(["docker", "load"])],
    )
    build = Step(
        f"build {image} on the target (its own CPU; pulls {REMOTE_BASE} there)",
        [Cmd(["docker", "build", "--build-arg", f"BASE_IMAGE={REMOTE_BASE}", "-t", image, "."])],
    )
    if transfer == "load":
        return [load]
    if transfer == "build":
        return [build]
    if runner.dry_run:
        print("# --transfer auto: skipped if the target has this image; copied if its CPU matches, else built there:")
        print(f"#   {build.show(runner.target)}")
        return [load]
    remote_arch = runner.query(["docker", "version", "--format", "{{.Server.Arch}}"])
    if remote_arch is None:
        raise common.LabError(f"cannot reach the Docker engine of {runner.target.spec} (see docs/cloud.md)")
    local_id = runner.query(["docker", "image", "inspect", "--format", "{{.Id}}", image], remote=False)
    if local_id and runner.query(["docker", "image", "inspect", "--format", "{{.Id}}", image]) == local_id:
        common.log(f"the target already has {image} ({local_id[:19]}): nothing to copy")
        return []
    local_arch = runner.query(["docker", "image", "inspect", "--format", "{{.Architecture}}", image], remote=False)
    common.log(f"target CPU: {remote_arch}; local image: {local_arch or 'none'}")
    return [load] if local_arch == remote_arch else [build]


def up_step(project: str, image: str, capture: bool) -> Step:
    argv = compose(project, "up", "-d", "--wait", "--wait-timeout", str(UP_TIMEOUT), "--pull", "never", capture=capture)
    return Step("start the servers", [Cmd([*argv, "--remove-orphans"], env=image_env(image))])


def image_env(image: str) -> dict[str, str]:
    """deploy/compose.yaml's image setting, when it is not its default."""
    if image == "socklab:latest" and "SOCKLAB_IMAGE" not in os.environ:
        return {}
    return {"SOCKLAB_IMAGE": image}


def down_steps(project: str, image: str) -> list[Step]:
    label = f"label={common.PROJECT_LABEL}={project}"
    argv = compose(project, "down", "--volumes", "--remove-orphans", "--timeout", "3")
    return [
        Step("stop and remove the servers", [Cmd(argv, env=image_env(image))]),
        Step("list what is left of the project", [Cmd(["docker", "ps", "-aq", "--filter", label])]),
        Step("list its networks", [Cmd(["docker", "network", "ls", "-q", "--filter", label])]),
    ]


# --- what to print -----------------------------------------------------------------------------


def parse_cidrs(values: Sequence[str]) -> list[str]:
    cidrs = []
    for value in values:
        try:
            cidrs.append(str(ipaddress.ip_network(value, strict=False)))
        except ValueError as exc:
            raise common.LabError(f"--allow {value!r}: {exc}") from None
    return cidrs


def sg_commands(verb: str, group: str, cidrs: list[str]) -> list[str]:
    """``aws ec2 {authorize,revoke}-security-group-ingress`` for each server's port and protocol."""
    lines = []
    for cidr in cidrs or [ALLOW_VAR]:
        for server in SERVERS:
            head = f"aws ec2 {verb}-security-group-ingress --group-id {group}"
            if ":" in cidr:  # IPv6: the short form (--cidr) takes IPv4 only
                ports = f"FromPort={server.host_port},ToPort={server.host_port}"
                perm = f"IpProtocol={server.proto},{ports},Ipv6Ranges=[{{CidrIpv6={cidr}}}]"
                lines.append(f"{head} --ip-permissions '{perm}'  # {server.service}")
            else:
                cidr_arg = cidr if cidr == ALLOW_VAR else shlex.quote(cidr)
                lines.append(
                    f"{head} --protocol {server.proto} --port {server.host_port} --cidr {cidr_arg}  # {server.service}"
                )
    return lines


def instance_filter(address: str | None) -> str:
    """describe-instances' filter for the VM: by public IP, or by public DNS name."""
    if address is None:
        return "Name=ip-address,Values=<public-ip>"
    try:
        ipaddress.ip_address(address)
    except ValueError:
        return f"Name=dns-name,Values={shlex.quote(address)}"
    return f"Name=ip-address,Values={address}"


def security_group_text(address: str | None, group: str | None, cidrs: list[str]) -> str:
    rows = "\n".join(f"  {s.host_port}/{s.proto:<4} {s.service}" for s in SERVERS)
    lines = [
        "",
        "Open these ports in the instance's security group, to your class only (each with its protocol):",
        rows,
        "",
    ]
    if group is None:
        lines.append(f"SG=$(aws ec2 describe-instances --filters {instance_filter(address)} {SG_QUERY} --output text)")
    if not cidrs:
        lines.append("ALLOW=$(curl -s https://checkip.amazonaws.com)/32   # your address; a class: its network's CIDR")
    lines += sg_commands("authorize", group or SG_VAR, cidrs)
    if OPEN_WORLD & set(cidrs):
        lines.append("# WARNING: 0/0 lets the whole internet in (scanners find a new open port in minutes).")
    return "\n".join(lines)


def client_text(address: str | None, image: str) -> str:
    host = address or "<public-ip>"
    lines = ["", "Clients, from any computer allowed in (the lab's image, or Python 3.11 in this repository):"]
    for server in SERVERS:
        port = "" if server.host_port == server.container_port else f" --port {server.host_port}"
        lines.append(f"  python3 -m services {server.client} --host {host}{port}")
    lines.append(f"  docker run --rm -it {image} chat-client --host {host}")
    lines.append(f"  docker compose run --rm --no-deps chat-client --host {host}   # from this repository's folder")
    return "\n".join(lines)


def teardown_text(target: Target, project: str, group: str | None, cidrs: list[str]) -> str:
    extra = "" if project == DEFAULT_PROJECT else f" --project {project}"
    lines = [
        "",
        "Tear it all down:",
        f"  scripts/lab deploy --down {shlex.quote(target.spec)}{extra}",
        *(f"  {line}" for line in sg_commands("revoke", group or SG_VAR, cidrs)),
        "  aws ec2 terminate-instances --instance-ids <i-...>   # if the VM was only for this",
    ]
    return "\n".join(lines)


def capture_text(target: Target, project: str, image: str) -> str:
    cmd = Cmd(compose(project, "cp", "capture:/captures", "./captures-vm"), env=image_env(image))
    return f"\nCopy the VM's captures here (for Wireshark): {cmd.show(target)}"


# --- the verb ---------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="scripts/lab deploy",
        description=__doc__.split("\n\n", 1)[0],
        epilog=f"Published host ports follow {', '.join(s.variable for s in SERVERS)} and "
        "SOCKLAB_PUBLISH_ADDRESS (see deploy/compose.yaml). docs/cloud.md walks through an EC2 instance.",
    )
    parser.add_argument("target", help="ssh://user@host, user@host, tcp://host:port, unix:///path, or a Docker context")
    parser.add_argument(
        "--down", action="store_true", help="remove the servers (containers, network, captures) instead"
    )
    parser.add_argument(
        "--setup",
        action="store_true",
        help="first install Docker on the VM over ssh (an instance without the user data)",
    )
    parser.add_argument("--dry-run", action="store_true", help="print the commands, run nothing")
    parser.add_argument(
        "--allow", action="append", default=[], metavar="CIDR", help="source range to let in (repeatable)"
    )
    parser.add_argument("--security-group", metavar="SG_ID", help="the instance's security group (sg-...)")
    parser.add_argument("--public-ip", help="address clients use (default: the target's host name)")
    parser.add_argument(
        "--project", default=DEFAULT_PROJECT, help="Compose project name on the target (default %(default)s)"
    )
    parser.add_argument("--image", default=common.IMAGE, help="image to run (default %(default)s)")
    parser.add_argument(
        "--transfer", choices=("auto", "load", "build"), default="auto", help="how the image gets there (default auto)"
    )
    parser.add_argument("--no-build", action="store_true", help="copy the local image as it is (no local rebuild)")
    parser.add_argument("--capture", action="store_true", help="also run tcpdump on the servers' bridge on the target")
    parser.add_argument("--rmi", action="store_true", help="with --down: also remove the image from the target")
    return parser


def deploy(args: argparse.Namespace, target: Target, runner: Runner, cidrs: list[str]) -> None:
    if args.dry_run:
        print(f"# socklab: deploy the servers to {target.spec} (project {args.project}); from {common.ROOT}")
    if args.setup:
        runner.run(setup_step(target))
    if not args.dry_run and args.transfer != "build" and not args.no_build and args.image == common.IMAGE:
        common.ensure_images()  # the copy is the image of the current services/
    for step in image_steps(runner, args.image, args.transfer):
        runner.run(step)
    runner.run(up_step(args.project, args.image, args.capture))
    if not args.dry_run:
        common.log(f"servers running on {target.spec} (project {args.project})")
    print(security_group_text(target.address, args.security_group, cidrs))
    print(client_text(target.address, args.image))
    if args.capture:
        print(capture_text(target, args.project, args.image))
    print(teardown_text(target, args.project, args.security_group, cidrs))


def undeploy(args: argparse.Namespace, target: Target, runner: Runner, cidrs: list[str]) -> None:
    down, containers, networks = down_steps(args.project, args.image)
    runner.run(down)
    if args.dry_run:
        print("# then remove whatever of the project compose down left behind (docker rm -f / docker network rm):")
        runner.run(containers)
        runner.run(networks)
    # `compose down` leaves containers it did not start (a `run`, a hand-made one) and so the network.
    left = runner.query(containers.pipeline[0].argv)
    if left:
        runner.run(Step("remove the project's leftover containers", [Cmd(["docker", "rm", "-f", "-v", *left.split()])]))
    nets = runner.query(networks.pipeline[0].argv)
    if nets:
        runner.run(Step("remove the project's leftover networks", [Cmd(["docker", "network", "rm", *nets.split()])]))
    if args.rmi:
        runner.run(
            Step(f"remove {args.image} from the target", [Cmd(["docker", "image", "rm", args.image])], check=False)
        )
    if not args.dry_run:
        common.log(f"project {args.project} removed from {target.spec}")
    print("\nClose the security group again:")
    print("\n".join(f"  {line}" for line in sg_commands("revoke", args.security_group or SG_VAR, cidrs)))


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        cidrs = parse_cidrs(args.allow)
        target = parse_target(args.target, args.public_ip)
        runner = Runner(target, args.dry_run)
        (undeploy if args.down else deploy)(args, target, runner, cidrs)
    except common.LabError as exc:
        print(f"scripts/lab deploy: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
