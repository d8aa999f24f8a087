"""Run the checks: ruff (lint + format), then pytest over every layer; extra arguments go to pytest."""

from __future__ import annotations

import subprocess
import sys

from lablib import common

USAGE = """usage: scripts/lab test [--no-lint] [pytest arguments]

  scripts/lab test                 ruff, then every test layer (unit, loopback, docker, browser)
  scripts/lab test -m unit         one layer (unit | loopback | docker | browser)
  scripts/lab test -k chat -x      any pytest options and paths
  scripts/lab test --no-lint ...   skip ruff
"""


def lint() -> int:
    """ruff check and ruff format --check over the repository; nonzero if either complains."""
    ruff = [sys.executable, "-m", "ruff"]
    status = 0
    for args in (["check", "."], ["format", "--check", "."]):
        common.log(f"ruff {' '.join(args)}")
        status |= subprocess.run([*ruff, *args], cwd=common.ROOT).returncode
    return status


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] in (["-h"], ["--help"]):
        print(USAGE)
        return 0
    lint_status = 0
    if "--no-lint" in args:
        args.remove("--no-lint")
    else:
        lint_status = lint()
    common.log(f"pytest {' '.join(args)}".rstrip())
    test_status = subprocess.run([sys.executable, "-m", "pytest", *args], cwd=common.ROOT).returncode
    if lint_status:
        print("scripts/lab test: ruff found problems (see above)", file=sys.stderr)
    # pytest's own status first (2 = interrupted, 5 = nothing collected ...), else lint's.
    return test_status or lint_status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
