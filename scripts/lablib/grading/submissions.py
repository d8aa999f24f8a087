"""A class folder's submissions: one ``Lab2_<TEAM>.py`` file or one folder per team."""

from __future__ import annotations

import fnmatch
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

from .. import sandbox
from .config import GradeError

#: Files in the class folder that are not submissions.
NOT_SUBMISSIONS = {"grading.yaml", "README.md", "README", ".gitignore", "__pycache__"}
FILE_PREFIX = "Lab2_"


@dataclass(frozen=True)
class Submission:
    team: str
    path: Path
    #: The program {file} names, as a path inside the container (None: not found in the folder).
    file: str | None
    dir: str

    @property
    def slug(self) -> str:
        return re.sub(r"[^A-Za-z0-9_.-]", "_", self.team)[:40] or "team"


def find_submissions(folder: Path, program_pattern: str) -> list[Submission]:
    if not folder.is_dir():
        raise GradeError(f"{folder} is not a folder of submissions")
    found = []
    for entry in sorted(folder.iterdir(), key=lambda p: p.name.lower()):
        if entry.name.startswith(".") or entry.name in NOT_SUBMISSIONS:
            continue
        if entry.is_dir():
            programs = sorted(p.name for p in entry.iterdir() if fnmatch.fnmatch(p.name, program_pattern))
            file = f"{sandbox.SUBMISSION_DIR}/{programs[0]}" if len(programs) == 1 else None
            found.append(Submission(entry.name, entry, file, sandbox.SUBMISSION_DIR))
        elif entry.is_file():
            team = entry.stem.removeprefix(FILE_PREFIX) or entry.stem
            found.append(Submission(team, entry, f"{sandbox.SUBMISSION_DIR}/{entry.name}", sandbox.SUBMISSION_DIR))
    if not found:
        raise GradeError(f"no submissions in {folder}")
    teams = [s.slug for s in found]
    clash = sorted({t for t in teams if teams.count(t) > 1})
    if clash:
        raise GradeError(f"two submissions would share a report folder: {', '.join(clash)}")
    return found


def fill(template: str, values: dict[str, str]) -> list[str]:
    """shlex-split ``template`` and replace the placeholders present in ``values`` in each word."""
    words = shlex.split(template)
    for key, value in values.items():
        words = [w.replace("{" + key + "}", value) for w in words]
    return words
