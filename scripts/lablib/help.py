"""scripts/lab help: list the verbs."""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    here = Path(__file__).parent
    print("usage: scripts/lab VERB [args]    (scripts/lab VERB --help for a verb's options)\n\nverbs:")
    for mod in sorted(pkgutil.iter_modules([str(here)]), key=lambda m: m.name):
        if mod.name in {"help", "__main__"} or mod.name.startswith("_") or mod.name == "common":
            continue
        doc = (importlib.import_module(f"lablib.{mod.name}").__doc__ or "").strip().splitlines()
        print(f"  {mod.name.replace('_', '-'):<8} {doc[0] if doc else ''}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
