"""scripts/pcap-report (package scripts/lablib/pcap): packets -> conversations, text report, ladder SVG, bad input.

The committed fixtures come from tests/fixtures/make_pcaps.py; each isolates one case
(a line split over three segments, several lines in one segment, retransmission and
reordering with a sequence-number wrap, Linux cooked framing, IPv6 and a non-IP frame).
"""

from __future__ import annotations

import random
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[2]
PCAPS = ROOT / "tests" / "fixtures" / "pcaps"


sys.path.insert(0, str(ROOT / "scripts"))
from lablib import pcap as pr  # noqa: E402

from tests.fixtures import make_pcaps  # noqa: E402


def convs_of(name: str):
    cap = pr.read_capture(PCAPS / name)
    return cap, pr.conversations(cap.packets)


def lines_of(conv) -> list[tuple[str, bytes]]:
    return [("C" if line.from_client else "S", line.data) for line in conv.lines]


def test_fixtures_match_their_generator(tmp_path: Path) -> None:
    for path in make_pcaps.write_all(tmp_path):
        assert path.read_bytes() == (PCAPS / path.name).read_bytes(), f"{path.name}: rerun make_pcaps.py"


def test_line_split_over_three_segments_is_one_line() -> None:
    cap, (conv,) = convs_of("calc_split_line.pcap")
    assert (cap.frames, cap.skipped, cap.warning) == (19, {}, None)
    assert conv.client == ("10.0.0.2", 40000) and conv.server == ("10.0.0.1", 12002)
    assert conv.service == "calc"
    assert lines_of(conv) == [("C", b"Alice"), ("C", b"12 + 42"), ("S", b"54"), ("C", b"q")]
    request = conv.lines[1]
    assert (request.frame, round(request.t, 6)) == (10, 0.0705)  # complete when the third piece came
    assert conv.counts() == {"retransmitted": 0, "out_of_order": 0}


def test_handshake_raw_and_relative_numbers() -> None:
    _, (conv,) = convs_of("calc_split_line.pcap")
    syn, syn_ack, ack = conv.handshake()
    assert (syn.label, syn.from_client, syn.seq, syn.rel_seq, syn.rel_ack) == ("SYN", True, 1000, 0, None)
    assert (syn_ack.label, syn_ack.from_client, syn_ack.seq, syn_ack.ack) == ("SYN-ACK", False, 5000, 1001)
    assert (syn_ack.rel_seq, syn_ack.rel_ack) == (0, 1)
    assert (ack.label, ack.seq, ack.ack, ack.rel_seq, ack.rel_ack) == ("ACK", 1001, 5001, 1, 1)


def test_teardown_server_closes_first_after_q() -> None:
    _, (conv,) = convs_of("calc_split_line.pcap")
    down = conv.teardown()
    assert [(s.label, s.from_client, s.rel_seq, s.rel_ack) for s in down] == [
        ("FIN-ACK", False, 4, 17),
        ("ACK", True, 17, 5),
        ("FIN-ACK", True, 17, 5),
        ("ACK", False, 5, 18),
    ]


def test_three_lines_in_one_segment() -> None:
    _, (conv,) = convs_of("calc_three_in_one.pcap")
    assert lines_of(conv)[1:7] == [
        ("C", b"1 + 2"),
        ("C", b"3 * 4"),
        ("C", b"10 / 0"),
        ("S", b"3"),
        ("S", b"12"),
        ("S", b"ERROR division by zero"),
    ]
    assert {line.frame for line in conv.lines[1:4]} == {6}


def test_retransmission_reordering_and_sequence_wrap() -> None:
    _, (conv,) = convs_of("tcp_retransmission.pcap")
    assert lines_of(conv) == [
        ("C", b"hello"),
        ("S", b"HELLO"),
        ("C", b"one"),  # sent first, arrived second: put back in stream order
        ("C", b"two"),
        ("S", b"ONE"),
        ("S", b"TWO"),
    ]
    assert conv.counts() == {"retransmitted": 1, "out_of_order": 1}
    assert [s.frame for s in conv.segments if s.retransmission] == [5]
    (rst,) = conv.teardown()
    assert (rst.label, rst.seq, rst.rel_seq) == ("RST-ACK", 4294967015, 15)  # past 2**32, relative still right


def test_udp_pairs_rtt_and_unanswered_over_linux_cooked() -> None:
    cap, (conv,) = convs_of("datetime_sll.pcap")
    assert pr.LINKTYPE_NAMES[cap.linktype] == "Linux cooked (SLL)"
    assert [(ex.request.data, ex.reply.data if ex.reply else None) for ex in conv.exchanges] == [
        (b"SEND_DATE", b"2023-11-14\n"),
        (b"SEND_TIME", b"22:13:21\n"),
        (b"HELLO", None),
    ]
    assert [round(ex.rtt, 6) if ex.rtt is not None else None for ex in conv.exchanges] == [0.0004, 0.0004, None]
    text = pr.report(cap, [conv])
    assert 'request "HELLO"  →  no reply (unanswered)' in text
    assert "3 requests, 2 answered, 1 unanswered" in text


def test_ipv6_crlf_empty_line_and_non_ip_frame() -> None:
    cap, (udp, tcp) = convs_of("ipv6_echo.pcap")
    assert cap.skipped == {"not IP": 1}
    assert udp.client == ("fd00::2", 50001) and udp.exchanges[0].reply.data == b"PING"
    assert lines_of(tcp) == [("C", b"over six"), ("C", b""), ("S", b"OVER SIX"), ("S", b"")]
    assert pr.show_endpoint(tcp.server) == "[fd00::1]:12000"


def test_unknown_ports_still_reported_without_service_name() -> None:
    _, (tcp, udp) = convs_of("unknown_port.pcap")
    assert (tcp.service, tcp.server) == (None, ("10.0.0.1", 9999))
    assert lines_of(tcp) == [("C", b"Carol"), ("C", b"12 + 42"), ("S", b"54")]
    assert udp.client == ("10.0.0.2", 40004)  # the side that spoke first asks


def packet(frame: int, src: tuple[str, int], dst: tuple[str, int], data: bytes = b"", **tcp) -> object:
    proto = "tcp" if tcp else "udp"
    return pr.Packet(frame, frame / 10, proto, src[0], src[1], dst[0], dst[1], data, **tcp)


C, S = ("10.1.0.2", 41000), ("10.1.0.1", 12001)


def test_udp_reply_answers_the_newest_request() -> None:
    # The first request was lost; the client timed out and asked again.
    (conv,) = pr.conversations(
        [packet(1, C, S, b"SEND_DATE"), packet(2, C, S, b"SEND_TIME"), packet(3, S, C, b"10:00:00\n")]
    )
    assert [(ex.request.frame, ex.reply.frame if ex.reply else None) for ex in conv.exchanges] == [(1, None), (2, 3)]


def test_udp_reply_before_any_request_is_unsolicited() -> None:
    (conv,) = pr.conversations([packet(1, S, C, b"late\n"), packet(2, C, S, b"SEND_DATE")])
    assert conv.client == C  # the lab port says who serves, whoever spoke first
    assert [d.frame for d in conv.unsolicited] == [1]


def test_capture_started_mid_connection() -> None:
    srv = ("10.1.0.1", 12002)
    convs = pr.conversations(
        [packet(1, srv, C, b"54\n", flags=0x18, seq=500, ack=900), packet(2, C, srv, b"1 + 1\n", flags=0x18, seq=900)]
    )
    (conv,) = convs
    assert (conv.client, conv.server, conv.handshake()) == (C, srv, [])
    assert lines_of(conv) == [("S", b"54"), ("C", b"1 + 1")]
    assert "handshake: not captured" in "\n".join(pr.tcp_report(conv, 0.0))


def test_same_ports_after_close_is_a_new_conversation() -> None:
    srv = ("10.1.0.1", 12000)
    pkts = [
        packet(1, C, srv, flags=pr.SYN, seq=1),
        packet(2, C, srv, flags=pr.RST | pr.ACK, seq=2, ack=1),
        packet(3, C, srv, flags=pr.SYN, seq=100),
    ]
    assert [c.number for c in pr.conversations(pkts)] == [1, 2]


def test_unfinished_line_is_reported_as_such() -> None:
    srv = ("10.1.0.1", 12000)
    (conv,) = pr.conversations(
        [packet(1, C, srv, flags=pr.SYN, seq=1), packet(2, C, srv, b"no newline", flags=0x18, seq=2)]
    )
    (line,) = conv.lines
    assert (line.data, line.complete) == (b"no newline", False)


@settings(max_examples=60, deadline=None)
@given(
    lines=st.lists(st.binary(max_size=12).map(lambda b: b.replace(b"\n", b"")), min_size=1, max_size=8),
    cuts=st.lists(st.integers(min_value=1, max_value=200), max_size=10),
    seed=st.integers(0, 2**16),
    isn=st.integers(0, 2**32 - 1),
)
def test_stream_assembler_any_segmentation_duplication_or_order(lines, cuts, seed, isn) -> None:
    stream = b"".join(line + b"\n" for line in lines)
    points = sorted({c % len(stream) for c in cuts} - {0})
    pieces = [(a, stream[a:b]) for a, b in zip([0, *points], [*points, len(stream)], strict=True)]
    rng = random.Random(seed)
    arrivals = pieces + rng.sample(pieces, k=min(2, len(pieces)))  # some sent twice
    rng.shuffle(arrivals)
    asm = pr.StreamAssembler()
    asm.syn(isn)
    for i, (offset, data) in enumerate(arrivals):
        asm.add((isn + 1 + offset) % pr.SEQ_SPACE, data, float(i), i)
    assert [raw for raw, _, _ in asm.lines] == [line.removesuffix(b"\r") for line in lines]
    assert not asm.partial


def test_text_report_lists_sections_and_times() -> None:
    cap, convs = convs_of("calc_split_line.pcap")
    text = pr.report(cap, convs, "x.pcap")
    assert "#1 TCP 10.0.0.2:40000 → 10.0.0.1:12002 (calc)" in text
    assert "    +0.000100  S → C  SYN-ACK  seq=5000 (rel 0)  ack=1001 (rel 1)" in text
    assert '    +0.070500  C → S  "12 + 42"' in text
    assert "  teardown (FIN/ACK)" in text


def test_ladder_svg_is_well_formed_and_labelled() -> None:
    _, (conv,) = convs_of("calc_split_line.pcap")
    svg = pr.ladder_svg(conv)
    root = ET.fromstring(svg)
    texts = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text")]
    assert {"10.0.0.2:40000", "10.0.0.1:12002", "client", "server"} <= set(texts)
    for label in ("SYN", "SYN-ACK", '"12"', '" + "', '"42\\n"', '"54\\n"', "FIN-ACK", "+0.070500"):
        assert label in texts, label
    arrows = [e for e in root.iter("{http://www.w3.org/2000/svg}line") if "marker-end" in e.attrib]
    assert len(arrows) == len(conv.segments) == 19


def test_ladder_escapes_markup_and_caps_its_length() -> None:
    srv = ("10.1.0.1", 12003)
    pkts = [packet(1, C, srv, flags=pr.SYN, seq=1)]
    pkts += [packet(i, C, srv, b"<b>&</b>\n", flags=0x18, seq=2 + 9 * (i - 2)) for i in range(2, 30)]
    (conv,) = pr.conversations(pkts)
    root = ET.fromstring(pr.ladder_svg(conv, max_events=10))
    texts = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text")]
    assert '"<b>&</b>\\n"' in texts
    assert "… 19 more packets not drawn" in texts


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "is not a pcap or pcapng capture"),
        (b"hello, this is text\n" * 4, "is not a pcap or pcapng capture"),
    ],
)
def test_not_a_capture_is_a_clear_error(tmp_path: Path, capsys, content: bytes, message: str) -> None:
    bad = tmp_path / "bad.pcap"
    bad.write_bytes(content)
    assert pr.main([str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("pcap-report: ") and message in err and "Traceback" not in err


def test_missing_file(tmp_path: Path, capsys) -> None:
    assert pr.main([str(tmp_path / "nope.pcap")]) == 2
    assert "cannot open" in capsys.readouterr().err


@pytest.mark.parametrize("cut", [3, 10, 40])
def test_truncated_capture_reports_what_came_before(tmp_path: Path, capsys, cut: int) -> None:
    whole = (PCAPS / "calc_split_line.pcap").read_bytes()
    short = tmp_path / "short.pcap"
    short.write_bytes(whole[:-cut])
    assert pr.main([str(short)]) == 0
    out, err = capsys.readouterr()
    assert "#1 TCP 10.0.0.2:40000 → 10.0.0.1:12002 (calc)" in out
    assert ("truncated packet" in out) or ("cut-off record" in err)
    assert "Traceback" not in err


def test_snaplen_cut_packet_is_skipped_not_misread() -> None:
    cap = pr.read_capture(PCAPS / "calc_three_in_one.pcap")
    frames = [(p.ts, b"") for p in cap.packets]  # placeholder to get count
    assert len(frames) == 17
    raw = make_pcaps.calc_three_in_one().frames
    raw[5] = (raw[5][0], raw[5][1][:-10])  # frame 6 loses the end of its payload
    cap = pr.decode_frames(raw, 1)
    assert cap.skipped == {"truncated packet": 1}


def test_svg_option_writes_the_chosen_conversation(tmp_path: Path, capsys) -> None:
    out = tmp_path / "ladder.svg"
    assert pr.main([str(PCAPS / "ipv6_echo.pcap"), "--svg", str(out), "--quiet"]) == 0
    assert "[fd00::1]:12000" in out.read_text() and "TCP" in out.read_text()  # default: first TCP one
    assert pr.main([str(PCAPS / "ipv6_echo.pcap"), "--svg", str(out), "-c", "1", "-q"]) == 0
    assert '"ping"' in out.read_text()
    assert pr.main([str(PCAPS / "ipv6_echo.pcap"), "--svg", str(out), "-c", "9"]) == 2
    assert "no conversation #9: the capture has 2" in capsys.readouterr().err
