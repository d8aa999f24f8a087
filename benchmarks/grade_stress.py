"""``python3 -m benchmarks.grade_stress``: hundreds of sandboxes graded and removed; does the engine keep a network?

    python3 -m benchmarks.grade_stress                       # 75 teams x 4 roles = 300 sandboxes
    python3 -m benchmarks.grade_stress --order together      # the holders stopped at once (before 1bdefc1)
    python3 -m benchmarks.grade_stress --teams 60 --class course --order together

Docker 20.10 now and then keeps a removed team network's endpoint count ("has active
endpoints", nothing attached) until the engine restarts. This grades a class the grader's
way, in process: each team its network, a holder (firewall, capture) and a program per
role, the checker on the network talking to every role, then the teardown. The class is
mostly correct teams (Lab2_Good) with one of the error paths every fifth team: a program
that crashes, one that never listens, one that listens and never answers, one that floods
its network, a fork bomb (``--class forkbomb``: nothing else; ``--class course``:
benchmarks/grade_class.py's class with the course's config). ``--order`` picks how a
team's holders leave the network: one at a time (the grader's order) or all at once. The
JSON (bench-results/grade-stress-<time>.json) holds the networks the engine kept, anything
else left behind, every team's score and the seconds.
``tests/docker/test_grade_stress.py`` runs the grader's order and requires nothing kept.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks import grade_class, servers

ROOT = servers.ROOT
sys.path.insert(0, str(ROOT / "scripts"))
from lablib import common, sandbox  # noqa: E402
from lablib import grading as grade  # noqa: E402
from lablib.grading.cli import clean_up, default_jobs  # noqa: E402
from lablib.grading.run import Placed, engine_faults  # noqa: E402

GOOD = ROOT / "tests" / "fixtures" / "students" / "Lab2_Good.py"
CLASS = ROOT / "tests" / "fixtures" / "class"
#: Every fifth team takes the next of these error paths, with the score it must get.
ERROR_PATHS = {"Crash": 0, "Silent": 0, "Hang": 0, "NetFlood": 1, "ForkBomb": 0}  # NetFlood: its client sends
# nothing malformed. ForkBomb: the one team whose network a class with its holders stopped together kept.
EVERY = 5
TEAMS = 75
#: Four roles with traffic both ways: the checker as client of two echo servers and a calculator,
#: and as the server of a calculator client.
CONFIG = """
level: lab
points: 1
timeouts: {listen: 8, check: 30}
parts:
  echo:
    udp-echo-server: {run: "python3 {file} udp-echo-server {port}"}
    tcp-echo-server: {run: "python3 {file} tcp-echo-server {port}"}
  calc:
    calc-server: {run: "python3 {file} calc-server {port}"}
    calc-client: {run: "python3 {file} calc-client {host} {port} {name}"}
"""


class TogetherGrader(grade.Grader):
    """The grader before 1bdefc1: a team's holders all stopped at once, each leaving the network."""

    def _leave_network(self, placed: list[Placed]) -> None:
        common.stop_all([p.student for p in placed], sandbox.STOP_TIMEOUT)
        common.stop_all([p.holder for p in placed], sandbox.STOP_TIMEOUT)


ORDERS: dict[str, type[grade.Grader]] = {"one-by-one": grade.Grader, "together": TogetherGrader}


@dataclass
class Outcome:
    """What a stress run did and left: the engine's kept networks apart from anything else."""

    seconds: float
    scores: dict[str, float]
    full: dict[str, float]
    expected: dict[str, float | None]
    errors: dict[str, str]
    engine_faults: list[str]
    left: list[str]
    sandboxes: int = 0
    kept_after_sweep: list[str] = field(default_factory=list)

    def wrong_scores(self) -> dict[str, tuple[float | None, float]]:
        """Team -> (score, expected) where they differ; an expected None means full marks."""
        want = {t: self.full.get(t, -1) if e is None else e for t, e in self.expected.items()}
        return {t: (self.scores.get(t), w) for t, w in want.items() if self.scores.get(t) != w}


def build_class(
    folder: Path, teams: int, every: int = EVERY, paths: dict[str, float] = ERROR_PATHS
) -> dict[str, float | None]:
    """Write ``teams`` submissions into ``folder``, every ``every``-th one of ``paths`` in turn, the rest
    Lab2_Good; team -> expected score (None: full marks)."""
    expected: dict[str, float | None] = {}
    kinds = list(paths)
    for i in range(teams):
        if i % every == every - 1:
            kind = kinds[(i // every) % len(kinds)]
            source, score = CLASS / f"Lab2_{kind}.py", paths[kind]
        else:
            kind, source, score = "Good", GOOD, None
        team = f"{kind}{i:03d}"
        shutil.copyfile(source, folder / f"Lab2_{team}.py")
        expected[team] = score
    return expected


def course_class(folder: Path, config: Path, teams: int) -> dict[str, float | None]:
    """benchmarks/grade_class.py's class and the course's config (scores not known in advance: not checked)."""
    made = grade_class.build_class(folder, teams)
    grade_class.write_config(config, [team for team, source in made if source == "Lab2_Menu.py"])
    return {}


def stress_class(folder: Path, config: Path, teams: int) -> dict[str, float | None]:
    config.write_text(CONFIG)
    return build_class(folder, teams)


def forkbomb_class(folder: Path, config: Path, teams: int) -> dict[str, float | None]:
    """Every team the fork bomb: the stress config, no correct team."""
    config.write_text(CONFIG)
    return build_class(folder, teams, every=1, paths={"ForkBomb": ERROR_PATHS["ForkBomb"]})


#: --class: how the class and its config are written; team -> expected score (None: full marks).
CLASSES: dict[str, Callable[[Path, Path, int], dict[str, float | None]]] = {
    "stress": stress_class,
    "course": course_class,
    "forkbomb": forkbomb_class,
}


def stress(work: Path, teams: int, jobs: int, order: str = "one-by-one", kind: str = "stress") -> Outcome:
    """Grade a class in ``work`` with the holders leaving in ``order``; sweep what is left."""
    common.ensure_images()
    folder = work / "class"
    folder.mkdir()
    wanted = CLASSES[kind](folder, work / "grading.yaml", teams)
    config = grade.load_config(work / "grading.yaml")
    client = grade.grade_client(jobs)
    grader = ORDERS[order](client, config, work / "out", common.IMAGE)
    started = time.monotonic()
    try:
        grader.preflight()
        results = grade.grade_class(grader, grade.find_submissions(folder, config.program_pattern), jobs)
    finally:
        seconds = time.monotonic() - started
        clean_up(client, grader)
        grader.lock.release()
        kept, left = engine_faults(sandbox.sweep(client, grader.run_id))
    return Outcome(
        seconds=round(seconds, 1),
        scores={t.submission.team: t.score for t in results},
        full={t.submission.team: t.max_score for t in results},
        expected=wanted,
        errors={t.submission.team: t.error for t in results if t.error},
        engine_faults=grader.engine_faults,
        left=left,
        sandboxes=teams * len(config.roles),
        kept_after_sweep=kept,
    )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python3 -m benchmarks.grade_stress", description=__doc__.splitlines()[0])
    parser.add_argument("--teams", type=int, default=TEAMS, help=f"teams in the class (default {TEAMS})")
    parser.add_argument("--jobs", type=int, default=default_jobs(), help="teams at once (the grader's default)")
    parser.add_argument("--order", choices=ORDERS, default="one-by-one", help="how a team's holders leave")
    parser.add_argument(
        "--class",
        dest="kind",
        choices=CLASSES,
        default="stress",
        help="stress: four roles, an error path every fifth team; course: benchmarks/grade_class.py's class; "
        "forkbomb: the stress roles, every team Lab2_ForkBomb",
    )
    args = parser.parse_args(argv)
    if args.teams < 1 or args.jobs < 1:
        parser.error("--teams and --jobs must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="socklab-stress-") as scratch:
        outcome = stress(Path(scratch), args.teams, args.jobs, args.order, args.kind)
    wrong = outcome.wrong_scores()
    result: dict[str, Any] = {
        "order": args.order,
        "class": args.kind,
        "teams": args.teams,
        "jobs": args.jobs,
        **vars(outcome),
        "wrong_scores": wrong,
        "load_before": load_before,
        "load_after": os.getloadavg(),
    }
    path = grade_class.save_result("grade-stress", result)
    print(
        f"{args.kind} class of {args.teams} teams ({outcome.sandboxes} sandboxes), "
        f"holders {args.order}, {args.jobs} at once: "
        f"{outcome.seconds:.1f} s; networks the engine kept: {len(outcome.engine_faults)}; "
        f"other leftovers: {len(outcome.left)}; wrong scores: {len(wrong)}; team errors: {len(outcome.errors)}"
    )
    for fault in outcome.engine_faults:
        print(f"  kept: {fault}")
    print(f"results: {path}")
    return 1 if outcome.engine_faults or outcome.left or wrong or outcome.errors else 0


if __name__ == "__main__":
    sys.exit(main())
