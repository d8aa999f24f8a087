"""The lab as a student drives it: ``scripts/lab up``, a client by ``compose run``, ``scripts/lab down``.

Runs on its own project, subnet (172.30.N.0/24) and bridge (slsmokeN), so a
running ``socklab`` lab is never touched; the pcap it leaves in captures/ is
checked, then deleted.
"""

from __future__ import annotations

import ipaddress
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dpkt
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
from lablib import common  # noqa: E402  (scripts/ is not on the default path)

pytestmark = pytest.mark.slow

FIXED = {
    "udp-echo-server": 10,
    "tcp-echo-server": 11,
    "datetime-server": 12,
    "calc-server": 13,
    "chat-server": 14,
    "datetime-client": 20,
}
LAB = [str(ROOT / "scripts" / "lab")]
COMMAND_TIMEOUT = 300  # s: `up` may have to build the image first


def _free_index(client: Any) -> int:
    """A 172.30.N.0/24 subnet and slsmokeN bridge that no existing network uses."""
    taken: list[ipaddress.IPv4Network] = []
    bridges = set()
    for network in client.networks.list():
        attrs = network.attrs
        bridges.add((attrs.get("Options") or {}).get("com.docker.network.bridge.name"))
        for config in (attrs.get("IPAM") or {}).get("Config") or []:
            if ":" not in config.get("Subnet", ":"):
                taken.append(ipaddress.ip_network(config["Subnet"]))
    for index in range(1, 255):
        subnet = ipaddress.ip_network(f"172.30.{index}.0/24")
        if f"slsmoke{index}" not in bridges and not any(subnet.overlaps(t) for t in taken):
            return index
    pytest.fail("no free 172.30.N.0/24 subnet for the smoke lab")


@pytest.fixture
def smoke() -> Iterator[dict[str, str]]:
    try:
        client = common.docker_client()
    except common.LabError as exc:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true but Docker is not usable: {exc}", pytrace=False)
        pytest.skip(f"needs a Docker engine: {exc}")
    index = _free_index(client)
    project = f"socklab-smoke-{uuid.uuid4().hex[:6]}"
    env = {
        **os.environ,
        "SOCKLAB_PROJECT": project,
        "SOCKLAB_NET_PREFIX": f"172.30.{index}",
        "SOCKLAB_BRIDGE": f"slsmoke{index}",
    }
    try:
        yield env
    finally:
        common.remove_project(project)


def _run(argv: list[str], env: dict[str, str], stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=ROOT, env=env, input=stdin, capture_output=True, text=True, timeout=COMMAND_TIMEOUT)


def _payloads(path: Path, server: str, port: int) -> tuple[bytes, set[int]]:
    """TCP payload sent to server:port, and the TCP flags seen on that connection."""
    sent, flags = b"", set()
    with path.open("rb") as handle:
        for _, frame in dpkt.pcap.Reader(handle):
            ip = dpkt.ethernet.Ethernet(frame).data
            if not isinstance(ip, dpkt.ip.IP) or not isinstance(ip.data, dpkt.tcp.TCP):
                continue
            tcp = ip.data
            if port not in (tcp.sport, tcp.dport) or server not in (_addr(ip.src), _addr(ip.dst)):
                continue
            flags |= {bit for bit in (dpkt.tcp.TH_SYN, dpkt.tcp.TH_FIN) if tcp.flags & bit}
            if tcp.dport == port:
                sent += bytes(tcp.data)
    return sent, flags


def _addr(raw: bytes) -> str:
    return str(ipaddress.ip_address(raw))


def test_up_client_down(smoke: dict[str, str]) -> None:
    project, prefix = smoke["SOCKLAB_PROJECT"], smoke["SOCKLAB_NET_PREFIX"]

    up = _run([*LAB, "up"], smoke)
    assert up.returncode == 0, up.stdout + up.stderr
    for service, host in FIXED.items():
        assert f"{prefix}.{host} " in up.stdout, f"{service} not at {prefix}.{host}:\n{up.stdout}"
    assert "run --rm chat-client" in up.stdout

    containers = {c.labels[common.SERVICE_LABEL]: c for c in common.project_containers(project)}
    assert set(containers) == {*FIXED, common.CAPTURE_SERVICE}
    for service, host in FIXED.items():
        assert common.container_ip(containers[service]) == f"{prefix}.{host}"
    pcap_name = containers["capture"].exec_run(["cat", "/tmp/pcap-name"]).output.decode().strip()
    pcap = common.CAPTURES / Path(pcap_name).name

    try:
        calc = _run(
            [*common.lab_compose(project), "run", "--rm", "-T", "calc-client"], smoke, stdin="smoke\n12 + 42\nq\n"
        )
        assert calc.returncode == 0, calc.stdout + calc.stderr
        assert "54" in calc.stdout.splitlines(), calc.stdout

        down = _run([*LAB, "down"], smoke)
        assert down.returncode == 0, down.stdout + down.stderr
        assert common.project_containers(project) == []
        label = f"{common.PROJECT_LABEL}={project}"
        assert common.docker_client().networks.list(filters={"label": label}) == []

        # The capture was stopped by SIGTERM after the servers: the file is whole and has the session.
        sent, flags = _payloads(pcap, f"{prefix}.13", 12002)
        assert sent == b"smoke\n12 + 42\nq\n"
        assert flags == {dpkt.tcp.TH_SYN, dpkt.tcp.TH_FIN}
        assert pcap.stat().st_uid == common.CAPTURES.stat().st_uid
    finally:
        pcap.unlink(missing_ok=True)
