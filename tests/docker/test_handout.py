"""`scripts/lab handout`: build a handout, check its tree against the allow-list, then run the lab from a
copy of it in an empty folder, as a student's machine would: `docker load` the archive, `lab.py up`, a client,
the checker, the course's UDP template in the server's place, `lab.py down`. Everything is removed after."""

from __future__ import annotations

import ipaddress
import os
import secrets
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ..helpers import ROOT

sys.path.insert(0, str(ROOT / "scripts"))
from lablib import common, handout  # noqa: E402

STEP_TIMEOUT = 300  # s: docker load of ~180 MB and a cold `up` on a loaded 2-core machine
PROJECT_LABEL = "com.docker.compose.project"


def free_prefix(client: Any) -> tuple[str, str]:
    """A /24 under 172.29.0.0/16 no network uses, and a bridge name for it (the docker tests' range)."""
    taken = [
        ipaddress.ip_network(c["Subnet"])
        for n in client.networks.list()
        for c in (n.attrs.get("IPAM", {}).get("Config") or [])
        if c.get("Subnet") and ":" not in c["Subnet"]
    ]
    for _ in range(50):
        n = secrets.randbelow(254) + 1
        net = ipaddress.ip_network(f"172.29.{n}.0/24")
        if not any(net.overlaps(t) for t in taken):
            return f"172.29.{n}", f"slhand{n}"
    pytest.skip("no free /24 under 172.29.0.0/16")


@pytest.fixture
def built(docker_client: Any, tmp_path: Path) -> Iterator[tuple[Path, str]]:
    out = tmp_path / "handout"
    image = handout.build(out, common.ensure_images())
    try:
        yield out, image
    finally:
        subprocess.run(["docker", "rmi", "-f", image], capture_output=True)


def launcher(folder: Path, env: dict[str, str], *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "lab.py", *args], cwd=folder, env=env, input=stdin, capture_output=True,
                          text=True, timeout=STEP_TIMEOUT)  # fmt: skip


def test_a_handout_runs_the_lab_without_the_repository(
    docker_client: Any, tmp_path: Path, built: tuple[Path, str]
) -> None:
    out, image = built
    assert sorted(handout.tree(out)) == sorted(handout.ALLOWED)
    protocols = (out / "docs" / "protocols.md").read_text()
    assert "## Stateful or stateless?" not in protocols and "## Chat room" in protocols
    assert "scripts/" not in (out / "docs" / "walkthrough.md").read_text()
    sources = subprocess.run(["docker", "run", "--rm", "--entrypoint", "find", image, "/opt/socklab", "-name", "*.py"],
                             capture_output=True, text=True, check=True)  # fmt: skip
    assert sources.stdout == ""  # the programs and the checker ship as bytecode only

    student = tmp_path / "student"  # an empty folder that knows nothing of the repository
    shutil.copytree(out, student)
    subprocess.run(["docker", "rmi", "-f", image], capture_output=True, check=True)  # so `up` must docker load
    prefix, bridge = free_prefix(docker_client)
    project = f"socklab-handout-{secrets.token_hex(3)}"
    env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", str(tmp_path)),
           "SOCKLAB_PROJECT": project, "SOCKLAB_NET_PREFIX": prefix, "SOCKLAB_BRIDGE": bridge}  # fmt: skip
    if "DOCKER_CONFIG" in os.environ:
        env["DOCKER_CONFIG"] = os.environ["DOCKER_CONFIG"]
    try:
        started = launcher(student, env, "up")
        assert started.returncode == 0, started.stdout + started.stderr
        assert "loading the lab image from socklab-lab.tar" in started.stdout
        assert f"$ docker load -i {student / handout.ARCHIVE}" in started.stdout

        echoed = subprocess.run(["docker", "compose", "-p", project, "run", "--rm", "-T", "udp-echo-client"],
                                cwd=student, env=env, input="hello, handout\n", capture_output=True, text=True,
                                timeout=STEP_TIMEOUT)  # fmt: skip
        assert "HELLO, HANDOUT" in echoed.stdout.splitlines(), echoed.stdout + echoed.stderr

        checked = launcher(student, env, "check", "calc-server")
        assert checked.returncode == 0 and "cases passed" in checked.stdout, checked.stdout + checked.stderr

        owned = launcher(student, env, "own", "udp-echo-server", "templates/UDP_Server.py", "--detach")
        assert owned.returncode == 0, owned.stdout + owned.stderr
        checked = launcher(student, env, "check", "udp-echo-server")
        assert checked.returncode == 0, checked.stdout + checked.stderr
        own_log = subprocess.run(["docker", "logs", f"{project}-own-udp-echo-server"], capture_output=True, text=True)
        assert "The server is ready to receive on port 12000" in own_log.stdout  # the template answered the checker
        restored = launcher(student, env, "own", "--restore", "udp-echo-server")
        assert restored.returncode == 0, restored.stdout + restored.stderr

        # A calculator session and a TCP echo line, then the evidence for the report from the capture and logs.
        for args, line in (
            (["calc-client", "--name", "Ada"], "12 + 42\nq\n"),
            (["tcp-echo-client"], "hello, evidence\n"),
        ):
            argv = ["docker", "compose", "-p", project, "run", "--rm", "-T", *args]
            done = subprocess.run(argv, cwd=student, env=env, input=line, capture_output=True, text=True,
                                  timeout=STEP_TIMEOUT)  # fmt: skip
            assert done.returncode == 0, done.stdout + done.stderr
        made = launcher(student, env, "evidence", "--out", str(tmp_path / "evidence"))
        assert made.returncode == 0, made.stdout + made.stderr
        text = (tmp_path / "evidence" / "evidence.md").read_text()
        assert "Session ended: Ada@" in text and "`hello, evidence`" in text and "| SYN |" in text, text
        assert "Session ended: Calc" not in text  # the checker's sessions are not the user's
        assert (tmp_path / "evidence" / "handshake.svg").is_file()

        stopped = launcher(student, env, "down")
        assert stopped.returncode == 0, stopped.stdout + stopped.stderr
        assert list((student / "captures").glob("lab-*.pcap")), "no capture written"
    finally:
        for container in docker_client.containers.list(all=True, filters={"label": f"{PROJECT_LABEL}={project}"}):
            container.remove(force=True)
        for network in docker_client.networks.list(filters={"label": f"{PROJECT_LABEL}={project}"}):
            network.remove()
    assert docker_client.containers.list(all=True, filters={"label": f"{PROJECT_LABEL}={project}"}) == []
    assert docker_client.networks.list(filters={"label": f"{PROJECT_LABEL}={project}"}) == []
