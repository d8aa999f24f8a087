"""docs/lab-report.md against its evidence (docs/evidence/): the text is what the template and the evidence
make, and the numbers it quotes are checked again here straight from the capture and the logs."""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import dpkt
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
from lablib import worked_report  # noqa: E402

EVIDENCE = ROOT / "docs" / "evidence"
REPORT = ROOT / "docs" / "lab-report.md"
DATETIME_PORT, ECHO_PORT = 12001, 12000


@pytest.fixture(scope="module")
def report() -> str:
    return REPORT.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def packets() -> list[tuple[int, dpkt.ip.IP]]:
    """(frame number from 1, IPv4 packet) of every IPv4 frame of the evidence capture."""
    found = []
    with (EVIDENCE / "lab.pcap").open("rb") as handle:
        for number, (_ts, frame) in enumerate(dpkt.pcap.Reader(handle), start=1):
            ip = dpkt.ethernet.Ethernet(frame).data
            if isinstance(ip, dpkt.ip.IP):
                found.append((number, ip))
    return found


def frame_count() -> int:
    with (EVIDENCE / "lab.pcap").open("rb") as handle:
        return sum(1 for _ in dpkt.pcap.Reader(handle))


def test_the_report_is_its_template_filled_from_the_evidence(report: str) -> None:
    """Fails when the text and the evidence disagree: re-run make-evidence.sh or lablib.worked_report."""
    assert worked_report.rendered() == report


def test_changed_evidence_changes_the_report(tmp_path: Path, report: str) -> None:
    """The check above can fail: a different client port in the evidence gives a different report."""
    copy = tmp_path / "evidence"
    shutil.copytree(EVIDENCE, copy)
    text = (copy / "report.txt").read_text(encoding="utf-8")
    port = worked_report.facts(copy)["dt_client_port"]
    (copy / "report.txt").write_text(text.replace(f":{port} ", ":1 "), encoding="utf-8")
    changed = worked_report.rendered(copy)
    assert changed != report and ":1 →" in changed


def test_the_datetime_clients_address_and_port(packets: list[tuple[int, dpkt.ip.IP]], report: str) -> None:
    first = next(ip for _n, ip in packets if isinstance(ip.data, dpkt.udp.UDP) and ip.data.dport == DATETIME_PORT)
    client = f"{socket.inet_ntoa(first.src)}:{first.data.sport}"
    assert f"#1 UDP {client} → " in report or f" {client} → " in report, client


def test_the_frame_counts(report: str) -> None:
    assert f"({frame_count()} frames;" in report


def test_the_port_unreachable_frame(packets: list[tuple[int, dpkt.ip.IP]], report: str) -> None:
    icmp = [(n, ip) for n, ip in packets if isinstance(ip.data, dpkt.icmp.ICMP) and ip.data.type == 3]
    assert icmp, "the evidence has no ICMP destination unreachable"
    number, ip = icmp[0]
    assert ip.data.code == 3  # port unreachable
    assert f"(frame {number}, from {socket.inet_ntoa(ip.src)})" in report
    assert "ConnectionRefusedError" in report and "ignores that error on purpose" in report


def test_the_data_segment_frame(packets: list[tuple[int, dpkt.ip.IP]], report: str) -> None:
    number, ip = next(
        (n, ip)
        for n, ip in packets
        if isinstance(ip.data, dpkt.tcp.TCP) and ip.data.dport == ECHO_PORT and ip.data.data
    )
    assert f"Frame {number} is the client's data segment" in report
    text = bytes(ip.data.data).decode().rstrip("\n")
    assert f"the line as typed, `{text}`" in report


def test_the_handshakes_sequence_numbers(packets: list[tuple[int, dpkt.ip.IP]], report: str) -> None:
    syn = next(ip.data for _n, ip in packets if isinstance(ip.data, dpkt.tcp.TCP) and ip.data.flags == dpkt.tcp.TH_SYN)
    assert syn.dport == ECHO_PORT  # the TCP echo client's connection is the capture's first
    assert f"(random: {syn.seq})" in report and f"SYN      seq={syn.seq} (rel 0)" in report


def test_the_calculator_sessions_log_is_quoted(report: str) -> None:
    log = (EVIDENCE / "calc-server.log").read_text(encoding="utf-8")
    ended = [line for line in log.splitlines() if line.startswith("Session ended")]
    assert ended and ended[0] in report
    assert "3.24 * 45" in log and '"3.24 * 45"' in report  # the course's lost "*", put back


def test_the_date_time_timeout(report: str) -> None:
    lost = (EVIDENCE / "lost-request.txt").read_text(encoding="utf-8")
    seconds = re.search(r"within ([\d.]+) s \(lost\)", lost)
    assert seconds is not None
    assert f"It waits at most {seconds[1]} s for each answer" in report


@pytest.mark.parametrize(
    "wrong",
    ["was not noticed by the network at all", "a few seconds", "does not even report", "never appears on the wire: "
     "the client refused `3.24 45`"],
)  # fmt: skip
def test_the_errors_of_the_old_report_are_gone(report: str, wrong: str) -> None:
    assert wrong not in report


def test_question_7_is_answered_in_the_report(report: str) -> None:
    section = report.split("### 7.")[1].split("## Part 3")[0]
    assert "protocols.md" not in section
    for subject in ("Date/time (question 3): stateless", "Calculator (question 6): stateful", "TCP: stateful",
                    "UDP: stateless"):  # fmt: skip
        assert f"**{subject}.**" in section


def test_a_fact_the_evidence_lacks_is_an_error() -> None:
    with pytest.raises(worked_report.EvidenceError, match="no_such_fact"):
        worked_report.render("{{no_such_fact}}", {"prefix": "172.28.0"})


def test_missing_evidence_is_an_error(tmp_path: Path) -> None:
    copy = tmp_path / "evidence"
    shutil.copytree(EVIDENCE, copy)
    (copy / "calc-server.log").unlink()
    with pytest.raises(worked_report.EvidenceError, match="calc-server.log is missing"):
        worked_report.facts(copy)


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed (.ci/run installs it)")
def test_the_hex_dump_is_tsharks(report: str) -> None:
    number = int(worked_report.facts()["data_frame"])
    done = subprocess.run(
        ["tshark", "-n", "-r", str(EVIDENCE / "lab.pcap"), "-x", "-Y", f"frame.number == {number}"],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    dump = done.stdout.strip("\n")
    assert dump and f"```\n{dump}\n```" in report
