"""The text report: per conversation its handshake, lines (with what they mean), teardown or exchanges."""

from __future__ import annotations

from .decode import LINKTYPE_NAMES, RST, Capture
from .streams import Conversation, Line, Segment, TcpConversation, UdpConversation, show_endpoint

REPORT_TEXT = 160  # characters of a message shown in the text report


def _arrow(from_client: bool) -> str:
    return "C → S" if from_client else "S → C"


def _numbers(seg: Segment) -> str:
    text = f"seq={seg.seq} (rel {seg.rel_seq})"
    if seg.rel_ack is not None:
        text += f"  ack={seg.ack} (rel {seg.rel_ack})"
    return text


def _segment_row(seg: Segment) -> str:
    extra = f"  len={len(seg.payload)}" if seg.payload else ""
    return f"    +{seg.t:.6f}  {_arrow(seg.from_client)}  {seg.label:<8} {_numbers(seg)}{extra}"


def clip(msg: Line) -> str:
    """A message for the report: whole unless it is longer than a screen line or two."""
    text = msg.text
    return text if len(text) <= REPORT_TEXT else f'{text[: REPORT_TEXT - 2]}…" ({len(msg.data)} bytes)'


def _meaning(line: Line) -> str:
    return f"   [{line.note.info}]" if line.note and line.note.kind != "line" else ""


def _forgotten(conv: Conversation) -> list[str]:
    if not conv.forgotten:
        return []
    what = ", ".join(f"{n} {name}" for name, n in conv.forgotten.items())
    return [f"  forgotten to bound memory: {what}"]


def tcp_report(conv: TcpConversation, capture_start: float) -> list[str]:
    out = [
        f"#{conv.number} {conv.title}",
        f"  client {show_endpoint(conv.client)}, server {show_endpoint(conv.server)}; "
        f"starts +{conv.start - capture_start:.6f} s into the capture, {conv.packets} packets",
    ]
    hs = conv.handshake()
    if hs:
        complete = "" if len(hs) == 3 else f" (incomplete: {len(hs)} of 3 captured)"
        out.append(f"  handshake{complete}")
        out += [_segment_row(s) for s in hs]
    else:
        out.append("  handshake: not captured (the capture began after the connection opened)")
    lines = conv.lines
    out.append(f"  lines ({len(lines)})")
    for line in lines:
        tail = "" if line.complete else "   [no LF before the end]"
        out.append(f"    +{line.t:.6f}  {_arrow(line.from_client)}  {clip(line)}{tail}{_meaning(line)}")
    down = conv.teardown()
    if down:
        how = "RST" if any(s.flags & RST for s in down) else "FIN/ACK"
        out.append(f"  teardown ({how})")
        out += [_segment_row(s) for s in down]
    else:
        out.append("  teardown: none captured (still open at the end of the capture)")
    notes = [f"{k.replace('_', ' ')}: {n}" for k, n in conv.counts().items() if n]
    if notes:
        frames = [str(s.frame) for s in conv.segments if s.retransmission or s.out_of_order]
        out.append(f"  anomalies: {', '.join(notes)} (frames {', '.join(frames)}); bytes counted once, in order")
    return out + _forgotten(conv)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.3f} ms"


def udp_report(conv: UdpConversation, capture_start: float) -> list[str]:
    out = [
        f"#{conv.number} {conv.title}",
        f"  client {show_endpoint(conv.client)}, server {show_endpoint(conv.server)}; "
        f"starts +{conv.start - capture_start:.6f} s into the capture, {conv.packets} datagrams",
    ]
    for ex in conv.exchanges:
        req = f"    +{ex.request.t:.6f}  request {clip(ex.request)}"
        if ex.reply is None:
            out.append(f"{req}  →  no reply (unanswered)")
        else:
            out.append(f"{req}  →  reply {clip(ex.reply)}  rtt {ms(ex.rtt or 0.0)}")
    for d in conv.unsolicited:
        out.append(f"    +{d.t:.6f}  reply without a request {clip(d)}")
    rtts = [ex.rtt for ex in conv.exchanges if ex.rtt is not None]
    unanswered = sum(ex.reply is None for ex in conv.exchanges)
    summary = f"  {len(conv.exchanges)} requests, {len(rtts)} answered, {unanswered} unanswered"
    if rtts:
        summary += f"; rtt min/avg/max {ms(min(rtts))} / {ms(sum(rtts) / len(rtts))} / {ms(max(rtts))}"
    out.append(summary)
    return out + _forgotten(conv)


def follow_stream(conv: Conversation) -> list[str]:
    """The conversation as Wireshark's Follow Stream shows it: one row per line or datagram, by direction."""
    items = conv.lines if isinstance(conv, TcpConversation) else conv.datagrams  # type: ignore[attr-defined]
    return [f"+{line.t:.6f}  {_arrow(line.from_client)}  {clip(line)}{_meaning(line)}" for line in items]


def report(cap: Capture, convs: list[Conversation], name: str = "") -> str:
    kinds = {"tcp": 0, "udp": 0}
    for p in cap.packets:
        kinds[p.proto] += 1
    link = LINKTYPE_NAMES.get(cap.linktype, f"link type {cap.linktype}")
    head = [
        f"capture {name}".rstrip(),
        f"  {cap.fmt}, {link}, {cap.frames} frames: {kinds['tcp']} TCP, {kinds['udp']} UDP",
    ]
    if cap.skipped:
        head.append("  skipped: " + ", ".join(f"{n} {why}" for why, n in sorted(cap.skipped.items())))
    if cap.warning:
        head.append(f"  warning: {cap.warning}")
    head.append(f"  {len(convs)} conversations; times are seconds since each conversation's first packet")
    start = cap.packets[0].ts if cap.packets else 0.0
    blocks = ["\n".join(head)]
    for conv in convs:
        render = tcp_report if isinstance(conv, TcpConversation) else udp_report
        blocks.append("\n".join(render(conv, start)))  # type: ignore[arg-type]
    return "\n\n".join(blocks) + "\n"
