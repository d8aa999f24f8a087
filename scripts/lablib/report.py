"""Report a capture (default: the newest in captures/, or in SOCKLAB_CAPTURES): handshakes, lines, teardowns.

``--svg FILE`` draws a ladder diagram. The work is done by the package ``lablib.pcap``.
"""

from __future__ import annotations

import sys
from pathlib import Path

from lablib.common import CAPTURES, ROOT
from lablib.pcap import main as pcap_report


def newest_capture(captures: Path = CAPTURES) -> Path | None:
    pcaps = sorted(captures.glob("*.pcap*"), key=lambda p: p.stat().st_mtime)
    return pcaps[-1] if pcaps else None


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not any(a.endswith((".pcap", ".pcapng")) or a in {"-h", "--help"} for a in args):
        pcap = newest_capture()
        if pcap is None:
            print(
                f"lab: no capture in {CAPTURES} yet: run `scripts/lab up`, use the lab, `scripts/lab down`",
                file=sys.stderr,
            )
            return 2
        shown = pcap.relative_to(ROOT) if pcap.is_relative_to(ROOT) else pcap
        print(f"lab: reporting {shown}", file=sys.stderr)
        args.insert(0, str(pcap))
    return pcap_report(args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
