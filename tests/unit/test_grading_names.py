"""Hostile submission names: safe unique folders under out/teams/, escaped when shown, symlinks refused.

The class folder here holds every name issue 12 lists; the grader's reports for
it are written without Docker (the teams' results are made up) and ``out/``
must hold exactly the expected tree, with nothing written anywhere else.
"""

from __future__ import annotations

import json
import os
import sys
import unicodedata
from pathlib import Path

import pytest

from services.check.core import CaseResult
from tests.helpers import ROOT

sys.path.insert(0, str(ROOT / "scripts"))
from lablib.grading import names, reports  # noqa: E402
from lablib.grading.config import load_config  # noqa: E402
from lablib.grading.results import RoleResult, TeamResult  # noqa: E402
from lablib.grading.submissions import find_submissions  # noqa: E402

ESCAPE = "\x1b[2J\x1b]0;owned\x07"
LONG = "L" * 200
JOSE_NFC = unicodedata.normalize("NFC", "José")
JOSE_NFD = unicodedata.normalize("NFD", "José")
#: Entry in the class folder -> the team folder it must get under out/teams/ (None: a symlink, see below).
HOSTILE = {
    "Lab2_...py": "team",
    "Lab2_..py": "team-2",
    "Lab2_a:b.py": "a_b",
    "Lab2_index.html.py": "index_html",
    "Lab2_summary.json.py": "summary_json",
    f"Lab2_{LONG}.py": "L" * 64,
    "Lab2_Jose.py": "Jose",  # sorted by name: plain e, then e + combining accent, then é
    f"Lab2_{JOSE_NFD}.py": "Jose-2",
    f"Lab2_{JOSE_NFC}.py": "Jose-3",
    f"Lab2_{ESCAPE}evil.py": "2J_0_owned_evil",
    "TwoPrograms": "TwoPrograms",
}


def folder_of(entry: str) -> str:
    return HOSTILE[entry]


@pytest.fixture
def hostile(tmp_path: Path) -> Path:
    folder = tmp_path / "class"
    folder.mkdir()
    for entry in HOSTILE:
        if entry == "TwoPrograms":
            (folder / entry).mkdir()
            (folder / entry / "Lab2_one.py").write_text("print(1)\n")
            (folder / entry / "Lab2_two.py").write_text("print(2)\n")
        else:
            (folder / entry).write_text("print('hi')\n")
    (folder / "Lab2_etc.py").symlink_to("/etc/passwd")
    (folder / "Etc").symlink_to("/etc")
    return folder


@pytest.mark.parametrize(
    ("name", "folder"),
    [("Alpha", "Alpha"), ("..", "team"), ("a b/c", "a_b_c"), ("Ünïcödé", "Unicode"), ("-x-", "x"), ("", "team")],
)
def test_folder_stem(name: str, folder: str) -> None:
    assert names.folder_stem(name) == folder


def test_folder_names_are_unique_and_bounded() -> None:
    folders = names.folder_names(["A" * 100] * 12 + ["alpha", "Alpha"])
    assert len(set(f.lower() for f in folders)) == len(folders)
    assert all(len(f) <= names.FOLDER_MAX for f in folders)
    assert folders[-2:] == ["alpha", "Alpha-2"]


def test_printable_escapes_controls_and_bidi() -> None:
    assert names.printable("a\x1b[2Jb\u202ec") == "a\\x1b[2Jb\\u202ec"
    assert names.printable_text("line\tone\r\nline two") == "line\tone\\x0d\nline two"
    assert len(names.printable("x" * 500)) == names.SHOWN_MAX


def test_hostile_names_get_safe_unique_folders(hostile: Path) -> None:
    found = {s.path.name: s for s in find_submissions(hostile, "Lab2_*.py")}
    assert {e: s.folder for e, s in found.items() if e in HOSTILE} == HOSTILE
    assert found["Lab2_a:b.py"].file == "/submission/Lab2_a_b.py"  # no ':' in a mount path
    assert found["Lab2_index.html.py"].file == "/submission/Lab2_index.html.py"
    assert found[f"Lab2_{ESCAPE}evil.py"].team == "\\x1b[2J\\x1b]0;owned\\x07evil"
    assert found[f"Lab2_{ESCAPE}evil.py"].name == f"{ESCAPE}evil"  # the original, for the config's teams:
    assert found["TwoPrograms"].file is None
    assert "found 2 (Lab2_one.py, Lab2_two.py)" in found["TwoPrograms"].problem
    for link in ("Lab2_etc.py", "Etc"):
        assert found[link].file is None
        assert found[link].problem == "refused: a symbolic link (not followed)"
    assert len({s.team for s in found.values()}) == len(found)


def snapshot(root: Path, skip: Path) -> dict[str, tuple[int, int]]:
    return {
        str(p): (p.lstat().st_mode, p.lstat().st_mtime_ns)
        for p in root.rglob("*")
        if skip not in p.parents and p != skip
    }


def test_reports_of_hostile_names_stay_in_out(hostile: Path, tmp_path: Path) -> None:
    config_path = tmp_path / "grading.yaml"
    config_path.write_text('parts: {calc: {calc-server: {run: "python3 {file} calc-server {port}"}}}\n')
    config = load_config(config_path)
    (spec,) = config.roles
    out = tmp_path / "out"
    before = snapshot(tmp_path, out)
    teams = []
    for sub in find_submissions(hostile, config.program_pattern):
        cases = [CaseResult(c, "lab", False, f"got {ESCAPE!r} and \x1b[31mred") for c in spec.cases()[:2]]
        role = RoleResult(spec, "ok", cases, output=names.printable_text(f"out {ESCAPE}\n```\n"))
        teams.append(TeamResult(sub, [role]))
        reports.write_team(out, teams[-1])
    reports.write_summary(out, config, teams, 1.0)
    assert snapshot(tmp_path, out) == before  # nothing outside out/ changed
    expected = {"index.html", "summary.json", "summary.md", "teams"}
    for t in teams:
        team_dir = f"teams/{t.submission.folder}"
        expected |= {team_dir, f"{team_dir}/report.md", f"{team_dir}/results.json", f"{team_dir}/exchanges"}
        expected |= {f"{team_dir}/exchanges/calc-server.{c}.txt" for c in spec.cases()[:2]}
    assert {str(p.relative_to(out)) for p in out.rglob("*")} == expected
    for path in out.rglob("*"):
        if path.is_file():
            text = path.read_text()
            assert "\x1b" not in text and "\x07" not in text, path
    summary = json.loads((out / "summary.json").read_text())
    assert {t["submitted_as"] for t in summary["teams"]} == set(os.listdir(hostile))
    assert len(summary["verdicts"]) == len(teams)
