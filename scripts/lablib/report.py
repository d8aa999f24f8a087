"""Report a capture (default: the newest in captures/): handshakes, lines, teardowns; --svg draws a ladder."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CAPTURES = ROOT / "captures"
SCRIPT = ROOT / "scripts" / "pcap-report"


def newest_capture() -> Path | None:
    pcaps = sorted(CAPTURES.glob("*.pcap*"), key=lambda p: p.stat().st_mtime)
    return pcaps[-1] if pcaps else None


def load_pcap_report():
    loader = importlib.machinery.SourceFileLoader("pcap_report", str(SCRIPT))
    spec = importlib.util.spec_from_loader("pcap_report", loader)
    module = importlib.util.module_from_spec(spec)
    sys.modules["pcap_report"] = module  # dataclasses look their module up here
    loader.exec_module(module)
    return module


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not any(a.endswith((".pcap", ".pcapng")) or a in {"-h", "--help"} for a in args):
        pcap = newest_capture()
        if pcap is None:
            print(
                "lab: no capture in captures/ yet: run `scripts/lab up`, use the lab, `scripts/lab down`",
                file=sys.stderr,
            )
            return 2
        print(f"lab: reporting {pcap.relative_to(ROOT)}", file=sys.stderr)
        args.insert(0, str(pcap))
    return load_pcap_report().main(args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
