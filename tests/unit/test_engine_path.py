"""The grader in a container (the handout's selftest) names bind-mount sources by the engine's path of its folder."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
from lablib import handout_selftest, sandbox  # noqa: E402
from lablib.sandbox import settings  # noqa: E402


def test_on_the_engines_host_a_path_is_itself(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(settings.HOST_WORKDIR_ENV, raising=False)
    assert sandbox.engine_path(tmp_path / "a" / ".." / "b") == str(tmp_path / "b")


def test_in_a_container_a_path_is_named_under_the_engines_folder(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(settings.HOST_WORKDIR_ENV, "/run/desktop/mnt/host/c/Users/Ada Lovelace/lab")
    monkeypatch.setenv(settings.WORKDIR_ENV, str(tmp_path))
    got = sandbox.engine_path(tmp_path / "results" / "teams" / "Good" / "checks")
    assert got == "/run/desktop/mnt/host/c/Users/Ada Lovelace/lab/results/teams/Good/checks"
    assert sandbox.engine_path(tmp_path) == "/run/desktop/mnt/host/c/Users/Ada Lovelace/lab"


def test_a_path_outside_the_shared_folder_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(settings.HOST_WORKDIR_ENV, "/host/lab")
    monkeypatch.setenv(settings.WORKDIR_ENV, str(tmp_path / "work"))
    with pytest.raises(sandbox.SandboxError, match="is outside .*work, the only folder the engine's host shares"):
        sandbox.engine_path(tmp_path / "elsewhere")


def test_the_submission_mount_uses_the_engines_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "Lab2_Ada.py").write_text("print()\n")
    monkeypatch.setenv(settings.HOST_WORKDIR_ENV, "/host/lab")
    monkeypatch.setenv(settings.WORKDIR_ENV, str(tmp_path))
    (mount,), inside = sandbox.submission_mount(tmp_path / "Lab2_Ada.py")
    assert mount["Source"] == "/host/lab/Lab2_Ada.py" and inside == "/submission/Lab2_Ada.py"


class FakeApi:
    def __init__(self, mounts: list[dict[str, str]]) -> None:
        self.mounts = mounts

    def inspect_container(self, _id: str) -> dict[str, Any]:
        return {"Mounts": self.mounts}


class FakeClient:
    def __init__(self, mounts: list[dict[str, str]]) -> None:
        self.api = FakeApi(mounts)


def test_the_engines_path_of_the_shared_folder_is_read_from_the_graders_own_mount() -> None:
    mounts = [
        {"Type": "bind", "Source": "/var/run/docker.sock", "Destination": "/var/run/docker.sock"},
        {"Type": "bind", "Source": "/host_mnt/Users/ada/lab/selftest/Lab2_Ada", "Destination": "/work"},
    ]
    got = handout_selftest.engine_workdir(FakeClient(mounts), "me", Path("/work"))
    assert got == "/host_mnt/Users/ada/lab/selftest/Lab2_Ada"
    with pytest.raises(handout_selftest.NoSharedFolder, match="no folder of the host is mounted at /work"):
        handout_selftest.engine_workdir(FakeClient(mounts[:1]), "me", Path("/work"))


def test_the_tools_are_copied_runnable_into_the_shared_folder(tmp_path: Path) -> None:
    copied = handout_selftest.copy_tools(tmp_path / "tools")
    assert sorted(p.name for p in copied.iterdir()) == [f"{name}.py" for name in sorted(handout_selftest.TOOLS)]


def test_the_tools_variable_is_the_checkers() -> None:
    from lablib.grading import checker

    assert checker.TOOLS_DIR_ENV == handout_selftest.TOOLS_ENV
