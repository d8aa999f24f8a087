"""`scripts/lab grade` end to end on tests/fixtures/class: the class table, the HTML page, results.json per team.

The class: the checker's student fixtures under team names (Alpha = Good, Bravo =
FloatArtefacts, Charlie = ChatSelfEcho, Delta = OneAtATime, Echo = DiesOnMalformed,
Foxtrot = SendsMalformed), Golf (a folder, echo parts only), Menu (Good behind an input()
menu: the config's per-team `run` and `stdin`) and programs that crash,
hang, never listen, listen on the wrong port, fork-bomb, hog memory, flood their
output, write outside /tmp, knock at the Docker host, look for socklab's own servers (Cheat) or
for a way out through Docker's resolver, IPv6 or other teams (Tunnel). Graded at the lab level on
every server part and the calculator client (the 8 s date/time client recording is
left out to keep the run short; grading/grading.yaml has it).
"""

from __future__ import annotations

import json
import re
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from ..helpers import ROOT

sys.path.insert(0, str(ROOT / "scripts"))
from lablib import common, sandbox  # noqa: E402
from lablib import grading as grade  # noqa: E402

from .grade_runs import leftovers  # noqa: E402

CLASS = ROOT / "tests" / "fixtures" / "class"
CONFIG = """
level: lab
points: 1
timeouts: {listen: 8, check: 40}
parts:
  udp-echo:
    udp-echo-server: {run: "python3 {file} udp-echo-server {port}"}
  tcp-echo:
    tcp-echo-server: {run: "python3 {file} tcp-echo-server {port}"}
  datetime:
    datetime-server: {run: "python3 {file} datetime-server {port}"}
  calc:
    calc-server: {run: "python3 {file} calc-server {port}", points: {calc.concurrent-sessions: 2}}
    calc-client: {run: "python3 {file} calc-client {host} {port} {name}"}
  chat:
    chat-server: {run: "python3 {file} chat-server {port}"}
teams:  # Menu asks for its role and port with input(): the answers are typed in
  Menu:
    udp-echo-server: {run: "python3 {file}", stdin: ["1", "{port}"]}
    tcp-echo-server: {run: "python3 {file}", stdin: ["3", "{port}"]}
    datetime-server: {run: "python3 {file}", stdin: ["5", "{port}"]}
    calc-server: {run: "python3 {file}", stdin: ["7", "{port}"]}
    calc-client: {run: "python3 {file}", stdin: ["8", "{host}", "{port}", "{name}"]}
    chat-server: {run: "python3 {file}", stdin: ["9", "{port}"]}
"""
FULL = 19  # udp 2 + tcp 1 + datetime 3 + calc 3 (+1) + calc-client 5 + chat 4
#: team -> (score, {role: case that failed}) -- every other case passes.
EXPECTED = {
    "Alpha": FULL,
    "Bravo": FULL,  # 0.30000000000000004 only fails at strict
    "Charlie": FULL,  # echoes a line to its sender too: the course broadcasts to all (strict fails it)
    "Delta": FULL - 2,  # calc.concurrent-sessions
    "Echo": FULL,  # dies on a malformed line: strict only
    "Foxtrot": FULL - 1,  # calc-client.no-malformed-lines
    "Golf": 3,  # the echo parts only
    "Menu": FULL,  # Alpha's programs behind an input() menu, run with the config's per-team stdin lines
    **dict.fromkeys(("Crash", "Escape", "Flood", "ForkBomb", "Hang", "MemoryHog", "Silent", "Vandal", "WrongPort"), 0),
    "Cheat": 0,  # socklab's reference servers are nowhere on the student image
    "Tunnel": 0,  # tries the resolver, IPv6 and the other teams, never listens
    # Floods its own network for 20 s as a server, never listens; as a client it exits at once, having
    # sent nothing malformed: the checker's calc-client.no-malformed-lines passes (1 point).
    "NetFlood": 1,
}
#: The reason each broken team's calc-server got no checks, as the reports say it.
CALC_SERVER_STATUS = {
    "Crash": r"^exited \(status 1\) before listening on 12002/tcp$",
    "MemoryHog": r"^exited \(status 137\) before listening",
    "Vandal": r"^exited \(status 3\)",
    "Silent": r"^never listened on 12002/tcp within 8 s$",
    "ForkBomb": r"^never listened",
    "Flood": r"^never listened",
    "WrongPort": r"^wrong port: listens on 5000/tcp, not 12002/tcp$",
    "Golf": r"^exited \(status 1\)",
    # Both search a while before they give up (slower than the listen timeout on a loaded machine).
    "Cheat": r"^(exited \(status 1\) before listening|never listened) on 12002/tcp",
    "Tunnel": r"^(exited \(status 1\) before listening|never listened) on 12002/tcp",
}
PROBLEMS = {"MemoryHog": "out of memory", "Flood": "flooded its output", "ForkBomb": "process limit"}


@pytest.fixture(scope="module")
def run(docker_client: Any, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, float, int]:
    common.ensure_images()
    work = tmp_path_factory.mktemp("grade")
    config = work / "grading.yaml"
    config.write_text(CONFIG)
    # The fixture class links to the student fixtures; the grader refuses top-level links, so grade a copy.
    folder = work / "class"
    shutil.copytree(CLASS, folder, symlinks=False)
    out = work / "out"
    before = sandbox.runs.owners(docker_client, sandbox.GRADE_PREFIX)
    started = time.monotonic()
    code = grade.main([str(folder), "--config", str(config), "--out", str(out), "--jobs", "4", "--no-build"])
    seconds = time.monotonic() - started
    # Runs of this machine that ended (their lock is free) and still own something: ours, if any.
    # (Other runs on the shared engine may come and go meanwhile: a live one holds its lock.)
    ended = [o for o in sandbox.runs.owners(docker_client, sandbox.GRADE_PREFIX) - before if not sandbox.is_alive(o)]
    left = [name for owner in ended for name in leftovers(docker_client, owner)]
    assert not left, f"grade left behind: {left}"
    return out, seconds, code


@pytest.fixture(scope="module")
def summary(run: tuple[Path, float, int]) -> dict[str, Any]:
    return json.loads((run[0] / "summary.json").read_text())


def test_the_class_table(run: tuple[Path, float, int], summary: dict[str, Any]) -> None:
    assert run[2] == 0
    scores = {t["team"]: t["score"] for t in summary["teams"]}
    assert scores == EXPECTED
    assert {t["max_score"] for t in summary["teams"]} == {FULL}
    assert len(summary["teams"]) >= 10


def test_broken_programs_get_a_clear_reason(summary: dict[str, Any]) -> None:
    teams = {t["team"]: t for t in summary["teams"]}
    for team, pattern in CALC_SERVER_STATUS.items():
        assert re.search(pattern, teams[team]["roles"]["calc-server"]["status"]), (team, teams[team]["roles"])
    for team, words in PROBLEMS.items():
        problems = teams[team]["roles"]["calc-server"]["problems"]
        assert any(words in p for p in problems), (team, problems)
    assert teams["Hang"]["roles"]["calc-server"]["status"] == "ok"  # it listens; its cases fail one by one
    assert teams["Alpha"]["roles"]["calc-server"] == {"score": 4, "status": "ok", "problems": []}


def test_the_failing_cases_are_the_faults(summary: dict[str, Any]) -> None:
    failed = {
        team: sorted(k for k, v in verdicts.items() if v != "pass")
        for team, verdicts in summary["verdicts"].items()
        if team in ("Alpha", "Bravo", "Charlie", "Delta", "Echo", "Foxtrot")
    }
    assert failed == {
        "Alpha": [],
        "Bravo": [],
        "Charlie": [],
        "Delta": ["calc-server/calc.concurrent-sessions"],
        "Echo": [],
        "Foxtrot": ["calc-client/calc-client.no-malformed-lines"],
    }


def test_results_json_is_gradescope_format(run: tuple[Path, float, int]) -> None:
    out = run[0]
    for team, score in EXPECTED.items():
        doc = json.loads((out / "teams" / team / "results.json").read_text())
        assert doc["score"] == score
        assert sum(t["score"] for t in doc["tests"]) == score
        assert sum(t["max_score"] for t in doc["tests"]) == FULL
        for test in doc["tests"]:
            assert set(test) == {"name", "score", "max_score", "output", "status"}
            assert test["status"] in {"passed", "failed"}
            assert (test["score"] == test["max_score"]) == (test["status"] == "passed")
        assert (out / "teams" / team / "report.md").read_text().startswith(f"# {team}: {score:g} / {FULL}")


def test_the_html_page_links_each_failure_to_its_exchange_and_pcap(run: tuple[Path, float, int]) -> None:
    out = run[0]
    page = (out / "index.html").read_text()
    for team in EXPECTED:
        assert f'href="teams/{team}/report.md"' in page
    link = 'href="teams/Delta/exchanges/calc-server.calc.concurrent-sessions.txt"'
    assert link in page
    cell = page[page.index(link) : page.index("</td>", page.index(link))]
    assert 'href="teams/Delta/calc-server.pcap"' in cell
    exchange = (out / "teams" / "Delta" / "exchanges" / "calc-server.calc.concurrent-sessions.txt").read_text()
    assert "FAIL calc.concurrent-sessions" in exchange
    # The similarity report (scripts/lab similar, written by grade beside the page) is linked.
    assert '<a href="similar.html">similarity report</a>' in page and (out / "similar.json").is_file()
    assert (out / "teams" / "Delta" / "calc-server.pcap").stat().st_size > 24  # more than a pcap header
    for href in re.findall(r'href="([^"]+)"', page):
        assert (out / href).exists(), href
    assert "| Alpha" in (out / "summary.md").read_text() or "[Alpha]" in (out / "summary.md").read_text()
