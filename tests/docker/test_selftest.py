"""`scripts/lab selftest`: a student's one file through the grader's own run, with the course's grading.yaml.

The starter (nothing written yet) scores 0 with "not written yet" from each server role;
the good fixture scores full marks; the printed report names the grader's command per
role; every container and network of the run is gone afterwards.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import pytest

from ..helpers import ROOT

sys.path.insert(0, str(ROOT / "scripts"))
from lablib import common, selftest  # noqa: E402
from lablib.grading import load_config  # noqa: E402
from lablib.grading.config import DEFAULT_CONFIG  # noqa: E402

from .grade_runs import leftovers  # noqa: E402

STARTER = ROOT / "course" / "starter" / "Lab2_NAME.py"
GOOD = ROOT / "tests" / "fixtures" / "students" / "Lab2_Good.py"
QUESTION = {"udp-echo-server": 1, "tcp-echo-server": 4, "datetime-server": 3, "calc-server": 6, "chat-server": 8}


def test_the_starter_is_gradable_and_says_not_written_yet(docker_client: Any, tmp_path: Path) -> None:
    team, run_id = selftest.run(STARTER, load_config(DEFAULT_CONFIG), tmp_path, common.ensure_images())
    assert team.error == "" and team.score == 0 and team.max_score > 0
    servers = [r for r in team.roles if not r.spec.is_client]
    assert {r.spec.role for r in servers} == set(QUESTION)
    for role in servers:
        assert role.status.startswith("exited (status 3) before listening"), (role.spec.role, role.status)
        want = f"{role.spec.role}: not written yet (question {QUESTION[role.spec.role]})"
        assert want in role.output, role.output
    assert leftovers(docker_client, run_id) == []
    team_dir = tmp_path / "teams" / "NAME"
    assert (team_dir / "results.json").is_file() and (team_dir / "report.md").is_file()


def test_a_good_file_gets_full_marks_and_the_commands(
    docker_client: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    runs: list[str] = []
    real_run = selftest.run

    def run_and_note(*args: Any) -> Any:
        team, run_id = real_run(*args)
        runs.append(run_id)
        return team, run_id

    monkeypatch.setattr(selftest, "run", run_and_note)
    assert selftest.main([str(GOOD), "--out", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    score = re.search(r"^Lab2_Good\.py: (\S+) / (\S+) \(team Good\)$", printed, re.M)
    # Full marks: every point of the maximum, and the bonus part's on top of it.
    bonus = sum(p.total or 0 for p in load_config(DEFAULT_CONFIG).parts if p.bonus)
    assert score is not None and float(score[1]) == float(score[2]) + bonus, printed
    assert "  command: python3 /submission/Lab2_Good.py calc-server 12002\n" in printed
    assert "  command: python3 /submission/Lab2_Good.py calc-client '{host}' 12002 '{name}'\n" in printed
    assert "FAIL" not in printed and "not run" not in printed, printed
    assert len(runs) == 1 and leftovers(docker_client, runs[0]) == []
