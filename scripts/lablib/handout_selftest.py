"""The handout's `lab.py selftest`, inside a container of the handout image: the grader on one file.

    docker run --rm -v /var/run/docker.sock:/var/run/docker.sock -v FOLDER:/work \
        --entrypoint python3 IMAGE -m lablib.handout_selftest Lab2_NAME.py

The grader drives the engine through its socket, and every bind mount it asks for must
name a path on the engine's host: so everything it mounts lies in /work (the student's
file, grading.yaml, the results, a copy of the grader's tools), and the sandbox names it
by the engine's own path of FOLDER (``sandbox.engine_path``), read from this container's
mount of /work: the engine reports it as it resolved it (on Linux FOLDER itself; on
Docker Desktop a path in its VM, which no launcher on Windows could spell). The image carries the
tools as bytecode only: each ``NAME.pyc`` is copied as ``NAME.py`` (the path the grader
runs), which Python runs all the same, since it tells bytecode by its magic number.
"""

from __future__ import annotations

import os
import shutil
import socket
import sys
from pathlib import Path
from typing import Any

from lablib.sandbox.settings import DEFAULT_WORKDIR, HOST_WORKDIR_ENV, WORKDIR_ENV

#: The grader's in-container programs (lablib/grading/tools), as shipped in the image.
SHIPPED_TOOLS = Path(__file__).resolve().parent / "grading" / "tools"
TOOLS = ("connect", "driver", "feed", "relay")
#: checker.TOOLS_DIR_ENV: set before the grader is imported (the checker reads it once).
TOOLS_ENV = "SOCKLAB_GRADER_TOOLS"
#: In the shared folder: the course's grading config (without `teams:`) and where the results go.
CONFIG_NAME = "grading.yaml"
RESULTS_NAME = "results"
TOOLS_NAME = "tools"
TMP_NAME = "tmp"


def copy_tools(target: Path) -> Path:
    """The grader's tools as runnable NAME.py files in ``target`` (from NAME.pyc, or NAME.py in the repository)."""
    target.mkdir(parents=True, exist_ok=True)
    for name in TOOLS:
        compiled = SHIPPED_TOOLS / f"{name}.pyc"
        shutil.copyfile(compiled if compiled.is_file() else SHIPPED_TOOLS / f"{name}.py", target / f"{name}.py")
        (target / f"{name}.py").chmod(0o644)  # read by the sandbox's users
    target.chmod(0o755)
    return target


class NoSharedFolder(Exception):
    pass


def engine_workdir(client: Any, container_id: str, work: Path) -> str:
    """The engine's source path of the folder mounted at ``work`` in container ``container_id`` (this one)."""
    mounts = client.api.inspect_container(container_id).get("Mounts") or []
    sources = [m["Source"] for m in mounts if m.get("Destination") == str(work) and m.get("Type") == "bind"]
    if not sources:
        raise NoSharedFolder(f"no folder of the host is mounted at {work} (docker run --mount ...,target={work})")
    return sources[0]


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python3 -m lablib.handout_selftest FILE (a file in the shared folder)", file=sys.stderr)
        return 2
    work = Path(os.environ.get(WORKDIR_ENV) or DEFAULT_WORKDIR)
    if not os.environ.get(HOST_WORKDIR_ENV):
        import docker  # noqa: PLC0415 (only here: the rest needs no engine before the grader)

        try:
            os.environ[HOST_WORKDIR_ENV] = engine_workdir(docker.from_env(), socket.gethostname(), work)
        except (NoSharedFolder, docker.errors.DockerException) as exc:
            print(f"selftest: {exc}", file=sys.stderr)
            return 2
    os.environ[TOOLS_ENV] = str(copy_tools(work / TOOLS_NAME))
    (work / TMP_NAME).mkdir(exist_ok=True)
    os.environ["TMPDIR"] = str(work / TMP_NAME)  # the copy selftest grades is made there: in the shared folder
    from lablib import selftest  # noqa: PLC0415 (after the environment above)

    return selftest.main([str(work / argv[0]), "--config", str(work / CONFIG_NAME),
                          "--out", str(work / RESULTS_NAME), "--no-build"])  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
