"""Echo pairs across the lab: a client container talks to the server container, each on its own IP."""

from __future__ import annotations

import re

from . import pcap
from .lab import ClientResult, Lab

LINES = ["hello lab", "Sockets in Containers 2", "ünïcode ok"]


def echo_lines(lab: Lab, kind: str, host: int) -> tuple[str, ClientResult]:
    """``{kind}-echo-client`` sends LINES to its server, which sits at ``{prefix}.{host}``; each comes back
    upper-cased. Returns the server's address and the client's run."""
    server_ip = lab.ip(f"{kind}-echo-server")
    assert server_ip == f"{lab.prefix}.{host}"

    result = lab.run_client(f"{kind}-echo-client", stdin="".join(f"{line}\n" for line in LINES))

    assert result.returncode == 0, result
    assert result.lines == [line.upper() for line in LINES]
    return server_ip, result


def test_udp_echo_between_containers(lab: Lab) -> None:
    server_ip, result = echo_lines(lab, "udp", 10)
    assert result.ip != server_ip and result.ip.startswith(lab.prefix + ".")
    # The server saw the client container's own address, once per datagram.
    log = lab.logs("udp-echo-server")
    ports = set()
    for line in LINES:
        seen = re.findall(rf"^{re.escape(result.ip)}:(\d+) '{re.escape(line)}' -> ", log, re.M)
        assert seen, log
        ports.add(int(seen[-1]))  # the latest: an earlier client may have had this (reused) address
    # One socket, so one source port: that port tells this client's datagrams from an earlier
    # client's that had the same address.
    assert len(ports) == 1, log
    (port,) = ports

    def ours(packets: list[pcap.Packet]) -> list[tuple[pcap.Packet, pcap.Packet | None]]:
        return [pair for pair in pcap.udp_exchanges(packets, result.ip, (server_ip, 12000)) if pair[0].sport == port]

    exchanges = lab.wait_packets(ours, lambda pairs: len(pairs) >= len(LINES) and all(reply for _, reply in pairs))
    assert [(req.payload, reply.payload) for req, reply in exchanges] == [
        (line.encode(), line.upper().encode()) for line in LINES
    ]


def test_tcp_echo_between_containers(lab: Lab) -> None:
    server_ip, result = echo_lines(lab, "tcp", 11)
    log = lab.logs("tcp-echo-server")
    match = re.search(rf"^{re.escape(result.ip)}:(\d+) connected$", log, re.M)
    assert match, log
    client = (result.ip, int(match[1]))
    server = (server_ip, 12000)
    assert re.search(rf"^{re.escape(result.ip)}:{client[1]} disconnected$", log, re.M), log

    def closed(conn: list[pcap.Packet]) -> bool:
        return bool(pcap.fins(conn, client) and pcap.fins(conn, server))

    conn = lab.wait_packets(lambda packets: pcap.connection(packets, client, server), closed)
    pcap.handshake(conn, client, server)
    assert pcap.stream(conn, client) == "".join(f"{line}\n" for line in LINES).encode()
    assert pcap.stream(conn, server) == "".join(f"{line.upper()}\n" for line in LINES).encode()
