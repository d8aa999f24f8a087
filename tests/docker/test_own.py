"""`scripts/lab own`: a student's calculator server in calc-server's place, driven by the reference client.

The student's program runs sandboxed at calc-server's fixed address under its name;
the lab's own calc-client (another container) reaches it by that name, the capture
sidecar records the exchange, the conformance checker gives its verdict, and on
stop the reference server comes back.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from ..helpers import ROOT, wait_for
from . import pcap
from .lab import Lab

sys.path.insert(0, str(ROOT / "scripts"))
from lablib import own, sandbox  # noqa: E402

STUDENT = ROOT / "tests" / "fixtures" / "students" / "Lab2_Good.py"
PORT = 12002
CALC_HOST = 13  # calc-server's fixed address in compose.yaml


@pytest.fixture
def own_calc(lab: Lab) -> Iterator[own.Own]:
    session = own.start(lab.project, "calc-server", STUDENT, ["calc-server", str(PORT)], client=lab.docker)
    try:
        yield session
    finally:
        own.stop(session)
        lab.wait_healthy(("calc-server",))  # the reference is back for the other tests


def logs(container: Any) -> str:
    return container.logs().decode("utf-8", "replace")


def test_own_server_takes_calc_servers_place(lab: Lab, own_calc: own.Own) -> None:
    address = f"{lab.prefix}.{CALC_HOST}"
    assert own_calc.ip == address
    assert lab.container("calc-server").status == "exited"  # the reference stepped aside
    wait_for(lambda: f"Server ready on port {PORT}" in logs(own_calc.student), 15, 0.1, "the student's server")

    # The sandbox: a fresh unprivileged uid, no capabilities, read-only root, the limits.
    own_calc.student.reload()
    host_config = own_calc.student.attrs["HostConfig"]
    assert int(own_calc.student.attrs["Config"]["User"].split(":")[0]) >= sandbox.UID_BASE
    assert host_config["CapDrop"] == ["ALL"] and host_config["ReadonlyRootfs"] is True
    assert host_config["PidsLimit"] == sandbox.Limits().pids
    assert host_config["NetworkMode"] == f"container:{own_calc.holder.id}"

    # The reference calc-client, from its own container, finds the student's server by name.
    result = lab.run_client("calc-client", stdin="Ada\n12 + 42\n4.5 / -6\nq\n")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "54" in result.lines and "-0.75" in result.lines, result.stdout
    student_log = logs(own_calc.student)
    assert f"('{result.ip}'," in student_log  # the student's server logged the client's own address

    # The capture sidecar recorded the exchange between the client host and the student's host.
    def exchange() -> list[pcap.Packet]:
        return pcap.between(lab.packets(), "tcp", result.ip, address, PORT)

    packets = lab.wait_packets(lambda _: exchange(), lambda found: any(b"12 + 42" in p.payload for p in found))
    assert any(p.src == address and b"54" in p.payload for p in packets), pcap.dump(packets)

    # The checker's verdict, from the host (as `scripts/lab check calc-server` runs it).
    done = subprocess.run(
        [sys.executable, "-m", "services", "check", "calc-server", "--host", address, "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    verdict = json.loads(done.stdout)
    assert done.returncode == 0 and verdict["passed"], done.stdout[-3000:]
    assert {c["name"] for c in verdict["cases"]} >= {"calc.arithmetic", "calc.concurrent-sessions"}


def test_own_program_cannot_reach_the_host(lab: Lab) -> None:
    """A program on the lab network may talk to the lab's hosts but not to the Docker host's addresses."""
    script = ROOT / "tests" / "fixtures" / "class" / "Lab2_Escape.py"
    session = own.start(lab.project, "calc-client", script, ["calc-client", "1"], as_client=True, client=lab.docker)
    try:
        text = lambda: logs(session.student)  # noqa: E731
        wait_for(lambda: text().count("blocked:") >= 8, 30, 0.2, "the escape attempts")
        assert "ESCAPED" not in text(), text()
        assert "No route to host" in text() or "Network is unreachable" in text(), text()
        blocked = sandbox.blocked_packets(session.holder)
        assert blocked["host"] + blocked["outside"] >= 8, blocked
    finally:
        own.stop(session)
    assert lab.container("calc-server").status == "running"  # a client never displaces a server


def test_restore_brings_back_the_reference(lab: Lab) -> None:
    session = own.start(lab.project, "calc-server", STUDENT, ["calc-server", str(PORT)], client=lab.docker)
    try:
        with pytest.raises(own.OwnError, match="already runs"):
            own.start(lab.project, "calc-server", STUDENT, ["calc-server", str(PORT)], client=lab.docker)
    finally:
        own.restore(lab.project, "calc-server")
    lab.wait_healthy(("calc-server",))
    assert own.own_containers(lab.docker, lab.project, "calc-server") == []
    assert session.reference is not None
