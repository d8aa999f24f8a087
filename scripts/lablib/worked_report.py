"""The worked lab report's numbers, read from its evidence: docs/lab-report.md is rendered, never hand-edited.

    python3 -m lablib.worked_report            # rewrite docs/lab-report.md from the template and the evidence
    python3 -m lablib.worked_report --check    # exit 1 (and show the difference) if it is out of date

docs/evidence/make-evidence.sh runs the lab and writes the evidence (the capture,
pcap-report's text, the servers' logs, what the clients printed), then runs this.
The report's template (docs/evidence/lab-report.template.md) holds the prose; every
address, port, frame number, count and quoted exchange in it is a ``{{name}}``
filled in from the evidence by ``facts()``. A name the evidence cannot provide is an
error, so a report never quotes a number its evidence lacks.
"""

from __future__ import annotations

import argparse
import difflib
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from lablib import common
from lablib.evidence import hex_dump

EVIDENCE = common.ROOT / "docs" / "evidence"
TEMPLATE = EVIDENCE / "lab-report.template.md"
REPORT = common.ROOT / "docs" / "lab-report.md"
PLACEHOLDER = re.compile(r"\{\{([a-z0-9_]+)\}\}")
#: The conversation header pcap-report writes: "#3 TCP 172.28.0.128:35228 → 172.28.0.11:12000 (echo)".
CONVERSATION = re.compile(
    r"^#(?P<number>\d+) (?P<proto>TCP|UDP) (?P<client>[\d.]+):(?P<cport>\d+) → "
    r"(?P<server>[\d.]+):(?P<sport>\d+)(?: \((?P<service>\w+)\))?$"
)
SUMMARY = re.compile(r"(?P<requests>\d+) requests, (?P<answered>\d+) answered, (?P<unanswered>\d+) unanswered")
REQUEST_TIME = re.compile(r"^\s+\+(?P<t>[\d.]+)\s+request ")
PACKETS = re.compile(r"starts \+[\d.]+ s into the capture, (?P<count>\d+) (?:packets|datagrams)")
#: Lines docker compose adds to a client's output ("Container x Running"): not the program's.
COMPOSE_NOISE = re.compile(r"^ Container \S+ ")
ICMP_DEST_UNREACHABLE, ICMP_PORT_UNREACHABLE = 3, 3
DATETIME_HEAD = 3  # request lines quoted before the "..." of the date/time conversation


class EvidenceError(Exception):
    """The evidence lacks something the report quotes (or the template names an unknown fact)."""


@dataclass(frozen=True)
class Conversation:
    """One conversation of pcap-report's text: its header fields and its lines."""

    number: int
    proto: str
    client: str
    client_port: int
    server: str
    server_port: int
    service: str
    lines: tuple[str, ...]

    def block(self) -> str:
        return "\n".join(self.lines)

    def section(self, title: str) -> list[str]:
        """The indented lines under a sub-heading such as ``handshake`` (up to the next one)."""
        out: list[str] = []
        inside = False
        for line in self.lines[2:]:
            if line.startswith("  ") and not line.startswith("    "):
                inside = line.strip().startswith(title)
                continue
            if inside:
                out.append(line)
        return out


def conversations(report_text: str) -> list[Conversation]:
    found: list[Conversation] = []
    for chunk in report_text.split("\n\n"):
        lines = chunk.strip("\n").splitlines()
        match = CONVERSATION.match(lines[0]) if lines else None
        if match:
            found.append(
                Conversation(
                    int(match["number"]),
                    match["proto"],
                    match["client"],
                    int(match["cport"]),
                    match["server"],
                    int(match["sport"]),
                    match["service"] or "",
                    tuple(lines),
                )  # fmt: skip
            )
    return found


def find(convs: list[Conversation], proto: str, service: str, port: int | None = None) -> list[Conversation]:
    return [c for c in convs if c.proto == proto and c.service == service and (port is None or c.server_port == port)]


def one(convs: list[Conversation], what: str) -> Conversation:
    if not convs:
        raise EvidenceError(f"the capture has no {what}")
    return convs[0]


# -- the capture, frame by frame (frame numbers as Wireshark counts them: from 1) --------------------------


def frames(pcap: Path) -> Iterator[tuple[int, bytes]]:
    import dpkt

    with pcap.open("rb") as handle:
        for number, (_ts, frame) in enumerate(dpkt.pcap.Reader(handle), start=1):
            yield number, frame


def first_data_segment(pcap: Path, client: tuple[str, int], server: tuple[str, int]) -> tuple[int, bytes, bytes]:
    """(frame number, whole frame, TCP payload) of the client's first segment with data."""
    import socket

    import dpkt

    for number, frame in frames(pcap):
        ip = dpkt.ethernet.Ethernet(frame).data
        if not isinstance(ip, dpkt.ip.IP) or not isinstance(ip.data, dpkt.tcp.TCP) or not ip.data.data:
            continue
        src = (socket.inet_ntoa(ip.src), ip.data.sport)
        dst = (socket.inet_ntoa(ip.dst), ip.data.dport)
        if (src, dst) == (client, server):
            return number, frame, bytes(ip.data.data)
    raise EvidenceError(f"no data segment from {client} to {server} in {pcap.name}")


def port_unreachable(pcap: Path, port: int) -> tuple[int, str]:
    """(frame number, sender) of the first ICMP port unreachable about a UDP datagram to ``port``."""
    import socket

    import dpkt

    for number, frame in frames(pcap):
        ip = dpkt.ethernet.Ethernet(frame).data
        if not isinstance(ip, dpkt.ip.IP) or not isinstance(ip.data, dpkt.icmp.ICMP):
            continue
        icmp = ip.data
        if (icmp.type, icmp.code) != (ICMP_DEST_UNREACHABLE, ICMP_PORT_UNREACHABLE):
            continue
        quoted = dpkt.ip.IP(bytes(icmp.data)[4:])  # the datagram that found no listener (after 4 unused bytes)
        if isinstance(quoted.data, dpkt.udp.UDP) and quoted.data.dport == port:
            return number, socket.inet_ntoa(ip.src)
    raise EvidenceError(f"no ICMP port unreachable for UDP port {port} in {pcap.name}")


# -- the facts ----------------------------------------------------------------------------------------------


def program_output(path: Path) -> str:
    """A log or client output from the evidence, without the lines docker compose added."""
    if not path.exists():
        raise EvidenceError(f"{path.name} is missing from {path.parent}: run docs/evidence/make-evidence.sh")
    lines = path.read_text(encoding="utf-8").splitlines()
    return "\n".join(line for line in lines if not COMPOSE_NOISE.match(line))


def log_line(text: str, pattern: str, what: str) -> str:
    found = [line for line in text.splitlines() if re.search(pattern, line)]
    if not found:
        raise EvidenceError(f"no {what} in the evidence")
    return found[0]


def datetime_facts(conv: Conversation) -> dict[str, str]:
    summary = SUMMARY.search(conv.block())
    if summary is None:
        raise EvidenceError("the date/time conversation has no summary line")
    requests = [line for line in conv.lines if REQUEST_TIME.match(line)]
    times = [float(REQUEST_TIME.match(line)["t"]) for line in requests]  # type: ignore[index]
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    if not gaps:
        raise EvidenceError("the date/time conversation has fewer than two requests")
    excerpt = [conv.lines[0], *requests[:DATETIME_HEAD], "    ...", requests[-1], conv.lines[-1]]
    return {
        "dt_conv": str(conv.number),
        "dt_client": conv.client,
        "dt_client_port": str(conv.client_port),
        "dt_server": conv.server,
        "dt_requests": summary["requests"],
        "dt_answered": summary["answered"],
        "dt_unanswered": summary["unanswered"],
        "dt_gap_min": f"{min(gaps):.2f}",
        "dt_gap_max": f"{max(gaps):.2f}",
        "dt_block": "\n".join(excerpt),
    }


def tcp_facts(pcap: Path, echo: Conversation) -> dict[str, str]:
    handshake = echo.section("handshake")
    isns = [re.search(r"seq=(\d+)", line) for line in handshake[:2]]
    if len(handshake) != 3 or not all(isns):
        raise EvidenceError(f"conversation #{echo.number} has no complete three-way handshake")
    number, frame, payload = first_data_segment(pcap, (echo.client, echo.client_port), (echo.server, echo.server_port))
    packets = PACKETS.search(echo.lines[1])
    return {
        "tcp_conv": str(echo.number),
        "tcp_client_port": str(echo.client_port),
        "tcp_server": echo.server,
        "tcp_packets": packets["count"] if packets else "?",
        "tcp_handshake": "\n".join(handshake),
        "tcp_client_isn": isns[0][1],  # type: ignore[index]
        "tcp_server_isn": isns[1][1],  # type: ignore[index]
        "tcp_teardown": "\n".join(echo.section("teardown")),
        "data_frame": str(number),
        "data_len": str(len(payload)),
        "data_text": payload.decode("utf-8", "replace").rstrip("\n"),
        "data_dump": hex_dump(frame),
    }


def calc_facts(evidence: Path, conv: Conversation) -> dict[str, str]:
    server_log = program_output(evidence / "calc-server.log")
    client_out = program_output(evidence / "calc-client.txt")
    warning = log_line(client_out, r"warning:", "client warning in calc-client.txt")
    return {
        "calc_conv": str(conv.number),
        "calc_client": f"{conv.client}:{conv.client_port}",
        "calc_lines": "\n".join(conv.section("lines")),
        "calc_teardown": "\n".join(conv.section("teardown")),
        "calc_server_log": server_log,
        "calc_session_ended": log_line(server_log, r"^Session ended", "'Session ended' in calc-server.log"),
        "calc_warning": warning.partition("warning:")[2].strip(),
    }


def chat_facts(evidence: Path, first: Conversation, second: Conversation) -> dict[str, str]:
    return {
        "chat_conv_a": str(first.number),
        "chat_conv_b": str(second.number),
        "chat_a": first.client,
        "chat_b": second.client,
        "chat_server": first.server,
        "chat_lines_a": "\n".join(first.section("lines")),
        "chat_lines_b": "\n".join(second.section("lines")),
        "chat_server_log": program_output(evidence / "chat-server.log"),
    }


def facts(evidence: Path = EVIDENCE) -> dict[str, str]:
    """Every value the report quotes, from the evidence files alone."""
    pcap = evidence / "lab.pcap"
    report_text = (evidence / "report.txt").read_text(encoding="utf-8")
    convs = conversations(report_text)
    header = re.search(r"(?P<frames>\d+) frames: (?P<tcp>\d+) TCP, (?P<udp>\d+) UDP", report_text)
    if header is None:
        raise EvidenceError("report.txt has no frame counts")
    dt = one(find(convs, "UDP", "datetime", 12001), "date/time conversation")
    udp_echo = one(find(convs, "UDP", "echo"), "UDP echo conversation")
    tcp_echo = one(find(convs, "TCP", "echo"), "TCP echo conversation")
    calc = one(find(convs, "TCP", "calc"), "calculator conversation")
    chats = find(convs, "TCP", "chat")
    if len(chats) < 2:
        raise EvidenceError("the capture has fewer than two chat connections")
    lost = one([c for c in convs if c.proto == "UDP" and not c.service], "date/time request to a closed port")
    icmp_frame, icmp_from = port_unreachable(pcap, lost.server_port)
    lost_output = program_output(evidence / "lost-request.txt")
    timeout = re.search(r"within (?P<seconds>[\d.]+) s \(lost\)", lost_output)
    udp_count, udp_summary = PACKETS.search(udp_echo.lines[1]), SUMMARY.search(udp_echo.block())
    if timeout is None or udp_count is None or udp_summary is None:
        raise EvidenceError("lost-request.txt has no timeout, or the UDP echo conversation no counts")
    return {
        "prefix": dt.server.rsplit(".", 1)[0],
        "frames": header["frames"],
        "udp_conv": str(udp_echo.number),
        "udp_client": udp_echo.client,
        "udp_client_port": str(udp_echo.client_port),
        "udp_server": udp_echo.server,
        "udp_block": udp_echo.block(),
        "lost_conv": str(lost.number),
        "lost_client": f"{lost.client}:{lost.client_port}",
        "lost_port": str(lost.server_port),
        "icmp_frame": str(icmp_frame),
        "icmp_from": icmp_from,
        "lost_output": lost_output,
        "dt_timeout": timeout["seconds"],
        "udp_per_line": str(int(udp_count["count"]) // int(udp_summary["requests"])),
        **datetime_facts(dt),
        **tcp_facts(pcap, tcp_echo),
        **calc_facts(evidence, calc),
        **chat_facts(evidence, chats[0], chats[1]),
    }


def render(template: str, values: dict[str, str]) -> str:
    missing = sorted({name for name in PLACEHOLDER.findall(template) if name not in values})
    if missing:
        raise EvidenceError(f"the template names facts the evidence does not give: {', '.join(missing)}")
    return PLACEHOLDER.sub(lambda m: values[m[1]], template)


def rendered(evidence: Path = EVIDENCE, template: Path = TEMPLATE) -> str:
    """The report as its template and the evidence make it."""
    return render(template.read_text(encoding="utf-8"), facts(evidence))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m lablib.worked_report", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("--check", action="store_true", help="only compare; exit 1 if docs/lab-report.md differs")
    args = parser.parse_args(argv)
    try:
        text = rendered()
    except EvidenceError as exc:
        print(f"worked_report: {exc}", file=sys.stderr)
        return 2
    current = REPORT.read_text(encoding="utf-8") if REPORT.exists() else ""
    if args.check:
        if text == current:
            return 0
        diff = difflib.unified_diff(
            current.splitlines(), text.splitlines(), "docs/lab-report.md", "rendered", lineterm=""
        )
        print("\n".join(diff))
        return 1
    REPORT.write_text(text, encoding="utf-8")
    print(f"wrote {REPORT.relative_to(common.ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
