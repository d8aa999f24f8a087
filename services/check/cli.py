"""``python3 -m services check ROLE``: run the named protocol cases against a server (or judge a client).

Exit status: 0 when every case passes, 1 when any fails, 2 on bad usage.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import zoneinfo

from services import roles
from services.check.cases_clients import DATETIME_DURATION
from services.check.clients import CALC_LIMIT, CLIENT_WAIT
from services.check.core import LEVELS, REPLY_TIMEOUT, ROLES, CaseResult, cases_for, run_checks
from services.check.session import ARROWS
from services.cli import make_parser, parse


def build_parser() -> argparse.ArgumentParser:
    parser = make_parser("check", "Conformance checker: run a role's named protocol cases and report each.")
    parser.add_argument("role", choices=ROLES, help="the role to check")
    parser.add_argument("--host", help="server roles: the server's address (default: its Compose service name)")
    parser.add_argument("--listen", default="0.0.0.0", help="client roles: address to listen on (default 0.0.0.0)")
    parser.add_argument("--port", type=int, help="server port, or for client roles the port to listen on")
    parser.add_argument("--level", choices=LEVELS, default="lab", help="lab: what the course asks; strict: the spec")
    parser.add_argument("--timeout", type=float, default=REPLY_TIMEOUT, help="seconds to wait for one reply")
    parser.add_argument("--tz", action="append", default=[], help="also accept times in this zone (e.g. Asia/Kolkata)")
    parser.add_argument("--case", action="append", default=[], help="run only this case (repeatable)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--list", action="store_true", help="list the role's cases at the level and exit")
    parser.add_argument(
        "--cmd",
        help="client roles: command starting the client; {host} {port} {name} are filled in "
        '(e.g. "python3 Lab2_X.py calc-client {host} {port} {name}")',
    )
    parser.add_argument("--name", default="Tester", help="client roles: the name given to the client via {name}")
    parser.add_argument(
        "--duration",
        type=float,
        help="client roles: the most seconds to record (default: datetime-client until every case can be judged, "
        f"at most {DATETIME_DURATION:g} s; calc-client until the session ends, at most {CALC_LIMIT:g} s with --cmd, "
        f"{CLIENT_WAIT:g} s without)",
    )
    return parser


def render(result: CaseResult) -> str:
    mark = "PASS" if result.passed else ("SKIP" if not result.ran else "FAIL")
    head = f"{mark} {result.name:<34} [{result.level}] {result.ms:8.1f} ms"
    if result.passed:
        return head
    lines = [head, f"     {result.message}"]
    lines += [
        f"    {e['t_ms']:9.1f} ms  {e['conn']:<4} {ARROWS.get(str(e['kind']), '  ')} {e['data']}"
        for e in result.transcript
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse(build_parser(), argv)
    if args.list:
        for c in cases_for(args.role, args.level):
            print(f"{c.name:<34} [{c.level}]  {c.doc}")
        return 0
    try:
        zones = (None, dt.UTC, *(zoneinfo.ZoneInfo(name) for name in args.tz))
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        print(f"error: unknown time zone: {exc}", file=sys.stderr)
        return 2
    known = {c.name for c in cases_for(args.role, "strict")}
    unknown = sorted(set(args.case) - known)
    if unknown:
        print(f"error: {args.role} has no case {', '.join(unknown)} (see --list --level strict)", file=sys.stderr)
        return 2
    client = roles.get(args.role).is_client
    host = args.listen if client else (args.host or args.role)
    port = args.port if args.port is not None else roles.server_port(args.role)
    options: dict[str, object] = {"reply_timeout": args.timeout, "zones": zones, "only": tuple(args.case)}
    if client:
        options |= {"cmd": args.cmd, "name": args.name, "duration": args.duration}
    results = run_checks(args.role, host, port, args.level, **options)
    ok = all(r.passed for r in results)
    if args.json:
        doc = {"role": args.role, "host": host, "port": port, "level": args.level, "passed": ok}
        print(json.dumps(doc | {"cases": [r.to_dict() for r in results]}, indent=2))
    else:
        for result in results:
            print(render(result), flush=True)
        failed = sum(not r.passed for r in results)
        print(f"{args.role} at {host}:{port} [{args.level}]: {len(results) - failed}/{len(results)} cases passed")
    return 0 if ok else 1
