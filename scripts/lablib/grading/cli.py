"""`scripts/lab grade DIR [--config FILE] [--out DIR]`: grade a class, with a progress bar; see docs/grading.md."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any

from .. import common, sandbox
from .config import DEFAULT_CONFIG, Config, GradeError, load_config
from .reports import fmt, write_summary, write_team
from .results import TeamResult
from .run import Grader
from .submissions import Submission, find_submissions

#: Seconds between two progress updates while no team finishes.
PROGRESS_TICK = 1.0
#: Docker API connections per team graded at once (holders, programs, checker, exec calls).
CONNECTIONS_PER_JOB = 6


class Progress:
    """One status line on stderr: rewritten in place on a terminal, a line per team otherwise."""

    WIDTH = 30

    def __init__(self, total: int) -> None:
        self.total, self.done, self.running = total, 0, 0
        self.start = time.monotonic()
        self.tty = sys.stderr.isatty()
        self.lock = threading.Lock()

    def update(self, done: int, running: int, last: str = "") -> None:
        with self.lock:
            self.done, self.running = done, running
            filled = self.WIDTH * done // max(1, self.total)
            bar = "#" * filled + "." * (self.WIDTH - filled)
            line = f"[{bar}] {done}/{self.total} graded, {running} running, {time.monotonic() - self.start:.0f} s"
            if self.tty:
                sys.stderr.write(f"\r{line} {last[:40]:<40}")
            elif last:
                sys.stderr.write(f"{line}  {last}\n")
            sys.stderr.flush()

    def finish(self) -> None:
        if self.tty:
            sys.stderr.write("\n")


def grade_class(grader: Grader, submissions: list[Submission], jobs: int) -> list[TeamResult]:
    """Grade every submission, ``jobs`` at once; each team's files are written as soon as it is done."""
    results: dict[int, TeamResult] = {}
    progress = Progress(len(submissions))
    progress.update(0, 0)
    pool = ThreadPoolExecutor(max_workers=jobs)
    futures: dict[Future[TeamResult], int] = {}
    try:
        for i, sub in enumerate(submissions):
            futures[pool.submit(grader.grade, i, sub)] = i
        pending = set(futures)
        while pending:
            finished, pending = wait(pending, timeout=PROGRESS_TICK, return_when=FIRST_COMPLETED)
            last = ""
            for future in finished:
                team = future.result()
                results[futures[future]] = team
                write_team(grader.out, team)
                last = f"{team.submission.team}: {fmt(team.score)}/{fmt(team.max_score)}"
            progress.update(len(results), min(jobs, len(pending)), last)
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
        progress.finish()
    return [results[i] for i in sorted(results)]


def default_jobs() -> int:
    return 2 * (os.cpu_count() or 1)


def grade_client(jobs: int) -> Any:
    """A Docker client for many threads: a connection pool per job and a time limit on every API call."""
    import docker

    common.docker_client()  # a clear error when the engine is unreachable
    return docker.from_env(timeout=sandbox.API_TIMEOUT, max_pool_size=max(10, jobs * CONNECTIONS_PER_JOB))


def summary_lines(teams: list[TeamResult]) -> Iterator[str]:
    width = max((len(t.submission.team) for t in teams), default=4)
    for t in teams:
        bad = [r.spec.role + (f" ({r.status})" if r.status != "ok" else "") for r in t.roles if r.total < r.max_total]
        note = t.error or ("missed: " + ", ".join(bad) if bad else "all passed")
        yield f"{t.submission.team:<{width}}  {fmt(t.score):>5} / {fmt(t.max_score):<5} {note}"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="scripts/lab grade",
        description="Grade a class: check and score each team's submission in DIR in a sandbox.",
        epilog="See docs/grading.md. The config format is in grading/grading.yaml.",
    )
    parser.add_argument("folder", type=Path, help="one file or folder per team")
    parser.add_argument("--config", type=Path, help="grading YAML (default: grading/grading.yaml)")
    parser.add_argument(
        "--jobs", type=int, default=default_jobs(), help="submissions graded at once (default 2x cores)"
    )
    parser.add_argument("--out", type=Path, help="results folder (default grades/<UTC time>)")
    parser.add_argument("--no-build", action="store_true", help="use the existing lab image as it is")
    parser.add_argument(
        "--swarm", action="store_true", help="grade each team as a Swarm task on any node (docs/swarm.md)"
    )
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error("--jobs must be at least 1")
    args.folder = sandbox.user_path(args.folder)
    args.config = sandbox.user_path(args.config) if args.config else DEFAULT_CONFIG
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
    args.out = sandbox.user_path(args.out) if args.out else common.ROOT / "grades" / stamp
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.swarm:
        from ..swarm import grade as swarm_grade

        return swarm_grade.main(args)
    started = time.monotonic()
    try:
        config = load_config(args.config)
        submissions = find_submissions(args.folder, config.program_pattern)
        image = common.IMAGE if args.no_build else common.ensure_images()
        client = grade_client(args.jobs)
    except (GradeError, common.LabError) as exc:
        print(f"scripts/lab grade: {exc}", file=sys.stderr)
        return 2
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    grader = Grader(client, config, out, image)
    common.log(
        f"grading {len(submissions)} submissions with {config.source}, {args.jobs} at a time "
        f"(sandbox: {config.limits.describe()}) ..."
    )
    # A CI job's timeout or `kill` sends SIGTERM: unwind like Ctrl-C so the sweep below still runs.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        teams = grade_class(grader, submissions, args.jobs)
    except KeyboardInterrupt:
        common.log("interrupted: removing the containers and networks of this run ...")
        return 130
    finally:
        left = sandbox.sweep(client, grader.run_id)
        if left:
            common.log("could not remove: " + "; ".join(left))
    return finish_report(args, config, out, teams, time.monotonic() - started)


def finish_report(args: argparse.Namespace, config: Config, out: Path, teams: list[TeamResult], seconds: float) -> int:
    """The class's reports (similarity, summary, page) and the table on stdout; the verb's exit status."""
    # The similarity report first (code only, no Docker; lablib/similar.py): the class page links it.
    from .. import similar

    common.log(similar.class_report(args.folder, config, out))
    write_summary(out, config, teams, seconds)
    for line in summary_lines(teams):
        print(line)
    shown = out.relative_to(Path.cwd()) if out.is_relative_to(Path.cwd()) else out
    print(f"\n{len(teams)} submissions graded in {seconds:.1f} s: {shown}/index.html, {shown}/summary.md")
    return 1 if any(t.error for t in teams) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
