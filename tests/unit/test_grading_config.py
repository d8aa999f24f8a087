"""The grader's config: every key checked, errors name the key and its line; role facts from the catalogue."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from services import roles
from tests.helpers import ROOT

sys.path.insert(0, str(ROOT / "scripts"))
from lablib.grading import config as grading_config  # noqa: E402
from lablib.grading import run  # noqa: E402
from lablib.grading.config import GradeError, load_config  # noqa: E402
from lablib.grading.submissions import Submission, substitute  # noqa: E402

MINIMAL = """\
parts:
  calc:
    calc-server: {run: "python3 {file} calc-server {port}"}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "grading.yaml"
    path.write_text(text)
    return path


def test_the_shipped_config_loads() -> None:
    config = load_config(grading_config.DEFAULT_CONFIG)
    assert config.program_pattern == "Lab2_*.py"
    assert {s.role for s in config.roles} <= {r.name for r in roles.CHECKED}


def test_defaults(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, MINIMAL))
    (spec,) = config.roles
    assert (spec.part, spec.role, spec.level, spec.default_points) == ("calc", "calc-server", "lab", 1.0)
    assert config.similarity == grading_config.Similarity()
    assert 0 <= config.similarity.threshold <= 1 and config.similarity.min_match_tokens >= 1


@pytest.mark.parametrize("role", [r.name for r in roles.CHECKED])
def test_role_facts_come_from_the_catalogue(tmp_path: Path, role: str) -> None:
    config = load_config(write(tmp_path, f'parts: {{p: {{{role}: {{run: "x"}}}}}}\n'))
    (spec,) = config.roles
    entry = roles.get(role)
    assert (spec.port, spec.proto, spec.is_client) == (entry.port, entry.transport, entry.is_client)


def test_similarity_section(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, MINIMAL + "similarity: {threshold: 0.5, min_match_tokens: 12}\n"))
    assert config.similarity == grading_config.Similarity(0.5, 12)


@pytest.mark.parametrize(
    ("extra", "line", "words"),
    [
        ("colour: blue\n", 4, "colour: unknown key"),
        ("limits: {memory_mb: 100000}\n", 4, "limits/memory_mb: 100000 is out of range"),
        ("limits: {pids: 2}\n", 4, "limits/pids: 2 is out of range"),
        ("limits: {cpus: fast}\n", 4, "limits/cpus: expected a number"),
        ("limits: {swap: 1}\n", 4, "limits/swap: unknown key"),
        ("timeouts:\n  listen: 10\n  check: 0\n", 6, "timeouts/check: 0 is out of range"),
        ("similarity:\n  threshold: 1.5\n", 5, "similarity/threshold: 1.5 is out of range"),
        ("similarity: {min_match_tokens: 0}\n", 4, "similarity/min_match_tokens: 0 is out of range"),
        ("similarity: {min_match_tokens: 2.5}\n", 4, "expected a whole number"),
        ("level: lenient\n", 4, "level: must be one of lab, strict"),
        ("main: x.py\n", 4, "main: unknown key"),
    ],
)
def test_bad_values_name_the_key_and_line(tmp_path: Path, extra: str, line: int, words: str) -> None:
    path = write(tmp_path, MINIMAL + extra)
    with pytest.raises(GradeError) as caught:
        load_config(path)
    assert f"{path}:{line}: " in str(caught.value)
    assert words in str(caught.value)


@pytest.mark.parametrize(
    ("role_line", "words"),
    [
        ('calc-server: {run: "x", colour: 1}', "parts/calc/calc-server/colour: unknown key"),
        ('calc-server: {run: "x", points: {calc.nope: 2}}', "parts/calc/calc-server/points/calc.nope: no such case"),
        ('calc-server: {run: "x", port: 70000}', "parts/calc/calc-server/port: 70000 is out of range"),
        ("calc-server: {points: 1}", "parts/calc/calc-server/run: the command template"),
        ('no-such-server: {run: "x"}', "parts/calc/no-such-server: unknown role"),
        ('calc-client: {run: "x", duration: 0}', "parts/calc/calc-client/duration: 0 is out of range"),
    ],
)
def test_bad_roles_name_the_key_and_line(tmp_path: Path, role_line: str, words: str) -> None:
    path = write(tmp_path, f"level: lab\nparts:\n  calc:\n    {role_line}\n")
    with pytest.raises(GradeError) as caught:
        load_config(path)
    assert f"{path}:4: " in str(caught.value)
    assert words in str(caught.value)


def test_a_role_in_two_parts_is_refused(tmp_path: Path) -> None:
    text = 'parts:\n  a: {calc-server: {run: "x"}}\n  b: {calc-server: {run: "y"}}\n'
    with pytest.raises(GradeError, match="calc-server appears in more than one part"):
        load_config(write(tmp_path, text))


@pytest.mark.parametrize("text", ["", "- a list\n", "parts: {}\n", "parts: [1]\n", "{unclosed\n"])
def test_not_a_config(tmp_path: Path, text: str) -> None:
    with pytest.raises(GradeError):
        load_config(write(tmp_path, text))


COURSE = """\
parts:
  part1:
    title: "Part 1: UDP"
    total: 5
    udp-echo-server: {run: "a"}
  part2:
    total: 5
    calc-server: {run: "b", points: {calc.arithmetic: 3}}
  part3:
    total: 5
    bonus: true
    chat-server: {run: "c"}
    cases_from: {calc-server: [calc.concurrent-sessions]}
teams:
  Team9: {calc-server: {run: "python3 {file}", stdin: [2, "12002"]}}
"""


def test_parts_scale_to_their_totals_and_bonus_cases_are_marked(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, COURSE))
    per_part: dict[str, float] = {}
    for spec in config.roles:
        for case in spec.cases():
            per_part[spec.part_of(case)] = per_part.get(spec.part_of(case), 0) + spec.points_of(case)
    assert per_part == pytest.approx({"part1": 5, "part2": 5, "part3": 5})
    calc = next(s for s in config.roles if s.role == "calc-server")
    assert calc.part_of("calc.concurrent-sessions") == "part3"
    assert calc.bonus_cases == {"calc.concurrent-sessions"}
    assert calc.points_of("calc.arithmetic") == pytest.approx(3 * calc.points_of("calc.quit-ends-session"))
    assert [p.title for p in config.parts] == ["Part 1: UDP", "part2", "part3"]
    assert [p.bonus for p in config.parts] == [False, False, True]


def test_team_overrides_apply_to_that_team_only(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, COURSE))
    team9 = {s.role: s for s in config.roles_for("Team9")}
    assert (team9["calc-server"].run, team9["calc-server"].stdin) == ("python3 {file}", ("2", "12002"))
    assert team9["chat-server"] == next(s for s in config.roles if s.role == "chat-server")
    assert config.roles_for("Other") == config.roles


def test_a_servers_command_and_typed_lines_take_the_placeholders(tmp_path: Path) -> None:
    config = load_config(
        write(
            tmp_path,
            MINIMAL + 'teams: {Menu: {calc-server: {run: "python3 {file}", stdin: ["7", "{port}", "{name}"]}}}\n',
        )
    )
    (spec,) = config.roles_for("Menu")
    sub = Submission("Menu", "Menu", tmp_path / "Lab2_Menu.py", "/submission/Lab2_Menu.py", name="Menu")
    assert run.command(spec, sub) == ["python3", "/submission/Lab2_Menu.py"]
    assert [substitute(line, run.server_values(spec, sub)) for line in spec.stdin] == ["7", "12002", "Menu"]
    assert substitute("{port} {unknown}", {"port": "1"}) == "1 {unknown}"


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ("cases_from: {calc-server: [calc.concurrent-sessions]}", "cases_from/calc-server: no case"),
        ("bonus: yes-please", "bonus: expected true or false"),
    ],
)
def test_bad_part_settings(tmp_path: Path, change: str, words: str) -> None:
    text = COURSE.replace("cases_from: {calc-server: [calc.concurrent-sessions]}", change)
    if "cases_from" in change:
        text = text.replace("[calc.concurrent-sessions]", "[calc.nope]")
    with pytest.raises(GradeError, match=words):
        load_config(write(tmp_path, text))


@pytest.mark.parametrize(
    ("team", "words"),
    [
        ("Team9: {tcp-echo-server: {run: x}}", "teams/Team9/tcp-echo-server: not a role of any part"),
        ("Team9: {calc-server: {stdin: [[1]]}}", "is not a line of text"),
        ('Team9: {calc-server: {stdin: ["a\\nb"]}}', "is not one line"),
        ("Team9: {calc-server: {shell: x}}", "teams/Team9/calc-server/shell: unknown key"),
    ],
)
def test_bad_team_overrides(tmp_path: Path, team: str, words: str) -> None:
    text = COURSE.replace('Team9: {calc-server: {run: "python3 {file}", stdin: [2, "12002"]}}', team)
    path = write(tmp_path, text)
    with pytest.raises(GradeError, match=words) as caught:
        load_config(path)
    assert f"{path}:15: " in str(caught.value)
