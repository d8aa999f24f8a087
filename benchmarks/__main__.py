"""``python3 -m benchmarks``: run the benchmark, print the side-by-side table, write JSON and SVG.

    python3 -m benchmarks                 # the full run (about 10 minutes)
    python3 -m benchmarks --smoke         # every scenario, tiny and short (CI)
    python3 -m benchmarks --only fanout,slow --servers socklab,ngircd-nopenalty

Results go to bench-results/<timestamp>.json and .svg (gitignored).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import subprocess
import sys
import time
import traceback
from pathlib import Path

from benchmarks import ngircd, report, scenarios, servers
from benchmarks.plan import Plan

RESULTS_DIR = servers.ROOT / "bench-results"


def machine() -> dict:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    git = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=servers.SERVICES_ROOT, capture_output=True, text=True
    )
    dirty = subprocess.run(["git", "status", "--porcelain"], cwd=servers.SERVICES_ROOT, capture_output=True, text=True)
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "ngircd": ngircd.version(),
        "git": git.stdout.strip() or None,
        "git_dirty": bool(dirty.stdout.strip()),
        "pinned": servers.pinning_available(),
        "server_cpu": servers.SERVER_CPU,
        "generator_cpu": servers.GENERATOR_CPU,
        "loadavg_start": os.getloadavg(),
        "nice": os.getpriority(os.PRIO_PROCESS, 0),
    }


def run(plan: Plan, only: set[str], cold: bool) -> dict:
    def log(msg: str) -> None:
        print(f"bench: {msg}", file=sys.stderr, flush=True)

    results: dict = {"plan": dataclasses.asdict(plan), "machine": machine(), "scenarios": {}, "notes": []}
    if not ngircd.available():
        results["notes"].append("ngircd not installed: its rows are skipped (apt-get install ngircd)")
    pinned = servers.pin_generator()
    if not pinned:
        results["notes"].append("no taskset or one core: generator and server not pinned")
    t0 = time.monotonic()
    sc = results["scenarios"]
    steps = {
        "fanout": lambda: scenarios.fanout(plan, log),
        "half_peer": lambda: scenarios.half_peer_latency(plan, sc.get("fanout", {"sizes": {}}), log),
        "nagle": lambda: scenarios.nagle(plan, log),
        "slow": lambda: scenarios.slow_consumer(plan, log),
        "join_idle": lambda: scenarios.join_and_idle(plan, log),
        "calc": lambda: scenarios.calc(plan, log),
        "datetime": lambda: scenarios.datetime(plan, log),
        "lab": lambda: scenarios.lab(plan, log, cold=cold),
    }
    for name, fn in steps.items():
        if only and name not in only:
            continue
        started = time.monotonic()
        try:
            sc[name] = fn()
        except Exception as exc:  # one broken scenario must not hide the others' figures
            traceback.print_exc()
            sc[name] = {"error": f"{type(exc).__name__}: {exc}"}
        sc[name]["elapsed_s"] = round(time.monotonic() - started, 1)
    results["machine"]["loadavg_end"] = os.getloadavg()
    results["elapsed_s"] = round(time.monotonic() - t0, 1)
    results["targets"] = report.check_targets(results)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="every scenario, tiny and short (a check, not a timing)")
    parser.add_argument("--only", default="", help=f"comma-separated scenarios ({','.join(scenarios.SCENARIOS)})")
    parser.add_argument(
        "--servers", default="", help=f"comma-separated chat servers ({','.join(servers.CHAT_SERVERS)})"
    )
    parser.add_argument("--sizes", default="", help="comma-separated fan-out room sizes (default: 100,500,1000)")
    parser.add_argument("--reps", type=int, help="repetitions at the headline size (default: 2, smoke 1)")
    parser.add_argument("--quickack", action="store_true", help="TCP_QUICKACK on every generator socket")
    parser.add_argument(
        "--nice",
        type=int,
        default=0,
        help="scheduling priority for the generator and every server it starts (root may go below 0; "
        "for a machine shared with other work, e.g. -5: same for every server)",
    )
    parser.add_argument("--cold", action="store_true", help="also time a cold lab start: DELETES the lab's images")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR, help="directory for the JSON and SVG")
    parser.add_argument(
        "--services", type=Path, help="run socklab's servers from this checkout (compare versions under one harness)"
    )
    args = parser.parse_args(argv)
    if args.services:
        if not (args.services / "services" / "__main__.py").is_file():
            parser.error(f"--services {args.services}: no services/ package there")
        servers.SERVICES_ROOT = args.services.resolve()
    plan = Plan.smoke() if args.smoke else Plan.full()
    if args.servers:
        plan = dataclasses.replace(plan, servers=tuple(s for s in args.servers.split(",") if s))
    if args.sizes:
        sizes = tuple(int(s) for s in args.sizes.split(",") if s)
        headline = plan.headline_size if plan.headline_size in sizes else sizes[0]
        plan = dataclasses.replace(plan, fanout_sizes=sizes, search_sizes=sizes, headline_size=headline)
    if args.reps:
        plan = dataclasses.replace(plan, reps=args.reps)
    only = {s for s in args.only.split(",") if s}
    unknown = (only - set(scenarios.SCENARIOS)) | (set(plan.servers) - set(servers.CHAT_SERVERS))
    if unknown:
        parser.error(f"unknown scenario or server: {', '.join(sorted(unknown))}")
    scenarios.configure(plan, quickack=args.quickack)
    if args.nice:
        os.nice(args.nice)  # the servers are this process's children: they inherit it
    results = run(plan, only, args.cold)
    results["quickack"] = args.quickack
    print(report.render(results))
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S") + ("-smoke" if args.smoke else "")
    json_path, svg_path = args.out / f"{stamp}.json", args.out / f"{stamp}.svg"
    json_path.write_text(json.dumps(results, indent=1, default=str) + "\n")
    svg_path.write_text(report.svg_plot(results))
    print(f"\nresults: {json_path}\nplot:    {svg_path}\nelapsed: {results['elapsed_s']} s")
    failed = [k for k, v in results["scenarios"].items() if isinstance(v, dict) and "error" in v]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
