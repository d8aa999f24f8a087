"""A team's grading result as JSON and back: what a Swarm task tells the manager (see parcel.py).

Only plain values travel (text, numbers, lists, the cases as the checker's
own ``CaseResult.to_dict``). What the manager already knows is not sent but
taken from its side: each role's spec (from the config, by role name) and the
submission (from the class folder), so a result can never name a role or a
team the manager did not ask for.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from lablib.grading import Config, RoleResult, Submission, TeamResult
from lablib.grading.results import CaseResult

#: Fields rebuilt on the manager, never taken from a task.
LOCAL_FIELDS = {"spec", "submission", "roles", "cases", "parts"}


def _plain(value: Any) -> bool:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True


def _plain_fields(obj: Any) -> dict[str, Any]:
    found = {}
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if f.name not in LOCAL_FIELDS and _plain(value):
            found[f.name] = value
    return found


def to_document(team: TeamResult) -> dict[str, Any]:
    roles = [{"role": r.spec.role, "cases": [c.to_dict() for c in r.cases], **_plain_fields(r)} for r in team.roles]
    return {"team": _plain_fields(team), "roles": roles}


def submission_fields(sub: Submission) -> dict[str, Any]:
    """The submission as the task rebuilds it (its ``path`` is replaced there by where it was unpacked)."""
    return _plain_fields(sub) | {"path_name": sub.path.name}


def from_document(doc: dict[str, Any], sub: Submission, config: Config) -> TeamResult:
    """The TeamResult a local run would have made, from a task's document; ValueError when it does not fit."""
    team_specs = config.roles_for(sub.name, sub.folder)  # the team's own commands, as the node ran them
    specs = {spec.role: spec for spec in team_specs}
    roles = []
    for entry in _list(doc.get("roles")):
        spec = specs.get(entry.get("role")) if isinstance(entry, dict) else None
        if spec is None:
            raise ValueError(f"a result for a role the config does not have: {str(entry)[:80]}")
        role = RoleResult(spec, cases=[CaseResult.from_dict(c) for c in _list(entry.get("cases"))])
        _assign(role, entry)
        roles.append(role)
    if [r.spec.role for r in roles] != [s.role for s in team_specs]:
        raise ValueError("the task's roles are not the config's")
    team = TeamResult(sub, roles=roles, parts=config.parts)
    _assign(team, doc.get("team") or {})
    return team


def _list(value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise ValueError(f"expected a list, got {type(value).__name__}")
    return value


def _assign(obj: Any, values: dict[str, Any]) -> None:
    """Set ``obj``'s plain fields from ``values`` where the types agree with the field's current value."""
    for f in dataclasses.fields(obj):
        if f.name in LOCAL_FIELDS or f.name not in values:
            continue
        current, given = getattr(obj, f.name), values[f.name]
        if isinstance(current, float) and isinstance(given, int):
            given = float(given)
        if type(given) is not type(current):
            raise ValueError(f"{f.name}: expected {type(current).__name__}, got {type(given).__name__}")
        setattr(obj, f.name, given)
