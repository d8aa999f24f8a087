"""`scripts/lab grade DIR [--config FILE] [--out DIR]`: grade a class, with a progress bar; see docs/grading.md."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import signal
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import suppress
from pathlib import Path
from typing import Any

from .. import common, sandbox
from .config import DEFAULT_CONFIG, Config, GradeError, load_config
from .reports import fmt, write_summary, write_team
from .results import TeamResult
from .run import RUN_PREFIX, Grader
from .submissions import Submission, find_submissions

#: Signals that stop a run (each then cleans up like Ctrl-C).
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
#: Seconds an interrupted run waits for its teams to remove what they made, before sweeping by label.
IDLE_TIMEOUT = 90.0
#: Memory (MB) the grader counts per holder and per checker container, and leaves to the rest of the machine.
HOLDER_MB, CHECKER_MB, MEMORY_RESERVE_MB = 64, 256, 512
MEMINFO = Path("/proc/meminfo")
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


def available_memory_mb(meminfo: Path = MEMINFO) -> int | None:
    """The kernel's estimate of memory available to new work (MemAvailable), or None where unknown."""
    with suppress(OSError, ValueError, AttributeError):
        match = re.search(r"^MemAvailable:\s+(\d+) kB", meminfo.read_text(), re.M)
        return int(match.group(1)) // 1024  # type: ignore[union-attr]
    return None


def team_memory_mb(config: Config) -> int:
    """What one team graded at once may hold: each role's program and holder, and the checker."""
    return len(config.roles) * (config.limits.memory_mb + HOLDER_MB) + CHECKER_MB


def memory_jobs(config: Config, wanted: int, available: int | None) -> int:
    """``wanted``, or fewer so that the teams graded at once fit in the available memory (at least 1)."""
    if available is None:
        return wanted
    return max(1, min(wanted, (available - MEMORY_RESERVE_MB) // team_memory_mb(config)))


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


def sweep_earlier_runs(client: Any) -> None:
    """Remove what earlier runs on this machine left when they were killed outright (their lock is free)."""
    swept, problems = sandbox.sweep_abandoned(client, RUN_PREFIX)
    if swept:
        common.log(f"removed what earlier runs left: {', '.join(swept)}")
    if problems:
        common.log("could not remove: " + "; ".join(problems))


def clean_up(client: Any, grader: Grader) -> None:
    """Stop every team, let each remove what it made, then sweep the run's label. Nothing interrupts it."""
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in STOP_SIGNALS}
    try:
        grader.stop.set()
        if not grader.wait_idle(IDLE_TIMEOUT):
            quiet_log(f"some teams were still being graded after {IDLE_TIMEOUT:g} s; removing their containers")
        left = sandbox.sweep(client, grader.run_id)
        if left:
            quiet_log("could not remove: " + "; ".join(left))
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def quiet_log(message: str) -> None:
    """Log, unless the terminal is gone (SIGHUP after an ssh drop): cleaning up matters more."""
    with suppress(OSError):
        common.log(message)


def check_team_names(config: Config, submissions: list[Submission]) -> None:
    """Every team the config's ``teams:`` names must be in the class (a typo would silently not apply)."""
    known = {s.name for s in submissions} | {s.folder for s in submissions}
    missing = sorted(set(config.teams) - known)
    if missing:
        raise GradeError(
            f"{config.source}: teams/{missing[0]}: no such team in the class (teams: the name after Lab2_)"
        )


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
        check_team_names(config, submissions)
        image = common.IMAGE if args.no_build else common.ensure_images()
        client = grade_client(args.jobs)
    except (GradeError, common.LabError) as exc:
        print(f"scripts/lab grade: {exc}", file=sys.stderr)
        return 2
    jobs = memory_jobs(config, args.jobs, available_memory_mb())
    if jobs < args.jobs:
        common.log(f"grading {jobs} at a time, not {args.jobs}: each team may take {team_memory_mb(config)} MB")
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    grader = Grader(client, config, out, image)
    sweep_earlier_runs(client)
    common.log(
        f"grading {len(submissions)} submissions with {config.source}, {jobs} at a time, run {grader.run_id} "
        f"(sandbox: {config.limits.describe()}) ..."
    )
    # A CI job's timeout, `kill` (SIGTERM) or a dropped ssh session (SIGHUP): unwind like Ctrl-C.
    for sig in STOP_SIGNALS:
        signal.signal(sig, signal.default_int_handler)
    try:
        grader.preflight()
        teams = grade_class(grader, submissions, jobs)
    except KeyboardInterrupt:
        quiet_log("interrupted: removing the containers and networks of this run (signals ignored until done) ...")
        return 130
    except sandbox.SandboxError as exc:
        quiet_log(f"stopped, nothing graded: the sandbox could not be set up: {exc}")
        return 2
    finally:
        clean_up(client, grader)
        grader.lock.release()
    return finish_report(args, config, out, teams, time.monotonic() - started, grader.engine_faults)


def finish_report(
    args: argparse.Namespace,
    config: Config,
    out: Path,
    teams: list[TeamResult],
    seconds: float,
    engine_faults: list[str] | None = None,
) -> int:
    """The class's reports (similarity, summary, page) and the table on stdout; the verb's exit status."""
    # The similarity report first (code only, no Docker; lablib/similar.py): the class page links it.
    from .. import similar

    common.log(similar.class_report(args.folder, config, out))
    write_summary(out, config, teams, seconds, engine_faults)
    for fault in engine_faults or []:
        common.log(f"Docker kept what it could not remove (an engine fault; grades unaffected; restart it): {fault}")
    for line in summary_lines(teams):
        print(line)
    shown = out.relative_to(Path.cwd()) if out.is_relative_to(Path.cwd()) else out
    print(f"\n{len(teams)} submissions graded in {seconds:.1f} s: {shown}/index.html, {shown}/summary.md")
    return 1 if any(t.error for t in teams) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
