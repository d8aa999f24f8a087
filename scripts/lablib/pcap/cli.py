"""``scripts/pcap-report``: the command line over the package. Exit status: 0 report written, 2 unusable input."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path

from .decode import ReportError, read_capture
from .ladder import ladder_svg
from .streams import Conversation, Line, TcpConversation, conversations
from .text import report


def pick_conversation(convs: list[Conversation], number: int | None) -> Conversation:
    if number is None:
        tcp = [c for c in convs if isinstance(c, TcpConversation)]
        if not (tcp or convs):
            raise ReportError("the capture holds no TCP or UDP conversation to draw")
        return (tcp or convs)[0]
    for conv in convs:
        if conv.number == number:
            return conv
    raise ReportError(f"no conversation #{number}: the capture has {len(convs)}")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="pcap-report",
        description="Report the TCP and UDP conversations of a capture: handshakes, lines, teardowns, "
        "request/reply times; optionally draw one as a ladder diagram (SVG).",
    )
    p.add_argument("capture", type=Path, help="a pcap or pcapng file")
    p.add_argument("--svg", type=Path, metavar="FILE", help="write the ladder diagram of one conversation")
    p.add_argument("--conversation", "-c", type=int, metavar="N", help="which one (default: the first TCP one)")
    p.add_argument("--quiet", "-q", action="store_true", help="no text report (with --svg)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        cap = read_capture(args.capture)
        convs = conversations(cap.packets)
        chosen = pick_conversation(convs, args.conversation) if args.svg or args.conversation else None
        if not args.quiet:
            shown = [chosen] if chosen and args.conversation else convs
            sys.stdout.write(report(cap, shown, str(args.capture)))
        if args.svg and chosen:
            args.svg.write_text(ladder_svg(chosen), encoding="utf-8")
            print(f"ladder of #{chosen.number} written to {args.svg}", file=sys.stderr)
    except (ReportError, OSError) as exc:
        print(f"pcap-report: {exc}", file=sys.stderr)
        return 2
    if cap.warning:
        print(f"pcap-report: warning: {cap.warning}", file=sys.stderr)
    return 0


def iter_lines(convs: Iterable[Conversation]) -> Iterator[tuple[int, Line]]:
    """Every TCP line of every conversation, numbered by conversation (for tests and scripts)."""
    for conv in convs:
        if isinstance(conv, TcpConversation):
            for line in conv.lines:
                yield conv.number, line
