"""lablib.pcap as a live decoder: a pcap stream fed in pieces, packets fed one at a time,
what each line means in the lab protocol, and memory bounded by Limits."""

from __future__ import annotations

import sys
from pathlib import Path

import dpkt
import pytest

ROOT = Path(__file__).resolve().parents[2]
PCAPS = ROOT / "tests" / "fixtures" / "pcaps"
sys.path.insert(0, str(ROOT / "scripts"))
from lablib import pcap  # noqa: E402

FIXTURES = sorted(PCAPS.glob("*.pcap"))
C, CALC, CHAT, DT = ("10.1.0.2", 41000), ("10.1.0.1", 12002), ("10.1.0.1", 12003), ("10.1.0.1", 12001)
PSH_ACK = pcap.PSH | pcap.ACK


def packet(frame: int, src, dst, data: bytes = b"", **tcp) -> pcap.Packet:
    proto = "tcp" if tcp else "udp"
    return pcap.Packet(frame, frame / 10, proto, src[0], src[1], dst[0], dst[1], data, **tcp)


def tcp_session(server, talk: list[tuple[str, bytes]]) -> list[pcap.Packet]:
    """Handshake, then each ("C" or "S", data) in its own segment."""
    pkts = [
        packet(1, C, server, flags=pcap.SYN, seq=100),
        packet(2, server, C, flags=pcap.SYN | pcap.ACK, seq=500, ack=101),
        packet(3, C, server, flags=pcap.ACK, seq=101, ack=501),
    ]
    cseq, sseq = 101, 501
    for side, line in talk:
        frame = len(pkts) + 1
        if side == "C":
            pkts.append(packet(frame, C, server, line, flags=PSH_ACK, seq=cseq, ack=sseq))
            cseq += len(line)
        else:
            pkts.append(packet(frame, server, C, line, flags=PSH_ACK, seq=sseq, ack=cseq))
            sseq += len(line)
    return pkts


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.name)
@pytest.mark.parametrize("piece", [1, 7, 4096])
def test_records_fed_in_pieces_are_the_files_records(path: Path, piece: int) -> None:
    data = path.read_bytes()
    with path.open("rb") as f:
        expected = [(ts, bytes(buf)) for ts, buf in dpkt.pcap.Reader(f)]
    records = pcap.PcapRecords()
    got = []
    for at in range(0, len(data), piece):
        got += records.feed(data[at : at + piece])
    assert [(round(ts, 6), buf) for ts, buf in got] == [(round(ts, 6), buf) for ts, buf in expected]
    assert records.linktype == dpkt.pcap.Reader(path.open("rb")).datalink()


@pytest.mark.parametrize(
    ("data", "message"),
    [(b"\x0a\x0d\x0d\x0a" + bytes(20), "pcapng cannot be followed live"), (b"GET / HTTP/1.1\r\n" * 2, "not a pcap")],
)
def test_not_a_pcap_stream_is_a_clear_error(data: bytes, message: str) -> None:
    with pytest.raises(pcap.ReportError, match=message):
        pcap.PcapRecords().feed(data)


def test_a_record_claiming_too_much_is_refused() -> None:
    header = (PCAPS / "calc_split_line.pcap").read_bytes()[:24]
    with pytest.raises(pcap.ReportError, match="claims 4294967295 bytes"):
        pcap.PcapRecords().feed(header + b"\0" * 8 + b"\xff" * 8)


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.name)
def test_live_feed_builds_the_same_conversations_as_the_report(path: Path) -> None:
    cap = pcap.read_capture(path)
    tracker = pcap.Tracker()
    completed = []
    for p in cap.packets:
        completed += [(line.from_client, line.data) for line in tracker.feed(p).lines]
    whole = pcap.conversations(cap.packets)
    assert [c.title for c in tracker.conversations] == [c.title for c in whole]
    every = [
        (line.from_client, line.data)
        for conv in whole
        for line in (conv.complete_lines if isinstance(conv, pcap.TcpConversation) else conv.datagrams)
    ]
    assert sorted(completed) == sorted(every)


def notes(conv) -> list[str]:
    items = conv.lines if isinstance(conv, pcap.TcpConversation) else conv.datagrams
    return [line.note.info for line in items]


def test_calc_session_is_read_as_name_requests_results_quit() -> None:
    (conv,) = pcap.conversations(
        tcp_session(
            CALC,
            [("C", b"Alice\n"), ("C", b"12  +  42\n"), ("S", b"54\n"), ("C", b"1 / 0\n")]
            + [("S", b"ERROR division by zero\n"), ("C", b"q\n")],
        )
    )
    assert notes(conv) == [
        "Calc name: Alice",
        "Calc request: 12 + 42",
        "Calc result: 54",
        "Calc request: 1 / 0",
        "Calc error: division by zero",
        "Calc quit",
    ]


def test_chat_login_refused_then_join_relay_leave() -> None:
    talk = [
        ("C", b"Server\n"),
        ("S", b"ERROR name 'Server' is reserved\n"),
        ("C", b"Batman\n"),
        ("S", b"Server: time=10:01:00 Batman has joined. Member count=1\n"),
        ("S", b"Voldemort: hi\n"),
        ("C", b"Anyone here?\n"),
        ("S", b"Server: time=10:02:00 Voldemort has left. Member count=1\n"),
        ("C", b"quit\n"),
    ]
    (conv,) = pcap.conversations(tcp_session(CHAT, talk))
    assert notes(conv) == [
        "Chat login: Server",
        "Chat error: name 'Server' is reserved",
        "Chat login: Batman",
        "Chat join: Batman (members=1)",
        "Chat Voldemort: hi",
        "Chat Batman says: Anyone here?",
        "Chat leave: Voldemort (members=1)",
        "Chat quit (Batman)",
    ]
    assert [line.note.kind for line in conv.lines][3:5] == ["join", "relay"]


def test_datetime_requests_replies_and_a_lost_request() -> None:
    tracker = pcap.Tracker()
    first = tracker.feed(packet(1, C, DT, b"SEND_DATE"))
    second = tracker.feed(packet(2, C, DT, b"SEND_TIME"))
    reply = tracker.feed(packet(3, DT, C, b"10:00:00\n"))
    assert (first.new, first.lost, second.new) == (True, [], False)
    assert [ex.request.frame for ex in second.lost] == [1]  # the client moved on: frame 1 got no reply
    assert reply.reply_to is not None and reply.reply_to.request.frame == 2
    assert notes(tracker.conversations[0]) == [
        "Date/time request: SEND_DATE",
        "Date/time request: SEND_TIME",
        "Date/time reply: 10:00:00 (time)",
    ]
    arrows = pcap.ladder_arrows(tracker.conversations[0])
    assert [a.style for a in arrows] == ["lost", "udp", "udp"]
    assert "0.100 s after the previous request" in arrows[1].detail and "reply after 100.000 ms" in arrows[2].detail


def test_limits_bound_a_long_chat_and_keep_the_handshake() -> None:
    limits = pcap.Limits(conversations=3, items=50, frames=20, pending_line=100)
    tracker = pcap.Tracker(limits)
    pkts = tcp_session(CHAT, [("C", b"Batman\n")] + [("C", b"line %d\n" % i) for i in range(2000)])
    for p in pkts:
        tracker.feed(p, raw=b"x" * 60)
    (conv,) = tracker.conversations
    assert [s.label for s in conv.handshake()] == ["SYN", "SYN-ACK", "ACK"]
    assert len(conv.segments) <= 50 * 1.25 and len(conv.complete_lines) <= 50 * 1.25 and len(conv.frames) <= 25
    assert conv.forgotten["segments"] + len(conv.segments) == len(pkts)
    assert conv.lines[-1].data == b"line 1999"
    assert "forgotten to bound memory" in "\n".join(pcap.tcp_report(conv, 0.0))


def test_limits_forget_the_oldest_conversations() -> None:
    tracker = pcap.Tracker(pcap.Limits(conversations=3))
    for i in range(10):
        tracker.feed(packet(i + 1, ("10.1.0.9", 40000 + i), DT, b"SEND_DATE"))
    assert [c.number for c in tracker.conversations] == [8, 9, 10] and tracker.forgotten == 7
    assert not tracker.feed(packet(11, ("10.1.0.9", 40009), DT, b"SEND_TIME")).new  # still open
    assert tracker.feed(packet(12, ("10.1.0.9", 40000), DT, b"SEND_TIME")).new  # forgotten: starts anew


def test_a_line_without_lf_is_cut_at_the_pending_limit() -> None:
    tracker = pcap.Tracker(pcap.Limits(pending_line=100))
    pkts = tcp_session(CHAT, [("C", b"x" * 150)])
    lines = [line for p in pkts for line in tracker.feed(p).lines]
    assert [(len(line.data), line.complete) for line in lines] == [(150, False)]


def test_one_conversation_as_a_pcap_reads_back() -> None:
    cap = pcap.read_capture(PCAPS / "ipv6_echo.pcap", keep_raw=True)
    assert len(cap.raw) == cap.frames
    tcp = pcap.conversations(cap.packets, raw=cap.raw)[1]
    data = pcap.pcap_bytes(tcp.frames, cap.linktype)
    again = pcap.decode_frames(pcap.PcapRecords().feed(data), cap.linktype)
    (conv,) = pcap.conversations(again.packets)
    assert conv.title == tcp.title and [ln.data for ln in conv.lines] == [ln.data for ln in tcp.lines]


def _frames_to_check() -> list[bytes]:
    frames = []
    for path in FIXTURES:
        with path.open("rb") as f:
            reader = dpkt.pcap.Reader(f)
            if reader.datalink() == dpkt.pcap.DLT_EN10MB:
                frames += [bytes(buf) for _, buf in reader]
    sys.path.insert(0, str(ROOT))
    from benchmarks.watch import ChatRoom

    room = ChatRoom(members=4).frames()
    frames += [next(room) for _ in range(300)]
    return frames


def test_the_ethernet_ipv4_fast_path_reads_exactly_what_dpkt_reads() -> None:
    import random

    rng = random.Random(15)
    frames = _frames_to_check()
    variants = list(frames)
    for frame in frames:  # cut short, padded, a flipped byte in the headers: same verdict either way
        variants.append(frame[: rng.randrange(1, len(frame) + 1)])
        variants.append(frame + b"\0" * rng.randrange(1, 20))
        at = rng.randrange(12, min(len(frame), 60))
        variants.append(frame[:at] + bytes([frame[at] ^ (1 << rng.randrange(8))]) + frame[at + 1 :])
    fast_used = 0
    for i, frame in enumerate(variants):
        fast = pcap.decode._ethernet_ipv4(i, 1.0, frame)
        slow = _dpkt_only(i, frame)
        if fast is not None:
            fast_used += 1
            assert fast == slow, (i, frame.hex())
    assert fast_used > len(frames)  # the fast path did the common case


def _dpkt_only(number: int, frame: bytes):
    """decode_frame with the fast path switched off."""
    original = pcap.decode._ethernet_ipv4
    pcap.decode._ethernet_ipv4 = lambda *_: None
    try:
        return pcap.decode_frame(number, 1.0, frame, dpkt.pcap.DLT_EN10MB)
    finally:
        pcap.decode._ethernet_ipv4 = original
