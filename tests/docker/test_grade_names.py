"""`scripts/lab grade` on a class folder of hostile names: out/ holds exactly the expected tree.

Copies of a correct program under names a hostile or careless student could
choose (``..``, ``:``, a class file's name, escape sequences, accents), a
symlink to /etc/passwd and a folder with two candidate programs, graded on the
UDP echo part. Each copy must get its own folder under out/teams/ and full
marks; the symlink and the folder get a reason and no run; nothing outside
out/ changes.
"""

from __future__ import annotations

import json
import shutil
import sys
import unicodedata
from pathlib import Path
from typing import Any

import pytest

from ..helpers import ROOT

sys.path.insert(0, str(ROOT / "scripts"))
from lablib import common  # noqa: E402
from lablib import grading as grade  # noqa: E402

from services.check.core import cases_for  # noqa: E402

GOOD = ROOT / "tests" / "fixtures" / "class" / "Lab2_Alpha.py"
CONFIG = """
timeouts: {listen: 8, check: 30}
parts: {udp: {udp-echo-server: {run: "python3 {file} udp-echo-server {port}"}}}
"""
#: Copies of the good program: entry -> team folder.
COPIES = {
    "Lab2_...py": "team",
    "Lab2_a:b.py": "a_b",
    "Lab2_index.html.py": "index_html",
    "Lab2_\x1b[31mred.py": "31mred",
    f"Lab2_{unicodedata.normalize('NFD', 'José')}.py": "Jose",
    f"Lab2_{'x' * 200}.py": "x" * 64,
}
REFUSED = {"Lab2_etc.py": "refused: a symbolic link", "Two": "no single program matching Lab2_*.py"}
#: What grading a team that ran leaves in its folder.
TEAM_FILES = {
    "report.md",
    "results.json",
    "exchanges",
    "logs",
    "logs/udp-echo-server.log",
    "checks",
    "checks/udp-echo-server.go",
    "checks/udp-echo-server.json",
    "udp-echo-server.pcap",
}
#: ... and a team that did not: an exchange file per case, each saying why it was not run.
REFUSED_FILES = {"report.md", "results.json", "exchanges"} | {
    f"exchanges/udp-echo-server.{case.name}.txt" for case in cases_for("udp-echo-server", "lab")
}


def tree(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): p.lstat().st_mtime_ns for p in root.rglob("*")}


@pytest.fixture(scope="module")
def graded(docker_client: Any, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict[str, int], int]:
    common.ensure_images()
    work = tmp_path_factory.mktemp("names")
    folder = work / "class"
    folder.mkdir()
    for entry in COPIES:
        shutil.copy(GOOD, folder / entry)
    (folder / "Lab2_etc.py").symlink_to("/etc/passwd")
    (folder / "Two").mkdir()
    for name in ("Lab2_a.py", "Lab2_b.py"):
        shutil.copy(GOOD, folder / "Two" / name)
    (work / "grading.yaml").write_text(CONFIG)
    before = tree(work)
    out = work / "out"
    code = grade.main([str(folder), "--config", str(work / "grading.yaml"), "--out", str(out), "--no-build"])
    return work, out, before, code


def test_out_holds_exactly_the_expected_tree(graded: tuple[Path, Path, dict[str, int], int]) -> None:
    work, out, before, code = graded
    assert code == 0
    after = {k: v for k, v in tree(work).items() if not k.startswith("out")}
    assert after == before  # the class folder and the config are untouched, nothing written beside out/
    summary = json.loads((out / "summary.json").read_text())
    folders = {t["submitted_as"]: t["folder"] for t in summary["teams"]}
    assert folders == {e: f"teams/{f}" for e, f in COPIES.items()} | {"Lab2_etc.py": "teams/etc", "Two": "teams/Two"}
    expected = {"index.html", "summary.json", "summary.md", "teams"}
    for entry, folder in folders.items():
        files = REFUSED_FILES if entry in REFUSED else TEAM_FILES
        expected |= {folder} | {f"{folder}/{name}" for name in files}
    # Beside them, the similarity report grade writes (lablib/similar.py): its page, data and pair pages.
    similar = {"similar.html", "similar.json", "pairs"}
    found = set(tree(out))
    assert found - {p for p in found if p.startswith("pairs/")} == expected | similar


def test_copies_pass_and_refused_entries_say_why(graded: tuple[Path, Path, dict[str, int], int]) -> None:
    out = graded[1]
    teams = {t["submitted_as"]: t for t in json.loads((out / "summary.json").read_text())["teams"]}
    for entry in COPIES:
        assert teams[entry]["score"] == teams[entry]["max_score"] > 0, teams[entry]
    for entry, reason in REFUSED.items():
        role = teams[entry]["roles"]["udp-echo-server"]
        assert (teams[entry]["score"], role["status"]) == (0, "no program")
        report = (out / teams[entry]["folder"] / "report.md").read_text()
        assert reason in report
    for path in out.rglob("*"):
        if path.is_file() and path.suffix in {".md", ".html", ".json", ".txt", ".log"}:
            assert "\x1b" not in path.read_text(), path
