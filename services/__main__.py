"""``python3 -m services NAME [options]``: the one entry point for every program."""

from __future__ import annotations

import importlib
import sys

from services import roles

#: Program name -> ("module:function", one-line summary). Modules are imported
#: only when their program runs, so one broken service never hides the others.
PROGRAMS: dict[str, tuple[str, str]] = {
    **{role.name: (role.entry, role.summary) for role in roles.ROLES},
    "check": ("services.check.cli:main", "conformance checker: run the protocol cases against any server"),
}


def usage() -> str:
    width = max(map(len, PROGRAMS))
    rows = "\n".join(f"  {name:<{width}}  {summary}" for name, (_, summary) in PROGRAMS.items())
    return (
        "usage: python3 -m services NAME [--host H] [--port P] [options]\n\n"
        f"programs:\n{rows}\n\n"
        "python3 -m services NAME --help shows a program's options and their SOCKLAB_* variables."
    )


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] in {"-h", "--help", "help"}:
        print(usage())
        return 0
    name, rest = args[0], args[1:]
    if name not in PROGRAMS:
        print(f"error: unknown program {name!r}\n\n{usage()}", file=sys.stderr)
        return 2
    module_name, func_name = PROGRAMS[name][0].split(":")
    func = getattr(importlib.import_module(module_name), func_name)
    try:
        return int(func(rest) or 0)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
