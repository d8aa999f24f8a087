"""What docs/lab-report.md says about sockets, checked on this kernel (the capture alone cannot show it)."""

from __future__ import annotations

import socket

import pytest

WAIT = 1.0  # s: the ICMP message comes back over loopback at once


def closed_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_connected_udp_socket_hears_of_port_unreachable() -> None:
    """Question 3: the ICMP port unreachable surfaces as ConnectionRefusedError on a connected socket."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.connect(("127.0.0.1", closed_udp_port()))
        sock.settimeout(WAIT)
        sock.send(b"SEND_TIME")
        with pytest.raises(ConnectionRefusedError):
            sock.recv(2048)


def test_an_unconnected_udp_socket_does_not() -> None:
    """The course's template client (sendto, no connect) only times out."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(WAIT)
        sock.sendto(b"SEND_TIME", ("127.0.0.1", closed_udp_port()))
        with pytest.raises(TimeoutError):
            sock.recvfrom(2048)
