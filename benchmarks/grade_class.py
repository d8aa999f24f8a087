"""``python3 -m benchmarks.grade_class``: a class of 60 graded twice as a TA grades it; the time and the sameness.

    python3 -m benchmarks.grade_class                 # 60 teams, two runs (about 15 minutes)
    python3 -m benchmarks.grade_class --teams 30 --runs 3 --jobs 4

The class: every fixture of tests/fixtures/students and tests/fixtures/class once (the
hostile ones and the menu-driven Menu included), then copies of the correct-for-the-course
fixtures under new names until there are ``--teams``. Each Menu copy gets the per-team
override that types its menu's answers, as a TA would write it. Each run is
``scripts/lab grade`` with the course's grading/grading.yaml plus those overrides.

Two runs agree when every team has the same score, part scores, role scores and statuses,
and every case the same verdict; problems (counts of refused packets, say) are compared
with their numbers left out. The JSON (bench-results/grade-class-<time>.json) holds each
run's seconds, the machine's load before and after, and every difference found.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks import servers

ROOT = servers.ROOT
STUDENTS = ROOT / "tests" / "fixtures" / "students"
CLASS = ROOT / "tests" / "fixtures" / "class"
COURSE_CONFIG = ROOT / "grading" / "grading.yaml"
RESULTS_DIR = ROOT / "bench-results"
TEAMS = 60
RUNS = 2
#: The course's limit for a class of 60 on a 2-core machine (issue 12), printed beside the times.
GOAL_SECONDS = 600
#: Menu's choices (tests/fixtures/class/Lab2_Menu.py numbers its roles in this order).
MENU = (
    *("udp-echo-server", "udp-echo-client", "tcp-echo-server", "tcp-echo-client", "datetime-server"),
    *("datetime-client", "calc-server", "calc-client", "chat-server", "chat-client"),
)
#: What a client's menu asks after its role: the server, its port, and for the calculator a name.
CLIENT_ANSWERS = {"calc-client": ["{host}", "{port}", "{name}"]}


def sources() -> tuple[list[Path], list[Path]]:
    """(every fixture once, the ones a class is mostly made of): files, or Golf's folder."""
    correct = sorted(STUDENTS.glob("Lab2_*.py")) + [CLASS / "Lab2_Menu.py"]
    hostile = sorted(p for p in CLASS.iterdir() if not p.is_symlink() and p.name != "Lab2_Menu.py")
    return correct + hostile, correct


def team_of(source: Path) -> str:
    return source.name.removeprefix("Lab2_").removesuffix(".py")


def build_class(folder: Path, teams: int) -> list[tuple[str, str]]:
    """Write the class into ``folder``; returns (team, fixture) in order."""
    everyone, correct = sources()
    chosen = everyone + [correct[i % len(correct)] for i in range(max(0, teams - len(everyone)))]
    seen: dict[str, int] = {}
    made = []
    for source in chosen[:teams]:
        base = team_of(source)
        seen[base] = seen.get(base, 0) + 1
        team = base if seen[base] == 1 else f"{base}-{seen[base]}"
        if source.is_dir():  # a team folder: its program keeps the class's file pattern
            (folder / team).mkdir()
            for part in source.iterdir():
                name = f"Lab2_{team}.py" if part.name == f"Lab2_{base}.py" else part.name
                shutil.copyfile(part, folder / team / name)
        else:
            shutil.copyfile(source, folder / f"Lab2_{team}.py")
        made.append((team, source.name))
    return made


def menu_override(roles: list[str]) -> dict[str, dict[str, Any]]:
    """The ``teams:`` entry that starts Menu's programs: its role's number, then what it asks."""
    override = {}
    for role in roles:
        answers = ["{port}"] if role.endswith("-server") else CLIENT_ANSWERS.get(role, ["{host}", "{port}"])
        override[role] = {"run": "python3 {file}", "stdin": [str(MENU.index(role) + 1), *answers]}
    return override


def course_roles() -> list[str]:
    """The roles the course's config grades, in its order (read with the grader's own loader)."""
    sys.path.insert(0, str(ROOT / "scripts"))
    from lablib.grading import load_config

    return [spec.role for spec in load_config(COURSE_CONFIG).roles]


def write_config(path: Path, menu_teams: list[str]) -> None:
    """The course's config, its example ``teams:`` replaced by the Menu copies' overrides."""
    override = menu_override(course_roles())
    teams = {team: override for team in menu_teams}
    path.write_text(COURSE_CONFIG.read_text() + "\nteams: " + json.dumps(teams) + "\n")


def grade(folder: Path, config: Path, out: Path, jobs: int | None) -> dict[str, Any]:
    """One ``scripts/lab grade`` run, timed; its summary.json and the load around it."""
    argv = [str(ROOT / "scripts" / "lab"), "grade", str(folder), "--config", str(config), "--out", str(out)]
    if jobs:
        argv += ["--jobs", str(jobs)]
    load_before = os.getloadavg()
    started = time.monotonic()
    done = subprocess.run(argv, capture_output=True, text=True)
    seconds = time.monotonic() - started
    summary = json.loads((out / "summary.json").read_text()) if (out / "summary.json").exists() else {}
    return {
        "seconds": round(seconds, 1),
        "exit_status": done.returncode,
        "load_before": load_before,
        "load_after": os.getloadavg(),
        "stderr_tail": done.stderr[-2000:],
        "summary": summary,
    }


def comparable(summary: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(grades, notes) of a summary: what two runs of one class must share, and what may vary.

    Grades: each team's score, part scores, role scores and statuses, error, and every case's
    verdict. Notes: the problems seen (a fork bomb may hit its process limit in one run and
    exit first in the next), compared with their numbers left out, reported but not required.
    """
    grades: dict[str, Any] = {}
    notes: dict[str, Any] = {}
    for t in summary.get("teams", []):
        roles = {role: (r["score"], r["status"]) for role, r in t["roles"].items()}
        parts = {name: (p["score"], p["max_score"]) for name, p in t["parts"].items()}
        grades[t["team"]] = {"score": t["score"], "parts": parts, "roles": roles, "error": t["error"]}
        grades[t["team"]]["verdicts"] = summary.get("verdicts", {}).get(t["team"], {})
        notes[t["team"]] = {role: [re.sub(r"\d+", "N", p) for p in r["problems"]] for role, r in t["roles"].items()}
    return grades, notes


def differences(first: dict[str, Any], second: dict[str, Any]) -> list[str]:
    """Where two runs' grades disagree (empty: the same grades), then ``notes:`` lines where only notes do."""
    found = []
    for kind, a, b in zip(("", "notes: "), comparable(first), comparable(second), strict=True):
        for team in sorted(set(a) | set(b)):
            left, right = a.get(team, {}), b.get(team, {})
            found += [
                f"{kind}{team}: {k}: {left.get(k)} != {right.get(k)}"
                for k in left | right
                if left.get(k) != right.get(k)
            ]
    return found


def save_result(kind: str, result: dict[str, Any]) -> Path:
    """Write ``result`` with the machine's cores and the commit to bench-results/<kind>-<time>.json."""
    git = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    RESULTS_DIR.mkdir(exist_ok=True)
    path = RESULTS_DIR / f"{kind}-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps({**result, "cores": os.cpu_count(), "git": git.stdout.strip()}, indent=2) + "\n")
    return path


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python3 -m benchmarks.grade_class", description=__doc__.splitlines()[0])
    parser.add_argument("--teams", type=int, default=TEAMS, help=f"teams in the class (default {TEAMS})")
    parser.add_argument("--runs", type=int, default=RUNS, help=f"times the class is graded (default {RUNS})")
    parser.add_argument("--jobs", type=int, help="scripts/lab grade --jobs (default: the grader's own)")
    parser.add_argument("--keep", type=Path, help="keep the class and every run's out folder here")
    args = parser.parse_args(argv)
    if args.teams < 1 or args.runs < 1:
        parser.error("--teams and --runs must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="socklab-class-") as scratch:
        work = args.keep or Path(scratch)
        work.mkdir(parents=True, exist_ok=True)
        folder, config = work / "class", work / "grading.yaml"
        folder.mkdir()
        made = build_class(folder, args.teams)
        write_config(config, [team for team, source in made if source == "Lab2_Menu.py"])
        runs = []
        for n in range(1, args.runs + 1):
            run = grade(folder, config, work / f"out{n}", args.jobs)
            runs.append(run)
            print(
                f"run {n}: {run['seconds']:.1f} s (goal {GOAL_SECONDS} s), exit status {run['exit_status']}", flush=True
            )
    found = [differences(runs[0]["summary"], r["summary"]) for r in runs[1:]]
    agree = [[d for d in diff if not d.startswith("notes: ")] for diff in found]
    result = {
        "teams": made,
        "runs": [{k: v for k, v in r.items() if k != "summary"} for r in runs],
        "scores": {t["team"]: t["score"] for t in runs[0]["summary"].get("teams", [])},
        "grade_differences_from_run_1": agree,
        "note_differences_from_run_1": [[d for d in diff if d.startswith("notes: ")] for diff in found],
        "engine_faults": [r["summary"].get("engine_faults", []) for r in runs],
    }
    path = save_result("grade-class", result)
    for n, (grades, everything) in enumerate(zip(agree, found, strict=True), 2):
        notes = len(everything) - len(grades)
        same = "the same grades" if not grades else f"{len(grades)} grade differences: {grades[:5]}"
        print(f"run {n} vs run 1: {same}; {notes} teams' notes differ")
    print(f"results: {path}")
    slow = any(r["seconds"] > GOAL_SECONDS for r in runs)
    return 1 if any(agree) or slow or any(r["exit_status"] != 0 for r in runs) else 0  # 1: a grader error


if __name__ == "__main__":
    sys.exit(main())
