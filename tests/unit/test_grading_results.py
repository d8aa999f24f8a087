"""The grader's results: one CaseResult read back with from_dict; notes built once; the class page's hooks."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from services.check.core import CaseResult
from tests.helpers import ROOT

sys.path.insert(0, str(ROOT / "scripts"))
from lablib.grading import reports  # noqa: E402
from lablib.grading.config import Config, load_config  # noqa: E402
from lablib.grading.results import RoleResult, TeamResult, merge_cases  # noqa: E402
from lablib.grading.run import engine_faults  # noqa: E402
from lablib.grading.submissions import Submission  # noqa: E402

CONFIG = 'parts: {calc: {calc-server: {run: "x", points: {calc.concurrent-sessions: 2}}}}\n'


@pytest.fixture
def config(tmp_path: Path) -> Config:
    path = tmp_path / "grading.yaml"
    path.write_text(CONFIG)
    return load_config(path)


def test_case_result_round_trips() -> None:
    result = CaseResult("calc.arithmetic", "lab", False, "wrong", [{"t": 0.1, "dir": "send"}], 12.5, ran=True)
    assert CaseResult.from_dict(result.to_dict()) == result


@pytest.mark.parametrize("bad", [{}, {"name": "x", "level": "lab"}, {"name": 1, "level": "lab", "passed": True}])
def test_from_dict_refuses_what_is_not_a_result(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        CaseResult.from_dict(bad)


def test_merge_cases_keeps_the_configured_order_and_marks_the_missing(config: Config) -> None:
    (spec,) = config.roles
    names = spec.cases()
    reported = [
        CaseResult(names[1], "lab", True, ms=3.0).to_dict(),
        {"name": names[0], "passed": False, "level": "lab"},
    ]
    merged = merge_cases(spec, reported)
    assert [c.name for c in merged] == names
    assert (merged[0].passed, merged[0].ran) == (False, True)
    assert (merged[1].passed, merged[1].ms) == (True, 3.0)
    assert all(c.message == "not reported by the checker" and not c.ran for c in merged[2:])


def team(config: Config, status: str = "ok", problems: tuple[str, ...] = ()) -> TeamResult:
    (spec,) = config.roles
    cases = [CaseResult(name, "lab", name != "calc.concurrent-sessions") for name in spec.cases()]
    role = RoleResult(spec, status, cases, list(problems))
    return TeamResult(Submission("Kilo", "Kilo", Path("Lab2_Kilo.py"), "/submission/Lab2_Kilo.py", name="Kilo"), [role])


def test_scores_follow_the_points(config: Config) -> None:
    result = team(config)
    assert result.max_score == result.score + 2


def test_notes_are_the_same_in_every_report(config: Config) -> None:
    result = team(config, "exited (status 1)", ("flooded its output",))
    assert result.notes() == ["calc-server: exited (status 1)", "calc-server: flooded its output"]
    page = reports.summary_html(config, [result], 1.0)
    table = reports.summary_markdown(config, [result], 1.0)
    for note in result.notes():
        assert note in page and note in table


def test_the_class_page_links_a_similarity_report_only_when_there_is_one(config: Config, tmp_path: Path) -> None:
    result = team(config)
    reports.write_summary(tmp_path, config, [result], 1.0)
    assert "similar.html" not in (tmp_path / "index.html").read_text()
    (tmp_path / "similar.html").write_text("<html></html>")
    reports.write_summary(tmp_path, config, [result], 1.0)
    assert '<a href="similar.html">similarity report</a>' in (tmp_path / "index.html").read_text()


STALE = (
    'network slgrade-25dead-044: 403 Client Error: Forbidden ("error while removing network: network '
    'slgrade-25dead-044 id 9173d4afa6db has active endpoints")'
)


def test_a_network_the_engine_keeps_is_the_runs_note_not_the_teams_error(config: Config, tmp_path: Path) -> None:
    engine, team_problems = engine_faults([STALE, "container slgrade-1-000-calc-server: still there after 30 s"])
    assert engine == [STALE]
    assert team_problems == ["container slgrade-1-000-calc-server: still there after 30 s"]
    reports.write_summary(tmp_path, config, [team(config)], 1.0, engine)
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["engine_faults"] == [STALE] and summary["teams"][0]["error"] == ""
    assert "Docker kept 1 network(s) it could not remove" in (tmp_path / "summary.md").read_text()
