"""The cloud deploy path end to end, with this machine standing in for the VM.

A Docker context (``socklab-vm-test-…``, pointing at the local engine) plays
the VM; ``scripts/lab deploy`` copies the image to it (``docker save | docker
load``) and starts deploy/compose.yaml there under a unique project, with the
ports published on one host address only: the gateway of a client network the
test creates, which plays the VM's public IP. Client containers on that client
network then reach every server through the published ports, exactly as a
laptop reaches the VM, and cannot reach the servers' private addresses.
``scripts/lab deploy --down`` removes it all; the test checks nothing is left.
"""

from __future__ import annotations

import contextlib
import io
import ipaddress
import json
import os
import re
import secrets
import socket
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import docker.errors
import pytest
import yaml

from ..helpers import ROOT, wait_for
from . import pcap
from .lab import common

PROJECT_LABEL = "com.docker.compose.project"
TEST_LABEL = "org.socklab.test"
DEPLOY_TIMEOUT = 240  # s: image copy (~6 s) + servers healthy (~5 s); far more on a loaded machine
CLIENT_TIMEOUT = 60
#: Published host port per deploy/compose.yaml variable (udp and tcp echo share a number, as on the VM).
PORT_VARIABLES = {
    "udp-echo": "SOCKLAB_PUBLISH_UDP_ECHO",
    "tcp-echo": "SOCKLAB_PUBLISH_TCP_ECHO",
    "datetime": "SOCKLAB_PUBLISH_DATETIME",
    "calc": "SOCKLAB_PUBLISH_CALC",
    "chat": "SOCKLAB_PUBLISH_CHAT",
}
SERVER_NET_BASE = "172.30"  # deploy/compose.yaml's default 172.30.0.0/24, moved to a free 172.30.N.0/24
EXPECTED_PORTS = {
    "udp-echo-server": "12000/udp",
    "tcp-echo-server": "12000/tcp",
    "datetime-server": "12001/udp",
    "calc-server": "12002/tcp",
    "chat-server": "12003/tcp",
}

#: Runs in a client container on the client network: speaks every protocol to HOST at the
#: published ports, tries the chat server's private address directly, prints one JSON object.
PROBE = r"""
import json, socket, sys
host, ports, private = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3]
out = {}

def udp(port, payload):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(3)
    for _ in range(5):  # a datagram may be lost: ask again
        s.sendto(payload, (host, port))
        try:
            return s.recv(4096).decode()
        except socket.timeout:
            pass
    return None

class Line:
    def __init__(self, port):
        self.sock = socket.create_connection((host, port), timeout=15)
        self.file = self.sock.makefile("r", encoding="utf-8", newline="\n")
    def send(self, *lines):
        self.sock.sendall("".join(l + "\n" for l in lines).encode())
    def read(self, n=1):
        return [self.file.readline().rstrip("\n") for _ in range(n)]

out["udp_echo"] = udp(ports["udp-echo"], b"hello over udp")
out["send_time"] = udp(ports["datetime"], b"SEND_TIME")
out["send_date"] = udp(ports["datetime"], b"  SEND_DATE \n")
out["bad_date"] = udp(ports["datetime"], b"WHAT")

echo = Line(ports["tcp-echo"])
out["me"] = echo.sock.getsockname()[0]
echo.send("hello over tcp", "second line")
out["tcp_echo"] = echo.read(2)

calc = Line(ports["calc"])
calc.send("Ada", "12 + 42", "4.5 / -6", "1 / 0", "q")
out["calc"] = calc.read(3)
out["calc_eof"] = calc.file.readline()

ada = Line(ports["chat"])
ada.send("Ada")
out["ada_join"] = ada.read()
bob = Line(ports["chat"])
bob.send("ada", "Bob")  # a taken name (ignoring case) is refused; the retry on the same connection works
out["bob_login"] = bob.read(2)
out["ada_sees_bob"] = ada.read()
ada.send("Anyone here?")
out["bob_hears"] = bob.read()
bob.send("quit")
out["ada_sees_leave"] = ada.read()

try:
    socket.create_connection((private, 12003), timeout=3).close()
    out["direct"] = "connected"
except OSError as exc:
    out["direct"] = type(exc).__name__
print(json.dumps(out), flush=True)
"""

#: One calculation, so the capture test looks for exactly one request.
PROBE_CALC = r"""
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=15)
s.sendall(b"Eve\n7 * 6\n")
assert s.makefile().readline() == "42\n"
s.sendall(b"q\n")
"""

TIME_RE = r"\d\d:\d\d:\d\d"


@dataclass
class Deployment:
    client: Any
    context: str
    project: str
    image: str
    network: Any  # the client network, the "internet"
    public_ip: str  # its gateway: the Docker host's address there, where the ports are published
    ports: dict[str, int]
    server_prefix: str
    env: dict[str, str]

    def servers(self) -> dict[str, Any]:
        found = self.client.containers.list(all=True, filters={"label": f"{PROJECT_LABEL}={self.project}"})
        return {c.labels["com.docker.compose.service"]: c for c in found}

    def run_client(self, *argv: str, entrypoint: str | None = None, timeout: float = CLIENT_TIMEOUT) -> str:
        """A container on the client network, run to completion; its output."""
        container = self.client.containers.run(
            self.image,
            list(argv),
            entrypoint=entrypoint,
            network=self.network.name,
            labels={TEST_LABEL: self.project},
            detach=True,
        )
        try:
            status = container.wait(timeout=timeout)
            output = container.logs().decode("utf-8", "replace")
            assert status["StatusCode"] == 0, f"client {argv[:2]} exited {status['StatusCode']}:\n{output}"
            return output
        finally:
            container.remove(force=True)


def lab_deploy(*args: str, env: dict[str, str], timeout: float = DEPLOY_TIMEOUT) -> subprocess.CompletedProcess[str]:
    """``scripts/lab deploy ARGS`` as scripts/lab runs it (the venv's Python, scripts/ on the path)."""
    return subprocess.run(
        [sys.executable, "-m", "lablib.deploy", *args],
        cwd=ROOT,
        env={**env, "PYTHONPATH": str(ROOT / "scripts")},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def free_ports(host: str, count: int) -> list[int]:
    """Ports free for both TCP and UDP on ``host`` right now (the kernel picks them)."""
    ports: list[int] = []
    while len(ports) < count:
        with (
            socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp,
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp,
        ):
            tcp.bind((host, 0))
            port = tcp.getsockname()[1]
            try:
                udp.bind((host, port))
            except OSError:
                continue
        if port not in ports:
            ports.append(port)
    return ports


def free_server_prefix(client: Any) -> tuple[str, str]:
    """A 172.30.N.0/24 no Docker network overlaps, and a bridge name sldepN nobody uses."""
    taken, bridges = [], set()
    for network in client.networks.list():
        bridges.add((network.attrs.get("Options") or {}).get("com.docker.network.bridge.name"))
        for config in (network.attrs.get("IPAM") or {}).get("Config") or []:
            if ":" not in config.get("Subnet", ":"):
                taken.append(ipaddress.ip_network(config["Subnet"], strict=False))
    for n in secrets.SystemRandom().sample(range(1, 255), 254):
        subnet = ipaddress.ip_network(f"{SERVER_NET_BASE}.{n}.0/24")
        if f"sldep{n}" not in bridges and not any(subnet.overlaps(t) for t in taken):
            return f"{SERVER_NET_BASE}.{n}", f"sldep{n}"
    pytest.skip(f"every {SERVER_NET_BASE}.N.0/24 is taken")


@pytest.fixture(scope="module")
def deployment(docker_client: Any) -> Iterator[Deployment]:
    common.ensure_images()
    tag = secrets.token_hex(3)
    project, context, image = f"socklab-deploy-{tag}", f"socklab-vm-test-{tag}", f"socklab:deploy-test-{tag}"
    subprocess.run(
        ["docker", "context", "create", context, "--docker", "host=unix:///var/run/docker.sock"],
        check=True,
        capture_output=True,
    )
    network = docker_client.networks.create(f"{project}-internet", driver="bridge", labels={TEST_LABEL: project})
    try:
        network.reload()
        public_ip = network.attrs["IPAM"]["Config"][0]["Gateway"]
        prefix, bridge = free_server_prefix(docker_client)
        echo, datetime_port, calc, chat = free_ports(public_ip, 4)
        ports = {"udp-echo": echo, "tcp-echo": echo, "datetime": datetime_port, "calc": calc, "chat": chat}
        env = {
            **{k: v for k, v in os.environ.items() if k not in {"DOCKER_HOST", "DOCKER_CONTEXT"}},
            **{PORT_VARIABLES[name]: str(port) for name, port in ports.items()},
            "SOCKLAB_PUBLISH_ADDRESS": public_ip,
            "SOCKLAB_NET_PREFIX": prefix,
            "SOCKLAB_BRIDGE": bridge,
            "SOCKLAB_HEALTH_INTERVAL": "1s",
        }
        # A tag of its own: loading it on the "VM" must never move the user's socklab:latest.
        docker_client.images.get(common.IMAGE).tag(image)
        deployed = lab_deploy(
            context,
            *("--project", project, "--image", image, "--transfer", "load", "--public-ip", public_ip),
            *("--allow", "198.51.100.0/24", "--security-group", "sg-0123456789abcdef0", "--capture"),
            env=env,
        )
        assert deployed.returncode == 0, f"deploy failed:\n{deployed.stdout}\n{deployed.stderr}"
        yield Deployment(docker_client, context, project, image, network, public_ip, ports, prefix, env)
        down = lab_deploy(context, "--down", "--rmi", "--project", project, "--image", image, env=env)
        assert down.returncode == 0, f"deploy --down failed:\n{down.stdout}\n{down.stderr}"
        label = {"label": f"{PROJECT_LABEL}={project}"}
        left = [c.name for c in docker_client.containers.list(all=True, filters=label)]
        left += [n.name for n in docker_client.networks.list(filters=label)]
        left += [v.name for v in docker_client.volumes.list(filters=label)]
        left += [image] if docker_client.images.list(name=image) else []
        assert not left, f"deploy --down left behind: {left}"
    finally:
        for container in docker_client.containers.list(all=True, filters={"label": f"{TEST_LABEL}={project}"}):
            container.remove(force=True)
        common.remove_project(project)
        network.remove()
        with contextlib.suppress(docker.errors.ImageNotFound):
            docker_client.images.remove(image)
        subprocess.run(["docker", "context", "rm", "-f", context], capture_output=True)


def test_deployed_servers_are_hardened_and_published_with_their_protocols(deployment: Deployment) -> None:
    containers = deployment.servers()
    capture = containers.pop("capture")
    assert set(containers) == set(EXPECTED_PORTS)
    assert capture.attrs["HostConfig"]["NetworkMode"] == "host" and not capture.attrs["HostConfig"]["PortBindings"]
    for service, container in containers.items():
        config = container.attrs["HostConfig"]
        bindings = config["PortBindings"]
        name = service.removesuffix("-server")
        assert bindings == {
            EXPECTED_PORTS[service]: [{"HostIp": deployment.public_ip, "HostPort": str(deployment.ports[name])}]
        }
        assert config["RestartPolicy"]["Name"] == "unless-stopped"
        assert config["ReadonlyRootfs"] is True
        assert config["CapDrop"] == ["ALL"] and not config["CapAdd"]
        assert container.attrs["Config"]["User"] == "lab"
        assert container.attrs["State"]["Health"]["Status"] == "healthy"


def test_clients_on_another_network_reach_every_server_through_the_published_ports_only(
    deployment: Deployment,
) -> None:
    chat_private = deployment.servers()["chat-server"].attrs["NetworkSettings"]["Networks"]
    private_ip = next(iter(chat_private.values()))["IPAddress"]
    assert private_ip.startswith(deployment.server_prefix + ".")
    before = datetime.now(UTC)
    output = deployment.run_client(
        "-c", PROBE, deployment.public_ip, json.dumps(deployment.ports), private_ip, entrypoint="python3"
    )
    result = json.loads(output.strip().splitlines()[-1])

    assert result["udp_echo"] == "HELLO OVER UDP"
    assert re.fullmatch(rf"{TIME_RE}\n", result["send_time"])
    sent = datetime.combine(before.date(), datetime.strptime(result["send_time"].strip(), "%H:%M:%S").time(), UTC)
    assert abs(sent - before) < timedelta(seconds=30) or abs(sent - before) > timedelta(hours=23)  # midnight
    assert result["send_date"] in {f"{(before + timedelta(days=d)).date().isoformat()}\n" for d in (0, 1)}
    assert result["bad_date"] == "ERROR unknown request 'WHAT': send SEND_DATE or SEND_TIME\n"
    assert result["tcp_echo"] == ["HELLO OVER TCP", "SECOND LINE"]
    assert result["calc"][:2] == ["54", "-0.75"] and result["calc"][2].startswith("ERROR ")
    assert result["calc_eof"] == ""  # q: the server closed the connection
    assert re.fullmatch(rf"Server: time={TIME_RE} Ada has joined\. Member count=1", result["ada_join"][0])
    assert result["bob_login"][0].startswith("ERROR ")
    assert re.fullmatch(rf"Server: time={TIME_RE} Bob has joined\. Member count=2", result["bob_login"][1])
    assert result["ada_sees_bob"] == result["bob_login"][1:]
    assert result["bob_hears"] == ["Ada: Anyone here?"]
    assert re.fullmatch(rf"Server: time={TIME_RE} Bob has left\. Member count=1", result["ada_sees_leave"][0])
    # The servers' private network is not routed from the client's: only the published ports lead in.
    assert result["direct"] in {"TimeoutError", "ConnectionRefusedError", "OSError"}, result["direct"]

    # The servers saw the connections arrive translated, from an address of the Docker host
    # (Docker's proxy or NAT), never from the client container's own address.
    server_gateway = f"{deployment.server_prefix}.1"
    peers = set(re.findall(r"^(\d+\.\d+\.\d+\.\d+):\d+ ", logs(deployment, "tcp-echo-server"), re.M))
    assert result["me"] not in peers
    assert peers and peers <= {server_gateway, deployment.public_ip}, peers


def test_the_vm_capture_shows_the_translated_addresses(deployment: Deployment) -> None:
    """On the servers' bridge, after Docker's NAT: private address and container port, never the public ones."""
    private = f"{deployment.server_prefix}.13"  # calc-server's fixed address
    deployment.run_client("-c", PROBE_CALC, deployment.public_ip, str(deployment.ports["calc"]), entrypoint="python3")
    capture = deployment.servers()["capture"]

    def calc_packets() -> list[pcap.Packet]:
        name = capture.exec_run(["sh", "-c", "ls /captures | head -1"]).output.decode().strip()
        stream, _ = capture.get_archive(f"/captures/{name}")
        with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as tar:
            member = tar.next()
            assert member is not None
            data = tar.extractfile(member).read()  # type: ignore[union-attr]
        return [p for p in pcap.parse(data) if b"7 * 6\n" in p.payload]  # the proxy may merge the lines

    packets = wait_for(calc_packets, 20, interval=0.5, what="the calc request in the VM's capture")
    assert [(p.dst, p.dport) for p in packets] == [(private, 12002)], [str(p) for p in packets]
    assert packets[0].src != deployment.public_ip


def test_the_real_client_programs_work_against_the_public_address(deployment: Deployment) -> None:
    host, ports = deployment.public_ip, deployment.ports
    udp = deployment.run_client("udp-echo-client", "--host", host, "--port", str(ports["udp-echo"]), "--message", "hi")
    assert "HI" in udp.splitlines()
    script = (
        f"printf '12 + 42\\nq\\n' | python3 -m services calc-client --host {host} --port {ports['calc']} --name Ada"
    )
    calc = deployment.run_client("-c", script, entrypoint="sh")
    assert re.search(r"(^|\s)54$", calc, re.M), calc


def test_dry_run_prints_the_commands_and_the_security_group_rules() -> None:
    target = "ssh://user@203.0.113.10"
    done = lab_deploy("--dry-run", "--allow", "198.51.100.0/24", target, env=dict(os.environ))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert f"docker save {common.IMAGE} | gzip -1 | DOCKER_HOST={target} docker load" in lines
    # A chosen image (SOCKLAB_IMAGE, as the tests run with) is passed on to the remote compose.
    chosen = "SOCKLAB_IMAGE" in os.environ or common.IMAGE != "socklab:latest"
    image = f"SOCKLAB_IMAGE={common.IMAGE} " if chosen else ""
    up = f"DOCKER_HOST={target} {image}docker compose"
    assert any(line.startswith(up) and " up -d --wait" in line for line in lines)
    rules = [line.split("  #")[0] for line in lines if line.startswith("aws ec2 authorize-security-group-ingress")]
    head = "aws ec2 authorize-security-group-ingress --group-id $SG"
    assert rules == [
        f"{head} --protocol {proto} --port {port} --cidr 198.51.100.0/24"
        for proto, port in (("udp", 12000), ("tcp", 12000), ("udp", 12001), ("tcp", 12002), ("tcp", 12003))
    ]
    assert "  python3 -m services chat-client --host 203.0.113.10" in lines
    assert f"  scripts/lab deploy --down {target}" in lines


def test_cloud_init_user_data_parses_and_its_script_is_valid_bash() -> None:
    text = (ROOT / "deploy" / "cloud-init.yaml").read_text()
    assert text.startswith("#cloud-config\n")
    data = yaml.safe_load(text)
    files = {f["path"]: f for f in data["write_files"]}
    script = files["/usr/local/sbin/socklab-setup"]["content"]
    assert data["runcmd"] == [["/usr/local/sbin/socklab-setup"]]
    checked = subprocess.run(["bash", "-n"], input=script, capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr


def logs(deployment: Deployment, service: str) -> str:
    return deployment.servers()[service].logs().decode("utf-8", "replace")
