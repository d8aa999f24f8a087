"""``scripts/lab client NAME`` on the local lab: compose.yaml's client, one more host, stdin and stdout piped."""

from __future__ import annotations

import subprocess
import sys

from ..helpers import ROOT
from .lab import Lab


def test_client_verb_joins_the_local_lab(lab: Lab) -> None:
    argv = [sys.executable, "-m", "lablib.verbs", "client", "udp-echo"]
    env = {**lab.env, "PYTHONPATH": str(ROOT / "scripts")}
    done = subprocess.run(argv, cwd=ROOT, env=env, input="hello lab\n", capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done
    assert done.stdout.splitlines() == ["HELLO LAB"], done
    assert "udp-echo-client: type a line" in done.stderr
    # The server saw a host of the lab network (not the Docker host) send it.
    assert f"{lab.prefix}." in lab.logs("udp-echo-server")


def test_unknown_client_exits_1_with_the_list() -> None:
    argv = [sys.executable, "-m", "lablib.verbs", "client", "chat-server"]
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT / "scripts")}
    done = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert "no client called 'chat-server'; clients: datetime, udp-echo, tcp-echo, calc, chat" in done.stderr
