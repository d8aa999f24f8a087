"""Check your Lab2_NAME.py before handing it in, exactly as the grader will: every role, sandboxed.

    scripts/lab selftest Lab2_Team7.py
    scripts/lab selftest Lab2_Team7.py --out my-selftest     # keep the report, pcaps and logs there

Runs the grader (`scripts/lab grade`) on your one file with the course's
grading.yaml: each role of your program in its own sandbox on its own network, the
conformance checker against it. It prints, per role, the exact command the grader
starts, then each case (pass / FAIL with the reason / not run) and your score, as a
TA would see it; the folder it names holds report.md, Gradescope's results.json, each
failing exchange, each role's pcap and output. Nothing is sent anywhere.
"""

from __future__ import annotations

import argparse
import shlex
import shutil
import sys
import tempfile
from pathlib import Path

from lablib import common, sandbox
from lablib.grading import GradeError, Grader, Submission, TeamResult, find_submissions, load_config, write_team
from lablib.grading.cli import grade_client
from lablib.grading.config import DEFAULT_CONFIG, Config
from lablib.grading.reports import fmt
from lablib.grading.results import team_folder
from lablib.grading.run import command

#: The sandbox's users are not you: the copy graded is readable by all.
COPY_MODE, FOLDER_MODE = 0o644, 0o755
MARKS = {True: "pass", False: "FAIL"}
#: Last lines of a program's output shown for a role that lost points (all of it is in the results folder).
OUTPUT_LINES = 3


class SelftestError(Exception):
    pass


def check_file(file: Path) -> None:
    if not file.is_file():
        raise SelftestError(f"{file}: no such file")
    if file.suffix != ".py":
        raise SelftestError(f"{file}: expected your Python file, Lab2_<NAME>.py")


def submission(file: Path, folder: Path) -> Submission:
    """A copy of ``file`` in ``folder`` (readable by the sandbox), as the grader's submission of one team."""
    check_file(file)
    folder.mkdir(mode=FOLDER_MODE, parents=True, exist_ok=True)
    folder.chmod(FOLDER_MODE)
    copy = folder / file.name
    shutil.copyfile(file, copy)
    copy.chmod(COPY_MODE)
    (found,) = find_submissions(folder, file.name)  # the grader's own reading: team, safe folder, program
    return found


def run(file: Path, config: Config, out: Path, image: str) -> tuple[TeamResult, str]:
    """Grade ``file`` into ``out``; return the result and the run id (its containers' owner label)."""
    work = Path(tempfile.mkdtemp(prefix="selftest-"))
    try:
        sub = submission(file, work / "submission")
        client = grade_client(1)
        grader = Grader(client, config, out, image)
        try:
            team = grader.grade(0, sub)
        finally:
            left = sandbox.sweep(client, grader.run_id)
            if left:
                common.log("could not remove: " + "; ".join(left))
        write_team(out, team)
        return team, grader.run_id
    finally:
        shutil.rmtree(work, ignore_errors=True)


def role_lines(team: TeamResult) -> list[str]:
    """Per role: the command, how the program fared, each case, the role's score."""
    lines = []
    for role in team.roles:
        lines += ["", f"{role.spec.role} ({role.spec.part}): {fmt(role.total)} / {fmt(role.max_total)}"]
        lines.append(f"  command: {shlex.join(command(role.spec, team.submission))}")
        if role.spec.is_client:
            lines.append(
                "           ({host} and {name} are filled in per connection: the checker's address, a test name)"
            )
        lines += [f"  program: {note}" for note in role.notes()]
        if role.total < role.max_total and role.output.strip():
            lines += [f"  output:  {line}" for line in role.output.strip().splitlines()[-OUTPUT_LINES:]]
        for case in role.cases:
            mark = MARKS[case.passed] if case.ran else "not run"
            points = f"{fmt(role.score(case))}/{fmt(role.spec.points_of(case.name))}"
            lines.append(f"  {mark:<7} {case.name} ({points})" + ("" if case.passed else f": {case.message}"))
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/lab selftest", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("file", type=Path, help="your program, Lab2_<NAME>.py")
    parser.add_argument("--config", type=Path, help="grading YAML (default: the course's grading/grading.yaml)")
    parser.add_argument("--out", type=Path, help="where to keep the results (default: a new folder in /tmp)")
    parser.add_argument("--no-build", action="store_true", help="use the lab image as it is (the handout's)")
    args = parser.parse_args(argv)
    try:
        file = sandbox.user_path(args.file)
        check_file(file)  # before anything is built or created
        config = load_config(sandbox.user_path(args.config) if args.config else DEFAULT_CONFIG)
        image = common.IMAGE if args.no_build else common.ensure_images()
        out = sandbox.user_path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="selftest-results-"))
        out.mkdir(parents=True, exist_ok=True)
        common.log(
            f"checking {file.name} as the grader will ({config.source}; sandbox: {config.limits.describe()}) ..."
        )
        team, _run_id = run(file, config, out, image)
    except (SelftestError, GradeError, common.LabError) as exc:
        print(f"scripts/lab selftest: {exc}", file=sys.stderr)
        return 2
    print(f"{file.name}: {fmt(team.score)} / {fmt(team.max_score)} (team {team.submission.team})")
    if team.error:
        print(f"the grader itself failed: {team.error}")
    print("\n".join(role_lines(team)))
    print(f"\nreport, results.json, pcaps and logs: {team_folder(out, team.submission)}")
    return 1 if team.error else 0


if __name__ == "__main__":
    sys.exit(main())
