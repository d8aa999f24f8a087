"""The lab's captures, decoded: packets -> conversations -> text report, ladder diagram, live updates.

One decoder serves ``scripts/pcap-report`` (a whole file) and ``scripts/lab watch`` (a
growing capture, packet by packet). Modules, in data-path order:

``decode``     frames -> :class:`Packet` (pcap/pcapng with dpkt; :class:`PcapRecords` is a
               sans-IO reader of a pcap stream being written; :func:`pcap_bytes` writes one)
``protocols``  a lab protocol line -> :class:`Note` (``Chat join: Batman (members=1)``)
``streams``    packets -> conversations: :class:`Tracker` ``.feed(packet)`` -> :class:`Update`;
               TCP reassembly into lines, UDP request/reply pairing; :class:`Limits` bound memory
``text``       the text report and Follow Stream rows
``ladder``     one :class:`Arrow` per packet, and the ladder diagram as SVG
``cli``        ``scripts/pcap-report``'s command line

Typical use::

    from lablib import pcap
    cap = pcap.read_capture(Path("captures/lab.pcap"))
    convs = pcap.conversations(cap.packets)
    print(pcap.report(cap, convs))
    Path("c1.svg").write_text(pcap.ladder_svg(convs[0]))

    tracker = pcap.Tracker(pcap.LIVE_LIMITS)          # live: one packet at a time
    records = pcap.PcapRecords()
    for ts, frame in records.feed(chunk_of_the_file):
        packet = pcap.decode_frame(n, ts, frame, records.linktype)
        if isinstance(packet, pcap.Packet):
            update = tracker.feed(packet, raw=frame)
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
if str(ROOT) not in sys.path:  # the protocol cores and the role catalogue live in services/
    sys.path.append(str(ROOT))

from .cli import iter_lines, main, pick_conversation  # noqa: E402
from .decode import (  # noqa: E402
    ACK,
    FIN,
    FLAG_NAMES,
    LINKTYPE_NAMES,
    PSH,
    RST,
    SYN,
    URG,
    Capture,
    Packet,
    PcapRecords,
    ReportError,
    decode_frame,
    decode_frames,
    flag_names,
    pcap_bytes,
    read_capture,
)
from .ladder import Arrow, datagram_arrow, ladder_arrows, ladder_svg, segment_arrow  # noqa: E402
from .protocols import Note, reader_for  # noqa: E402
from .streams import (  # noqa: E402
    LIVE_LIMITS,
    SEQ_SPACE,
    Conversation,
    Exchange,
    Limits,
    Line,
    Segment,
    StreamAssembler,
    TcpConversation,
    Tracker,
    UdpConversation,
    Update,
    conversations,
    quote,
    show_endpoint,
)
from .text import follow_stream, report, tcp_report, udp_report  # noqa: E402

__all__ = [
    "ACK",
    "FIN",
    "FLAG_NAMES",
    "LINKTYPE_NAMES",
    "LIVE_LIMITS",
    "PSH",
    "RST",
    "SEQ_SPACE",
    "SYN",
    "URG",
    "Arrow",
    "Capture",
    "Conversation",
    "Exchange",
    "Limits",
    "Line",
    "Note",
    "Packet",
    "PcapRecords",
    "ReportError",
    "Segment",
    "StreamAssembler",
    "TcpConversation",
    "Tracker",
    "UdpConversation",
    "Update",
    "conversations",
    "datagram_arrow",
    "decode_frame",
    "decode_frames",
    "flag_names",
    "follow_stream",
    "iter_lines",
    "ladder_arrows",
    "ladder_svg",
    "main",
    "pcap_bytes",
    "pick_conversation",
    "quote",
    "read_capture",
    "reader_for",
    "report",
    "segment_arrow",
    "show_endpoint",
    "tcp_report",
    "udp_report",
]
