"""Benchmark every server against ngircd and the threaded skeleton (--smoke: a quick check)."""

from __future__ import annotations

import sys

from lablib import common


def main(argv: list[str] | None = None) -> int:
    # The benchmark lives in the repository's top-level benchmarks/ package.
    sys.path.insert(0, str(common.ROOT))
    from benchmarks.__main__ import main as bench_main

    return bench_main(argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
