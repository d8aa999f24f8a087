"""Frames -> packets: pcap/pcapng files, link layers, IP, TCP/UDP (pure: bytes in, records out).

Two ways in, one decoder:

* :func:`read_capture` reads a whole pcap or pcapng file (with dpkt) into a :class:`Capture`;
* :class:`PcapRecords` is sans-IO: ``feed(bytes)`` takes whatever part of a pcap file has
  been written so far (as tcpdump writes it, record by record) and returns the complete
  records; the rest waits for the next feed. ``scripts/lab watch`` follows a growing
  capture with it.

Either way every frame goes through :func:`decode_frame`, which returns a :class:`Packet`
or the reason (a short string) why the frame was skipped.
"""

from __future__ import annotations

import functools
import io
import socket
import struct
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import dpkt

FIN, SYN, RST, PSH, ACK, URG = (getattr(dpkt.tcp, f"TH_{n}") for n in ("FIN", "SYN", "RST", "PUSH", "ACK", "URG"))
FLAG_NAMES = ((SYN, "SYN"), (FIN, "FIN"), (RST, "RST"), (PSH, "PSH"), (ACK, "ACK"), (URG, "URG"))

LINKTYPE_NAMES = {
    dpkt.pcap.DLT_EN10MB: "Ethernet",
    dpkt.pcap.DLT_LINUX_SLL: "Linux cooked (SLL)",
    dpkt.pcap.DLT_LINUX_SLL2: "Linux cooked v2 (SLL2)",
    dpkt.pcap.DLT_NULL: "BSD loopback",
    dpkt.pcap.DLT_LOOP: "OpenBSD loopback",
    dpkt.pcap.DLT_RAW: "raw IP",
    101: "raw IP",
    228: "raw IPv4",
    229: "raw IPv6",
}

#: pcap magic numbers (as read little-endian) -> (byte order, timestamp divisor).
PCAP_MAGICS = {
    0xA1B2C3D4: ("<", 1e6),
    0xD4C3B2A1: (">", 1e6),
    0xA1B23C4D: ("<", 1e9),
    0x4D3CB2A1: (">", 1e9),
}
PCAP_HEADER = 24
RECORD_HEADER = 16
#: A record claiming more bytes than this is not a record: the stream is not (or no longer) pcap.
MAX_RECORD = 256 * 1024


class ReportError(Exception):
    """The input cannot be reported on; ``str(err)`` says why in a sentence."""


@dataclass(frozen=True)
class Packet:
    """One TCP segment or UDP datagram, as far as the report cares."""

    frame: int  # 1-based, as Wireshark numbers frames
    ts: float
    proto: str  # "tcp" or "udp"
    src: str
    sport: int
    dst: str
    dport: int
    payload: bytes
    flags: int = 0
    seq: int = 0
    ack: int = 0

    def has(self, flag: int) -> bool:
        """Is TCP flag ``flag`` (e.g. ``SYN``) set?"""
        return bool(self.flags & flag)


@functools.cache  # a handful of distinct flag sets, asked for on every segment
def flag_names(flags: int) -> str:
    return "-".join(name for bit, name in FLAG_NAMES if flags & bit) or "none"


def _ip_text(raw: bytes) -> str:
    return socket.inet_ntop(socket.AF_INET6 if len(raw) == 16 else socket.AF_INET, raw)


def _raw_ip(frame: bytes) -> dpkt.Packet | None:
    version = frame[0] >> 4 if frame else 0
    return dpkt.ip.IP(frame) if version == 4 else dpkt.ip6.IP6(frame) if version == 6 else None


#: Link type -> the network-layer packet of a frame (parsed by dpkt when it is IP).
LINK_DECODERS = {
    dpkt.pcap.DLT_EN10MB: lambda f: dpkt.ethernet.Ethernet(f).data,
    dpkt.pcap.DLT_LINUX_SLL: lambda f: dpkt.sll.SLL(f).data,
    dpkt.pcap.DLT_LINUX_SLL2: lambda f: dpkt.sll2.SLL2(f).data,
    dpkt.pcap.DLT_NULL: lambda f: dpkt.loopback.Loopback(f).data,
    dpkt.pcap.DLT_LOOP: lambda f: dpkt.loopback.Loopback(f).data,
    dpkt.pcap.DLT_RAW: _raw_ip,
    101: _raw_ip,
    228: _raw_ip,
    229: _raw_ip,
}
#: Where the link layer names its payload's EtherType.
ETHERTYPE_AT = {dpkt.pcap.DLT_EN10MB: 12, dpkt.pcap.DLT_LINUX_SLL: 14, dpkt.pcap.DLT_LINUX_SLL2: 0}


def _claims_ip(linktype: int, frame: bytes) -> bool:
    """Does the link-layer header announce IPv4/IPv6 (whatever follows it)?"""
    at = ETHERTYPE_AT.get(linktype)
    if at is None or len(frame) < at + 2:
        return False
    return int.from_bytes(frame[at : at + 2], "big") in (0x0800, 0x86DD)


def _transport(ip: dpkt.Packet) -> tuple[str, dpkt.Packet, int] | str:
    """(proto, segment, bytes the IP header promises for it), or why the packet is skipped."""
    if isinstance(ip, dpkt.ip.IP):
        if ip.mf or ip.offset:
            return "IP fragment"
        promised = ip.len - ip.hl * 4
        proto = ip.p
    elif isinstance(ip, dpkt.ip6.IP6):
        promised = ip.plen - sum(len(h) for h in getattr(ip, "extension_hdrs", {}).values() if h is not None)
        proto = ip.p if hasattr(ip, "p") else ip.nxt
    else:
        return "not IP"
    seg = ip.data
    if proto == dpkt.ip.IP_PROTO_TCP and isinstance(seg, dpkt.tcp.TCP):
        return "tcp", seg, promised
    if proto == dpkt.ip.IP_PROTO_UDP and isinstance(seg, dpkt.udp.UDP):
        return "udp", seg, promised
    if proto in (dpkt.ip.IP_PROTO_TCP, dpkt.ip.IP_PROTO_UDP):
        return "truncated packet"
    return {dpkt.ip.IP_PROTO_ICMP: "ICMP", dpkt.ip.IP_PROTO_ICMP6: "ICMPv6"}.get(proto, f"IP protocol {proto}")


ETH_IPV4 = b"\x08\x00"
IPV4_TRANSPORTS = {dpkt.ip.IP_PROTO_TCP: "tcp", dpkt.ip.IP_PROTO_UDP: "udp"}
TCP_PORTS_NUMBERS_FLAGS = struct.Struct("!HHIIH")
UDP_PORTS = struct.Struct("!HH")


def _ethernet_ipv4(number: int, ts: float, frame: bytes) -> Packet | None:
    """The lab's every packet (Ethernet, IPv4 unfragmented, TCP or UDP, all of it captured), read with
    struct: the live page decodes 1,000 packets/s and dpkt's object per layer is most of that cost.
    Gives exactly what dpkt gives (tests/unit/test_pcap_live.py); anything else, or anything odd,
    returns None and goes through dpkt."""
    if len(frame) < 34 or frame[12:14] != ETH_IPV4 or frame[14] >> 4 != 4:
        return None
    ihl = (frame[14] & 0x0F) * 4
    total = int.from_bytes(frame[16:18], "big")
    proto = IPV4_TRANSPORTS.get(frame[23])
    end, at = 14 + total, 14 + ihl
    if ihl < 20 or proto is None or int.from_bytes(frame[20:22], "big") & 0x3FFF or total < ihl or end > len(frame):
        return None  # options of the wrong size, another protocol, a fragment, or cut short: dpkt says which
    src, dst = socket.inet_ntoa(frame[26:30]), socket.inet_ntoa(frame[30:34])
    if proto == "udp":
        if end - at < 8:
            return None
        sport, dport = UDP_PORTS.unpack_from(frame, at)
        return Packet(number, ts, proto, src, sport, dst, dport, frame[at + 8 : end])
    if end - at < 20:
        return None
    sport, dport, seq, ack, off_flags = TCP_PORTS_NUMBERS_FLAGS.unpack_from(frame, at)
    header = (off_flags >> 12) * 4
    if header < 20 or at + header > end:
        return None
    return Packet(number, ts, proto, src, sport, dst, dport, frame[at + header : end], off_flags & 0x1FF, seq, ack)


def decode_frame(number: int, ts: float, frame: bytes, linktype: int) -> Packet | str:
    """One captured frame as a :class:`Packet`, or a short reason why it is skipped."""
    if linktype == dpkt.pcap.DLT_EN10MB:
        fast = _ethernet_ipv4(number, ts, frame)
        if fast is not None:
            return fast
    decoder = LINK_DECODERS.get(linktype)
    try:
        net = decoder(frame) if decoder else None
    except (dpkt.UnpackError, IndexError):
        return "truncated frame"
    if isinstance(net, bytes) and _claims_ip(linktype, frame):
        return "truncated packet"  # the link layer says IP, but too few bytes of it were captured
    if net is None or isinstance(net, bytes):
        return "not IP"
    found = _transport(net)
    if isinstance(found, str):
        return found
    proto, seg, promised = found
    header = seg.off * 4 if proto == "tcp" else 8
    if len(seg.data) < promised - header:
        return "truncated packet"
    common = dict(frame=number, ts=ts, proto=proto, src=_ip_text(net.src), dst=_ip_text(net.dst))
    if proto == "udp":
        return Packet(sport=seg.sport, dport=seg.dport, payload=bytes(seg.data), **common)
    return Packet(
        sport=seg.sport, dport=seg.dport, payload=bytes(seg.data), flags=seg.flags, seq=seg.seq, ack=seg.ack, **common
    )


@dataclass
class Capture:
    """Decoded packets and what was skipped (reason -> count)."""

    packets: list[Packet]
    skipped: dict[str, int]
    frames: int
    linktype: int
    fmt: str = "pcap"
    warning: str | None = None
    #: frame number -> the frame's bytes, when read_capture(keep_raw=True) (hex dumps, per-conversation pcaps)
    raw: dict[int, bytes] = field(default_factory=dict)


def decode_frames(frames: Iterable[tuple[float, bytes]], linktype: int) -> Capture:
    cap = Capture(packets=[], skipped={}, frames=0, linktype=linktype)
    for number, (ts, frame) in enumerate(frames, start=1):
        cap.frames = number
        got = decode_frame(number, ts, frame, linktype)
        if isinstance(got, str):
            cap.skipped[got] = cap.skipped.get(got, 0) + 1
        else:
            cap.packets.append(got)
    return cap


def read_capture(path: Path, keep_raw: bool = False) -> Capture:
    """Open a pcap/pcapng file; a cut-off last record ends the capture with a warning.

    ``keep_raw`` also keeps every frame's bytes in ``Capture.raw`` (by frame number).
    """
    try:
        f = path.open("rb")
    except OSError as exc:
        raise ReportError(f"cannot open {path}: {exc.strerror}") from None
    with f:
        try:
            reader = dpkt.pcap.UniversalReader(f)
        except (ValueError, dpkt.UnpackError) as exc:
            raise ReportError(f"{path} is not a pcap or pcapng capture ({exc})") from None
        fmt = "pcapng" if isinstance(reader, dpkt.pcapng.Reader) else "pcap"
        frames: list[tuple[float, bytes]] = []
        warning = None
        try:
            for ts, buf in reader:
                frames.append((ts, buf))
        except (dpkt.UnpackError, ValueError, struct.error) as exc:
            warning = f"the capture ends with a cut-off record after frame {len(frames)} ({exc or 'short read'})"
        cap = decode_frames(frames, reader.datalink())
        cap.fmt, cap.warning = fmt, warning
        if keep_raw:
            cap.raw = {number: bytes(frame) for number, (_, frame) in enumerate(frames, start=1)}
        return cap


class PcapRecords:
    """Sans-IO reader of a pcap byte stream (classic pcap, as ``tcpdump -w`` writes it).

    ``feed(data)`` returns the records completed by ``data`` as ``(ts, frame)``; a partly
    written record stays buffered until the rest arrives. ``linktype`` is known once the
    24-byte file header has arrived. A stream that is not pcap raises :class:`ReportError`.
    """

    def __init__(self) -> None:
        self._buf = bytearray()
        self._order: str | None = None
        self._divisor = 1e6
        self.linktype: int | None = None
        self.records = 0

    def feed(self, data: bytes) -> list[tuple[float, bytes]]:
        self._buf += data
        if self._order is None and not self._header():
            return []
        out: list[tuple[float, bytes]] = []
        at, buf, order = 0, self._buf, self._order
        while len(buf) - at >= RECORD_HEADER:
            sec, frac, caplen, _ = struct.unpack_from(f"{order}IIII", buf, at)
            if caplen > MAX_RECORD:
                raise ReportError(f"record {self.records + 1} claims {caplen} bytes: not a pcap stream")
            end = at + RECORD_HEADER + caplen
            if end > len(buf):
                break
            out.append((sec + frac / self._divisor, bytes(buf[at + RECORD_HEADER : end])))
            at = end
        del buf[:at]
        self.records += len(out)
        return out

    def _header(self) -> bool:
        if len(self._buf) < PCAP_HEADER:
            return False
        (magic,) = struct.unpack_from("<I", self._buf, 0)
        if magic not in PCAP_MAGICS:
            raise ReportError(f"not a pcap stream (magic 0x{magic:08x}; pcapng cannot be followed live)")
        self._order, self._divisor = PCAP_MAGICS[magic]
        self.linktype = struct.unpack_from(f"{self._order}I", self._buf, 20)[0] & 0x0FFFFFFF
        del self._buf[:PCAP_HEADER]
        return True


def pcap_bytes(frames: Iterable[tuple[float, bytes]], linktype: int) -> bytes:
    """A pcap file holding ``frames`` (e.g. one conversation's, for Wireshark)."""
    out = io.BytesIO()
    writer = dpkt.pcap.Writer(out, linktype=linktype)
    for ts, frame in frames:
        writer.writepkt(frame, ts=ts)
    return out.getvalue()
