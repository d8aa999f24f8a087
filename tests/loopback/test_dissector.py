"""wireshark/socklab.lua, run headless by tshark on fixture captures and on a live capture
of the real lab programs on loopback.

tshark reports a Lua error on stderr and still exits 0, and the dissector turns its own
failures into expert info, so every run here checks both. Without tshark these tests
skip, except in CI (CI=true), where a missing tool is a failure.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
from collections.abc import Iterable
from pathlib import Path

import pytest

from tests.helpers import ROOT, LineClient, Program

LUA = ROOT / "wireshark" / "socklab.lua"
PCAPS = ROOT / "tests" / "fixtures" / "pcaps"
IN_CI = os.environ.get("CI") == "true"


def need(tool: str) -> str:
    path = shutil.which(tool)
    if path:
        return path
    reason = f"{tool} is not installed (Debian: apt-get install {tool})"
    if IN_CI:
        pytest.fail(reason + "; CI must have it")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def tshark_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    # An empty home: no personal plugin folder that might hold another copy of socklab.lua.
    home = tmp_path_factory.mktemp("home")
    return {**os.environ, "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config")}


def tshark(env: dict[str, str], pcap: Path, fields: list[str], display: str = "socklab", prefs=()) -> list[dict]:
    """Run tshark (two passes) with the dissector; one dict per matching frame, field -> list of values."""
    cmd = [need("tshark"), "-n", "-2", "-X", f"lua_script:{LUA}", "-r", str(pcap), "-Y", display, "-T", "json"]
    for pref in prefs:
        cmd += ["-o", pref]
    for f in ["frame.number", "_ws.col.Info", "_ws.expert.message", *fields]:
        cmd += ["-e", f]
    run = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
    noise = [line for line in run.stderr.splitlines() if line and "Running as user" not in line]
    assert run.returncode == 0 and not noise, f"tshark failed ({run.returncode}): {run.stderr}"
    rows = [pkt["_source"]["layers"] for pkt in json.loads(run.stdout or "[]")]
    for row in rows:
        for message in row.get("_ws.expert.message", []):
            assert "dissector failure" not in message, f"frame {row['frame.number']}: {message}"
    return rows


def tshark_by_frame(env: dict[str, str], fixture: str, fields: list[str]) -> tuple[list[dict], dict[int, dict]]:
    """The socklab rows of fixture pcap ``fixture``, also keyed by frame number."""
    rows = tshark(env, PCAPS / fixture, fields)
    return rows, dict(zip(frames(rows), rows, strict=True))


def col(rows: list[dict], name: str) -> list[list[str]]:
    return [row.get(name, []) for row in rows]


def info(rows: list[dict]) -> list[str]:
    return [row["_ws.col.Info"][0] for row in rows]


def info_parts(rows: list[dict]) -> list[str]:
    """Every PDU's Info text: a frame carrying several lines joins theirs with " | "."""
    return [part for text in info(rows) for part in text.split(" | ")]


def assert_shown(lines: list[str], expected: Iterable[str]) -> None:
    missing = [e for e in expected if e not in lines]
    assert not missing, f"{missing} not in {lines}"


def frames(rows: list[dict]) -> list[int]:
    return [int(row["frame.number"][0]) for row in rows]


# ---------------------------------------------------------------------------------------
# Fixture captures (tests/fixtures/make_pcaps.py)
# ---------------------------------------------------------------------------------------


def test_line_split_over_three_segments(tshark_env) -> None:
    pcap = PCAPS / "calc_split_line.pcap"
    rows = tshark(
        tshark_env,
        pcap,
        [
            "socklab.calc.operand1",
            "socklab.calc.op",
            "socklab.calc.operand2",
            "socklab.request_in",
            "socklab.response_in",
            "socklab.calc.name",
        ],
    )
    assert info(rows) == ["Calc name: Alice", "Calc request: 12 + 42", "Calc result: 54", "Calc quit"]
    assert frames(rows) == [4, 10, 12, 14]
    request, result = rows[1], rows[2]
    assert (request["socklab.calc.operand1"], request["socklab.calc.op"], request["socklab.calc.operand2"]) == (
        ["12"],
        ["+"],
        ["42"],
    )
    assert request["socklab.response_in"] == ["12"] and result["socklab.request_in"] == ["10"]
    assert rows[0]["socklab.calc.name"] == ["Alice"]
    pieces = tshark(tshark_env, pcap, ["tcp.reassembled_in"], display="tcp.reassembled_in")
    assert [(f, r["tcp.reassembled_in"]) for f, r in zip(frames(pieces), pieces, strict=True)] == [
        (6, ["10"]),
        (8, ["10"]),
    ]


def test_three_requests_in_one_segment(tshark_env) -> None:
    _, by_frame = tshark_by_frame(
        tshark_env,
        "calc_three_in_one.pcap",
        ["socklab.calc.op", "socklab.calc.result", "socklab.error", "socklab.time"],
    )
    assert by_frame[6]["_ws.col.Info"] == ["Calc request: 1 + 2 | Calc request: 3 * 4 | Calc request: 10 / 0"]
    assert by_frame[6]["socklab.calc.op"] == ["+", "*", "/"]
    assert by_frame[8]["socklab.calc.result"] == ["3", "12"]
    assert by_frame[8]["socklab.error"] == ["division by zero"]
    assert by_frame[8]["socklab.time"] == ["0.000600000"] * 3
    divisions = tshark(tshark_env, PCAPS / "calc_three_in_one.pcap", [], display='socklab.calc.op == "/"')
    assert frames(divisions) == [6, 10]


def test_invalid_utf8_and_unknown_lines_are_expert_info(tshark_env) -> None:
    rows, by_frame = tshark_by_frame(
        tshark_env,
        "chat_invalid_utf8.pcap",
        ["socklab.chat.event", "socklab.chat.member", "socklab.chat.members", "socklab.chat.sender"],
    )
    assert info(rows) == [
        "Chat login: Batman",
        "Chat join: Batman (members=1)",
        "Chat invalid UTF-8 line",
        "Chat error: invalid UTF-8 at byte 3",
        "Chat line: no colon in this line",
        "Chat line of 1100 bytes (too long)",
        "Chat error: line of 1100 bytes exceeds 1024",
        "Chat quit (Batman)",
    ]
    assert by_frame[6]["socklab.chat.event"] == ["join"] and by_frame[6]["socklab.chat.members"] == ["1"]
    assert by_frame[8]["_ws.expert.message"] == ["Line is not valid UTF-8 (byte 3)"]
    assert by_frame[12]["_ws.expert.message"] == ["Unexpected Chat line: not a chat event, message or ERROR"]
    assert by_frame[14]["_ws.expert.message"] == ["Line of 1100 bytes exceeds 1024"]
    assert by_frame[18]["socklab.chat.sender"] == ["Batman"]
    malformed = tshark(tshark_env, PCAPS / "chat_invalid_utf8.pcap", [], display="_ws.expert.group == 0x07000000")
    assert frames(malformed) == [8, 14]


def test_unknown_port_is_left_alone_until_configured(tshark_env) -> None:
    pcap = PCAPS / "unknown_port.pcap"
    assert tshark(tshark_env, pcap, []) == []
    rows = tshark(tshark_env, pcap, [], prefs=["socklab.calc_port:9999", "socklab.datetime_port:9998"])
    assert info(rows) == [
        "Calc name: Carol",
        "Calc request: 12 + 42",
        "Calc result: 54",
        "Date/time request: SEND_DATE",
        "Date/time reply: 2023-11-14 (date)",
    ]


def test_udp_datetime_pairs_and_unanswered_request(tshark_env) -> None:
    rows = tshark(
        tshark_env,
        PCAPS / "datetime_sll.pcap",
        [
            "socklab.datetime.request",
            "socklab.datetime.date",
            "socklab.datetime.time",
            "socklab.response_in",
            "socklab.request_in",
            "socklab.direction",
        ],
    )
    assert info(rows) == [
        "Date/time request: SEND_DATE",
        "Date/time reply: 2023-11-14 (date)",
        "Date/time request: SEND_TIME",
        "Date/time reply: 22:13:21 (time)",
        "Date/time request: HELLO",
    ]
    assert col(rows, "socklab.response_in") == [["2"], [], ["4"], [], []]
    assert col(rows, "socklab.request_in") == [[], ["1"], [], ["3"], []]
    assert col(rows, "socklab.datetime.date")[1] == ["2023-11-14"]
    assert rows[4]["_ws.expert.message"] == ["Unexpected Date/time line: not SEND_DATE or SEND_TIME"]
    assert col(rows, "socklab.direction") == [["to server"], ["to client"]] * 2 + [["to server"]]


def test_echo_over_ipv6_crlf_and_empty_line(tshark_env) -> None:
    rows = tshark(tshark_env, PCAPS / "ipv6_echo.pcap", ["socklab.echo.request", "socklab.echo.reply"])
    assert info(rows) == [
        "Echo request: ping",
        "Echo reply: PING",
        "Echo request: over six | Echo request: (empty)",
        "Echo reply: OVER SIX | Echo reply: (empty)",
    ]
    assert rows[2]["socklab.echo.request"] == ["over six", ""]


def test_retransmitted_bytes_are_dissected_once(tshark_env) -> None:
    rows = tshark(
        tshark_env,
        PCAPS / "tcp_retransmission.pcap",
        ["socklab.echo.request"],
        prefs=["tcp.reassemble_out_of_order:TRUE"],
    )
    requests = [v for row in rows for v in row.get("socklab.echo.request", [])]
    assert requests == ["hello", "one", "two"]


# ---------------------------------------------------------------------------------------
# A live capture of the real programs on loopback
# ---------------------------------------------------------------------------------------

SERVERS = {  # program -> dissector preference for its port
    "udp-echo-server": "udp_echo_port",
    "tcp-echo-server": "tcp_echo_port",
    "datetime-server": "datetime_port",
    "calc-server": "calc_port",
    "chat-server": "chat_port",
}


def start_tcpdump(pcap: Path, ports: list[int]) -> subprocess.Popen:
    expr = " or ".join(f"port {p}" for p in ports)
    # --immediate-mode: else packets of the last block timeout (up to 1 s) are lost when tcpdump is stopped.
    cmd = [need("tcpdump"), "-i", "lo", "-n", "-U", "--immediate-mode", "-w", str(pcap), expr]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    first = proc.stderr.readline()  # "tcpdump: listening on lo, ..." once the capture runs
    if "listening on" not in first:
        proc.kill()
        reason = f"cannot capture on loopback: {first.strip() or proc.stderr.read().strip()}"
        if IN_CI:
            pytest.fail(reason)
        pytest.skip(reason)
    return proc


def run_client(name: str, port: int, *args: str, stdin: str = "") -> str:
    cmd = ["python3", "-m", "services", name, "--host", "127.0.0.1", "--port", str(port), *args]
    done = subprocess.run(cmd, cwd=ROOT, input=stdin, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, f"{name} failed: {done.stdout}{done.stderr}"
    return done.stdout


@pytest.mark.slow
def test_live_capture_of_the_real_programs(tshark_env, tmp_path: Path) -> None:
    need("tshark")
    servers = {name: Program(name, "--host", "127.0.0.1", "--port", "0") for name in SERVERS}
    tcpdump = None
    try:
        ports = {name: prog.listening_port() for name, prog in servers.items()}
        pcap = tmp_path / "live.pcap"
        tcpdump = start_tcpdump(pcap, list(ports.values()))
        run_client("udp-echo-client", ports["udp-echo-server"], "--message", "hello udp")
        run_client("tcp-echo-client", ports["tcp-echo-server"], "--message", "hello tcp")
        run_client("datetime-client", ports["datetime-server"], "--count", "2", "--min-gap", "0", "--max-gap", "0")
        run_client("calc-client", ports["calc-server"], "--name", "Alice", stdin="12 + 42\n4.5 / -6\nq\n")
        chat = ports["chat-server"]
        with LineClient(chat) as batman, LineClient(chat) as voldemort:
            batman.send("Batman")
            batman.expect(re.compile(r"Server: time=\d\d:\d\d:\d\d Batman has joined\. Member count=1"))
            voldemort.send("Voldemort")
            voldemort.expect(re.compile(r"Server: .* Voldemort has joined\. Member count=2"))
            batman.expect(re.compile(r"Server: .* Voldemort has joined\. Member count=2"))
            batman.send("Anyone here?")
            voldemort.expect("Batman: Anyone here?")
            voldemort.send("quit")
            batman.expect(re.compile(r"Server: .* Voldemort has left\. Member count=1"))
        # Once the server has seen Batman go, the last packets are on the wire; tcpdump
        # writes what it has seen when interrupted.
        servers["chat-server"].wait_line("Batman left")
    finally:
        if tcpdump is not None:
            tcpdump.send_signal(signal.SIGINT)
            tcpdump.wait(10)
        for prog in servers.values():
            prog.stop()
    prefs = [f"socklab.{SERVERS[name]}:{port}" for name, port in ports.items()]
    rows = tshark(
        tshark_env,
        pcap,
        [
            "socklab.chat.sender",
            "socklab.chat.event",
            "socklab.datetime.time",
            "socklab.datetime.date",
            "socklab.calc.result",
        ],
        prefs=prefs,
    )
    lines = info_parts(rows)
    assert_shown(
        lines,
        (
            "Echo request: hello udp",
            "Echo reply: HELLO UDP",
            "Echo request: hello tcp",
            "Echo reply: HELLO TCP",
            "Calc name: Alice",
            "Calc request: 12 + 42",
            "Calc result: 54",
            "Calc request: 4.5 / -6",
            "Calc result: -0.75",
            "Calc quit",
            "Chat login: Batman",
            "Chat join: Batman (members=1)",
            "Chat join: Voldemort (members=2)",
            "Chat message from Batman: Anyone here?",
            "Chat Batman: Anyone here?",
            "Chat quit (Voldemort)",
            "Chat leave: Voldemort (members=1)",
        ),
    )
    replies = [t for t in lines if t.startswith("Date/time reply: ")]
    assert len(replies) == 2 and all(re.fullmatch(r"Date/time reply: [\d:-]+ \((date|time)\)", t) for t in replies)
    assert not [row for row in rows if row.get("_ws.expert.message") and "Calc" in row["_ws.col.Info"][0]]
    from_batman = tshark(tshark_env, pcap, [], display='socklab.chat.sender == "Batman"', prefs=prefs)
    assert len(from_batman) == 2  # what Batman sent, and its copy delivered to Voldemort
    joins = tshark(tshark_env, pcap, [], display='socklab.chat.event == "join"', prefs=prefs)
    assert len(joins) == 3  # Batman's join to Batman, Voldemort's to both


# ---------------------------------------------------------------------------------------
# The committed evidence capture (docs/evidence/), made in the container lab
# ---------------------------------------------------------------------------------------

EVIDENCE = ROOT / "docs" / "evidence" / "lab.pcap"


@pytest.mark.skipif(not EVIDENCE.exists(), reason="docs/evidence/lab.pcap not committed")
def test_evidence_capture_decodes_cleanly(tshark_env) -> None:
    rows = tshark(tshark_env, EVIDENCE, [])
    lines = info_parts(rows)
    assert_shown(
        lines,
        (
            "Calc request: 12 + 42",
            "Calc result: 54",
            "Chat join: Batman (members=1)",
            "Chat Batman: Anyone here?",
            "Echo reply: HELLO, WORLD",
        ),
    )
    problems = tshark(tshark_env, EVIDENCE, [], display="socklab && _ws.expert.severity >= 0x00600000")
    assert all("ERROR" in i or "error" in i for i in info(problems)), info(problems)
