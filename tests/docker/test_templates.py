"""The course's templates, unmodified, in the lab: `scripts/lab own` machinery, each program its own host.

A server template takes the reference echo server's place (its name, address and
port); the reference client reaches it by name; the client template runs as one more
sandboxed host (`own --as-client`) with its one line piped in; the capture sidecar
records the exchange between the two hosts; the checker's `lab` level passes.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from ..helpers import ROOT, wait_for
from . import pcap
from .lab import Lab

sys.path.insert(0, str(ROOT / "scripts"))
from lablib import own  # noqa: E402

TEMPLATES = ROOT / "course" / "templates"
PORT = 12000  # the templates' default: no port is given below
PROMPT = "Input lowercase sentence: "
START_TIMEOUT = 30.0
CHECK_TIMEOUT = 120.0
CASES = [
    # transport, server template, role it replaces, its fixed octet, client template, the client's printed reply
    ("udp", "UDP_Server.py", "udp-echo-server", 10, "UDP_Client.py", "HELLO, LAB 2"),
    ("tcp", "TCP_Server.py", "tcp-echo-server", 11, "TCP_Client.py", "From Server: HELLO, LAB 2"),
]


def logs(container: Any) -> str:
    return container.logs().decode("utf-8", "replace")


def exited(container: Any) -> bool:
    container.reload()
    return container.status == "exited"


@pytest.mark.parametrize(("proto", "server", "role", "octet", "client", "reply"), CASES, ids=["udp", "tcp"])
def test_templates_run_unmodified_in_the_lab(
    lab: Lab, proto: str, server: str, role: str, octet: int, client: str, reply: str
) -> None:
    address = f"{lab.prefix}.{octet}"
    session = own.start(lab.project, role, TEMPLATES / server, [], client=lab.docker)
    try:
        assert session.ip == address
        wait_for(lambda: "ready to receive on port 12000" in logs(session.student), START_TIMEOUT, 0.1, "the template")

        # The lab's reference client finds the template server by its role's name.
        result = lab.run_client(f"{proto}-echo-client", stdin="from the lab's client\n")
        assert result.returncode == 0 and "FROM THE LAB'S CLIENT" in result.lines, result.stdout + result.stderr

        # The client template as a host of its own, sandboxed, its line piped in; server given by name.
        piped = f"sh -c 'echo hello, lab 2 | python3 {{file}} {role}'"
        guest = own.start(lab.project, f"{proto}-template-client", TEMPLATES / client, [], cmd=piped,
                          as_client=True, client=lab.docker)  # fmt: skip
        try:
            wait_for(lambda: exited(guest.student), START_TIMEOUT, 0.2, "the client template to finish")
            assert logs(guest.student) == f"{PROMPT}{reply}\n"
            assert guest.student.attrs["State"]["ExitCode"] == 0
        finally:
            own.stop(guest)
        assert f"('{guest.ip}'," in logs(session.student)  # the server template saw the client host's address

        # The capture: the line went from the client host to the server host and back upper-cased.
        packets = lab.wait_packets(
            lambda found: pcap.between(found, proto, guest.ip, address, PORT),
            lambda found: any(p.src == address and b"HELLO, LAB 2" in p.payload for p in found),
        )
        assert any(p.src == guest.ip and b"hello, lab 2" in p.payload for p in packets), pcap.dump(packets)

        # The checker's course level accepts the template (as `scripts/lab check ROLE` runs it).
        done = subprocess.run(
            [sys.executable, "-m", "services", "check", role, "--host", address, "--json"],
            cwd=ROOT, capture_output=True, text=True, timeout=CHECK_TIMEOUT,
        )  # fmt: skip
        verdict = json.loads(done.stdout)
        assert done.returncode == 0 and verdict["passed"], done.stdout[-3000:]
    finally:
        own.stop(session)
        lab.wait_healthy((role,))  # the reference is back for the other tests
