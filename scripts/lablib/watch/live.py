"""A growing capture, decoded as it is written, turned into the page's JSON (no I/O, no clock).

:class:`LiveCapture` takes the bytes of the capture file as they arrive
(``consume(chunk)``), decodes them with the same decoder as ``scripts/pcap-report``
(``lablib.pcap``: :class:`~lablib.pcap.PcapRecords`, :func:`~lablib.pcap.decode_frame`,
:class:`~lablib.pcap.Tracker` with :data:`~lablib.pcap.LIVE_LIMITS`) and returns a
:class:`Batch`: the arrows, lines and lost requests these packets added, and the
conversations they changed, ready for ``json.dumps``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lablib import pcap

#: Packets in one batch beyond which the page gets a fresh snapshot instead of every arrow
#: (catching up with a long capture, or a burst): the page must not draw thousands at once.
MAX_BATCH_PACKETS = 5000


def conversation_json(conv: pcap.Conversation) -> dict[str, Any]:
    """What the conversation list and the map show of a conversation."""
    if isinstance(conv, pcap.TcpConversation):
        items: list[pcap.Line] = conv.complete_lines
        closed = conv.closed
    else:
        items = conv.datagrams  # type: ignore[attr-defined]
        closed = False
    notes = [line.note.info for line in items[-3:] if line.note and line.note.kind != "line"]
    return {
        "number": conv.number,
        "proto": conv.proto,
        "service": conv.service,
        "title": conv.title,
        "client": list(conv.client),
        "server": list(conv.server),
        "start": conv.start,
        "last": conv.last,
        "packets": conv.packets,
        "closed": closed,
        "notes": notes,
        "forgotten": dict(conv.forgotten),
    }


def arrow_json(conv: pcap.Conversation, arrow: pcap.Arrow) -> dict[str, Any]:
    return {
        "conv": conv.number,
        "ts": conv.start + arrow.t,
        "t": arrow.t,
        "frame": arrow.frame,
        "from_client": arrow.from_client,
        "label": arrow.label,
        "detail": arrow.detail,
        "style": arrow.style,
        "notes": list(arrow.notes),
    }


def line_json(conv: pcap.Conversation, line: pcap.Line) -> dict[str, Any]:
    return {
        "conv": conv.number,
        "frame": line.frame,
        "t": line.t,
        "from_client": line.from_client,
        "text": line.text,
        "note": line.note.info if line.note else "",
        "kind": line.note.kind if line.note else "line",
        "complete": line.complete,
    }


def detail_json(conv: pcap.Conversation) -> dict[str, Any]:
    """One conversation in full (as far as it is kept): its ladder arrows and its Follow Stream lines."""
    items = conv.lines if isinstance(conv, pcap.TcpConversation) else conv.datagrams  # type: ignore[attr-defined]
    return {
        **conversation_json(conv),
        "arrows": [arrow_json(conv, a) for a in pcap.ladder_arrows(conv)],
        "lines": [line_json(conv, line) for line in items],
    }


@dataclass
class Batch:
    """What a chunk of the capture added; ``snapshot`` True means "too much: reload the state"."""

    packets: int = 0
    arrows: list[dict] = field(default_factory=list)
    lines: list[dict] = field(default_factory=list)
    lost: list[dict] = field(default_factory=list)
    conversations: dict[int, pcap.Conversation] = field(default_factory=dict)
    snapshot: bool = False

    def __bool__(self) -> bool:
        return self.packets > 0

    def to_json(self, total: int) -> dict[str, Any]:
        return {
            "total": total,
            "packets": self.packets,
            "arrows": self.arrows,
            "lines": self.lines,
            "lost": self.lost,
            "conversations": [conversation_json(c) for c in self.conversations.values()],
        }


class LiveCapture:
    """One capture file followed from its first byte; ``consume`` feeds it, ``state`` describes it."""

    def __init__(self, name: str, limits: pcap.Limits = pcap.LIVE_LIMITS) -> None:
        self.name = name
        self.records = pcap.PcapRecords()
        self.tracker = pcap.Tracker(limits)
        self.frames = 0
        self.packets = 0
        self.skipped: dict[str, int] = {}
        self.error: str | None = None

    def consume(self, chunk: bytes) -> Batch:
        batch = Batch()
        if self.error:
            return batch
        try:
            records = self.records.feed(chunk)
        except pcap.ReportError as exc:
            self.error = str(exc)
            return batch
        for ts, frame in records:
            self.frames += 1
            got = pcap.decode_frame(self.frames, ts, frame, self.records.linktype or 0)
            if isinstance(got, str):
                self.skipped[got] = self.skipped.get(got, 0) + 1
                continue
            self._add(batch, self.tracker.feed(got, raw=frame))
        self.packets += batch.packets
        if batch.packets > MAX_BATCH_PACKETS:
            batch.arrows, batch.lines, batch.lost, batch.snapshot = [], [], [], True
        return batch

    def _add(self, batch: Batch, update: pcap.Update) -> None:
        conv = update.conversation
        batch.packets += 1
        batch.conversations[conv.number] = conv
        if batch.packets > MAX_BATCH_PACKETS:
            return  # the page will get a snapshot: no need to describe each packet
        if update.segment is not None:
            arrow = pcap.segment_arrow(conv, update.segment, update.lines)  # type: ignore[arg-type]
        else:
            assert update.datagram is not None
            gap = self._gap(conv, update.datagram)
            rtt = update.reply_to.rtt if update.reply_to else None
            arrow = pcap.datagram_arrow(update.datagram, gap=gap, rtt=rtt)
        batch.arrows.append(arrow_json(conv, arrow))
        batch.lines += [line_json(conv, line) for line in update.lines]
        batch.lost += [{"conv": conv.number, "frame": ex.request.frame} for ex in update.lost]

    @staticmethod
    def _gap(conv: pcap.Conversation, d: pcap.Line) -> float | None:
        """Seconds since the client's previous request (None for a reply or a first request)."""
        if not d.from_client:
            return None
        exchanges = conv.exchanges  # type: ignore[attr-defined]
        return d.t - exchanges[-2].request.t if len(exchanges) >= 2 else None

    def conversation(self, number: int) -> pcap.Conversation | None:
        return next((c for c in self.tracker.conversations if c.number == number), None)

    def state(self) -> dict[str, Any]:
        return {
            "capture": self.name,
            "total": self.packets,
            "frames": self.frames,
            "skipped": self.skipped,
            "error": self.error,
            "forgotten": self.tracker.forgotten,
            "conversations": [conversation_json(c) for c in self.tracker.conversations],
        }

    def conversation_pcap(self, number: int) -> bytes | None:
        conv = self.conversation(number)
        if conv is None or self.records.linktype is None:
            return None
        return pcap.pcap_bytes(conv.frames, self.records.linktype)
