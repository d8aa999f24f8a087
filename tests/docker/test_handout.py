"""`scripts/lab handout`: build a handout, check its tree against the allow-list, then run the lab from a
copy of it in an empty folder, as a student's machine would: `docker load` the archive, `lab.py up`, a client,
the checker, the course's UDP template in the server's place, `lab.py down`. Everything is removed after."""

from __future__ import annotations

import ipaddress
import os
import re
import secrets
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from ..helpers import ROOT

sys.path.insert(0, str(ROOT / "scripts"))
from lablib import common, handout, sandbox  # noqa: E402
from lablib.grading import load_config  # noqa: E402
from lablib.grading.config import DEFAULT_CONFIG  # noqa: E402

GOOD = ROOT / "tests" / "fixtures" / "students" / "Lab2_Good.py"

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


@pytest.fixture(scope="module")
def built(docker_client: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    """One handout build for the module's tests (a build and its `docker save` take minutes here)."""
    out = tmp_path_factory.mktemp("built") / "handout"
    image = handout.build(out, common.ensure_images())
    try:
        yield out, image
    finally:
        subprocess.run(["docker", "rmi", "-f", image, common.student_image_of(image)], capture_output=True)


def student_copy(out: Path, folder: Path) -> Path:
    """The handout in an empty folder that knows nothing of the repository, as a student's machine has it."""
    shutil.copytree(out, folder)
    return folder


def student_env(tmp_path: Path, project: str, **extra: str) -> dict[str, str]:
    env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", str(tmp_path)), "SOCKLAB_PROJECT": project,
           **extra}  # fmt: skip
    if "DOCKER_CONFIG" in os.environ:
        env["DOCKER_CONFIG"] = os.environ["DOCKER_CONFIG"]
    return env


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

    student = student_copy(out, tmp_path / "student")
    # so `up` must docker load (both images: the lab's and the one students' programs run on)
    subprocess.run(["docker", "rmi", "-f", image, common.student_image_of(image)], capture_output=True, check=True)
    prefix, bridge = free_prefix(docker_client)
    project = f"socklab-handout-{secrets.token_hex(3)}"
    env = student_env(tmp_path, project, SOCKLAB_NET_PREFIX=prefix, SOCKLAB_BRIDGE=bridge)
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


def sandbox_leftovers(client: Any, project: str) -> list[str]:
    """Sandbox containers and networks made by this project's selftest graders (host label: their container)."""
    owned = {"label": sandbox.HOST_LABEL}
    ours = f"{project}-selftest-"
    containers = client.containers.list(all=True, filters=owned, sparse=True)
    return [c.attrs["Names"][0] for c in containers if c.attrs["Labels"][sandbox.HOST_LABEL].startswith(ours)] + [
        n.name for n in client.networks.list(filters=owned) if n.attrs["Labels"][sandbox.HOST_LABEL].startswith(ours)
    ]


def role_sections(stdout: str) -> dict[str, str]:
    """selftest's output per role: the block after each ``ROLE (PART): SCORE / MAX`` line."""
    blocks = re.split(r"^(?=\S+ \(part\d\): )", stdout, flags=re.M)
    return {block.split(" ", 1)[0]: block for block in blocks if re.match(r"\S+ \(part\d\): ", block)}


def test_selftest_from_a_handout_grades_as_the_grader(
    docker_client: Any, tmp_path: Path, built: tuple[Path, str]
) -> None:
    out, image = built
    shipped = yaml.safe_load((out / handout.GRADING).read_text())
    course = yaml.safe_load(DEFAULT_CONFIG.read_text())
    assert "teams" not in shipped and shipped == {k: v for k, v in course.items() if k != "teams"}
    student = student_copy(out, tmp_path / "student")
    project = f"socklab-handout-{secrets.token_hex(3)}"
    env = student_env(tmp_path, project)
    good = shutil.copyfile(GOOD, student / GOOD.name)
    config = load_config(DEFAULT_CONFIG)
    try:
        started = launcher(student, env, "selftest", "starter/Lab2_NAME.py")
        assert started.returncode == 0, started.stdout + started.stderr
        assert re.search(r"^Lab2_NAME\.py: 0 / \d+", started.stdout, re.M), started.stdout
        sections = role_sections(started.stdout)
        servers = {s.role for s in config.roles if not s.is_client}
        assert servers <= set(sections), started.stdout
        for role in servers:
            assert f"{role}: not written yet" in sections[role], sections[role]
            assert re.search(rf"^{role} \(part\d\): 0 / ", sections[role]), sections[role]
        assert (student / "selftest" / "Lab2_NAME" / "results" / "teams" / "NAME" / "results.json").is_file()

        graded = launcher(student, env, "selftest", good.name)
        assert graded.returncode == 0, graded.stdout + graded.stderr
        marks = re.findall(r"^\S+ \(part\d\): (\S+) / (\S+)$", graded.stdout, re.M)
        assert len(marks) == len(config.roles), graded.stdout
        assert all(score == most for score, most in marks), graded.stdout  # every role: full marks
        assert "FAIL" not in graded.stdout and "not run" not in graded.stdout, graded.stdout
        assert f"$ docker run --rm --name {project}-selftest-" in graded.stdout
    finally:
        for name in sandbox_leftovers(docker_client, project):
            subprocess.run(["docker", "rm", "-f", name.lstrip("/")], capture_output=True)
    assert sandbox_leftovers(docker_client, project) == []
    assert docker_client.containers.list(all=True, filters={"name": f"{project}-selftest-"}) == []
