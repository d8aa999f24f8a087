"""check ROLE [options]: run the conformance checker against the lab's server for ROLE (or judge a client).

Server roles are reached at their fixed addresses on the lab network (the host
is on the bridge): the catalogue's (``services/roles.py``) last octet under
``SOCKLAB_NET_PREFIX`` (default 172.28.0), e.g. calc-server at 172.28.0.13.
``--host`` overrides it; every other option is the checker's own
(``python3 -m services check --help``), for example:

    scripts/lab check calc-server --level strict
    scripts/lab check chat-server --json > chat.json
    scripts/lab check calc-client --cmd "python3 Lab2_Team7.py calc-client {host} {port} {name}"
"""

from __future__ import annotations

import os
import sys

from services import roles
from services.check.cli import main as check_main

DEFAULT_PREFIX = roles.NET_PREFIX
#: Last octet of each server's fixed address (compose.yaml's, from the catalogue).
LAB_HOSTS: dict[str, int] = {r.name: r.octet for r in roles.SERVERS if r.octet is not None}


def lab_address(role: str, environ: dict[str, str] | None = None) -> str:
    prefix = (os.environ if environ is None else environ).get("SOCKLAB_NET_PREFIX") or DEFAULT_PREFIX
    return f"{prefix}.{LAB_HOSTS[role]}"


def with_lab_host(argv: list[str], environ: dict[str, str] | None = None) -> list[str]:
    """``argv`` with ``--host`` set to the role's lab address, unless the caller gave one."""
    if not argv or argv[0] not in LAB_HOSTS:
        return argv
    env = os.environ if environ is None else environ
    if any(a == "--host" or a.startswith("--host=") for a in argv) or "SOCKLAB_HOST" in env:
        return argv
    return [argv[0], "--host", lab_address(argv[0], dict(env)), *argv[1:]]


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args:
        return check_main(["--help"])
    return check_main(with_lab_host(args))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
