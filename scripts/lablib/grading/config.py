"""The grading config (grading/grading.yaml): how to start each role of a submission and what each case is worth.

Every key is checked: an unknown key, a wrong type or an out-of-range value is
a ``GradeError`` naming the key and its line, and nothing is graded. The
roles' facts (port, transport, client or server) come from the catalogue,
``services/roles.py``.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import common, fingerprint, sandbox

sys.path.insert(0, str(common.ROOT))
from services import roles  # noqa: E402
from services.check.core import LEVELS, cases_for  # noqa: E402

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
TOP_KEYS = ("level", "points", "program_pattern", "limits", "timeouts", "similarity", "parts")
ROLE_KEYS = ("run", "points", "port", "level", "duration", "check_args")


class GradeError(Exception):
    """A problem with the grader's input (config, folder): reported to the TA, nothing is run."""


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
class RoleSpec:
    part: str
    role: str
    #: The command template (placeholders: {file} {dir} {port} {host} {name}).
    run: str
    port: int
    level: str
    points: dict[str, float]
    default_points: float
    duration: float | None = None
    check_args: tuple[str, ...] = ()

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
    #: Where it was read from (shown in the reports).
    source: str = ""


# -- reading YAML with line numbers ------------------------------------------------------------------------


class Where:
    """Turns a key path into ``file:line: a/b/c`` using the YAML nodes' marks."""

    def __init__(self, path: Path, lines: dict[tuple[str, ...], int]) -> None:
        self.path, self.lines = path, lines

    def __call__(self, *keys: str) -> str:
        for n in range(len(keys), -1, -1):
            if keys[:n] in self.lines:
                line = self.lines[keys[:n]]
                break
        else:
            line = 1
        return f"{self.path}:{line}: {'/'.join(keys) or '(top)'}"


def _key_lines(node: Any, prefix: tuple[str, ...], out: dict[tuple[str, ...], int]) -> None:
    import yaml

    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            path = (*prefix, str(key.value))
            out[path] = key.start_mark.line + 1
            _key_lines(value, path, out)


def read_yaml(path: Path) -> tuple[Any, Where]:
    import yaml

    try:
        text = path.read_text()
        data = yaml.safe_load(text)
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise GradeError(f"cannot read {path}: {exc}") from exc
    lines: dict[tuple[str, ...], int] = {}
    _key_lines(node, (), lines)
    return data, Where(path, lines)


# -- checking values ----------------------------------------------------------------------------------------


def mapping(value: Any, at: Where, keys: tuple[str, ...], known: tuple[str, ...] | None = None) -> dict[str, Any]:
    """``value`` (at ``keys``) as a mapping with string keys, each in ``known`` if given."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise GradeError(f"{at(*keys)}: expected a mapping, got {type(value).__name__}")
    if known is not None:
        unknown = sorted(str(k) for k in value if k not in known)
        if unknown:
            raise GradeError(f"{at(*keys, unknown[0])}: unknown key (known: {', '.join(known)})")
    return {str(k): v for k, v in value.items()}


def number(value: Any, where: str, bounds: tuple[float, float], kind: type = float) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float) or (kind is int and not float(value).is_integer()):
        raise GradeError(f"{where}: expected {'a whole number' if kind is int else 'a number'}, got {value!r}")
    low, high = bounds
    if not low <= value <= high:
        raise GradeError(f"{where}: {value!r} is out of range ({low:g} to {high:g})")
    return kind(value)


def _numbers(
    section: dict[str, Any], ranges: dict[str, tuple[float, float]], kinds: dict[str, type], at: Any, key: str
):
    return {k: number(v, at(key, k), ranges[k], kinds[k]) for k, v in section.items()}


# -- the config ----------------------------------------------------------------------------------------------


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
    specs = [
        role_spec(at, part, role, spec, level, default_points)
        for part, role_map in mapping(top["parts"], at, ("parts",)).items()
        for role, spec in mapping(role_map, at, ("parts", part)).items()
    ]
    seen = [s.role for s in specs]
    twice = sorted({r for r in seen if seen.count(r) > 1})
    if twice:
        raise GradeError(f"{at('parts')}: role {twice[0]} appears in more than one part")
    return Config(
        roles=tuple(specs),
        limits=sandbox.Limits(**_numbers(limits, LIMIT_RANGES, limit_kinds, at, "limits")),
        timeouts=Timeouts(**_numbers(timeouts, TIMEOUT_RANGES, dict.fromkeys(TIMEOUT_RANGES, float), at, "timeouts")),
        program_pattern=pattern,
        similarity=similarity(top.get("similarity"), at),
        source=str(path),
    )


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
        raise GradeError(f"{at(*keys)}: unknown role; roles: {', '.join(r.name for r in roles.CHECKED)}")
    spec = mapping(value, at, (*keys,), ROLE_KEYS)
    run = spec.get("run")
    if not isinstance(run, str) or not run.strip():
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
        run=run,
        port=number(spec.get("port", roles.server_port(role)), at(*keys, "port"), (1, 65535), int),
        level=role_level,
        points={k: number(v, at(*keys, "points", k), POINTS_RANGE) for k, v in points.items()},
        default_points=role_default,
        duration=None if duration is None else number(duration, at(*keys, "duration"), DURATION_RANGE),
        check_args=tuple(str(a) for a in check_args),
    )
