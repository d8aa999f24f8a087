"""`scripts/lab selftest` without Docker: the copy it grades, bad input, and how it prints a team's result."""

from __future__ import annotations

import stat
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
from lablib import selftest  # noqa: E402
from lablib.grading import RoleResult, TeamResult, load_config  # noqa: E402
from lablib.grading.config import DEFAULT_CONFIG  # noqa: E402
from lablib.grading.reports import fmt  # noqa: E402

from services.check.core import CaseResult  # noqa: E402


def test_the_graded_copy_is_readable_by_the_sandbox(tmp_path: Path) -> None:
    private = tmp_path / "Lab2_Ada.py"
    private.write_text("print('hi')\n")
    private.chmod(0o600)  # a student's file need not be readable by others
    sub = selftest.submission(private, tmp_path / "copy")
    assert (sub.team, sub.file) == ("Ada", "/submission/Lab2_Ada.py")
    assert stat.S_IMODE(sub.path.stat().st_mode) == 0o644 and sub.path.read_text() == "print('hi')\n"
    assert stat.S_IMODE(sub.path.parent.stat().st_mode) == 0o755


@pytest.mark.parametrize(("name", "problem"), [("missing.py", "no such file"), ("notes.txt", "expected your Python")])
def test_bad_files_are_refused(tmp_path: Path, name: str, problem: str) -> None:
    if name.endswith(".txt"):
        (tmp_path / name).write_text("x")
    with pytest.raises(selftest.SelftestError, match=problem):
        selftest.submission(tmp_path / name, tmp_path / "copy")


def test_main_says_what_is_wrong_without_docker(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert selftest.main([str(tmp_path / "Lab2_None.py")]) == 2
    assert "scripts/lab selftest: " in capsys.readouterr().err


def test_a_teams_result_as_printed(tmp_path: Path) -> None:
    config = load_config(DEFAULT_CONFIG)
    server = next(s for s in config.roles if s.role == "calc-server")
    client = next(s for s in config.roles if s.role == "calc-client")
    sub = selftest.submission(ROOT / "course" / "starter" / "Lab2_NAME.py", tmp_path)
    first, second, *rest = server.cases()
    server_result = RoleResult(
        server,
        cases=[CaseResult(first, "lab", True), CaseResult(second, "lab", False, "got 55, expected 54")]
        + [CaseResult(name, "lab", False, "not run: stopped", ran=False) for name in rest],
        output="line 1\nline 2\nline 3\nlast line\n",
    )
    client_result = RoleResult(client, cases=[CaseResult(name, "lab", True) for name in client.cases()])
    lines = selftest.role_lines(TeamResult(sub, [server_result, client_result]))
    # The course's points (grading.yaml's part totals scale each case's weight).
    one = fmt(server.points_of(first))
    assert lines[1] == f"calc-server ({server.part}): {one} / {fmt(server_result.max_total)}"
    assert lines[2] == "  command: python3 /submission/Lab2_NAME.py calc-server 12002"
    assert lines[3:6] == ["  output:  line 2", "  output:  line 3", "  output:  last line"]
    assert lines[6] == f"  pass    {first} ({one}/{one})"
    assert lines[7] == f"  FAIL    {second} (0/{fmt(server.points_of(second))}): got 55, expected 54"
    assert lines[8].startswith("  not run ")
    full = fmt(client_result.max_total)
    client_at = lines.index(f"calc-client ({client.part}): {full} / {full}")
    assert lines[client_at + 1] == "  command: python3 /submission/Lab2_NAME.py calc-client '{host}' 12002 '{name}'"
    assert not any(line.startswith("  output:") for line in lines[client_at:])  # full marks: no output shown
