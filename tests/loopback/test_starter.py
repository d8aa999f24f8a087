"""The starter run as a student's program: each role says "not written yet" (no crash), bad command lines
get the usage, and the grader's own commands (grading/grading.yaml, placeholders filled) are accepted."""

from __future__ import annotations

import shlex
import subprocess
import sys

import pytest

from services import roles
from tests.helpers import ROOT

sys.path.insert(0, str(ROOT / "scripts"))
from lablib.grading.config import load_config  # noqa: E402

STARTER = ROOT / "course" / "starter" / "Lab2_NAME.py"
NOT_WRITTEN = 3
USAGE = "usage: python3 Lab2_NAME.py ROLE PORT (servers) | python3 Lab2_NAME.py ROLE HOST PORT [NAME] (clients)"
QUESTION = {"udp-echo": 1, "datetime": 3, "tcp-echo": 4, "calc": 6, "chat": 8}
RUN_TIMEOUT = 15.0


def run(argv: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=RUN_TIMEOUT, stdin=subprocess.DEVNULL)


def not_written(role: str) -> str:
    question = QUESTION[role.rsplit("-", 1)[0]]
    return f"{role}: not written yet (question {question}): write {role.replace('-', '_')}() in Lab2_NAME.py\n"


def grader_commands() -> list[tuple[str, list[str]]]:
    """The course config's command for each role (read by the grader's own loader), placeholders filled."""
    config = load_config(ROOT / "grading" / "grading.yaml")
    values = {"{file}": str(STARTER), "{port}": "12345", "{host}": "172.30.1.2", "{name}": "Team7"}
    commands = []
    for spec in config.roles:
        words = shlex.split(spec.run)
        for key, value in values.items():
            words = [w.replace(key, value) for w in words]
        commands.append((spec.role, [sys.executable if w == "python3" else w for w in words]))
    return commands


@pytest.mark.parametrize(("role", "argv"), grader_commands(), ids=[role for role, _ in grader_commands()])
def test_the_graders_commands_reach_the_empty_functions(role: str, argv: list[str]) -> None:
    done = run(argv)
    assert (done.returncode, done.stdout, done.stderr) == (NOT_WRITTEN, "", not_written(role))


@pytest.mark.parametrize("role", [role.name for role in roles.ROLES])
def test_every_role_by_the_convention_says_not_written_yet(role: str) -> None:
    args = ["12000"] if role.endswith("-server") else ["localhost", "12000"]
    done = run([sys.executable, str(STARTER), role, *args])
    assert (done.returncode, done.stdout, done.stderr) == (NOT_WRITTEN, "", not_written(role))


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        ([], "ROLE must be one of: " + ", ".join(("udp-echo-server", "udp-echo-client"))),
        (["web-server", "80"], "ROLE must be one of: "),
        (["calc-server"], "calc-server takes PORT"),
        (["calc-server", "localhost", "12002"], "calc-server takes PORT"),
        (["calc-client", "12002"], "calc-client takes HOST PORT [NAME]"),
        (["chat-client", "h", "1", "n", "extra"], "chat-client takes HOST PORT [NAME]"),
        (["calc-server", "twelve"], "PORT must be a number from 0 to 65535, not 'twelve'"),
        (["datetime-client", "localhost", "65536"], "PORT must be a number from 0 to 65535, not '65536'"),
    ],
)
def test_a_bad_command_line_gets_the_usage(args: list[str], problem: str) -> None:
    done = run([sys.executable, str(STARTER), *args])
    assert done.returncode == 2 and done.stdout == ""
    first, second = done.stderr.splitlines()
    assert first.startswith(f"Lab2_NAME.py: {problem}") and second == USAGE
