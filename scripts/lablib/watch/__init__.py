"""``scripts/lab watch``: the running lab, live, in a browser: its hosts, every conversation, its ladder.

A local web page (default http://127.0.0.1:8080, loopback only unless ``--bind``) fed
from the capture sidecar's pcap as tcpdump writes it and from the Docker API. It works
whether started before or after ``scripts/lab up`` and follows the new capture after
``down``/``up``. Ctrl-C stops it. Modules: ``live`` (capture bytes -> page JSON, with
the decoder of ``scripts/pcap-report``), ``lab`` (hosts and capture file from Docker),
``server`` (aiohttp: page, server-sent events, JSON API), ``static/`` (the page).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from lablib import common

DEFAULT_PORT = 8080
LOOPBACK = "127.0.0.1"


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="scripts/lab watch", description=__doc__.split("\n\n")[0])
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port of the page (default {DEFAULT_PORT})")
    p.add_argument(
        "--bind",
        default=LOOPBACK,
        metavar="ADDR",
        help=f"address to serve on (default {LOOPBACK}: this machine only; 0.0.0.0 shows the lab to the network)",
    )
    p.add_argument("--project", default=common.project_name(), help="Compose project (default: SOCKLAB_PROJECT)")
    p.add_argument(
        "--captures", type=Path, default=common.CAPTURES, help="where the capture sidecar writes (SOCKLAB_CAPTURES)"
    )
    p.add_argument("--capture", type=Path, metavar="FILE", help="follow this pcap instead of the lab's own capture")
    p.add_argument("--no-docker", action="store_true", help="do not ask Docker for the hosts (with --capture)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if not 0 < args.port < 65536:
        print(f"scripts/lab watch: --port {args.port} is not a TCP port (1-65535)", file=sys.stderr)
        return 2
    capture = args.capture
    if capture is not None:
        capture = Path(os.environ.get("SOCKLAB_CALLER_CWD", ".")) / capture
        if not capture.is_file():
            print(f"scripts/lab watch: --capture {capture}: no such file", file=sys.stderr)
            return 2
    from aiohttp import web  # late: `scripts/lab help` stays fast

    from .lab import LabHosts
    from .server import Watch, make_app

    lab = None if args.no_docker else LabHosts(args.project, args.captures)
    app = make_app(Watch(lab, capture, project=args.project))
    url = f"http://{args.bind}:{args.port}/"
    source = capture or f"project {args.project}, captures in {args.captures}"
    common.log(f"watching {source}: open {url}  (Ctrl-C stops)")
    if args.bind != LOOPBACK:
        common.log(f"serving on {args.bind}: anyone who can reach this machine sees the lab's traffic")
    try:
        web.run_app(app, host=args.bind, port=args.port, print=None, access_log=None, shutdown_timeout=2)
    except OSError as exc:
        print(f"scripts/lab watch: cannot serve on {args.bind}:{args.port}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    common.log("watch stopped")
    return 0
