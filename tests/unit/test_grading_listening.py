"""Which ports a sandboxed server listens on, read from `ss` in its namespace (the grader's listen check)."""

from __future__ import annotations

import sys

import pytest

from tests.helpers import ROOT

sys.path.insert(0, str(ROOT / "scripts"))
from lablib.grading.checker import RELAY_PORT, listening_ports  # noqa: E402

UDP = """\
UNCONN 0      0         127.0.0.11:43121      0.0.0.0:*
UNCONN 0      0            0.0.0.0:12001      0.0.0.0:*
UNCONN 0      0            0.0.0.0:55960      0.0.0.0:*
UNCONN 0      0            0.0.0.0:5000       0.0.0.0:*
"""
TCP = f"""\
LISTEN 0      4096      127.0.0.11:40211      0.0.0.0:*
LISTEN 0      5            0.0.0.0:{RELAY_PORT}      0.0.0.0:*
LISTEN 0      5            0.0.0.0:12002      0.0.0.0:*
LISTEN 0      5            0.0.0.0:45000      0.0.0.0:*
LISTEN 0      5               [::]:12003         [::]:*
"""


@pytest.mark.parametrize(
    ("output", "proto", "ports"),
    [
        # UDP: a socket the kernel bound to an ephemeral port is a client's (sendto), not a server's.
        (UDP, "udp", {12001, 5000}),
        # TCP: every listening socket counts, but Docker's resolver and the grader's own relay.
        (TCP, "tcp", {12002, 45000, 12003}),
        ("", "tcp", set()),
        ("garbage\nLISTEN 0 5 0.0.0.0:http 0.0.0.0:*\n", "tcp", set()),
    ],
)
def test_listening_ports(output: str, proto: str, ports: set[int]) -> None:
    assert listening_ports(output, proto) == ports
