"""Build what an instructor gives students: `scripts/lab handout OUT`.

OUT gets the lab without its answers: compose.yaml (no build section: it runs the
image), the lab and student images as a `docker save` archive with the programs and the
grader as bytecode only, grading.yaml (the course's, without `teams:`, for `lab.py selftest`),
the course's templates and the starter, the student's half of the docs (the
walk-through, the protocols without the worked answer to question 7, the Wireshark
guide and dissector), a one-page README and the launcher `lab.py` (Python, no bash).
Left out: the worked report and its evidence, the test fixtures and their verdicts,
and every source file of the reference programs and the checker. `ALLOWED` lists
every path a handout may hold; the build fails if it made anything else.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from lablib import common, evidence
from lablib.grading.config import DEFAULT_CONFIG
from lablib.sandbox.settings import user_path

sys.path.insert(0, str(common.ROOT))
from services import roles  # noqa: E402

KIT = common.ROOT / "course"
ASSETS = KIT / "handout"
ARCHIVE = "images/socklab-lab.tar"
#: The lab tools the handout image carries (as bytecode): what `lab.py evidence` runs ...
TOOL_MODULES = ("__init__.py", "common.py", "evidence.py", "pcap", "sandbox")
#: ... and the grader, for `lab.py selftest` (lablib/handout_selftest.py runs it in a container).
GRADER_MODULES = ("grading", "fingerprint.py", "selftest.py", "handout_selftest.py")
#: The course's grading config, shipped without its per-team section (how named teams start).
GRADING = "grading.yaml"
PER_TEAM_KEY = "teams"
GRADING_HEADER = "# The course's grading config, as `python3 lab.py selftest` grades with it (no per-team settings).\n"
#: Every path a handout holds (relative to OUT); anything else is an error.
ALLOWED = (
    "README.md",
    "lab.py",
    "handout.json",
    "compose.yaml",
    GRADING,
    ".gitattributes",
    ARCHIVE,
    "templates/UDP_Server.py",
    "templates/UDP_Client.py",
    "templates/TCP_Server.py",
    "templates/TCP_Client.py",
    "starter/Lab2_NAME.py",
    "docs/walkthrough.md",
    "docs/protocols.md",
    "docs/wireshark.md",
    "wireshark/socklab.lua",
)
#: README sections that make up the walk-through, and a protocols/wireshark section left out of each.
WALKTHROUGH_SECTIONS = ("The network", "Walking through the lab", "Watching the traffic")
#: Walk-through subsections about tools only the repository has (the live watch page).
REPOSITORY_ONLY = ("Watch it live",)
ANSWER_SECTIONS = {"protocols.md": "Stateful or stateless?", "wireshark.md": "`scripts/pcap-report`"}
#: Git checkouts on Windows keep these files as they are (the launcher and the containers read LF).
GITATTRIBUTES = "* text=auto eol=lf\n*.tar binary\n"


class HandoutError(Exception):
    pass


def handout_image(lab_image: str) -> str:
    """``socklab:latest`` -> ``socklab-handout:latest`` (a tag of its own, never the lab's)."""
    return common.image_beside(lab_image, "-handout")


def build_image(lab_image: str, image: str) -> None:
    """The lab image plus the evidence tool and the grader, compiled, sources deleted (see image.Dockerfile)."""
    lablib = common.ROOT / "scripts" / "lablib"
    modules = {f"lablib/{module}": lablib / module for module in TOOL_MODULES + GRADER_MODULES}
    common.build_from_lab_image(lab_image, image, ASSETS / "image.Dockerfile", modules)


def compose_for(image: str) -> dict[str, Any]:
    """The repository's compose.yaml with every service running ``image`` and no build section."""
    data = yaml.safe_load((common.ROOT / "compose.yaml").read_text())  # anchors and << merges expanded
    for key in [k for k in data if k.startswith("x-")]:
        del data[key]
    for service in data["services"].values():
        service.pop("build", None)
        service["image"] = image
    return data


def grading_config() -> str:
    """The course's grading.yaml without its ``teams:`` section (which names teams and how each starts)."""
    data = yaml.safe_load(DEFAULT_CONFIG.read_text())
    data.pop(PER_TEAM_KEY, None)
    return GRADING_HEADER + yaml.safe_dump(data, sort_keys=False)


def student_images(lab_image: str, image: str) -> str:
    """Tag the student image (students' programs run on it) beside the handout image; return its name."""
    student = common.student_image_of(image)
    subprocess.run(["docker", "tag", common.student_image_of(lab_image), student], check=True)
    return student


def section(text: str, title: str, level: int = 2) -> str:
    """The Markdown section of ``level`` whose heading starts with ``title``, heading included."""
    marks = "#" * level
    match = re.search(rf"^{marks} {re.escape(title)}.*?(?=^#{{1,{level}}} |\Z)", text, re.M | re.S)
    if match is None:
        raise HandoutError(f"no section '{marks} {title}' to take")
    return match.group(0)


def without(text: str, title: str, level: int = 2) -> str:
    return text.replace(section(text, title, level), "")


def for_students(text: str) -> str:
    """Repository commands as the handout's: `scripts/lab VERB` is `python3 lab.py VERB`; doc links stay inside."""
    text = text.replace("scripts/lab ", "python3 lab.py ").replace("](docs/", "](")
    return text.replace("captures/lab-*.pcap", "captures/*.pcap")


def docs(out: Path) -> None:
    readme = (common.ROOT / "README.md").read_text()
    walk = "# Walking through the lab\n\n" + "".join(section(readme, t) for t in WALKTHROUGH_SECTIONS)
    for title in REPOSITORY_ONLY:
        walk = without(walk, title, level=3)
    write(out / "docs" / "walkthrough.md", for_students(walk))
    for name, answers in ANSWER_SECTIONS.items():
        write(out / "docs" / name, for_students(without((common.ROOT / "docs" / name).read_text(), answers)))


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8", newline="\n")


def settings(image: str) -> dict[str, Any]:
    """What the launcher needs to know, from the catalogue (services/roles.py)."""
    return {
        "image": image,
        "student_image": common.student_image_of(image),
        "archive": ARCHIVE,
        "servers": {r.name: r.octet for r in roles.SERVERS},
        "clients": [r.name for r in roles.ROLES if r.is_client and r.octet is None],
        "logged_roles": list(evidence.LOGGED_ROLES),
    }


def build(out: Path, lab_image: str) -> str:
    """Write the handout into ``out`` (which must not exist); return the handout image's name."""
    if out.exists():
        raise HandoutError(f"{out} exists: give a new folder")
    image = handout_image(lab_image)
    build_image(lab_image, image)
    student = student_images(lab_image, image)
    out.mkdir(parents=True)
    (out / "images").mkdir()
    subprocess.run(["docker", "save", "-o", str(out / ARCHIVE), image, student], check=True)
    write(out / GRADING, grading_config())
    write(out / "compose.yaml", yaml.safe_dump(compose_for(image), sort_keys=False))
    write(out / "handout.json", json.dumps(settings(image), indent=2) + "\n")
    write(out / ".gitattributes", GITATTRIBUTES)
    for name in ("README.md", "lab.py"):
        write(out / name, (ASSETS / name).read_text())
    for source in sorted((KIT / "templates").glob("*.py")):
        write(out / "templates" / source.name, source.read_text())
    write(out / "starter" / "Lab2_NAME.py", (KIT / "starter" / "Lab2_NAME.py").read_text())
    write(out / "wireshark" / "socklab.lua", (common.ROOT / "wireshark" / "socklab.lua").read_text())
    docs(out)
    extra = sorted(set(tree(out)) - set(ALLOWED))
    if extra:
        raise HandoutError(f"the handout holds files outside its allow-list: {', '.join(extra)}")
    return image


def tree(out: Path) -> list[str]:
    return [p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/lab handout", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("out", type=Path, help="a new folder for the handout")
    args = parser.parse_args(argv)
    out = user_path(args.out)
    try:
        image = build(out, common.ensure_images())
    except (HandoutError, common.LabError, subprocess.CalledProcessError) as exc:
        print(f"scripts/lab handout: {exc}", file=sys.stderr)
        return 2
    size = (out / ARCHIVE).stat().st_size / 1e6
    print(f"handout written to {out} ({len(tree(out))} files; image {image}, {size:.0f} MB archive)")
    print(f"students: python3 lab.py up   (in {out.name}/)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
