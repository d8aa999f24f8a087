"""`scripts/lab evidence` on a live lab: a student's own calculator server in calc-server's place, the
reference client's session captured, and the evidence quoting the *student's* log (Session ended)."""

from __future__ import annotations

import sys
from pathlib import Path

from ..helpers import ROOT, wait_for
from . import pcap
from .lab import Lab

sys.path.insert(0, str(ROOT / "scripts"))
from lablib import evidence, own  # noqa: E402
from lablib import pcap as lab_pcap  # noqa: E402

STUDENT = ROOT / "tests" / "fixtures" / "students" / "Lab2_Good.py"
PORT = 12002


def test_evidence_from_the_lab_quotes_the_students_server(lab: Lab, tmp_path: Path) -> None:
    session = own.start(lab.project, "calc-server", STUDENT, ["calc-server", str(PORT)], client=lab.docker)
    try:
        wait_for(lambda: b"Server ready" in session.student.logs(), 15, 0.1, "the student's server")
        result = lab.run_client("calc-client", stdin="Grace\n12 + 42\nq\n")
        assert result.returncode == 0, result.stdout + result.stderr
        address = session.ip
        lab.wait_packets(
            lambda found: pcap.between(found, "tcp", result.ip, address, PORT),
            lambda found: any(p.src == result.ip and b"q\n" in p.payload for p in found),
        )
        wait_for(lambda: b"Session ended" in session.student.logs(), 15, 0.1, "the student's Session ended")
        logs = evidence.logs_from_lab(lab.project)
        capture = tmp_path / "lab.pcap"
        capture.write_bytes(lab.copy_out("capture", lab.capture_path()))
    finally:
        own.stop(session)
        lab.wait_healthy(("calc-server",))

    assert "Server ready on port" in logs["calc-server"]  # the student's program, not the reference it replaced
    cap = lab_pcap.read_capture(capture)
    sources = evidence.Sources(cap, capture, lab_pcap.conversations(cap.packets), logs, "the test lab")
    lacks = evidence.write(tmp_path / "out", sources)
    text = (tmp_path / "out" / "evidence.md").read_text()
    assert "Session ended Grace" in text, text
    assert '"Grace"' in text and '"12 + 42"' in text
    assert not any("calc" in lack for lack in lacks), lacks
