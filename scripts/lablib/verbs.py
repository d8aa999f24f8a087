"""The verbs of ``scripts/lab``, registered in one table: name, module, one-line help.

``scripts/lab VERB`` runs ``lablib.MODULE.main(argv)`` for a verb listed here and
nothing else: a library module is never a verb, and an unknown verb exits 2 with
the list. A new verb is one row here plus its module.
"""

from __future__ import annotations

import importlib
import sys
from dataclasses import dataclass


@dataclass(frozen=True)
class Verb:
    name: str
    module: str  # under lablib
    help: str


VERBS: tuple[Verb, ...] = (
    Verb("up", "up", "start the lab: build if needed, servers + capture, wait until healthy, show the hosts"),
    Verb("down", "down", "stop the lab, remove its containers, network and volumes; keep captures/"),
    Verb("ps", "ps", "show the lab's hosts: service, IP, port, state (clients from run too)"),
    Verb("logs", "logs", "show the lab's logs: logs [-f] [SERVICE...]"),
    Verb("build", "build", "build the lab image (and the offline base when no registry is reachable)"),
    Verb("test", "test", "ruff, then every test layer; extra arguments go to pytest"),
    Verb("report", "report", "report a capture: handshakes, lines, teardowns; --svg draws a ladder"),
    Verb("watch", "watch", "watch the lab live in a browser: hosts, conversations, ladder diagrams (Ctrl-C stops)"),
    Verb("own", "own", "run your own program in the lab, sandboxed, in a role's place"),
    Verb("check", "check", "run the conformance checker against the lab's server for ROLE (or judge a client)"),
    Verb("grade", "grading.cli", "grade a class: each team's submission in a sandbox; reports, results.json, HTML"),
    Verb("similar", "similar", "similar code across a class: every pair scored, templates subtracted; similar.html"),
    Verb("sandbox", "sandbox.cli", "show the sandbox a student's program runs in: limits, firewall"),
    Verb("handout", "handout", "build the students' handout: compose.yaml, image archive, templates, starter, docs"),
    Verb("selftest", "selftest", "check your Lab2_NAME.py as the grader will: every role sandboxed, cases, score"),
    Verb(
        "evidence",
        "evidence",
        "evidence for your report from your capture and logs: handshake, text, sessions (SVG + MD)",
    ),
    Verb("bench", "bench", "benchmark the servers against ngircd and the threaded skeleton"),
    Verb("deploy", "deploy", "run the servers on a cloud VM: ship the image, start them, print firewall rules"),
    Verb("client", "client", "start an interactive client (chat, calc, ...) in this terminal; --swarm: on the overlay"),
    Verb("swarm", "swarm.cli", "the swarm lab: print its stack file, list nodes, ship the image to nodes"),
    Verb("help", "verbs", "list the verbs"),
)

BY_NAME: dict[str, Verb] = {verb.name: verb for verb in VERBS}


def usage() -> str:
    width = max(len(v.name) for v in VERBS)
    rows = "\n".join(f"  {v.name:<{width}}  {v.help}" for v in VERBS)
    return f"usage: scripts/lab VERB [args]    (scripts/lab VERB --help for a verb's options)\n\nverbs:\n{rows}"


def main(argv: list[str] | None = None) -> int:
    """``scripts/lab help``: print the table."""
    print(usage())
    return 0


def dispatch(argv: list[str]) -> int:
    """Run ``argv[0]``'s verb with the rest; 2 and the list for an unknown verb."""
    name = argv[0] if argv else "help"
    if name in {"-h", "--help"}:
        name = "help"
    verb = BY_NAME.get(name)
    if verb is None:
        print(f"scripts/lab: unknown verb {name!r}\n\n{usage()}", file=sys.stderr)
        return 2
    module = importlib.import_module(f"lablib.{verb.module}")
    return int(module.main(argv[1:]) or 0)


if __name__ == "__main__":
    sys.exit(dispatch(sys.argv[1:]))
