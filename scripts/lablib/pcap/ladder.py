"""Ladder (message sequence) diagrams: one :class:`Arrow` per packet, and a standalone SVG.

:func:`segment_arrow` and :func:`datagram_arrow` describe one packet as it arrives (the
watch page draws them live); :func:`ladder_arrows` describes a whole conversation and
:func:`ladder_svg` draws it (``scripts/pcap-report --svg``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape as xml_escape

from .streams import Conversation, Line, Segment, TcpConversation, UdpConversation, quote, show_endpoint

TEXT_PREVIEW = 48  # characters of a message shown on a ladder arrow
MAX_LADDER_EVENTS = 400  # arrows drawn at most; a longer conversation says how many were left out


@dataclass
class Arrow:
    t: float
    from_client: bool
    label: str
    detail: str
    style: str  # handshake | data | ack | teardown | retrans | udp | lost
    frame: int = 0
    notes: tuple[str, ...] = ()  # what the lines this packet completed mean (protocols.Note.info)


def preview(data: bytes) -> str:
    text = quote(data)
    return text if len(text) <= TEXT_PREVIEW else text[: TEXT_PREVIEW - 2] + '…"'


def _notes(lines: Sequence[Line]) -> tuple[str, ...]:
    return tuple(line.note.info for line in lines if line.note)


def segment_arrow(conv: TcpConversation, s: Segment, lines: Sequence[Line] = ()) -> Arrow:
    """The arrow of one TCP segment; ``lines``: the lines it completed."""
    detail = f"seq={s.rel_seq}" + (f" ack={s.rel_ack}" if s.rel_ack is not None else "")
    if s.payload:  # the label shows the bytes, so the detail names the flags
        detail = f"{s.label} {detail} len={len(s.payload)}"
    if s.retransmission or s.out_of_order:
        style, label = "retrans", ("retransmission " if s.retransmission else "out of order ") + preview(s.payload)
    elif s.payload:
        style, label = "data", preview(s.payload)
    elif any(h is s for h in conv.handshake()):
        style, label = "handshake", s.label
    elif conv.closing_frame is not None and s.frame >= conv.closing_frame:
        style, label = "teardown", s.label
    else:
        style, label = "ack", s.label
    return Arrow(s.t, s.from_client, label, detail, style, s.frame, _notes(lines))


def datagram_arrow(d: Line, gap: float | None = None, rtt: float | None = None, lost: bool = False) -> Arrow:
    """The arrow of one UDP datagram: a request with the gap since the previous one, or a reply with its rtt."""
    detail = f"{len(d.data)} bytes"
    if rtt is not None:
        detail += f", reply after {rtt * 1000:.3f} ms"
    if gap is not None:
        detail += f", {gap:.3f} s after the previous request"
    label = ("lost? no reply " if lost else "") + preview(d.data)
    return Arrow(d.t, d.from_client, label, detail, "lost" if lost else "udp", d.frame, _notes([d]))


def _udp_arrows(conv: UdpConversation) -> list[Arrow]:
    by_request = {id(ex.request): ex for ex in conv.exchanges}
    by_reply = {id(ex.reply): ex for ex in conv.exchanges if ex.reply is not None}
    last_request = conv.exchanges[-1].request if conv.exchanges else None
    arrows, previous = [], None
    for d in conv.datagrams:
        if d.from_client:
            ex = by_request.get(id(d))
            lost = ex is not None and ex.reply is None and d is not last_request
            arrows.append(datagram_arrow(d, gap=None if previous is None else d.t - previous, lost=lost))
            previous = d.t
        else:
            ex = by_reply.get(id(d))
            arrows.append(datagram_arrow(d, rtt=ex.rtt if ex else None))
    return arrows


def ladder_arrows(conv: Conversation) -> list[Arrow]:
    """Every packet of the conversation (as far as it was kept) as an arrow, in capture order."""
    if isinstance(conv, UdpConversation):
        return _udp_arrows(conv)
    assert isinstance(conv, TcpConversation)
    completed: dict[int, list[Line]] = {}
    for line in conv.lines:
        completed.setdefault(line.frame, []).append(line)
    return [segment_arrow(conv, s, completed.get(s.frame, [])) for s in conv.segments]


SVG_STYLE = """
  text { font-family: ui-monospace, 'DejaVu Sans Mono', Menlo, Consolas, monospace; fill: #24292f; }
  .title { font-size: 15px; font-weight: bold; font-family: system-ui, 'DejaVu Sans', sans-serif; }
  .host { font-size: 13px; font-weight: bold; }
  .role { font-size: 11px; fill: #57606a; }
  .label { font-size: 12.5px; }
  .detail { font-size: 10.5px; fill: #57606a; }
  .time { font-size: 10.5px; fill: #57606a; }
  .life { stroke: #8c959f; stroke-width: 1.5; stroke-dasharray: 5 4; }
  .box { fill: #f6f8fa; stroke: #8c959f; }
  .a-handshake { stroke: #0969da; } .t-handshake { fill: #0969da; font-weight: bold; }
  .a-data { stroke: #1a7f37; } .t-data { fill: #1a7f37; }
  .a-udp { stroke: #8250df; } .t-udp { fill: #8250df; }
  .a-lost { stroke: #cf222e; stroke-dasharray: 2 3; } .t-lost { fill: #cf222e; }
  .a-teardown { stroke: #cf222e; } .t-teardown { fill: #cf222e; font-weight: bold; }
  .a-ack { stroke: #afb8c1; stroke-dasharray: 3 3; } .t-ack { fill: #8c959f; }
  .a-retrans { stroke: #bc4c00; stroke-dasharray: 6 3; } .t-retrans { fill: #bc4c00; }
"""
COLORS = {
    "handshake": "#0969da",
    "data": "#1a7f37",
    "udp": "#8250df",
    "lost": "#cf222e",
    "teardown": "#cf222e",
    "ack": "#afb8c1",
    "retrans": "#bc4c00",
}
LEGEND = (
    ("handshake", "handshake"),
    ("data", "data"),
    ("ack", "pure ACK"),
    ("teardown", "teardown"),
    ("retrans", "retransmitted / reordered"),
    ("udp", "UDP datagram"),
    ("lost", "request without reply"),
)
WIDTH, X_CLIENT, X_SERVER, TOP, STEP = 1000, 300, 820, 124, 54


def _header(conv: Conversation, height: int) -> list[str]:
    markers = "".join(
        f'<marker id="head-{k}" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" '
        f'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="{c}"/></marker>'
        for k, c in COLORS.items()
    )
    svg = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        f'viewBox="0 0 {WIDTH} {height}" role="img">',
        f"<title>{xml_escape(conv.title)}</title>",
        f"<style>{SVG_STYLE}</style>",
        f"<defs>{markers}</defs>",
        f'<rect width="{WIDTH}" height="{height}" fill="#ffffff"/>',
        f'<text class="title" x="{WIDTH // 2}" y="26" text-anchor="middle">{xml_escape(conv.title)}</text>',
    ]
    for x, role, ep in ((X_CLIENT, "client", conv.client), (X_SERVER, "server", conv.server)):
        svg += [
            f'<rect class="box" x="{x - 120}" y="44" width="240" height="46" rx="6"/>',
            f'<text class="host" x="{x}" y="64" text-anchor="middle">{xml_escape(show_endpoint(ep))}</text>',
            f'<text class="role" x="{x}" y="81" text-anchor="middle">{role}</text>',
            f'<line class="life" x1="{x}" y1="90" x2="{x}" y2="{height - 30}"/>',
        ]
    svg.append(f'<text class="time" x="16" y="{TOP - 14}">time (s)</text>')
    return svg


def _arrow_svg(a: Arrow, y: int) -> list[str]:
    x1, x2 = (X_CLIENT, X_SERVER) if a.from_client else (X_SERVER, X_CLIENT)
    mid = (X_CLIENT + X_SERVER) // 2
    note = f'<text class="detail" x="{x2 + (12 if x2 > x1 else -12)}" y="{y + 22}" ' + (
        f'text-anchor="{"start" if x2 > x1 else "end"}">{xml_escape("; ".join(a.notes))}</text>'
    )
    return [
        f'<text class="time" x="16" y="{y + 14}">+{a.t:.6f}</text>',
        f'<line class="a-{a.style}" x1="{x1}" y1="{y + 4}" x2="{x2}" y2="{y + 18}" stroke-width="1.6" '
        f'marker-end="url(#head-{a.style})"/>',
        f'<text class="label t-{a.style}" x="{mid}" y="{y - 2}" text-anchor="middle">{xml_escape(a.label)}</text>',
        f'<text class="detail" x="{mid}" y="{y + 32}" text-anchor="middle">{xml_escape(a.detail)}</text>',
        *([note] if a.notes else []),
    ]


def ladder_svg(conv: Conversation, max_events: int = MAX_LADDER_EVENTS, arrows: Sequence[Arrow] | None = None) -> str:
    """A standalone SVG: client and server lifelines, one arrow per packet, times on the left.

    ``arrows``: draw these instead of every packet's (e.g. only a handshake's).
    """
    arrows = list(ladder_arrows(conv) if arrows is None else arrows)
    left_out = max(0, len(arrows) - max_events)
    arrows = arrows[:max_events]
    height = TOP + STEP * len(arrows) + (90 if left_out else 70)
    svg = _header(conv, height)
    for i, a in enumerate(arrows):
        svg += _arrow_svg(a, TOP + i * STEP)
    if left_out:
        y = TOP + len(arrows) * STEP + 10
        svg.append(
            f'<text class="detail" x="{WIDTH // 2}" y="{y}" text-anchor="middle">… {left_out} more packets '
            "not drawn</text>"
        )
    x = 24
    for style, name in LEGEND:
        svg += [
            f'<line class="a-{style}" x1="{x}" y1="{height - 14}" x2="{x + 26}" y2="{height - 14}" stroke-width="2"/>',
            f'<text class="detail" x="{x + 32}" y="{height - 10}">{name}</text>',
        ]
        x += 48 + 7 * len(name)
    svg.append("</svg>")
    return "\n".join(svg) + "\n"
