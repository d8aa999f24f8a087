"""`scripts/lab handout` without Docker: the image name, the Compose file, the student docs, the launcher's settings."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
from lablib import handout  # noqa: E402

from services import roles  # noqa: E402


@pytest.mark.parametrize(
    ("lab", "ours"),
    [
        ("socklab:latest", "socklab-handout:latest"),
        ("socklab-kit:latest", "socklab-kit-handout:latest"),
        ("registry:5000/socklab", "registry:5000/socklab-handout:latest"),
    ],
)
def test_the_handout_image_has_a_tag_of_its_own(lab: str, ours: str) -> None:
    assert handout.handout_image(lab) == ours


def test_compose_runs_the_image_and_builds_nothing() -> None:
    data = handout.compose_for("socklab-handout:latest")
    assert not [k for k in data if k.startswith("x-")]
    assert {s.get("image") for s in data["services"].values()} == {"socklab-handout:latest"}
    assert not [name for name, s in data["services"].items() if "build" in s]
    assert "$$pcap" in " ".join(data["services"]["capture"]["entrypoint"])  # Compose's escape survives


def test_the_student_docs_hold_no_answer_and_no_repository_tool(tmp_path: Path) -> None:
    handout.docs(tmp_path)
    walk = (tmp_path / "docs" / "walkthrough.md").read_text()
    protocols = (tmp_path / "docs" / "protocols.md").read_text()
    wireshark = (tmp_path / "docs" / "wireshark.md").read_text()
    assert walk.startswith("# Walking through the lab") and "## Walking through the lab" in walk
    assert "scripts/" not in walk + protocols + wireshark and "Watch it live" not in walk
    assert "## Stateful or stateless?" not in protocols and "## Calculator" in protocols
    assert "python3 lab.py up" in walk


def test_a_missing_section_is_an_error() -> None:
    with pytest.raises(handout.HandoutError, match="no section '## Nowhere'"):
        handout.section("# title\n\n## Here\ntext\n", "Nowhere")


def test_the_launcher_settings_come_from_the_catalogue() -> None:
    settings = handout.settings("img")
    assert settings["servers"] == {r.name: r.octet for r in roles.SERVERS}
    assert "datetime-client" not in settings["clients"] and "calc-client" in settings["clients"]
    assert settings["logged_roles"] == ["calc-server", "chat-server"]


def test_the_allow_list_has_no_source_of_the_programs() -> None:
    assert not [p for p in handout.ALLOWED if p.startswith(("services/", "scripts/", "tests/", "docs/evidence"))]
    assert "docs/lab-report.md" not in handout.ALLOWED


def test_the_grading_config_leaves_out_the_per_team_section(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    course = tmp_path / "grading.yaml"
    course.write_text("level: lab\nparts: {p: {calc-server: {}}}\nteams:\n  Team7: {calc-server: {run: x}}\n")
    monkeypatch.setattr(handout, "DEFAULT_CONFIG", course)
    shipped = handout.grading_config()
    assert shipped.startswith(handout.GRADING_HEADER)
    assert yaml.safe_load(shipped) == {"level": "lab", "parts": {"p": {"calc-server": {}}}}
    assert handout.GRADING in handout.ALLOWED


def test_the_launcher_knows_the_student_image() -> None:
    assert handout.settings("lab-handout:1")["student_image"] == "lab-handout-student:1"
