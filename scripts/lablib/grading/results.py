"""What grading a team found: per role, its status, cases, problems and files; scores from the config's points."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import common
from .config import PartSpec, RoleSpec
from .submissions import Submission

sys.path.insert(0, str(common.ROOT))
from services.check.core import CaseResult  # noqa: E402


@dataclass
class RoleResult:
    spec: RoleSpec
    #: What happened before the checks: "ok", or a short reason the checks could not run.
    status: str = "ok"
    cases: list[CaseResult] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    output: str = ""
    pcap: str = ""
    log: str = ""
    exchanges: dict[str, str] = field(default_factory=dict)
    check_seconds: float = 0.0

    def score(self, case: CaseResult) -> float:
        return self.spec.points_of(case.name) if case.passed else 0.0

    @property
    def total(self) -> float:
        return sum(self.score(c) for c in self.cases)

    @property
    def max_total(self) -> float:
        """Every point the role can earn, bonus cases included."""
        return sum(self.spec.points_of(c) for c in self.spec.cases())

    @property
    def required_total(self) -> float:
        """The role's share of a team's maximum: its cases outside bonus parts."""
        return sum(self.spec.points_of(c) for c in self.spec.cases() if c not in self.spec.bonus_cases)

    def notes(self) -> list[str]:
        """Why the role lost points beyond its cases: its status if not ok, then the program's problems."""
        return ([self.status] if self.status != "ok" else []) + self.problems


@dataclass
class PartScore:
    part: PartSpec
    score: float = 0.0
    max_score: float = 0.0


@dataclass
class TeamResult:
    submission: Submission
    roles: list[RoleResult] = field(default_factory=list)
    error: str = ""
    seconds: float = 0.0
    #: The config's parts (their titles, totals and which are a bonus).
    parts: tuple[PartSpec, ...] = ()

    @property
    def score(self) -> float:
        return sum(r.total for r in self.roles)

    @property
    def max_score(self) -> float:
        """The maximum without bonus parts (a bonus adds to ``score`` only)."""
        return sum(r.required_total for r in self.roles)

    def part_scores(self) -> list[PartScore]:
        """Score and maximum of each part, in the config's order."""
        scores = {p.name: PartScore(p) for p in self.parts}
        for role in self.roles:
            for name in role.spec.cases():
                part = scores.setdefault(role.spec.part_of(name), PartScore(PartSpec(role.spec.part_of(name), "")))
                part.max_score += role.spec.points_of(name)
            for case in role.cases:
                scores[role.spec.part_of(case.name)].score += role.score(case)
        return list(scores.values())

    def notes(self) -> list[str]:
        """One list for every report: the grader's error, then each role's status and problems."""
        found = [self.error] if self.error else []
        return found + [f"{r.spec.role}: {note}" for r in self.roles for note in r.notes()]


#: Every team's files go under OUT/teams/, so no team name can reach a class file (index.html, summary.json).
TEAMS_DIR = "teams"


def team_folder(out: Path, submission: Submission) -> Path:
    return out / TEAMS_DIR / submission.folder


def team_link(submission: Submission) -> str:
    """The team's folder relative to the class files (for links)."""
    return f"{TEAMS_DIR}/{submission.folder}"


def unchecked(spec: RoleSpec, reason: str) -> list[CaseResult]:
    return [CaseResult(name, spec.level, False, f"not run: {reason}", ran=False) for name in spec.cases()]


def merge_cases(spec: RoleSpec, reported: list[dict[str, Any]]) -> list[CaseResult]:
    """The role's configured cases, in order, with what the checker reported for each."""
    by_name = {r.get("name"): r for r in reported}
    merged = []
    for name in spec.cases():
        found = by_name.get(name)
        if found is None:
            merged.append(CaseResult(name, spec.level, False, "not reported by the checker", ran=False))
        else:
            merged.append(CaseResult.from_dict({"level": spec.level, **found}))
    return merged


def verdicts(teams: list[TeamResult]) -> dict[str, dict[str, str]]:
    """team -> "role/case" -> pass | fail | not run: what a second run must reproduce."""
    return {
        team.submission.team: {
            f"{r.spec.role}/{c.name}": "pass" if c.passed else ("fail" if c.ran else "not run")
            for r in team.roles
            for c in r.cases
        }
        for team in teams
    }
