"""A class folder's submissions: one ``Lab2_<TEAM>.py`` file or one folder per team.

Every entry is taken as hostile: its team gets a safe, unique folder name
(:mod:`names`), a top-level symbolic link is refused (never followed), and a
team whose program cannot be told (none, or several candidates) is listed with
the reason instead of being run.
"""

from __future__ import annotations

import fnmatch
import re
import shlex
import stat
from dataclasses import dataclass
from pathlib import Path

from .. import sandbox
from .config import GradeError
from .names import folder_names, printable

#: Files in the class folder that are not submissions.
NOT_SUBMISSIONS = {"grading.yaml", "README.md", "README", ".gitignore", "__pycache__"}
FILE_PREFIX = "Lab2_"
#: A program's name that can go into a container path as it is.
SAFE_FILE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,199}")
SAFE_SUFFIX = re.compile(r"\.[A-Za-z0-9]{1,10}")


@dataclass(frozen=True)
class Submission:
    #: The team as shown (control characters escaped, unique in the class).
    team: str
    #: The team's folder under out/teams/: [A-Za-z0-9_-], at most 64 characters, unique.
    folder: str
    #: The entry in the class folder (a file or a folder).
    path: Path
    #: The program {file} names, as a path inside the container (None: nothing to run, see ``problem``).
    file: str | None
    dir: str = sandbox.SUBMISSION_DIR
    #: Why nothing of this submission can run ("" when it can).
    problem: str = ""
    #: The team as in the file name (after Lab2_), unchanged: per-team settings in the config use it.
    name: str = ""

    @property
    def submitted_as(self) -> str:
        return self.path.name


def team_name(entry: Path) -> str:
    """A file's team is its name without ``Lab2_`` and the suffix; a folder's team is its name."""
    if entry.is_dir() and not entry.is_symlink():
        return entry.name
    stem = entry.name[: -len(entry.suffix)] if entry.suffix else entry.name
    return stem.removeprefix(FILE_PREFIX) or stem


def inside_name(entry: Path, folder: str) -> str:
    """The program's file name inside the container: its own when plain, else one made from the folder name."""
    if SAFE_FILE_NAME.fullmatch(entry.name) and entry.name not in {".", ".."}:
        return entry.name
    return f"{FILE_PREFIX}{folder}{entry.suffix if SAFE_SUFFIX.fullmatch(entry.suffix) else ''}"


def program_of(entry: Path, folder: str, pattern: str) -> tuple[str | None, str]:
    """(the program's path inside the container, or None; the problem if there is one)."""
    mode = entry.lstat().st_mode
    if stat.S_ISLNK(mode):
        return None, "refused: a symbolic link (not followed)"
    if stat.S_ISREG(mode):
        return f"{sandbox.SUBMISSION_DIR}/{inside_name(entry, folder)}", ""
    if not stat.S_ISDIR(mode):
        return None, "refused: neither a file nor a folder"
    programs = sorted(p.name for p in entry.iterdir() if fnmatch.fnmatch(p.name, pattern) and p.is_file())
    if len(programs) != 1:
        found = f"{len(programs)} ({', '.join(printable(p, 40) for p in programs[:5])})" if programs else "none"
        return None, f"no single program matching {pattern} in the folder: found {found}"
    return f"{sandbox.SUBMISSION_DIR}/{programs[0]}", ""


def find_submissions(folder: Path, program_pattern: str) -> list[Submission]:
    if not folder.is_dir():
        raise GradeError(f"{folder} is not a folder of submissions")
    entries = [
        e
        for e in sorted(folder.iterdir(), key=lambda p: (p.name.lower(), p.name))
        if not e.name.startswith(".") and e.name not in NOT_SUBMISSIONS
    ]
    if not entries:
        raise GradeError(f"no submissions in {folder}")
    names = [team_name(e) for e in entries]
    shown = unique_shown([printable(n) for n in names])
    found = []
    for entry, name, team, out_folder in zip(entries, names, shown, folder_names(names), strict=True):
        file, problem = program_of(entry, out_folder, program_pattern)
        found.append(Submission(team, out_folder, entry, file, problem=problem, name=name))
    return found


def unique_shown(shown: list[str]) -> list[str]:
    """Shown names made unique (two names may print the same once escaped or cut): ``name (2)``."""
    seen: set[str] = set()
    unique = []
    for name in shown:
        candidate, n = name, 1
        while candidate in seen:
            n += 1
            candidate = f"{name} ({n})"
        seen.add(candidate)
        unique.append(candidate)
    return unique


def fill(template: str, values: dict[str, str]) -> list[str]:
    """shlex-split ``template`` and replace the placeholders present in ``values`` in each word."""
    return [substitute(word, values) for word in shlex.split(template)]


def substitute(text: str, values: dict[str, str]) -> str:
    """``text`` with each ``{key}`` of ``values`` replaced (other braces stay as they are)."""
    for key, value in values.items():
        text = text.replace("{" + key + "}", value)
    return text
