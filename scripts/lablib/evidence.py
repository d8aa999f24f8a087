"""Evidence for your lab report, from your own capture and logs: SVG ladders and Markdown to paste in.

    scripts/lab evidence                           # the newest capture in captures/, the running lab's logs
    scripts/lab evidence captures/lab-X.pcap --out report-evidence
    scripts/lab evidence my.pcap --logs saved-logs # logs from files ROLE.log (calc-server.log, ...)

It writes OUT/evidence.md (default: next to the capture, CAPTURE-evidence/) with, for
each thing the report questions ask you to show, what the capture holds:

  handshake.svg   the three-way handshake of one TCP connection (flags, sequence numbers)
  data            one data segment with its text visible (hex and ASCII, as Wireshark's bytes pane)
  datetime        the date/time requests, replies and the gaps between requests
  calc.svg        the calculator session, with the server's log lines (Session ended)
  chat            each member's login, the join notices and the relayed lines

and says plainly what the capture lacks and how to get it. The logs come from the
running lab (your own program's container when `scripts/lab own` put it in a role's
place, else the reference server), or with --logs from files named ROLE.log.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from lablib import pcap
from lablib.pcap import Conversation, Segment, TcpConversation, UdpConversation

#: Roles whose output the evidence quotes.
LOGGED_ROLES = ("calc-server", "chat-server")
OWN_ROLE_LABEL = "org.socklab.own.role"  # lablib.own.ROLE_LABEL (own imports docker-heavy modules)
HEX_ROW = 16  # bytes per hex dump row, as tshark -x prints them
MAX_ROWS = 60  # table rows shown per exchange before "... N more"
LADDER_EVENTS = 60  # arrows drawn at most in one ladder
EVIDENCE_FILE = "evidence.md"
ENDPOINT = re.compile(r"\d+\.\d+\.\d+\.\d+:\d+")  # an IPv4 address:port in a log line


class EvidenceError(Exception):
    pass


@dataclass
class Found:
    """What one report question can show: Markdown, maybe an SVG, and what is missing for it."""

    markdown: list[str] = field(default_factory=list)
    svgs: dict[str, str] = field(default_factory=dict)  # file name -> SVG text
    lacks: list[str] = field(default_factory=list)


@dataclass
class Sources:
    capture: pcap.Capture
    path: Path
    convs: list[Conversation]
    logs: dict[str, str]  # role -> its output
    logs_from: str  # where the logs came from, for people


# -- helpers -----------------------------------------------------------------------------------------------


def hex_dump(frame: bytes) -> str:
    """The frame as ``tshark -x`` shows it: offset, 16 bytes in hex, the same bytes as ASCII."""
    rows = []
    for offset in range(0, len(frame), HEX_ROW):
        chunk = frame[offset : offset + HEX_ROW]
        hexes = " ".join(f"{b:02x}" for b in chunk)
        text = "".join(chr(b) if 32 <= b < 127 else "." for b in chunk)
        rows.append(f"{offset:04x}  {hexes:<{HEX_ROW * 3 - 1}}   {text}")
    return "\n".join(rows)


def raw_frame(path: Path, number: int) -> bytes:
    """Frame ``number`` (from 1, as Wireshark counts) of a pcap or pcapng file, as captured."""
    import dpkt

    with path.open("rb") as handle:
        for index, (_ts, frame) in enumerate(dpkt.pcap.UniversalReader(handle), start=1):
            if index == number:
                return bytes(frame)
    raise EvidenceError(f"{path} has no frame {number}")


def of_service(convs: list[Conversation], kind: type, service: str) -> list:
    return [c for c in convs if isinstance(c, kind) and c.service == service]


def direction(from_client: bool) -> str:
    return "client → server" if from_client else "server → client"


def code(lines: list[str]) -> list[str]:
    return ["```", *lines, "```", ""]


def table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> list[str]:
    shown = rows[:MAX_ROWS]
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in shown]
    if len(rows) > MAX_ROWS:
        out.append(f"| … {len(rows) - MAX_ROWS} more |" + " |" * (len(header) - 1))
    return [*out, ""]


def log_excerpt(sources: Sources, role: str, wanted: Callable[[str], bool]) -> list[str]:
    text = sources.logs.get(role)
    if text is None:
        return [f"No {role} log ({sources.logs_from}): run `scripts/lab evidence` while the lab is up, "
                f"or pass --logs DIR with {role}.log.", ""]  # fmt: skip
    lines = [line for line in text.splitlines() if wanted(line)]
    if not lines:
        return [f"The {role} log ({sources.logs_from}) has no line about this session.", ""]
    return [f"The {role} log ({sources.logs_from}):", "", *code(lines)]


# -- one builder per report question -----------------------------------------------------------------------


def handshake_conv(sources: Sources) -> tuple[TcpConversation | None, list[str]]:
    echo = [c for c in of_service(sources.convs, TcpConversation, "echo") if len(c.handshake()) == 3]
    if echo:
        return echo[-1], []  # the latest: most likely the user's own
    lacks = ["no TCP echo conversation in this capture: run the TCP client first "
             "(`docker compose run --rm tcp-echo-client`, or your own TCP client against tcp-echo-server)"]  # fmt: skip
    other = [c for c in sources.convs if isinstance(c, TcpConversation) and len(c.handshake()) == 3]
    return (other[0] if other else None), lacks


def segment_row(s: Segment) -> tuple[str, ...]:
    ack = f"{s.ack} (rel {s.rel_ack})" if s.rel_ack is not None else "-"
    return (str(s.frame), f"+{s.t:.6f}", direction(s.from_client), s.label, f"{s.seq} (rel {s.rel_seq})", ack)


def raw_numbers(s: Segment) -> str:
    """A ladder arrow's detail: raw seq/ack with the relative ones, as the table shows them."""
    ack = f"  ack={s.ack} (rel {s.rel_ack})" if s.rel_ack is not None else ""
    return f"seq={s.seq} (rel {s.rel_seq}){ack}"


def handshake(sources: Sources) -> Found:
    conv, lacks = handshake_conv(sources)
    found = Found(lacks=lacks)
    if conv is None:
        found.lacks.append("no complete TCP handshake (SYN, SYN-ACK, ACK) in this capture")
        return found
    segments = conv.handshake()
    arrows = [replace(pcap.segment_arrow(conv, s), detail=raw_numbers(s)) for s in segments]
    found.svgs["handshake.svg"] = pcap.ladder_svg(conv, arrows=arrows)
    found.markdown += [
        f"The three-way handshake of {conv.title} (conversation #{conv.number}); "
        "seq and ack are the raw numbers, Wireshark's relative ones in brackets:",
        "",
        "![the TCP three-way handshake](handshake.svg)",
        "",
        *table(("frame", "time", "direction", "flags", "seq", "ack"), [segment_row(s) for s in segments]),
        f"Wireshark: `tcp.stream` of this connection, or `ip.addr == {conv.client[0]} && tcp.port == "
        f"{conv.client[1]} && tcp.flags.syn == 1`.",
        "",
    ]
    return found


def data_segment(sources: Sources) -> Found:
    conv, _lacks = handshake_conv(sources)  # the handshake's builder already says what is missing
    segments = [s for s in conv.data_segments() if s.from_client] if conv else []
    if not segments:
        return Found(lacks=["no TCP segment carrying data from a client in this capture"])
    seg = segments[0]
    frame = raw_frame(sources.path, seg.frame)
    text = seg.payload.decode("utf-8", "replace").rstrip("\n")
    return Found(
        markdown=[
            f"Frame {seg.frame}, the client's first data segment of {conv.title}: {len(seg.payload)} bytes of "  # type: ignore[union-attr]
            f"payload, `{text}`, readable in the last bytes (Ethernet, IP and TCP headers first). Nothing is "
            "encrypted. The bytes as Wireshark's bytes pane (and `tshark -x`) show them:",
            "",
            *code(hex_dump(frame).splitlines()),
            f"Wireshark filter: `frame.number == {seg.frame}`.",
            "",
        ]
    )


def datetime_exchange(sources: Sources) -> Found:
    convs = of_service(sources.convs, UdpConversation, "datetime")
    if not convs:
        return Found(lacks=["no date/time exchange in this capture: the lab's datetime-client asks every 1-2 s "
                            "once the lab is up; or run your date/time client against datetime-server"])  # fmt: skip
    conv: UdpConversation = max(convs, key=lambda c: len(c.exchanges))
    rows, gaps, previous = [], [], None
    for ex in conv.exchanges:
        gap = "" if previous is None else f"{ex.request.t - previous:.3f}"
        if previous is not None:
            gaps.append(ex.request.t - previous)
        previous = ex.request.t
        reply = ex.reply.text if ex.reply else "no reply"
        rtt = f"{ex.rtt * 1000:.3f}" if ex.rtt is not None else "-"
        rows.append((str(ex.request.frame), f"+{ex.request.t:.3f}", gap, ex.request.text, reply, rtt))
    answered = sum(ex.reply is not None for ex in conv.exchanges)
    spread = f"; gaps between requests from {min(gaps):.3f} s to {max(gaps):.3f} s" if gaps else ""
    return Found(
        markdown=[
            f"{conv.title} (conversation #{conv.number}): {len(conv.exchanges)} requests, {answered} answered{spread}.",
            "",
            *table(("frame", "time (s)", "gap (s)", "request", "reply", "rtt (ms)"), rows),
        ]
    )


def tcp_lines(conv: TcpConversation) -> list[str]:
    return [f"+{line.t:.6f}  {direction(line.from_client)}  {line.text}" for line in conv.lines]


def about(line: str, client: str) -> bool:
    """A server log line about this client: its address, or a `Session ended` naming no other address."""
    return client in line or ("Session ended" in line and not ENDPOINT.search(line))


def calc_session(sources: Sources) -> Found:
    convs = of_service(sources.convs, TcpConversation, "calc")
    if not convs:
        return Found(lacks=["no calculator session in this capture: run the calc client "
                            "(`docker compose run --rm calc-client`, or yours)"])  # fmt: skip
    ended = [c for c in convs if any(line.note and line.note.kind == "quit" for line in c.lines)]
    conv: TcpConversation = (ended or convs)[-1]  # the latest session that ended with q: most likely the user's
    client = f"{conv.client[0]}:{conv.client[1]}"
    found = Found(svgs={"calc.svg": pcap.ladder_svg(conv, LADDER_EVENTS)})
    which = f"the latest of {len(convs)} calculator sessions" + (" that ended with q" if ended else "")
    found.markdown += [f"{conv.title} (conversation #{conv.number}, {which}), line by line:", ""]
    found.markdown += [*code(tcp_lines(conv)), "![the calculator session](calc.svg)", ""]
    found.markdown += log_excerpt(sources, "calc-server", lambda line: about(line, client))
    log = sources.logs.get("calc-server")
    if log is None:
        found.lacks.append("no calc-server log to show `Session ended`: run scripts/lab evidence while the lab is up")
    elif "Session ended" not in log:
        found.lacks.append("the calc-server log has no `Session ended`: end a session with q")
    return found


def chat_room(sources: Sources) -> Found:
    convs = of_service(sources.convs, TcpConversation, "chat")
    if not convs:
        return Found(lacks=["no chat in this capture: run two or more chat clients "
                            "(`docker compose run --rm chat-client` in separate terminals)"])  # fmt: skip
    found = Found()
    if len(convs) < 2:
        found.lacks.append("only one chat member in this capture: the relays need a second chat client")
    rows = []
    for conv in convs:
        for line in conv.lines:
            if line.note and line.note.kind in {"login", "join", "leave", "relay", "say", "quit"}:
                rows.append((f"#{conv.number}", conv.client[0], f"+{line.t:.3f}", direction(line.from_client),
                             line.note.kind, line.text))  # fmt: skip
    found.markdown += [
        f"{len(convs)} chat connection(s), one per member; each member's login, the join and leave notices "
        "the server sends to everyone, and each line relayed to the other members with the sender's name:",
        "",
        *table(("conversation", "member host", "time (s)", "direction", "what", "line"), rows),
    ]
    hosts = {f"{c.client[0]}:{c.client[1]}" for c in convs}
    found.markdown += log_excerpt(sources, "chat-server", lambda line: any(h in line for h in hosts))
    return found


#: The report's questions, in order: (heading, builder).
SECTIONS: tuple[tuple[str, Callable[[Sources], Found]], ...] = (
    ("TCP three-way handshake (question 5)", handshake),
    ("The text inside a TCP segment (question 5)", data_segment),
    ("Date and time over UDP (question 3)", datetime_exchange),
    ("The calculator session (question 6)", calc_session),
    ("The chat room (question 8)", chat_room),
)


# -- sources and output ------------------------------------------------------------------------------------


def newest_capture(folder: Path) -> Path:
    found = sorted(folder.glob("*.pcap"), key=lambda p: p.stat().st_mtime) if folder.is_dir() else []
    if not found:
        raise EvidenceError(f"no capture in {folder}: start the lab (scripts/lab up) and run your clients first")
    return found[-1]


def logs_from_files(folder: Path) -> dict[str, str]:
    if not folder.is_dir():
        raise EvidenceError(f"--logs {folder}: not a folder")
    return {role: (folder / f"{role}.log").read_text("utf-8", "replace") for role in LOGGED_ROLES
            if (folder / f"{role}.log").is_file()}  # fmt: skip


def logs_from_lab(project: str) -> dict[str, str]:
    """Each logged role's output: the user's own program in that role if there is one, else the reference."""
    from lablib import common

    logs: dict[str, str] = {}
    for container in common.project_containers(project):
        labels = container.labels
        own_role = labels.get(OWN_ROLE_LABEL)
        role = own_role or labels.get(common.SERVICE_LABEL, "")
        if role not in LOGGED_ROLES or container.name.endswith("-net"):
            continue
        if own_role or role not in logs:  # the user's program wins over the reference it replaced
            logs[role] = container.logs().decode("utf-8", "replace")
    return logs


def write(out: Path, sources: Sources) -> list[str]:
    """Write OUT/evidence.md and the SVGs; return what the capture lacks."""
    out.mkdir(parents=True, exist_ok=True)
    cap = sources.capture
    summary = f"{cap.frames} frames, {len(sources.convs)} TCP/UDP conversations; logs: {sources.logs_from}."
    doc = [f"# Evidence from {sources.path.name}", "", summary, ""]
    lacks: list[str] = []
    for heading, build in SECTIONS:
        found = build(sources)
        for name, svg in found.svgs.items():
            (out / name).write_text(svg, encoding="utf-8")
        doc += [f"## {heading}", "", *(found.markdown or ["Not in this capture (see below).", ""])]
        lacks += found.lacks
    doc += ["## What this capture lacks", ""] + ([f"- {lack}" for lack in lacks] or ["Nothing: every part is here."])
    (out / EVIDENCE_FILE).write_text("\n".join(doc) + "\n", encoding="utf-8")
    return lacks


def main(argv: list[str] | None = None) -> int:
    from lablib import common
    from lablib.sandbox.settings import user_path

    parser = argparse.ArgumentParser(prog="scripts/lab evidence", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("capture", nargs="?", type=Path, help="a pcap (default: the newest in captures/)")
    parser.add_argument("--out", type=Path, help="folder to write (default: CAPTURE-evidence/ beside the capture)")
    parser.add_argument("--logs", type=Path, help="read ROLE.log files from this folder instead of the running lab")
    args = parser.parse_args(argv)
    try:
        path = user_path(args.capture) if args.capture else newest_capture(common.CAPTURES)
        cap = pcap.read_capture(path)
        if args.logs:
            logs, origin = logs_from_files(user_path(args.logs)), f"files in {args.logs}"
        else:
            logs, origin = lab_logs(common.project_name())
        sources = Sources(cap, path, pcap.conversations(cap.packets), logs, origin)
        out = user_path(args.out) if args.out else path.with_name(f"{path.stem}-evidence")
        lacks = write(out, sources)
    except (EvidenceError, pcap.ReportError, OSError) as exc:
        print(f"scripts/lab evidence: {exc}", file=sys.stderr)
        return 2
    print(f"evidence from {path} written to {out / EVIDENCE_FILE}")
    for lack in lacks:
        print(f"  missing: {lack}")
    return 0


def lab_logs(project: str) -> tuple[dict[str, str], str]:
    """The running lab's logs, or none (and why) when Docker or the lab is not there."""
    try:
        logs = logs_from_lab(project)
    except Exception as exc:  # no engine, no permission: the capture alone still gives most of the evidence
        return {}, f"none: Docker is not reachable ({exc.__class__.__name__})"
    return logs, (f"the running lab {project}" if logs else f"none: the lab {project} is not running")


if __name__ == "__main__":
    sys.exit(main())
