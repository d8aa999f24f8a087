"""The starter (course/starter/Lab2_NAME.py): every role of the catalogue, one empty function per role,
no answers, and the same command-line convention as the course's grading.yaml and docs/grading.md."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
import yaml

from services import roles

ROOT = Path(__file__).resolve().parents[2]
STARTER = ROOT / "course" / "starter" / "Lab2_NAME.py"
#: The two lines of the convention, as the starter's header and docs/grading.md both state them.
CONVENTION = (
    "python3 Lab2_NAME.py ROLE PORT                 servers",
    "python3 Lab2_NAME.py ROLE HOST PORT [NAME]     clients",
)


def tree() -> ast.Module:
    return ast.parse(STARTER.read_text())


def functions() -> dict[str, ast.FunctionDef]:
    return {node.name: node for node in tree().body if isinstance(node, ast.FunctionDef)}


def roles_table() -> dict[str, tuple[int, str]]:
    """The starter's ROLES table: role -> (question, function name), read from its source."""
    for node in tree().body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "ROLES":
            assert isinstance(node.value, ast.Dict)
            return {
                ast.literal_eval(key): (ast.literal_eval(value.elts[0]), value.elts[1].id)  # type: ignore[union-attr]
                for key, value in zip(node.value.keys, node.value.values, strict=True)  # type: ignore[arg-type]
            }
    raise AssertionError("the starter has no ROLES table")


def test_the_starter_has_every_role_of_the_catalogue() -> None:
    assert set(roles_table()) == {role.name for role in roles.ROLES}


def test_each_role_has_its_own_function_named_after_it() -> None:
    table = roles_table()
    assert all(function == role.replace("-", "_") for role, (_question, function) in table.items())
    assert {question for question, _ in table.values()} == {1, 3, 4, 6, 8}  # 2, 5 and 7 go in the report


@pytest.mark.parametrize("role", [role.name for role in roles.ROLES])
def test_each_question_function_is_empty_with_a_docstring(role: str) -> None:
    """No answers: the body is the docstring and `raise NotWrittenYet`, nothing else."""
    question, name = roles_table()[role]
    function = functions()[name]
    docstring = ast.get_docstring(function) or ""
    assert docstring.startswith(f"Question {question}"), docstring
    assert len(function.body) == 2 and ast.unparse(function.body[1]) == "raise NotWrittenYet"
    servers = role.endswith("-server")
    assert [a.arg for a in function.args.args] == (["port"] if servers else ["host", "port", "name"])


def test_the_starter_header_states_the_convention() -> None:
    header = [line.removeprefix("#").strip() for line in STARTER.read_text().splitlines() if line.startswith("#")]
    assert all(line in header for line in CONVENTION), header


def test_docs_grading_states_the_same_convention() -> None:
    text = (ROOT / "docs" / "grading.md").read_text()
    assert all(line in text for line in CONVENTION)
    assert "course/starter/Lab2_NAME.py" in text


def test_the_course_grading_config_uses_the_convention() -> None:
    """Every `run:` of grading/grading.yaml is `python3 {file} ROLE {port}` or `... ROLE {host} {port} [{name}]`."""
    config = yaml.safe_load((ROOT / "grading" / "grading.yaml").read_text())
    # A part also holds its own settings (title, total, bonus, cases_from): the roles are the entries with a run.
    runs = {
        role: spec["run"]
        for part in config["parts"].values()
        for role, spec in part.items()
        if isinstance(spec, dict) and "run" in spec
    }
    assert runs, "no roles in grading.yaml"
    for role, run in runs.items():
        want = rf"python3 \{{file\}} {re.escape(role)} " + (
            r"\{port\}" if role.endswith("-server") else r"\{host\} \{port\}( \{name\})?"
        )
        assert re.fullmatch(want, run), (role, run)
