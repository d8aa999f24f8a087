"""Reading the lab's captures (decoded by lablib.pcap): the packets between two hosts, TCP handshakes, payloads, FINs.

The capture sidecar writes with ``tcpdump -U``, so the file is flushed packet by
packet and can be read while tcpdump is still running; a record cut short at the
end of the file (caught mid-write) is simply not there yet.
"""

from __future__ import annotations

import sys
from pathlib import Path

import dpkt

from ..helpers import ROOT

sys.path.insert(0, str(ROOT / "scripts"))
from lablib.pcap.decode import Packet, PcapRecords, decode_frames, flag_names  # noqa: E402


def parse(data: bytes) -> list[Packet]:
    """Every TCP/UDP packet in a pcap file's bytes, decoded by lablib.pcap (as ``scripts/lab watch``
    reads a growing capture): a record cut short at the end is not there yet."""
    records = PcapRecords()
    frames = records.feed(data)
    if records.linktype is None:
        return []  # not even the file header written yet
    return decode_frames(frames, records.linktype).packets


def read(path: Path) -> list[Packet]:
    return parse(path.read_bytes())


def between(packets: list[Packet], proto: str, a: str, b: str, port: int | None = None) -> list[Packet]:
    """Packets of ``proto`` between hosts ``a`` and ``b`` (either way), optionally to/from ``port``."""
    hosts = {a, b}
    return [
        p
        for p in packets
        if p.proto == proto
        and {p.src, p.dst} == hosts
        and p.src != p.dst
        and (port is None or port in (p.sport, p.dport))
    ]


def connection(packets: list[Packet], client: tuple[str, int], server: tuple[str, int]) -> list[Packet]:
    """The TCP packets of one connection, identified by both endpoints."""
    ends = {client, server}
    return [p for p in packets if p.proto == "tcp" and {(p.src, p.sport), (p.dst, p.dport)} == ends]


def connections_from(packets: list[Packet], client_ip: str, server: tuple[str, int]) -> list[tuple[str, int]]:
    """The client endpoints (IP, port) that opened a connection (sent a SYN) from ``client_ip`` to ``server``."""
    seen: list[tuple[str, int]] = []
    for p in packets:
        if (
            p.proto == "tcp"
            and p.src == client_ip
            and (p.dst, p.dport) == server
            and p.has(dpkt.tcp.TH_SYN)
            and not p.has(dpkt.tcp.TH_ACK)
            and (p.src, p.sport) not in seen
        ):
            seen.append((p.src, p.sport))
    return seen


def handshake(conn: list[Packet], client: tuple[str, int], server: tuple[str, int]) -> tuple[Packet, Packet, Packet]:
    """The three-way handshake of a connection, checked: SYN, SYN-ACK acking it, ACK acking that."""
    syn = next((p for p in conn if _from(p, client) and p.flags & 0x3F == dpkt.tcp.TH_SYN), None)
    assert syn is not None, f"no SYN from {client} to {server}:\n{dump(conn)}"
    synack = next(
        (
            p
            for p in conn
            if _from(p, server) and p.has(dpkt.tcp.TH_SYN) and p.has(dpkt.tcp.TH_ACK) and p.ack == _plus(syn.seq, 1)
        ),
        None,
    )
    assert synack is not None, f"no SYN-ACK for the SYN (seq {syn.seq}):\n{dump(conn)}"
    ack = next(
        (
            p
            for p in conn
            if _from(p, client)
            and p.flags & (dpkt.tcp.TH_SYN | dpkt.tcp.TH_ACK) == dpkt.tcp.TH_ACK
            and p.ack == _plus(synack.seq, 1)
        ),
        None,
    )
    assert ack is not None, f"no ACK for the SYN-ACK (seq {synack.seq}):\n{dump(conn)}"
    assert syn.ts <= synack.ts <= ack.ts, f"handshake out of order:\n{dump(conn)}"
    return syn, synack, ack


def stream(conn: list[Packet], sender: tuple[str, int]) -> bytes:
    """The bytes ``sender`` sent on a connection, in sequence order, each retransmitted byte once."""
    segments: dict[int, bytes] = {}
    base: int | None = None
    for p in conn:
        if not _from(p, sender):
            continue
        if p.has(dpkt.tcp.TH_SYN):
            base = _plus(p.seq, 1)
            continue
        if p.payload:
            offset = (p.seq - base) % 2**32 if base is not None else p.seq
            if len(p.payload) > len(segments.get(offset, b"")):
                segments[offset] = p.payload
    out = bytearray()
    for offset in sorted(segments):
        chunk = segments[offset]
        if offset <= len(out):
            out += chunk[len(out) - offset :]
    return bytes(out)


def fins(conn: list[Packet], sender: tuple[str, int]) -> list[Packet]:
    return [p for p in conn if _from(p, sender) and p.has(dpkt.tcp.TH_FIN)]


def udp_exchanges(packets: list[Packet], client_ip: str, server: tuple[str, int]) -> list[tuple[Packet, Packet | None]]:
    """Each UDP request from ``client_ip`` to ``server`` paired with the next reply to its source port (or None)."""
    flow = [p for p in packets if p.proto == "udp" and ((p.src, p.sport) == server or (p.dst, p.dport) == server)]
    pairs: list[tuple[Packet, Packet | None]] = []
    for i, p in enumerate(flow):
        if p.src != client_ip or (p.dst, p.dport) != server:
            continue
        reply = None
        for q in flow[i + 1 :]:
            if (q.src, q.sport) == server and (q.dst, q.dport) == (p.src, p.sport):
                reply = q
                break
            if (q.src, q.sport) == (p.src, p.sport):
                break  # the next request went out first: this one's reply never came
        pairs.append((p, reply))
    return pairs


def describe(p: Packet) -> str:
    return f"{p.proto} {p.src}:{p.sport} > {p.dst}:{p.dport} [{flag_names(p.flags)}] {p.payload[:60]!r}"


def dump(packets: list[Packet], limit: int = 40) -> str:
    lines = [describe(p) for p in packets[-limit:]]
    return "\n".join(lines) or "(no packets)"


def _from(p: Packet, endpoint: tuple[str, int]) -> bool:
    return (p.src, p.sport) == endpoint


def _plus(seq: int, n: int) -> int:
    return (seq + n) % 2**32
