"""`scripts/lab evidence` on committed captures: the worked report's real run (docs/evidence/) and the
synthetic fixtures (tests/fixtures/pcaps/): what it shows, and what it says each capture lacks."""

from __future__ import annotations

import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import dpkt
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
from lablib import evidence  # noqa: E402

EVIDENCE = ROOT / "docs" / "evidence"
FIXTURES = ROOT / "tests" / "fixtures" / "pcaps"
NO_ECHO = "no TCP echo conversation in this capture: run the TCP client first"
NO_DATETIME = "no date/time exchange in this capture"
NO_CALC = "no calculator session in this capture"
NO_CHAT = "no chat in this capture"
NO_CALC_LOG = "no calc-server log to show `Session ended`"


def run(capture: Path, out: Path, logs: Path | None) -> tuple[int, str, str]:
    argv = [str(capture), "--out", str(out)] + (["--logs", str(logs)] if logs else [])
    done = subprocess.run(
        [sys.executable, "-m", "lablib.verbs", "evidence", *argv],
        cwd=ROOT, env={"PYTHONPATH": str(ROOT / "scripts"), "PATH": "/usr/bin:/bin"},
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    return done.returncode, done.stdout, done.stderr


def missing(stdout: str) -> list[str]:
    return [line.removeprefix("  missing: ") for line in stdout.splitlines() if line.startswith("  missing: ")]


@pytest.fixture(scope="module")
def full(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("full")
    code, stdout, stderr = run(EVIDENCE / "lab.pcap", out, EVIDENCE)
    assert code == 0, stderr
    return out, stdout


def first_syn() -> tuple[int, int]:
    """(frame number, seq) of the capture's first SYN to the TCP echo port, read with dpkt alone."""
    with (EVIDENCE / "lab.pcap").open("rb") as handle:
        for number, (_ts, frame) in enumerate(dpkt.pcap.Reader(handle), start=1):
            ip = dpkt.ethernet.Ethernet(frame).data
            tcp = getattr(ip, "data", None)
            if isinstance(tcp, dpkt.tcp.TCP) and tcp.dport == 12000 and tcp.flags == dpkt.tcp.TH_SYN:
                return number, tcp.seq
    raise AssertionError("no SYN to port 12000 in the evidence")


def test_a_full_capture_lacks_nothing(full: tuple[Path, str]) -> None:
    out, stdout = full
    assert missing(stdout) == []
    assert sorted(p.name for p in out.iterdir()) == ["calc.svg", "evidence.md", "handshake.svg"]
    assert (out / "evidence.md").read_text().rstrip().endswith("Nothing: every part is here.")


def test_the_handshake_table_and_ladder_carry_the_raw_numbers(full: tuple[Path, str]) -> None:
    out, _ = full
    frame, seq = first_syn()
    text = (out / "evidence.md").read_text()
    assert f"| {frame} | +0.000000 | client → server | SYN | {seq} (rel 0) | - |" in text
    svg = ET.parse(out / "handshake.svg").getroot()  # well-formed XML
    labels = [t.text for t in svg.iter("{http://www.w3.org/2000/svg}text")]
    assert [label for label in labels if label in {"SYN", "SYN-ACK", "ACK"}] == ["SYN", "SYN-ACK", "ACK"]
    assert f"seq={seq} (rel 0)" in labels


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed (.ci/run installs it)")
def test_the_data_segment_is_shown_as_tshark_shows_it(full: tuple[Path, str]) -> None:
    out, _ = full
    text = (out / "evidence.md").read_text()
    frame = int(text.split("Wireshark filter: `frame.number == ")[1].split("`")[0])
    done = subprocess.run(
        ["tshark", "-n", "-r", str(EVIDENCE / "lab.pcap"), "-x", "-Y", f"frame.number == {frame}"],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    assert f"```\n{done.stdout.strip()}\n```" in text
    assert f"Frame {frame}, the client's first data segment" in text and "`hello, world`" in text


def test_the_sessions_with_their_logs(full: tuple[Path, str]) -> None:
    text = (full[0] / "evidence.md").read_text()
    ended = next(line for line in (EVIDENCE / "calc-server.log").read_text().splitlines() if "Session ended" in line)
    assert f"\n{ended}\n" in text
    assert '| relay | "Batman: Anyone here?" |' in text and '| join | "Server: time=' in text
    assert "requests, " in text and "gaps between requests from " in text


@pytest.mark.parametrize(
    ("capture", "lacks", "shows"),
    [
        ("calc_split_line.pcap", [NO_ECHO, NO_DATETIME, NO_CALC_LOG, NO_CHAT], 'client → server  "12 + 42"'),
        (
            "datetime_sll.pcap",
            [NO_ECHO, "no complete TCP handshake", "no TCP segment carrying data", NO_CALC, NO_CHAT],
            '"SEND_TIME"',
        ),  # fmt: skip
        ("ipv6_echo.pcap", [NO_DATETIME, NO_CALC, NO_CHAT], "| SYN |"),
        (
            "chat_invalid_utf8.pcap",
            [NO_ECHO, NO_DATETIME, NO_CALC, "only one chat member in this capture"],
            "| login |",
        ),
    ],
)
def test_each_fixture_says_what_it_lacks(tmp_path: Path, capture: str, lacks: list[str], shows: str) -> None:
    empty_logs = tmp_path / "logs"
    empty_logs.mkdir()
    code, stdout, stderr = run(FIXTURES / capture, tmp_path / "out", empty_logs)
    assert code == 0, stderr
    said = missing(stdout)
    assert len(said) == len(lacks) and all(s.startswith(want) for s, want in zip(said, lacks, strict=True)), said
    text = (tmp_path / "out" / "evidence.md").read_text()
    assert shows in text
    assert all(f"- {line}" in text for line in said)


def test_not_a_capture_is_a_clear_error(tmp_path: Path) -> None:
    bogus = tmp_path / "notes.pcap"
    bogus.write_text("not a capture")
    code, stdout, stderr = run(bogus, tmp_path / "out", tmp_path)
    assert (code, stdout) == (2, "") and stderr.startswith("scripts/lab evidence: ") and "not a pcap" in stderr


def test_logs_must_be_a_folder(tmp_path: Path) -> None:
    code, _stdout, stderr = run(FIXTURES / "calc_split_line.pcap", tmp_path / "out", tmp_path / "nothing")
    assert code == 2 and "not a folder" in stderr


def test_no_capture_in_the_folder(tmp_path: Path) -> None:
    with pytest.raises(evidence.EvidenceError, match="no capture in"):
        evidence.newest_capture(tmp_path)


def test_hex_dump_rows() -> None:
    assert evidence.hex_dump(bytes(range(65, 65 + 18))) == (
        "0000  41 42 43 44 45 46 47 48 49 4a 4b 4c 4d 4e 4f 50   ABCDEFGHIJKLMNOP\n"
        + "0010  51 52".ljust(6 + 47)  # a short last row: its hex padded to 16 columns
        + "   QR"
    )
