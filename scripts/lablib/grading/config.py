"""The TA's grading config (``--config``, default grading/grading.yaml): parts, roles, points, limits, teams.

Every key is checked: an unknown key, a wrong type or an out-of-range value is
a ``GradeError`` naming the key and its line, and nothing is graded. The
roles' facts (port, transport, client or server) come from the catalogue,
``services/roles.py``. Points: each case is worth its role's points (default
``points:``); a part with ``total:`` scales its cases to that total; a
``bonus: true`` part adds to the score but not to the maximum; ``cases_from:``
counts cases of a role configured in another part in this one (the course's
"several clients at once" belongs to Part 3, its calculator to Part 2).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .. import common, fingerprint, sandbox
from .yamlinput import GradeError, Where, mapping, number, numbers, read_yaml, text, text_list

sys.path.insert(0, str(common.ROOT))
from services import roles  # noqa: E402
from services.check.core import LEVELS, cases_for  # noqa: E402

__all__ = ["GradeError", "Config", "PartSpec", "RoleSpec", "Similarity", "Timeouts", "TeamOverride", "load_config"]

DEFAULT_CONFIG = common.ROOT / "grading" / "grading.yaml"
DEFAULT_PROGRAM_PATTERN = "Lab2_*.py"
#: A client role is recorded for ``duration`` s and then some for the checker's own start and judging.
CLIENT_SLACK = 30.0
#: Allowed ranges (inclusive) of the numbers a TA may set.
LIMIT_RANGES: dict[str, tuple[float, float]] = {
    "memory_mb": (32, 4096),
    "cpus": (0.1, 8),
    "pids": (16, 4096),
    "tmpfs_mb": (1, 1024),
}
TIMEOUT_RANGES: dict[str, tuple[float, float]] = {"listen": (1, 300), "check": (5, 1800)}
DURATION_RANGE = (1.0, 600.0)
POINTS_RANGE = (0.0, 1000.0)
#: A team's stdin lines: how many, how long (a menu's answers, not a data file).
STDIN_MAX_LINES, STDIN_MAX_CHARS = 20, 200
RUN_MAX_CHARS = 1000
TOP_KEYS = ("level", "points", "program_pattern", "limits", "timeouts", "similarity", "parts", "teams")
PART_KEYS = ("title", "total", "bonus", "cases_from")
ROLE_KEYS = ("run", "points", "port", "level", "duration", "check_args")
TEAM_ROLE_KEYS = ("run", "stdin")


@dataclass(frozen=True)
class Timeouts:
    listen: float = 10.0  # s for a server to listen on its port
    check: float = 60.0  # s for one server role's checks


@dataclass(frozen=True)
class Similarity:
    """Settings of the similarity report (``similar.html``, lablib/similar.py): read by that report, not by the grader.

    The defaults are measured (docs/grading.md, "Similar code"): on the fixtures, disguised
    copies scored 0.33 and more, independent solutions 0.09 at most.
    """

    #: A pair is flagged from this similarity (0-1): the larger of the two programs' shares of
    #: own code (base code left out) inside matches.
    threshold: float = 0.2
    #: Shortest run of equal normalised tokens that counts as a match (at least one k-gram).
    min_match_tokens: int = 30


@dataclass(frozen=True)
class PartSpec:
    name: str
    title: str
    #: The part's points: its cases' points scaled to this (None: their plain sum).
    total: float | None = None
    #: Adds to a team's score, not to its maximum.
    bonus: bool = False


@dataclass(frozen=True)
class TeamOverride:
    """How one team's program starts for one role, when it does not follow the class's convention."""

    run: str | None = None
    #: Lines written to the program's stdin at its start (a menu's answers); stdin stays open after them.
    stdin: tuple[str, ...] = ()


@dataclass(frozen=True)
class RoleSpec:
    part: str
    role: str
    #: The command template (placeholders: {file} {dir} {port} {host} {name}).
    run: str
    port: int
    level: str
    #: Points of each case (after a part's ``total`` scaled them); others are worth ``default_points``.
    points: dict[str, float]
    default_points: float
    duration: float | None = None
    check_args: tuple[str, ...] = ()
    #: Cases that count in another part than ``part`` (a part's ``cases_from``).
    case_parts: dict[str, str] = field(default_factory=dict)
    #: Lines written to the program's stdin at its start (per team, from ``teams:``).
    stdin: tuple[str, ...] = ()
    #: Cases whose part is a bonus: they add to a score, not to its maximum.
    bonus_cases: frozenset[str] = frozenset()

    @property
    def catalogue(self) -> roles.Role:
        return roles.get(self.role)

    @property
    def is_client(self) -> bool:
        return self.catalogue.is_client

    @property
    def proto(self) -> str:
        """The transport the role's server listens on (udp or tcp)."""
        return self.catalogue.transport

    def cases(self) -> list[str]:
        return [c.name for c in cases_for(self.role, self.level)]

    def points_of(self, case: str) -> float:
        return self.points.get(case, self.default_points)

    def part_of(self, case: str) -> str:
        return self.case_parts.get(case, self.part)

    def check_timeout(self, timeouts: Timeouts) -> float:
        return (self.duration or 0) + CLIENT_SLACK if self.is_client else timeouts.check


@dataclass(frozen=True)
class Config:
    roles: tuple[RoleSpec, ...]
    limits: sandbox.Limits = field(default_factory=sandbox.Limits)
    timeouts: Timeouts = field(default_factory=Timeouts)
    #: In a team's folder, the program {file} names (a glob pattern).
    program_pattern: str = DEFAULT_PROGRAM_PATTERN
    similarity: Similarity = field(default_factory=Similarity)
    parts: tuple[PartSpec, ...] = ()
    #: Team (as in its file name after Lab2_, or its folder) -> role -> how that team's program starts.
    teams: dict[str, dict[str, TeamOverride]] = field(default_factory=dict)
    #: Where it was read from (shown in the reports).
    source: str = ""

    def roles_for(self, *names: str) -> tuple[RoleSpec, ...]:
        """The roles as a team known by any of ``names`` runs them (its ``teams:`` entry applied)."""
        override = next((self.teams[n] for n in names if n in self.teams), {})
        return tuple(
            replace(s, run=override[s.role].run or s.run, stdin=override[s.role].stdin) if s.role in override else s
            for s in self.roles
        )


def load_config(path: Path) -> Config:
    data, at = read_yaml(path)
    top = mapping(data, at, (), TOP_KEYS)
    if not top.get("parts"):
        raise GradeError(f"{at('parts')}: expected a mapping with 'parts' (part -> role -> {{run, points}})")
    level = top.get("level", "lab")
    if level not in LEVELS:
        raise GradeError(f"{at('level')}: must be one of {', '.join(LEVELS)}")
    default_points = number(top.get("points", 1), at("points"), POINTS_RANGE)
    limit_kinds = {k: type(getattr(sandbox.Limits(), k)) for k in LIMIT_RANGES}
    limits = mapping(top.get("limits"), at, ("limits",), tuple(LIMIT_RANGES))
    timeouts = mapping(top.get("timeouts"), at, ("timeouts",), tuple(TIMEOUT_RANGES))
    pattern = top.get("program_pattern", DEFAULT_PROGRAM_PATTERN)
    if not isinstance(pattern, str) or not pattern or "/" in pattern:
        raise GradeError(f"{at('program_pattern')}: expected a file name pattern such as {DEFAULT_PROGRAM_PATTERN}")
    parts, specs = read_parts(top["parts"], at, level, default_points)
    return Config(
        roles=tuple(specs),
        limits=sandbox.Limits(**numbers(limits, LIMIT_RANGES, limit_kinds, at, "limits")),
        timeouts=Timeouts(**numbers(timeouts, TIMEOUT_RANGES, dict.fromkeys(TIMEOUT_RANGES, float), at, "timeouts")),
        program_pattern=pattern,
        similarity=similarity(top.get("similarity"), at),
        parts=parts,
        teams=read_teams(top.get("teams"), at, {s.role for s in specs}),
        source=str(path),
    )


def read_parts(value: Any, at: Where, level: str, default: float) -> tuple[tuple[PartSpec, ...], list[RoleSpec]]:
    """The parts and their roles, each case's part settled and its points scaled to its part's total."""
    parts, specs, moves = [], [], []
    for name, body in mapping(value, at, ("parts",)).items():
        section = mapping(body, at, ("parts", name))
        settings = {k: v for k, v in section.items() if k in PART_KEYS}
        total = settings.get("total")
        parts.append(
            PartSpec(
                name=name,
                title=text(settings.get("title", name), at("parts", name, "title"), 200),
                total=None if total is None else number(total, at("parts", name, "total"), POINTS_RANGE),
                bonus=settings.get("bonus", False) is True,
            )
        )
        if not isinstance(settings.get("bonus", False), bool):
            raise GradeError(f"{at('parts', name, 'bonus')}: expected true or false")
        for role, spec in section.items():
            if role not in PART_KEYS:
                specs.append(role_spec(at, name, role, spec, level, default))
        cases_from = mapping(settings.get("cases_from"), at, ("parts", name, "cases_from"))
        moves += [(name, role, cases) for role, cases in cases_from.items()]
    seen = [s.role for s in specs]
    twice = sorted({r for r in seen if seen.count(r) > 1})
    if twice:
        raise GradeError(f"{at('parts')}: role {twice[0]} appears in more than one part")
    specs = move_cases(specs, moves, at)
    return tuple(parts), scale_points(specs, parts, at)


def move_cases(specs: list[RoleSpec], moves: list[tuple[str, str, Any]], at: Where) -> list[RoleSpec]:
    """Apply each part's ``cases_from: {ROLE: [CASE, ...]}``: those cases count in that part."""
    by_role = {s.role: s for s in specs}
    for part, role, cases in moves:
        where = at("parts", part, "cases_from", role)
        if role not in by_role:
            raise GradeError(f"{where}: {role} is not configured in any part")
        spec = by_role[role]
        names = text_list(cases, where, max_items=100, max_chars=100)
        unknown = sorted(set(names) - set(spec.cases()))
        if unknown:
            raise GradeError(f"{where}: no case {unknown[0]} at level {spec.level}; cases: {', '.join(spec.cases())}")
        taken = sorted(c for c in names if c in spec.case_parts)
        if taken:
            raise GradeError(f"{where}: case {taken[0]} already counts in part {spec.case_parts[taken[0]]}")
        by_role[role] = replace(spec, case_parts={**spec.case_parts, **dict.fromkeys(names, part)})
    return [by_role[s.role] for s in specs]


def scale_points(specs: list[RoleSpec], parts: list[PartSpec], at: Where) -> list[RoleSpec]:
    """Every case's points written out; a part with a ``total`` gets its cases scaled to it."""
    weight = {(s.role, c): s.points_of(c) for s in specs for c in s.cases()}
    factor = {}
    for part in parts:
        if part.total is not None:
            weights = sum(w for (role, c), w in weight.items() if _spec(specs, role).part_of(c) == part.name)
            if weights == 0:
                raise GradeError(f"{at('parts', part.name, 'total')}: the part has no case worth points to scale")
            factor[part.name] = part.total / weights
    bonus = {p.name for p in parts if p.bonus}
    return [
        replace(
            s,
            points={c: weight[(s.role, c)] * factor.get(s.part_of(c), 1.0) for c in s.cases()},
            bonus_cases=frozenset(c for c in s.cases() if s.part_of(c) in bonus),
        )
        for s in specs
    ]


def _spec(specs: list[RoleSpec], role: str) -> RoleSpec:
    return next(s for s in specs if s.role == role)


def read_teams(value: Any, at: Where, configured: set[str]) -> dict[str, dict[str, TeamOverride]]:
    """``teams: {TEAM: {ROLE: {run, stdin}}}``: how a team that did not follow the convention starts."""
    teams: dict[str, dict[str, TeamOverride]] = {}
    for team, body in mapping(value, at, ("teams",)).items():
        teams[team] = {}
        for role, spec in mapping(body, at, ("teams", team)).items():
            keys = ("teams", team, role)
            if role not in configured:
                raise GradeError(f"{at(*keys)}: not a role of any part (roles: {', '.join(sorted(configured))})")
            settings = mapping(spec, at, keys, TEAM_ROLE_KEYS)
            run = settings.get("run")
            teams[team][role] = TeamOverride(
                run=None if run is None else text(run, at(*keys, "run"), RUN_MAX_CHARS),
                stdin=text_list(settings.get("stdin", []), at(*keys, "stdin"), STDIN_MAX_LINES, STDIN_MAX_CHARS),
            )
    return teams


def similarity(value: Any, at: Where) -> Similarity:
    section = mapping(value, at, ("similarity",), ("threshold", "min_match_tokens"))
    default = Similarity()
    return Similarity(
        threshold=number(section.get("threshold", default.threshold), at("similarity", "threshold"), (0, 1)),
        min_match_tokens=number(
            section.get("min_match_tokens", default.min_match_tokens),
            at("similarity", "min_match_tokens"),
            (fingerprint.K, 1_000_000),
            int,
        ),
    )


def role_spec(at: Where, part: str, role: str, value: Any, level: str, default: float) -> RoleSpec:
    keys = ("parts", part, role)
    if role not in {r.name for r in roles.CHECKED}:
        known = ", ".join([*(r.name for r in roles.CHECKED), *PART_KEYS])
        raise GradeError(f"{at(*keys)}: unknown role or part setting; known: {known}")
    spec = mapping(value, at, keys, ROLE_KEYS)
    if "run" not in spec:
        raise GradeError(f"{at(*keys, 'run')}: the command template (e.g. python3 {{file}} {role} {{port}}) is missing")
    role_level = spec.get("level", level)
    if role_level not in LEVELS:
        raise GradeError(f"{at(*keys, 'level')}: must be one of {', '.join(LEVELS)}")
    points = spec.get("points", {})
    role_default = default
    if isinstance(points, int | float) and not isinstance(points, bool):
        role_default, points = number(points, at(*keys, "points"), POINTS_RANGE), {}
    points = mapping(points, at, (*keys, "points"))
    known = [c.name for c in cases_for(role, role_level)]
    unknown_cases = sorted(set(points) - set(known))
    if unknown_cases:
        where = at(*keys, "points", unknown_cases[0])
        raise GradeError(f"{where}: no such case at level {role_level}; cases: {', '.join(known)}")
    check_args = spec.get("check_args", [])
    if not isinstance(check_args, list):
        raise GradeError(f"{at(*keys, 'check_args')}: expected a list of checker options")
    duration = spec.get("duration")
    return RoleSpec(
        part=part,
        role=role,
        run=text(spec["run"], at(*keys, "run"), RUN_MAX_CHARS),
        port=number(spec.get("port", roles.server_port(role)), at(*keys, "port"), (1, 65535), int),
        level=role_level,
        points={k: number(v, at(*keys, "points", k), POINTS_RANGE) for k, v in points.items()},
        default_points=role_default,
        duration=None if duration is None else number(duration, at(*keys, "duration"), DURATION_RANGE),
        check_args=tuple(str(a) for a in check_args),
    )
