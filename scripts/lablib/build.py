"""Build the lab image socklab:latest (and the offline Debian base when no registry is reachable)."""

from __future__ import annotations

import argparse
import sys

from lablib import common


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/lab build", description=__doc__)
    parser.add_argument(
        "--rebuild-base",
        action="store_true",
        help=f"rebuild {common.OFFLINE_BASE} from Debian's archive (picks up Debian's updates)",
    )
    args = parser.parse_args(argv)
    try:
        if args.rebuild_base:
            common.build_offline_base()
        image = common.ensure_images()
    except common.LabError as exc:
        print(f"scripts/lab build: {exc}", file=sys.stderr)
        return 1
    print(image)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
