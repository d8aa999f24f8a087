"""benchmarks/grade_stress.py without Docker: the class it writes and how it judges the scores."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks import grade_stress


def test_every_fifth_team_is_the_next_error_path_the_rest_are_good(tmp_path: Path) -> None:
    expected = grade_stress.build_class(tmp_path, 12)
    assert list(expected) == [
        *("Good000", "Good001", "Good002", "Good003", "Crash004"),
        *("Good005", "Good006", "Good007", "Good008", "Silent009"),
        *("Good010", "Good011"),
    ]
    assert expected["Crash004"] == 0 and expected["Good000"] is None
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(f"Lab2_{team}.py" for team in expected)
    assert (tmp_path / "Lab2_Silent009.py").read_bytes() == (grade_stress.CLASS / "Lab2_Silent.py").read_bytes()
    assert (tmp_path / "Lab2_Good011.py").read_bytes() == grade_stress.GOOD.read_bytes()


def test_the_error_paths_come_round_in_turn(tmp_path: Path) -> None:
    expected = grade_stress.build_class(tmp_path, 5 * len(grade_stress.ERROR_PATHS) + 5)
    errors = [team.rstrip("0123456789") for team, score in expected.items() if not team.startswith("Good")]
    assert errors == [*grade_stress.ERROR_PATHS, next(iter(grade_stress.ERROR_PATHS))]


def test_the_forkbomb_class_is_only_fork_bombs_with_the_stress_config(tmp_path: Path) -> None:
    config = tmp_path / "grading.yaml"
    (tmp_path / "class").mkdir()
    expected = grade_stress.forkbomb_class(tmp_path / "class", config, 3)
    assert expected == {"ForkBomb000": 0, "ForkBomb001": 0, "ForkBomb002": 0}
    assert config.read_text() == grade_stress.CONFIG


def outcome(scores: dict[str, float], expected: dict[str, float | None]) -> grade_stress.Outcome:
    full = dict.fromkeys(scores, 11.0)
    return grade_stress.Outcome(1.0, scores, full, expected, errors={}, engine_faults=[], left=[])


@pytest.mark.parametrize(
    ("scores", "expected", "wrong"),
    [
        ({"Good000": 11.0, "Crash004": 0.0}, {"Good000": None, "Crash004": 0}, {}),
        ({"Good000": 10.0}, {"Good000": None}, {"Good000": (10.0, 11.0)}),  # None: full marks
        ({"Crash004": 1.0}, {"Crash004": 0}, {"Crash004": (1.0, 0)}),
        ({}, {"Good000": None}, {"Good000": (None, -1)}),  # a team never graded is wrong
        ({"Extra": 3.0}, {}, {}),  # the course class: nothing expected, nothing judged
    ],
)
def test_wrong_scores(
    scores: dict[str, float], expected: dict[str, float | None], wrong: dict[str, tuple[float | None, float]]
) -> None:
    assert outcome(scores, expected).wrong_scores() == wrong
