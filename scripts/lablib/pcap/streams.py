"""Packets -> conversations, one packet at a time (pure: no I/O, no clock).

:class:`Tracker` is the one decoder behind both ``scripts/pcap-report`` (a whole file,
nothing forgotten) and ``scripts/lab watch`` (a live capture: ``Limits`` keep memory
bounded, old packets are summarised as counts). ``Tracker.feed(packet)`` returns an
:class:`Update` saying what the packet added: the conversation (new or not), its TCP
segment or UDP datagram, the lines it completed, the requests it showed were lost.

A TCP conversation's byte streams are reassembled by :class:`StreamAssembler`
(retransmitted bytes count once, early segments wait for the gap to fill) and split
into LF-terminated lines; every line and datagram gets a :class:`~.protocols.Note`
saying what it means in the lab's protocol.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from services.roles import PROTOCOL_PORTS

from .decode import ACK, FIN, RST, SYN, Packet, flag_names
from .protocols import Note, Reader, reader_for

SEQ_SPACE = 2**32
Endpoint = tuple[str, int]


def show_endpoint(ep: Endpoint) -> str:
    return f"[{ep[0]}]:{ep[1]}" if ":" in ep[0] else f"{ep[0]}:{ep[1]}"


ESCAPES = {'"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}
#: What quote() escapes: the quote itself, C0 controls, DEL and C1 controls.
TO_ESCAPE = re.compile('["\x00-\x1f\x7f-\x9f]')


def _escape(match: re.Match[str]) -> str:
    ch = match.group()
    return ESCAPES.get(ch) or f"\\x{ord(ch):02x}"


def quote(data: bytes) -> str:
    """Bytes as a double-quoted string: UTF-8 where valid, escapes for the rest and for controls."""
    text = data.decode("utf-8", errors="backslashreplace")
    return '"' + TO_ESCAPE.sub(_escape, text) + '"'


@dataclass(slots=True)
class Line:
    """One application line (TCP) or datagram (UDP), decoded for people to read."""

    t: float  # seconds since the conversation's first packet
    from_client: bool
    data: bytes
    frame: int
    complete: bool = True  # False: the stream ended (or gave up waiting) before its LF
    note: Note | None = None  # what it means in the lab protocol

    @property
    def text(self) -> str:
        return quote(self.data)


@dataclass(slots=True)
class Segment:
    """A TCP segment within its conversation, with numbers relative to each side's ISN."""

    frame: int
    t: float
    from_client: bool
    flags: int
    seq: int
    ack: int
    rel_seq: int
    rel_ack: int | None
    payload: bytes
    retransmission: bool = False
    out_of_order: bool = False

    @property
    def label(self) -> str:
        return flag_names(self.flags)


class StreamAssembler:
    """One direction of a TCP connection: bytes put back in sequence order, split into lines.

    Sequence numbers are taken relative to the first one seen (the SYN's when it was
    captured), modulo 2**32, so wrap-around is harmless for any stream under 4 GiB.
    ``lines`` collects ``(raw, t, frame)`` as lines complete; a caller may drain it.
    """

    def __init__(self) -> None:
        self.base: int | None = None  # sequence number of byte offset 0 (ISN + 1 after a SYN)
        self.next = 0  # offset of the next byte expected
        self.future: dict[int, tuple[bytes, float, int]] = {}  # offset -> (data, t, frame) arrived early
        self.partial = bytearray()
        self.lines: list[tuple[bytes, float, int]] = []

    def syn(self, seq: int) -> None:
        self.base = (seq + 1) % SEQ_SPACE

    def add(self, seq: int, data: bytes, t: float, frame: int) -> tuple[bool, bool]:
        """Take a segment's payload; return (was it a retransmission, did it arrive early)."""
        if self.base is None:
            self.base = seq
        offset = (seq - self.base) % SEQ_SPACE
        end = offset + len(data)
        if end <= self.next:
            return True, False
        if offset > self.next:
            self.future[offset] = (data, t, frame)
            return False, True
        overlap = offset < self.next  # partly old bytes: a retransmission that also brings new ones
        self._take(data[self.next - offset :], t, frame)
        # Segments that came early are delivered now: their lines complete at this moment.
        while ready := sorted(o for o in self.future if o <= self.next):
            for o in ready:
                d, _, _ = self.future.pop(o)
                if o + len(d) > self.next:
                    self._take(d[self.next - o :], t, frame)
        return overlap, False

    def _take(self, data: bytes, t: float, frame: int) -> None:
        self.next += len(data)
        self.partial += data
        if b"\n" not in data:
            return
        *complete, rest = bytes(self.partial).split(b"\n")
        for raw in complete:
            self.lines.append((raw.removesuffix(b"\r"), t, frame))
        self.partial = bytearray(rest)


@dataclass
class Conversation:
    number: int
    proto: str
    client: Endpoint
    server: Endpoint
    start: float  # capture timestamp of the first packet
    packets: int = 0
    service: str | None = None  # the lab protocol, from the server's port (services/roles.py)
    last: float = 0.0  # capture timestamp of the latest packet
    #: What Limits made the tracker forget: "segments"/"lines"/"datagrams"/"frames" -> count.
    forgotten: dict[str, int] = field(default_factory=dict)
    #: The captured frames ``(ts, bytes)`` when the tracker keeps them (for a per-conversation pcap).
    frames: list[tuple[float, bytes]] = field(default_factory=list, repr=False)
    reader: Reader = field(default_factory=Reader, repr=False)

    @property
    def title(self) -> str:
        svc = f" ({self.service})" if self.service else ""
        return f"{self.proto.upper()} {show_endpoint(self.client)} → {show_endpoint(self.server)}{svc}"


@dataclass
class TcpConversation(Conversation):
    segments: list[Segment] = field(default_factory=list)
    complete_lines: list[Line] = field(default_factory=list)
    isn: dict[bool, int] = field(default_factory=dict)  # from_client -> ISN
    saw_syn: bool = False
    closed: bool = False  # a FIN or RST was seen: a new SYN on the same ports is a new conversation
    closing_frame: int | None = None  # frame of the first FIN or RST
    streams: dict[bool, StreamAssembler] = field(
        default_factory=lambda: {True: StreamAssembler(), False: StreamAssembler()}, repr=False
    )

    @property
    def lines(self) -> list[Line]:
        """Both directions merged by time (within a direction the stream order stands), unfinished lines last."""
        unfinished = []
        for from_client, stream in self.streams.items():
            if stream.partial and self.segments:
                last = self.segments[-1]
                unfinished.append(Line(last.t, from_client, bytes(stream.partial), last.frame, complete=False))
        return sorted(self.complete_lines + unfinished, key=lambda line: (line.t, line.frame))

    def handshake(self) -> list[Segment]:
        """The SYN, SYN-ACK and ACK that open the connection (those that were captured)."""
        out: list[Segment] = []
        for seg in self.segments[:3]:
            expected = ("SYN", "SYN-ACK", "ACK")[len(out)]
            name = flag_names(seg.flags & (SYN | ACK))
            if name != expected or (expected == "ACK" and seg.payload):
                break
            out.append(seg)
        return out

    def teardown(self) -> list[Segment]:
        """From the first FIN or RST to the end of the conversation."""
        if self.closing_frame is None:
            return []
        return [s for s in self.segments if s.frame >= self.closing_frame]

    def data_segments(self) -> list[Segment]:
        return [s for s in self.segments if s.payload]

    def counts(self) -> dict[str, int]:
        return {
            "retransmitted": sum(s.retransmission for s in self.segments),
            "out_of_order": sum(s.out_of_order for s in self.segments),
        }


@dataclass
class Exchange:
    request: Line
    reply: Line | None = None

    @property
    def rtt(self) -> float | None:
        return None if self.reply is None else self.reply.t - self.request.t


@dataclass
class UdpConversation(Conversation):
    datagrams: list[Line] = field(default_factory=list)
    exchanges: list[Exchange] = field(default_factory=list)
    unsolicited: list[Line] = field(default_factory=list)
    waiting: list[Exchange] = field(default_factory=list, repr=False)  # requests without a reply yet


@dataclass(frozen=True)
class Limits:
    """How much a live tracker keeps; None = everything (a report of a file)."""

    conversations: int | None = None  # newest conversations kept
    items: int | None = None  # newest segments / lines / datagrams kept per conversation
    frames: int | None = None  # newest raw frames kept per conversation (0 = keep none)
    #: Bytes of a line without LF after which it is shown as unfinished and the stream moves on.
    pending_line: int | None = None


#: The watch page's limits: a busy chat room at 1,000 packets/s levels off at about 25 MB of
#: decoded state (benchmarks/watch.py); the page draws at most 300 arrows of a conversation.
LIVE_LIMITS = Limits(conversations=100, items=300, frames=500, pending_line=64 * 1024)
#: Segments at the start of a conversation that are never forgotten (the handshake).
HEAD_KEPT = 3


@dataclass
class Update:
    """What one packet changed."""

    conversation: Conversation
    new: bool
    segment: Segment | None = None
    datagram: Line | None = None
    lines: list[Line] = field(default_factory=list)  # lines this packet completed (TCP) or carried (UDP)
    lost: list[Exchange] = field(default_factory=list)  # UDP requests this request left unanswered
    reply_to: Exchange | None = None  # the request a UDP reply answers


def _is_server(proto: str, ep: Endpoint) -> bool:
    return (proto, ep[1]) in PROTOCOL_PORTS


def _roles(p: Packet) -> tuple[Endpoint, Endpoint]:
    """(client, server) for the first packet of a conversation."""
    src, dst = (p.src, p.sport), (p.dst, p.dport)
    if p.proto == "tcp" and p.flags & SYN:
        return (src, dst) if not p.flags & ACK else (dst, src)
    if _is_server(p.proto, src) and not _is_server(p.proto, dst):
        return dst, src
    if _is_server(p.proto, dst):
        return src, dst
    if p.proto == "tcp":  # no SYN, no lab port: the lower port is the likelier server
        return (src, dst) if p.sport > p.dport else (dst, src)
    return src, dst  # UDP: whoever speaks first asks


class Tracker:
    """Groups packets into TCP connections and UDP flows as they are fed, in order of their first packet."""

    def __init__(self, limits: Limits = Limits()) -> None:
        self.limits = limits
        self.conversations: list[Conversation] = []
        self.started = 0  # conversations ever started (numbers them)
        self.forgotten = 0  # conversations dropped by Limits.conversations
        self._open: dict[tuple, Conversation] = {}

    def feed(self, p: Packet, raw: bytes | None = None) -> Update:
        key = (p.proto, *sorted([(p.src, p.sport), (p.dst, p.dport)]))
        conv = self._open.get(key)
        new_syn = p.proto == "tcp" and p.flags & SYN and not p.flags & ACK
        new = conv is None or bool(new_syn and isinstance(conv, TcpConversation) and conv.closed)
        if new:
            conv = self._start(key, p)
        assert conv is not None
        conv.packets += 1
        conv.last = p.ts
        if raw is not None and self.limits.frames != 0:
            conv.frames.append((p.ts, raw))
            self._trim(conv, conv.frames, "frames", self.limits.frames, head=HEAD_KEPT)
        update = Update(conv, new)
        if isinstance(conv, TcpConversation):
            self._segment(conv, p, update)
        else:
            self._datagram(conv, p, update)  # type: ignore[arg-type]
        return update

    def _start(self, key: tuple, p: Packet) -> Conversation:
        client, server = _roles(p)
        kind = TcpConversation if p.proto == "tcp" else UdpConversation
        self.started += 1
        service = PROTOCOL_PORTS.get((p.proto, server[1]))
        conv = kind(self.started, p.proto, client, server, p.ts, service=service, reader=reader_for(service))
        self.conversations.append(conv)
        self._open[key] = conv
        cap = self.limits.conversations
        if cap is not None and len(self.conversations) > cap:
            for old in self.conversations[: len(self.conversations) - cap]:
                old_key = (old.proto, *sorted([old.client, old.server]))
                if self._open.get(old_key) is old:
                    del self._open[old_key]
            self.forgotten += len(self.conversations) - cap
            del self.conversations[: len(self.conversations) - cap]
        return conv

    def _segment(self, conv: TcpConversation, p: Packet, update: Update) -> None:
        from_client = (p.src, p.sport) == conv.client
        if p.flags & SYN:
            conv.isn[from_client] = p.seq
            conv.saw_syn = True
            conv.streams[from_client].syn(p.seq)
        own_isn = conv.isn.setdefault(from_client, (p.seq - 1) % SEQ_SPACE)
        peer_isn = conv.isn.get(not from_client)
        rel_ack = None
        if p.flags & ACK:
            peer_isn = conv.isn.setdefault(not from_client, (p.ack - 1) % SEQ_SPACE) if peer_isn is None else peer_isn
            rel_ack = (p.ack - peer_isn) % SEQ_SPACE
        t = p.ts - conv.start
        rel_seq = (p.seq - own_isn) % SEQ_SPACE
        seg = Segment(p.frame, t, from_client, p.flags, p.seq, p.ack, rel_seq, rel_ack, p.payload)
        if p.payload:
            stream = conv.streams[from_client]
            if stream.base is None:
                stream.base = (own_isn + 1) % SEQ_SPACE
            seg.retransmission, seg.out_of_order = stream.add(p.seq, p.payload, t, p.frame)
            update.lines = self._drain(conv, stream, from_client, t, p.frame)
        if p.flags & (FIN | RST):
            conv.closed = True
            conv.closing_frame = p.frame if conv.closing_frame is None else conv.closing_frame
        conv.segments.append(seg)
        self._trim(conv, conv.segments, "segments", self.limits.items, head=HEAD_KEPT)
        update.segment = seg

    def _drain(self, conv: TcpConversation, stream: StreamAssembler, from_client: bool, t: float, frame: int):
        """The lines the stream completed, read by the protocol reader and kept on the conversation."""
        new = [Line(lt, from_client, raw, lf) for raw, lt, lf in stream.lines]
        stream.lines.clear()
        limit = self.limits.pending_line
        if limit is not None and len(stream.partial) > limit:  # no LF in sight: show it, move on
            new.append(Line(t, from_client, bytes(stream.partial), frame, complete=False))
            stream.partial.clear()
        for line in new:
            line.note = conv.reader.note(line.data.decode("utf-8", "replace"), from_client)
        conv.complete_lines += new
        self._trim(conv, conv.complete_lines, "lines", self.limits.items)
        return new

    def _datagram(self, conv: UdpConversation, p: Packet, update: Update) -> None:
        from_client = (p.src, p.sport) == conv.client
        line = Line(p.ts - conv.start, from_client, p.payload, p.frame)
        line.note = conv.reader.note(p.payload.decode("utf-8", "replace").rstrip("\r\n"), from_client)
        conv.datagrams.append(line)
        update.datagram, update.lines = line, [line]
        # A reply answers the latest unanswered request before it. UDP requests carry no id; a
        # client that times out sends its next request, so a lost request must not steal the
        # next request's reply: the newest one is the best guess.
        if from_client:
            update.lost = list(conv.waiting)
            exchange = Exchange(line)
            conv.exchanges.append(exchange)
            conv.waiting.append(exchange)
        elif conv.waiting:
            exchange = conv.waiting.pop()
            exchange.reply, update.reply_to = line, exchange
        else:
            conv.unsolicited.append(line)
        for name, items in (("datagrams", conv.datagrams), ("exchanges", conv.exchanges)):
            self._trim(conv, items, name, self.limits.items)
        self._trim(conv, conv.unsolicited, "unsolicited", self.limits.items)
        self._trim(conv, conv.waiting, "waiting", self.limits.items)

    @staticmethod
    def _trim(conv: Conversation, items: list, name: str, cap: int | None, head: int = 0) -> None:
        """Forget the oldest items beyond ``cap`` (keeping the first ``head``), in chunks so it costs O(1) per item."""
        if cap is None or len(items) <= cap + max(cap // 4, 1):
            return
        excess = len(items) - cap
        del items[head : head + excess]
        conv.forgotten[name] = conv.forgotten.get(name, 0) + excess


def conversations(packets: Iterable[Packet], raw: Mapping[int, bytes] | None = None) -> list[Conversation]:
    """Every conversation of ``packets`` (nothing forgotten), in order of their first packet.

    With ``raw`` (``Capture.raw`` of ``read_capture(path, keep_raw=True)``) each conversation
    also keeps its frames' bytes in ``frames`` (for a hex dump, or ``pcap_bytes``).
    """
    tracker = Tracker()
    for p in packets:
        tracker.feed(p, raw=raw.get(p.frame) if raw else None)
    return tracker.conversations
