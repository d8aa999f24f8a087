"""scripts/lab similar: the planted copies flagged and nothing else; base code, odd files, config, --against."""

from __future__ import annotations

import itertools
import json
import shutil
import sys
import types
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT / "tests" / "fixtures"))

import make_similar  # noqa: E402
from lablib import similar  # noqa: E402
from lablib.grading import load_config  # noqa: E402
from lablib.grading.config import DEFAULT_CONFIG, Similarity  # noqa: E402
from lablib.grading.reports import class_reports  # noqa: E402

STUDENTS = ROOT / "tests" / "fixtures" / "students"
BASE = make_similar.BASE
#: The pairs of tests/fixtures/class that are copies: its first six teams are the student
#: fixtures under other names (symlinks), so each a copy of Lab2_Good.py with one fault,
#: and Menu is Lab2_Good.py behind a menu.
CLASS_PLANTED = {
    frozenset(p) for p in itertools.combinations(["Alpha", "Bravo", "Charlie", "Delta", "Echo", "Foxtrot", "Menu"], 2)
}


def run(folder: Path, out: Path, *extra: str) -> tuple[int, dict]:
    code = similar.main([str(folder), "--out", str(out), "--no-default-base", "--base", str(BASE), *extra])
    report = json.loads((out / "similar.json").read_text()) if (out / "similar.json").exists() else {}
    return code, report


def flagged(report: dict) -> set[frozenset[str]]:
    return {frozenset(p["teams"]) for p in report["pairs"] if p["flagged"]}


def by_pair(report: dict) -> dict[frozenset[str], dict]:
    return {frozenset(p["teams"]): p for p in report["pairs"]}


@pytest.fixture(scope="module")
def disguised_class(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """The student fixtures, their disguised copies and independent solutions, as one class, reported once."""
    folder = tmp_path_factory.mktemp("class")
    make_similar.build(folder)
    code, report = run(folder, tmp_path_factory.mktemp("out"))
    assert code == 0
    return folder, report


def test_flags_exactly_the_planted_pairs(disguised_class: tuple[Path, dict]) -> None:
    _, report = disguised_class
    assert len(report["teams"]) == 15 and len(report["pairs"]) == 105
    assert flagged(report) == make_similar.planted()
    assert len(make_similar.planted()) == 67


def test_flags_exactly_the_planted_pairs_with_the_default_base(disguised_class: tuple[Path, dict]) -> None:
    """As a TA runs it: the course's templates and starter subtracted, not the tests' stand-ins."""
    folder, _ = disguised_class
    out = folder.parent / "default-base"
    assert similar.main([str(folder), "--out", str(out), "--top", "0"]) == 0
    report = json.loads((out / "similar.json").read_text())
    assert [Path(p).name for p in report["base"]] == [p.name for p in similar.default_base()]
    assert flagged(report) == make_similar.planted()


@pytest.mark.parametrize("disguise", sorted(make_similar.DISGUISED))
def test_each_disguise_is_still_flagged_with_its_original(disguise: str, disguised_class: tuple[Path, dict]) -> None:
    _, report = disguised_class
    original = make_similar.DISGUISED[disguise][1]
    pair = by_pair(report)[frozenset((make_similar.team(disguise), make_similar.team(original)))]
    # Measured: 0.82 (all four disguises at once) to 1.0 (renamed); the threshold is 0.2.
    assert pair["flagged"] and pair["similarity"] > 0.75


def test_independent_solutions_score_low(disguised_class: tuple[Path, dict]) -> None:
    _, report = disguised_class
    independent = [p for p in report["pairs"] if frozenset(p["teams"]) not in make_similar.planted()]
    assert len(independent) == 38
    assert max(p["similarity"] for p in independent) < report["settings"]["threshold"] / 2


def test_pairs_come_most_similar_first_with_matches_in_both_files(disguised_class: tuple[Path, dict]) -> None:
    folder, report = disguised_class
    scores = [p["similarity"] for p in report["pairs"]]
    assert scores == sorted(scores, reverse=True)
    pair = by_pair(report)[frozenset(("Patchwork", "Good"))]
    assert 0.2 < pair["similarity"] < 0.6  # one part of Good in an otherwise different program
    for match in pair["matches"]:
        for team, where in zip(pair["teams"], match["where"], strict=True):
            text = (folder / f"Lab2_{team}.py").read_text()
            assert where["lines"][0] == text.count("\n", 0, where["start"]) + 1
            assert 0 <= where["start"] < where["end"] <= len(text)


def test_shared_templates_are_no_evidence(tmp_path: Path) -> None:
    for name in ("Lab2_Kestrel.py", "Lab2_Heron.py"):
        shutil.copy(make_similar.SIMILAR / name, tmp_path / name)
    _, with_base = run(tmp_path, tmp_path / "with")
    code = similar.main([str(tmp_path), "--out", str(tmp_path / "without"), "--no-default-base"])
    without = json.loads((tmp_path / "without" / "similar.json").read_text())
    assert code == 0
    pair, plain = with_base["pairs"][0], without["pairs"][0]
    assert not pair["flagged"]
    assert plain["longest"] > pair["longest"]  # the templates' lines matched when not subtracted
    assert plain["similarity"] > 2 * pair["similarity"]


def test_odd_files_empty_not_python_and_one_megabyte(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = (STUDENTS / "Lab2_Good.py").read_text()
    (tmp_path / "Lab2_Good.py").write_text(good)
    (tmp_path / "Lab2_Empty.py").write_text("")
    (tmp_path / "Lab2_Py2.py").write_text(good.replace('print("Connection from", addr, flush=True)', 'print "hi"'))
    (tmp_path / "Lab2_Huge.py").write_text(good * (1_000_000 // len(good) + 1))
    code, report = run(tmp_path, tmp_path / "out")
    assert code == 0
    notes = report["teams"]
    assert notes["Empty"]["notes"] == ["Lab2_Empty.py: empty"] and notes["Empty"]["tokens"] == 0
    assert notes["Py2"]["notes"] == [
        "Lab2_Py2.py: does not parse as Python (line 42: Missing parentheses in call to 'print'. "
        "Did you mean print(...)?): compared as text"
    ]
    assert flagged(report) == {frozenset(p) for p in [("Good", "Py2"), ("Good", "Huge"), ("Huge", "Py2")]}
    assert all(p["similarity"] == 0 for p in report["pairs"] if "Empty" in p["teams"])
    out = capsys.readouterr().out
    assert "note: Py2: Lab2_Py2.py: does not parse as Python" in out
    assert "4 teams (+0 earlier), 6 pairs, 3 flagged" in out


def test_windows_line_ends_a_byte_order_mark_and_latin_1_are_still_python(tmp_path: Path) -> None:
    good = (STUDENTS / "Lab2_Good.py").read_text()
    shutil.copy(STUDENTS / "Lab2_Good.py", tmp_path / "Lab2_Good.py")
    (tmp_path / "Lab2_Windows.py").write_bytes(b"\xef\xbb\xbf" + good.replace("\n", "\r\n").encode())
    (tmp_path / "Lab2_Latin.py").write_bytes(good.replace("# All parts", "# Caf\xe9: all parts").encode("latin-1"))
    _, report = run(tmp_path, tmp_path / "out")
    assert report["teams"]["Windows"]["notes"] == []
    assert report["teams"]["Latin"]["notes"] == ["Lab2_Latin.py: not UTF-8: undecodable bytes replaced"]
    assert {p["similarity"] for p in report["pairs"]} == {1.0}
    windows = similar.load_team("Windows", tmp_path / "Lab2_Windows.py")
    assert windows.tokens.mode == "python" and not windows.files[0].text.startswith("\ufeff")


def test_a_file_too_large_is_said_and_skipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(similar, "MAX_FILE_BYTES", 1000)
    shutil.copy(STUDENTS / "Lab2_Good.py", tmp_path / "Lab2_Good.py")
    (tmp_path / "Lab2_Small.py").write_text("x = 1\n")
    _, report = run(tmp_path, tmp_path / "out")
    assert report["teams"]["Good"]["notes"] == ["Lab2_Good.py: larger than 1000 bytes: not compared"]


def test_a_folder_of_many_files_is_cut_and_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(similar, "MAX_FILES_PER_TEAM", 3)
    (tmp_path / "Many").mkdir()
    for i in range(5):
        (tmp_path / "Many" / f"part{i}.py").write_text(f"x{i} = {i}\n")
    team = similar.load_team("Many", tmp_path / "Many")
    assert [f.name for f in team.files] == ["part0.py", "part1.py", "part2.py"]
    assert team.notes == ["5 .py files: only the first 3 compared"]


def test_the_class_fixtures(tmp_path: Path) -> None:
    _, report = run(ROOT / "tests" / "fixtures" / "class", tmp_path)
    assert flagged(report) == CLASS_PLANTED


def test_the_class_fixtures_with_the_course_templates_as_base(tmp_path: Path) -> None:
    """The default base, course/templates and course/starter: WrongPort's template lines are no evidence."""
    assert len(similar.default_base()) == 5
    assert similar.main([str(ROOT / "tests" / "fixtures" / "class"), "--out", str(tmp_path)]) == 0
    report = json.loads((tmp_path / "similar.json").read_text())
    assert flagged(report) == CLASS_PLANTED
    assert [Path(p).name for p in report["base"]] == [p.name for p in similar.default_base()]


def test_a_team_folder_is_one_program(tmp_path: Path) -> None:
    (tmp_path / "Zulu").mkdir()
    shutil.copy(STUDENTS / "Lab2_Good.py", tmp_path / "Zulu" / "Lab2_Zulu.py")
    (tmp_path / "Zulu" / "helpers.py").write_text((STUDENTS / "Lab2_FloatArtefacts.py").read_text())
    (tmp_path / "Zulu" / "sneaky.py").symlink_to(ROOT / "scripts" / "lablib" / "similar.py")  # not the team's
    (tmp_path / "Zulu" / ".hidden.py").write_text("x = 1\n")
    shutil.copy(STUDENTS / "Lab2_Good.py", tmp_path / "Lab2_Yankee.py")
    _, report = run(tmp_path, tmp_path / "out")
    pair = report["pairs"][0]
    assert pair["flagged"] and set(pair["teams"]) == {"Zulu", "Yankee"}
    side = pair["teams"].index("Zulu")
    assert {m["where"][side]["file"] for m in pair["matches"]} <= {"Lab2_Zulu.py", "helpers.py"}
    zulu = similar.load_team("Zulu", tmp_path / "Zulu")
    assert [f.name for f in zulu.files] == ["Lab2_Zulu.py", "helpers.py"]


def test_against_compares_last_year_with_this_year_only(tmp_path: Path) -> None:
    now, old = tmp_path / "2026", tmp_path / "2025"
    now.mkdir()
    old.mkdir()
    shutil.copy(STUDENTS / "Lab2_Good.py", now / "Lab2_Mike.py")
    shutil.copy(make_similar.SIMILAR / "Lab2_Osprey.py", now / "Lab2_November.py")
    shutil.copy(STUDENTS / "Lab2_OneAtATime.py", old / "Lab2_Oscar.py")
    shutil.copy(STUDENTS / "Lab2_ChatSelfEcho.py", old / "Lab2_Papa.py")
    _, report = run(now, tmp_path / "out", "--against", str(old))
    assert report["against"] == ["2025/Oscar", "2025/Papa"]
    pairs = {frozenset(p["teams"]) for p in report["pairs"]}
    assert frozenset(("2025/Oscar", "2025/Papa")) not in pairs and len(pairs) == 5
    assert flagged(report) == {frozenset(("Mike", "2025/Oscar")), frozenset(("Mike", "2025/Papa"))}


def test_the_terminal_shows_the_top_pairs(disguised_class: tuple[Path, dict], capsys: pytest.CaptureFixture) -> None:
    folder, _ = disguised_class
    assert similar.main([str(folder), "--out", str(folder.parent / "top"), "--top", "3", "--no-default-base"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["pair", "similarity", "longest", "flagged"]
    assert len([line for line in lines[1:4] if line.endswith("yes")]) == 3
    assert lines[4].startswith("... and ") and "more flagged pairs" in lines[4]


#: A grading.yaml with one part: the similarity section is added per test.
PARTS = 'parts:\n  calc:\n    calc-server: {run: "python3 {file} calc-server {port}"}\n'


@pytest.mark.parametrize(
    ("yaml", "error"),
    [
        ("similarity: {threshold: 1.5}", "similarity/threshold: 1.5 is out of range (0 to 1)"),
        ("similarity: {threshold: high}", "similarity/threshold: expected a number, got 'high'"),
        ("similarity: {min_match_tokens: 3}", "similarity/min_match_tokens: 3 is out of range (10 to 1e+06)"),
        ("similarity: {thresold: 0.3}", "similarity/thresold: unknown key (known: threshold, min_match_tokens)"),
        ("similarity: [0.3]", "similarity: expected a mapping, got list"),
        ("similarity: {threshold: [", "cannot read"),
    ],
)
def test_bad_settings_are_refused(tmp_path: Path, yaml: str, error: str, capsys: pytest.CaptureFixture[str]) -> None:
    shutil.copy(STUDENTS / "Lab2_Good.py", tmp_path / "Lab2_Good.py")
    (tmp_path / "grading.yaml").write_text(PARTS + yaml + "\n")
    code, report = run(tmp_path, tmp_path / "out", "--config", str(tmp_path / "grading.yaml"))
    assert (code, report) == (2, {})
    assert error in capsys.readouterr().err


def test_settings_come_from_the_grading_config(tmp_path: Path) -> None:
    shutil.copy(STUDENTS / "Lab2_Good.py", tmp_path / "Lab2_Good.py")
    shutil.copy(make_similar.SIMILAR / "Lab2_Kestrel.py", tmp_path / "Lab2_Kestrel.py")
    (tmp_path / "grading.yaml").write_text(PARTS + "similarity: {threshold: 0.05, min_match_tokens: 20}\n")
    _, report = run(tmp_path, tmp_path / "out", "--config", str(tmp_path / "grading.yaml"))
    assert report["settings"]["threshold"] == 0.05 and report["settings"]["min_match_tokens"] == 20
    assert report["pairs"][0]["flagged"]  # their shared role table, flagged at this low threshold


def test_the_shipped_settings_are_the_measured_defaults() -> None:
    config = load_config(DEFAULT_CONFIG)
    assert config.similarity == Similarity() == Similarity(threshold=0.2, min_match_tokens=30)


def test_the_class_page_gets_the_report(tmp_path: Path) -> None:
    make_similar.build(tmp_path / "class")
    line = similar.class_report(tmp_path / "class", load_config(DEFAULT_CONFIG), tmp_path / "out")
    assert line.startswith("similarity report: ") and line.endswith(str(tmp_path / "out" / "similar.html"))
    assert (tmp_path / "out" / "similar.json").is_file()
    assert class_reports(tmp_path / "out") == [("similar.html", "similarity report")]
    missing = similar.class_report(tmp_path / "nowhere", load_config(DEFAULT_CONFIG), tmp_path / "out2")
    assert missing == f"similarity report: not written: {tmp_path / 'nowhere'} is not a folder of submissions"


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["nowhere"], "is not a folder of submissions"),
        ([".", "--base", "no-such-template.py"], "base code not found: "),
    ],
)
def test_bad_input_is_refused(args: list[str], error: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "class"
    folder.mkdir()
    shutil.copy(STUDENTS / "Lab2_Good.py", folder / "Lab2_Good.py")
    names = {
        "nowhere": str(tmp_path / "nowhere"),
        "no-such-template.py": str(tmp_path / "no-such.py"),
        ".": str(folder),
    }
    args = [names.get(a, a) for a in args]
    assert similar.main([*args, "--out", str(tmp_path / "out")]) == 2
    assert error in capsys.readouterr().err


def test_the_default_base_is_the_course_kit(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "templates").mkdir()
    (tmp_path / "starter").mkdir()
    for name in ("UDP_Server.py", "TCP_Client.py"):
        shutil.copy(BASE / name, tmp_path / "templates" / name)
    shutil.copy(BASE / "Lab2_NAME.py", tmp_path / "starter" / "Lab2_NAME.py")
    (tmp_path / "templates" / "notes.txt").write_text("not code")
    monkeypatch.setattr(similar, "COURSE", tmp_path)
    assert [p.name for p in similar.base_files([], True)] == ["Lab2_NAME.py", "TCP_Client.py", "UDP_Server.py"]
    assert similar.base_files([], False) == []


def test_scripts_lab_grade_writes_the_report_its_class_page_links(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """grade's own steps (Docker) stubbed: what is left is the hook, and the page it writes."""
    from lablib.grading import cli

    class Grader:
        def __init__(self, *args: object) -> None:
            self.run_id = "slgrade-test"
            self.lock = types.SimpleNamespace(release=lambda: None)
            self.engine_faults: list[str] = []

        def preflight(self) -> None:
            pass

    monkeypatch.setattr(cli, "grade_client", lambda jobs: None)
    monkeypatch.setattr(cli, "Grader", Grader)
    monkeypatch.setattr(cli, "grade_class", lambda grader, submissions, jobs: [])
    monkeypatch.setattr(cli, "sweep_earlier_runs", lambda client: None)
    monkeypatch.setattr(cli, "clean_up", lambda client, grader: None)
    make_similar.build(tmp_path / "class")
    assert cli.main([str(tmp_path / "class"), "--out", str(tmp_path / "out"), "--no-build"]) == 0
    assert '<a href="similar.html">similarity report</a>' in (tmp_path / "out" / "index.html").read_text()
    report = json.loads((tmp_path / "out" / "similar.json").read_text())
    assert len(report["pairs"]) == 105
    assert "lab: similarity report: " in capsys.readouterr().err
