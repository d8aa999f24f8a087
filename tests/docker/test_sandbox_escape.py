"""Nothing to borrow, no way out, no way to slow a neighbour: three hostile teams graded beside a good one.

Cheat looks for socklab's own servers (``import services``, ``python3 -m
services``, a search of /); Tunnel tries Docker's resolver 127.0.0.11 over TCP
and UDP, a name lookup, IPv6 and the other teams' networks; NetFlood floods its
own network for a while. Each must get nothing and say so; the good team
(Alpha, calculator server) keeps the verdicts and about the timing it has
graded alone. Its own module (not test_sandbox's): these three are busy for
seconds, and the fork bomb and memory hog there are judged on how fast they fail.
"""

from __future__ import annotations

from typing import Any

import pytest

from .sandboxing import grade, grade_teams

HOSTILE = ("Cheat", "Tunnel", "NetFlood")
#: Cheat walks the whole filesystem before it gives up: a listen timeout long enough for that.
CONFIG = """
level: lab
timeouts: {listen: 20, check: 30}
parts:
  calc:
    calc-server: {run: "python3 {file} calc-server {port}"}
"""


@pytest.fixture(scope="module")
def alone(docker_client: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """Alpha graded on its own, for comparison (verdicts and timing)."""
    return grade_teams(tmp_path_factory.mktemp("alone"), ("Alpha",), CONFIG)[0]["Alpha"]


@pytest.fixture(scope="module")
def graded(docker_client: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return grade_teams(tmp_path_factory.mktemp("escape"), ("Alpha", *HOSTILE), CONFIG)[0]


def calc(graded: dict[str, Any], team: str) -> Any:
    return graded[team].roles[0]


def test_the_good_team_keeps_its_verdicts_and_timing(graded: dict[str, Any], alone: Any) -> None:
    alpha = graded["Alpha"]
    assert alpha.score == alpha.max_score, grade.team_markdown(alpha)
    assert grade.verdicts([alpha]) == grade.verdicts([alone])
    # About as long as graded alone (a loaded machine varies: generous bounds).
    beside, by_itself = calc(graded, "Alpha").check_seconds, alone.roles[0].check_seconds
    assert beside <= 3 * by_itself + 10, (beside, by_itself)


def test_nothing_of_socklab_is_in_the_sandbox(graded: dict[str, Any]) -> None:
    result = calc(graded, "Cheat")
    lines = result.output.splitlines()
    assert not [line for line in lines if "CHEATED" in line], lines
    assert "cheat: import services -> No module named 'services'" in lines
    assert "cheat: socklab files found: none" in lines
    assert graded["Cheat"].score == 0
    report = grade.team_markdown(graded["Cheat"])
    assert "No module named" in report and "exited (status 1)" in report  # the report says why


def test_no_way_out_through_the_resolver_ipv6_or_other_teams(graded: dict[str, Any]) -> None:
    result = calc(graded, "Tunnel")
    lines = result.output.splitlines()
    assert not [line for line in lines if line.startswith("ESCAPED")], lines
    for start in (
        "blocked: resolver tcp - ",
        "blocked: resolver udp - ",
        "blocked: name lookup - ",
        "blocked: ipv6 addresses other than loopback: none",
        "blocked: other teams: 0 reached",
    ):
        assert any(line.startswith(start) for line in lines), (start, lines)
    assert any("resolver" in p for p in result.problems), result.problems
    assert any("outside its network" in p for p in result.problems), result.problems


def test_the_network_flood_stays_in_its_own_network(graded: dict[str, Any]) -> None:
    result = calc(graded, "NetFlood")
    assert graded["NetFlood"].score == 0
    assert not any("outside its network" in p for p in result.problems), result.problems
