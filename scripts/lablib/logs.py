"""Show the lab's logs: scripts/lab logs [-f] [SERVICE...] (arguments go to compose logs)."""

from __future__ import annotations

import os
import sys

from lablib import common


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] in (["-h"], ["--help"]):
        print(f"usage: scripts/lab logs [compose logs options] [SERVICE...]\n\n{__doc__}")
        return 0
    try:
        argv_logs = [*common.lab_compose(), "--profile", "clients", "logs", *args]
    except common.LabError as exc:
        print(f"scripts/lab logs: {exc}", file=sys.stderr)
        return 1
    os.execvpe(argv_logs[0], argv_logs, common.lab_env())


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
