"""scripts/lab's verb table: only listed verbs run, an unknown verb exits 2, every verb has a main."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

from lablib import verbs  # noqa: E402


@pytest.mark.parametrize("verb", verbs.VERBS, ids=lambda v: v.name)
def test_every_verb_has_a_main(verb: verbs.Verb) -> None:
    assert callable(importlib.import_module(f"lablib.{verb.module}").main)


@pytest.mark.parametrize("name", ["nope", "common", "sandbox_lib", "__init__", ""])
def test_unknown_verb_exits_2_with_the_list(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    if name in verbs.BY_NAME:
        pytest.skip("a verb of that name exists")
    assert verbs.dispatch([name]) == 2
    err = capsys.readouterr().err
    assert f"unknown verb {name!r}" in err
    assert "  help " in err


def test_help_lists_every_verb(capsys: pytest.CaptureFixture[str]) -> None:
    assert verbs.dispatch(["help"]) == 0
    out = capsys.readouterr().out
    for verb in verbs.VERBS:
        assert f"  {verb.name} " in out


def test_scripts_lab_exits_2_for_an_unknown_verb() -> None:
    venv = ROOT / ".venv"
    if not (venv / ".socklab-requirements").exists():
        pytest.skip("scripts/lab's venv is not installed")
    done = subprocess.run([str(ROOT / "scripts" / "lab"), "handout-nope"], capture_output=True, text=True)
    assert done.returncode == 2
    assert "unknown verb 'handout-nope'" in done.stderr


def test_the_readme_lists_every_verb() -> None:
    readme = (ROOT / "README.md").read_text()
    table = readme[readme.index("| verb | what it does |") :]
    table = table[: table.index("\n\n")]
    listed = {row.split("`")[1].split()[0] for row in table.splitlines()[2:]}
    assert listed == set(verbs.BY_NAME)
