"""The lab on a one-node swarm, through scripts/lab as a user runs it: up --swarm, clients, captures, down --swarm.

The swarm is initialised only if the engine is in none (and left again at the
end, with the networks it made); a swarm that was there is used and left as it
was. The tests run in file order on one stack: up, reachability, a chat, the
clear message for a placement no node satisfies, down, then the capture.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from ..helpers import ROOT
from . import pcap
from .swarm import OVERLAY_BASE, OneNodeSwarm, StackLab, free_subnet, run_verb

pytestmark = pytest.mark.slow

SERVERS = ("udp-echo-server", "tcp-echo-server", "datetime-server", "calc-server", "chat-server")
SERVICES = (*SERVERS, "datetime-client", "capture")
CHAT_PORT = 12003
JOIN_TIMEOUT = 90  # s: a client's `compose config` + `docker run` on a loaded machine


@pytest.fixture(scope="module")
def stack(docker_client: Any, one_node_swarm: OneNodeSwarm) -> Iterator[StackLab]:
    lab = StackLab(docker_client, free_subnet(docker_client, OVERLAY_BASE))
    try:
        yield lab
    finally:
        left = lab.cleanup()
        assert not left, f"left behind: {left}"


def test_up_without_a_swarm_names_docker_swarm_init(one_node_swarm: OneNodeSwarm) -> None:
    done = one_node_swarm.no_swarm_output
    if done is None:
        pytest.skip("the engine was already in a swarm (used as found)")
    assert done.returncode == 1, done
    assert "this Docker engine is in no swarm" in done.stderr, done.stderr
    assert "    docker swarm init\n" in done.stderr, done.stderr


def test_up_runs_every_service_healthy_on_the_overlay(stack: StackLab) -> None:
    done = stack.up()
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"
    rows = {line.split()[0]: line.split() for line in done.stdout.splitlines()[1:] if line and line[0].islower()}
    prefix = stack.subnet.rsplit(".", 1)[0] + "."
    for service in SERVICES:
        assert service in rows, done.stdout
        _name, _node, address, state = rows[service]
        assert state == "running" and address.startswith(prefix), rows[service]
    assert f"Overlay network: {stack.network}" in done.stdout
    assert re.search(rf"capture: node \S+: {re.escape(str(stack.captures))}/{stack.stack}-\S+\.pcap", done.stdout)
    services = stack.services()
    assert all(s.attrs["Spec"]["EndpointSpec"]["Mode"] == "dnsrr" for s in services.values())


def test_each_lab_name_resolves_to_its_task_address(stack: StackLab) -> None:
    """DNS round-robin: a name gives the task's own address, no virtual IP, from a container on the overlay."""
    argv = ["docker", "run", "--rm", "--network", stack.network, "--entrypoint", "getent", stack.env["SOCKLAB_IMAGE"]]
    resolved: dict[str, set[str]] = {}
    for server in SERVERS:
        done = subprocess.run([*argv, "ahostsv4", server], capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, f"{server} does not resolve: {done.stderr}"
        resolved[server] = {line.split()[0] for line in done.stdout.splitlines()}
    assert resolved == {server: {stack.task_address(server)} for server in SERVERS}


def test_servers_answer_clients_on_the_overlay(stack: StackLab) -> None:
    udp = stack.run_client("udp-echo", stdin="hello swarm\n")
    assert udp.returncode == 0 and udp.stdout.splitlines() == ["HELLO SWARM"], udp
    tcp = stack.run_client("tcp-echo", stdin="over tcp\n")
    assert tcp.returncode == 0 and tcp.stdout.splitlines() == ["OVER TCP"], tcp
    calc = stack.run_client("calc", stdin="Ada\n2 + 40\nq\n")
    assert calc.returncode == 0 and re.search(r"^42$", calc.stdout, re.M), calc
    # The stack's own date/time client gets replies from datetime-server across the overlay.
    stack.wait_for(
        lambda: re.search(r"\d{2}:\d{2}:\d{2}", stack.service_log("datetime-client")),
        60,
        "a reply in datetime-client's log",
    )


def test_two_clients_chat(stack: StackLab) -> None:
    ada, bob = stack.client("chat"), stack.client("chat")
    ada.wait_line(r"^Enter login name:$", JOIN_TIMEOUT)
    ada.send("Ada")
    ada.wait_line(r"^Server: time=\S+ Ada has joined\. Member count=1$", JOIN_TIMEOUT)
    bob.wait_line(r"^Enter login name:$", JOIN_TIMEOUT)
    bob.send("Bob")
    bob.wait_line(r"^Server: time=\S+ Bob has joined\. Member count=2$", 30)
    ada.wait_line(r"^Server: time=\S+ Bob has joined\. Member count=2$", 30)
    ada.send("hello from ada")
    bob.wait_line(r"^Ada: hello from ada$", 30)
    bob.send("hi ada")
    ada.wait_line(r"^Bob: hi ada$", 30)
    bob.close_stdin()
    assert bob.wait(60) == 0, bob.output()
    ada.wait_line(r"^Server: time=\S+ Bob has left\. Member count=1$", 30)
    ada.close_stdin()
    assert ada.wait(60) == 0, ada.output()


def test_own_program_takes_a_servers_place(stack: StackLab) -> None:
    """own --swarm on this manager: the reference scaled to 0, the student's server reached by the lab name."""
    student = ROOT / "tests" / "fixtures" / "students" / "Lab2_Good.py"
    argv = [sys.executable, "-m", "lablib.verbs", "own", "--swarm", "calc-server", str(student)]
    argv += ["--", "calc-server", "12002"]
    proc = subprocess.Popen(argv, cwd=ROOT, env=stack.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stdout or []), daemon=True)
    reader.start()
    try:
        stack.wait_for(lambda: any("Server ready on port 12002" in line for line in lines), 90, "the student's server")
        assert stack.services()["calc-server"].attrs["Spec"]["Mode"]["Replicated"]["Replicas"] == 0
        result = stack.run_client("calc", stdin="Ada\n12 + 42\nq\n")
        assert result.returncode == 0 and re.search(r"^54$", result.stdout, re.M), result
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(60)
    reader.join(10)
    output = "".join(lines)
    own_ip = re.search(r"^your program: \S+ at ([\d.]+) on ", output, re.M)
    assert own_ip and own_ip[1].startswith(stack.subnet.rsplit(".", 1)[0] + "."), output
    assert re.search(rf"\('{OVERLAY_BASE}\.\d+\.\d+', \d+\)", output), output  # it saw a client's own address
    stack.wait_for(lambda: stack.running_address("calc-server"), 90, "the reference calc-server back")
    calc = stack.run_client("calc", stdin="Bo\n1 + 1\nq\n")
    assert re.search(r"^2$", calc.stdout, re.M), calc


def test_unsatisfiable_placement_is_a_clear_message(docker_client: Any, stack: StackLab) -> None:
    other = StackLab(docker_client, free_subnet(docker_client, OVERLAY_BASE))
    try:
        done = other.up("--no-build", "--servers-on", "node.labels.socklab.role == servers")
        assert done.returncode == 1, f"{done.stdout}\n{done.stderr}"
        assert re.search(r"cannot be placed: no suitable node \(scheduling constraints? not satisfied", done.stderr)
        assert "its placement: node.labels.socklab.role == servers" in done.stderr
        assert "docker node update --label-add socklab.role=servers" in done.stderr
        assert other.leftovers() == [], "up --swarm removes the stack it could not place"
    finally:
        assert other.cleanup() == []


def test_down_removes_the_stack_and_stays_in_the_swarm(docker_client: Any, stack: StackLab) -> None:
    done = stack.down()
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"
    assert stack.leftovers() == []
    pcaps = stack.pcaps()
    assert len(pcaps) == 1, pcaps
    assert done.stdout.splitlines() == [f"capture: node {docker_client.info()['Name']}: {pcaps[0]}"], done.stdout
    assert docker_client.info()["Swarm"]["LocalNodeState"] == "active"


def test_capture_holds_the_chat_handshakes_with_task_addresses(stack: StackLab) -> None:
    """The node's capture shows each chat client's handshake and lines, between the real task addresses."""
    log = stack.up_result.stdout if stack.up_result else ""
    chat_server = next(line.split()[2] for line in log.splitlines() if line.startswith("chat-server "))
    packets = pcap.read(stack.pcaps()[0])
    server = (chat_server, CHAT_PORT)
    clients = {}
    for name in ("Ada", "Bob"):
        for endpoint in syn_sources(packets, server):
            if pcap.stream(pcap.connection(packets, endpoint, server), endpoint).startswith(f"{name}\n".encode()):
                clients[name] = endpoint
    assert set(clients) == {"Ada", "Bob"}, pcap.dump(packets)
    prefix = stack.subnet.rsplit(".", 1)[0] + "."
    for name, endpoint in clients.items():
        assert endpoint[0].startswith(prefix) and endpoint[0] != chat_server
        conn = pcap.connection(packets, endpoint, server)
        pcap.handshake(conn, endpoint, server)
        sent = pcap.stream(conn, endpoint)
        assert sent.startswith(f"{name}\n".encode()), sent
    assert b"hello from ada\n" in pcap.stream(pcap.connection(packets, clients["Ada"], server), clients["Ada"])
    assert b"Ada: hello from ada\n" in pcap.stream(pcap.connection(packets, clients["Bob"], server), server)


def syn_sources(packets: list[pcap.Packet], server: tuple[str, int]) -> list[tuple[str, int]]:
    """Every (address, port) that sent a SYN to ``server``."""
    sources = dict.fromkeys(p.src for p in packets if (p.dst, p.dport) == server)
    return [endpoint for ip in sources for endpoint in pcap.connections_from(packets, ip, server)]


def test_verbs_on_a_stack_that_is_not_up(stack: StackLab) -> None:
    """down --swarm of a stack that is not there says so and succeeds; a client of it is a clear error."""
    done = run_verb(["down", "--swarm"], stack.env, timeout=60)
    assert done.returncode == 0, done
    assert f"no stack {stack.stack} on this swarm" in done.stderr
    client = stack.run_client("chat", stdin="")
    assert client.returncode == 1, client
    assert f"the swarm lab {stack.stack} is not up: scripts/lab up --swarm" in client.stderr
