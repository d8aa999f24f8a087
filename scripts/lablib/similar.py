"""Similar code across a class: every pair of teams' programs scored, the course's templates subtracted.

    scripts/lab similar DIR [--base FILE...] [--no-default-base] [--against OLD_DIR...] [--out DIR] [--config FILE]

DIR holds one file (``Lab2_<TEAM>.py``) or one folder per team, found as ``scripts/lab
grade`` finds them; a folder's .py files are one program. Each program is tokenised
(names and literals normalised, comments and layout ignored), fingerprinted (winnowing,
see lablib/fingerprint.py), and the fingerprints of the base code every team was given
(the course's templates and starter; ``--base`` adds more) are subtracted. Every pair is
scored; ``--against`` adds older submissions, each compared with every team of DIR.
Writes similar.json and similar.html (flagged pairs first, each a side-by-side view),
prints the top pairs. No Docker, no network. A flag is a reason to look, not a verdict.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import sys
import time
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path
from typing import Any

from lablib import common, fingerprint, sandbox
from lablib.fingerprint import Comparison, Fingerprint, Region, Token, Tokens
from lablib.grading import Config, GradeError, find_submissions, load_config
from lablib.grading.config import DEFAULT_CONFIG
from lablib.grading.names import printable

#: The code every team was given (kit: course/templates/*.py and course/starter/*.py).
COURSE = common.ROOT / "course"
DEFAULT_BASE_GLOBS = ("templates/*.py", "starter/*.py")
#: Hostile input: a team's program is read up to these sizes, the rest is said and skipped.
MAX_FILE_BYTES = 2 * 1024 * 1024
MAX_FILES_PER_TEAM = 40
#: Pairs printed in the terminal besides the flagged ones.
TOP_PRINTED = 10
SKIP_NAMES = {"__pycache__"}
#: The report's files, in the class folder of ``scripts/lab grade`` too (its index.html links similar.html).
JSON_NAME, HTML_NAME = "similar.json", "similar.html"


class SimilarError(Exception):
    """A problem with the input (folder, config, base file): said to the TA, nothing is written."""


@dataclass(frozen=True)
class Settings:
    """grading.yaml's ``similarity`` section (defaults and checks: lablib.grading.config.Similarity)."""

    threshold: float
    min_match_tokens: int
    source: str

    @classmethod
    def of(cls, config: Config) -> Settings:
        return cls(config.similarity.threshold, config.similarity.min_match_tokens, config.source)


# -- reading programs -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SourceFile:
    name: str  # as shown: relative to the team's folder
    text: str
    notes: tuple[str, ...] = ()


@dataclass
class Team:
    name: str
    files: list[SourceFile]
    notes: list[str]
    tokens: Tokens
    token_file: list[int]  # per token: index into files
    fp: Fingerprint | None = None

    @property
    def slug(self) -> str:
        return re.sub(r"[^A-Za-z0-9_.-]", "_", self.name)[:60] or "team"


def read_source(path: Path, shown: str) -> SourceFile:
    notes = []
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        return SourceFile(shown, "", (f"cannot read: {exc.strerror or exc}",))
    if len(raw) > MAX_FILE_BYTES:
        return SourceFile(shown, "", (f"larger than {MAX_FILE_BYTES} bytes: not compared",))
    try:
        text = raw.decode("utf-8-sig")  # a byte order mark (Windows editors) is not code
    except UnicodeDecodeError:
        text = raw.decode("utf-8-sig", "replace")
        notes.append("not UTF-8: undecodable bytes replaced")
    if not text.strip():
        notes.append("empty")
    return SourceFile(shown, text, tuple(notes))


def team_files(path: Path) -> list[Path]:
    """A team's .py files: the file itself, or those in its folder (hidden ones and links out of it skipped)."""
    if path.is_file():
        return [path]
    inside = path.resolve()
    found = sorted(
        p
        for p in path.rglob("*.py")
        if p.is_file()
        and not any(part.startswith(".") or part in SKIP_NAMES for part in p.relative_to(path).parts)
        and p.resolve().is_relative_to(inside)  # a link to a file elsewhere on the TA's machine is not the team's
    )
    return found


def load_team(name: str, path: Path) -> Team:
    paths = team_files(path)
    # A file's name is the student's: shown with control characters escaped (lablib.grading.names).
    files = [
        read_source(p, printable(p.name if p == path else str(p.relative_to(path)), limit=0))
        for p in paths[:MAX_FILES_PER_TEAM]
    ]
    notes = [f"{f.name}: {n}" for f in files for n in f.notes]
    if not files:
        notes.append("no .py file")
    if len(paths) > MAX_FILES_PER_TEAM:
        notes.append(f"{len(paths)} .py files: only the first {MAX_FILES_PER_TEAM} compared")
    tokens: list[Token] = []
    token_file: list[int] = []
    modes = []
    for i, source in enumerate(files):
        found = fingerprint.tokenise(source.text)
        if found.note:
            notes.append(f"{source.name}: {found.note}")
        if i:  # a barrier no other team has: no region grows from one file into the next
            tokens.append(Token(f"\x00{name}:{i}", 0, 0))
            token_file.append(i)
        tokens.extend(found.tokens)
        token_file.extend([i] * len(found.tokens))
        modes.append(found.mode)
    mode = "python" if all(m == "python" for m in modes) else "text"
    return Team(name, files, notes, Tokens(tuple(tokens), mode), token_file)


def default_base() -> list[Path]:
    return sorted(p for pattern in DEFAULT_BASE_GLOBS for p in COURSE.glob(pattern) if p.is_file())


def base_files(given: list[Path], use_default: bool) -> list[Path]:
    paths = (default_base() if use_default else []) + [p for g in given for p in team_files(g)]
    missing = [str(g) for g in given if not g.exists()]
    if missing:
        raise SimilarError(f"base code not found: {', '.join(missing)}")
    return paths


def discover(folder: Path, program_pattern: str, prefix: str = "") -> list[Team]:
    """The teams of ``folder``, found as ``scripts/lab grade`` finds them."""
    try:
        submissions = find_submissions(folder, program_pattern)
    except GradeError as exc:
        raise SimilarError(str(exc)) from exc
    return [load_team(prefix + s.team, s.path) for s in submissions]


# -- comparing --------------------------------------------------------------------------------------------------


@dataclass(eq=False)  # compared and hashed by identity: a key of the page table
class Pair:
    first: Team
    second: Team
    result: Comparison
    flagged: bool

    @property
    def similarity(self) -> float:
        return self.result.similarity


@dataclass
class Report:
    teams: list[Team]
    against: list[Team]
    pairs: list[Pair]
    settings: Settings
    base: list[Path]
    seconds: float = 0.0


def analyse(teams: list[Team], against: list[Team], base: list[Path], settings: Settings) -> Report:
    started = time.monotonic()
    hashes = fingerprint.base_hashes(fingerprint.tokenise(read_source(p, p.name).text) for p in base)
    for team in teams + against:
        team.fp = fingerprint.fingerprint(team.tokens, hashes)
    candidates = list(combinations(teams, 2)) + [(t, old) for t in teams for old in against]
    pairs = []
    for first, second in candidates:
        assert first.fp is not None and second.fp is not None
        result = fingerprint.compare(first.fp, second.fp, settings.min_match_tokens)
        flagged = bool(result.regions) and result.similarity >= settings.threshold
        pairs.append(Pair(first, second, result, flagged))
    pairs.sort(key=lambda p: (-p.similarity, -p.result.longest, p.first.name, p.second.name))
    return Report(teams, against, pairs, settings, base, time.monotonic() - started)


# -- output -----------------------------------------------------------------------------------------------------


def span(team: Team, start: int, length: int) -> dict[str, Any]:
    """A region of a team's tokens as the file it is in, character offsets and lines (1-based, inclusive)."""
    first, last = team.tokens.tokens[start], team.tokens.tokens[start + length - 1]
    source = team.files[team.token_file[start]]
    return {
        "file": source.name,
        "start": first.start,
        "end": last.end,
        "lines": [source.text.count("\n", 0, first.start) + 1, source.text.count("\n", 0, last.end) + 1],
    }


def match_json(pair: Pair, region: Region) -> dict[str, Any]:
    """A match: its own tokens, and where it is in each program, in the order of the pair's ``teams``."""
    return {
        "tokens": region.own,
        "where": [span(pair.first, region.a, region.length), span(pair.second, region.b, region.length)],
    }


def report_json(report: Report) -> dict[str, Any]:
    return {
        "settings": {
            "threshold": report.settings.threshold,
            "min_match_tokens": report.settings.min_match_tokens,
            "source": report.settings.source,
            "k": fingerprint.K,
            "window": fingerprint.WINDOW,
        },
        "base": [str(p) for p in report.base],
        "teams": {t.name: {"tokens": len(t.tokens.tokens), "notes": t.notes} for t in report.teams + report.against},
        "against": [t.name for t in report.against],
        "seconds": round(report.seconds, 2),
        "pairs": [
            {
                "teams": [p.first.name, p.second.name],
                "similarity": round(p.similarity, 4),
                "coverage": [round(c, 4) for c in p.result.coverage],
                "longest": p.result.longest,
                "flagged": p.flagged,
                "matches": [match_json(p, r) for r in p.result.regions],
            }
            for p in report.pairs
        ],
    }


def summary_lines(report: Report, top: int = TOP_PRINTED) -> list[str]:
    shown = [p for p in report.pairs if p.result.regions][:top]
    width = max((len(p.first.name) + len(p.second.name) + 5 for p in shown), default=10)
    lines = [f"{'pair':<{width}}  similarity  longest  flagged"]
    for p in shown:
        label = f"{p.first.name} <-> {p.second.name}"
        lines.append(f"{label:<{width}}  {p.similarity:>10.2f}  {p.result.longest:>7}  {'yes' if p.flagged else ''}")
    if not any(p.result.regions for p in report.pairs):
        lines.append("(no pair shares a match of at least min_match_tokens tokens)")
    more = sum(p.flagged for p in report.pairs[len(shown) :])
    if more:
        lines.append(f"... and {more} more flagged pairs (--top N shows more; similar.html lists them all)")
    for team in report.teams + report.against:
        lines += [f"note: {team.name}: {n}" for n in team.notes]
    return lines


def write(report: Report, out: Path) -> Path:
    from lablib import similar_html

    out.mkdir(parents=True, exist_ok=True)
    (out / JSON_NAME).write_text(json.dumps(report_json(report), indent=1) + "\n")
    similar_html.write(report, out)
    return out / HTML_NAME


def class_report(folder: Path, config: Config, out: Path) -> str:
    """similar.json and similar.html in ``out`` for ``scripts/lab grade``'s class page, which links them.

    The course's templates are the base. Returns a line for the TA: what was flagged, or why
    there is no report (a problem here never stops the grading).
    """
    try:
        report = analyse(discover(folder, config.program_pattern), [], default_base(), Settings.of(config))
    except SimilarError as exc:
        return f"similarity report: not written: {exc}"
    write(report, out)
    flagged = sum(p.flagged for p in report.pairs)
    return f"similarity report: {flagged} of {len(report.pairs)} pairs flagged: {out / HTML_NAME}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="scripts/lab similar",
        description=__doc__.split("\n\n")[0],
        epilog="See docs/grading.md, 'Similar code'. Thresholds: grading.yaml's similarity section.",
    )
    parser.add_argument("folder", type=Path, help="one file or folder per team (as for scripts/lab grade)")
    parser.add_argument("--base", type=Path, nargs="+", default=[], metavar="FILE", help="more base code")
    parser.add_argument("--no-default-base", action="store_true", help="do not subtract course/templates and starter")
    parser.add_argument("--against", type=Path, nargs="+", default=[], metavar="OLD_DIR", help="earlier submissions")
    parser.add_argument("--out", type=Path, help="report folder (default grades/similar-<UTC time>)")
    parser.add_argument("--config", type=Path, help="grading YAML (default: grading/grading.yaml)")
    parser.add_argument("--top", type=int, default=TOP_PRINTED, help="pairs printed besides the flagged ones")
    args = parser.parse_args(argv)
    if args.top < 0:
        parser.error("--top must be 0 or more")
    started = time.monotonic()
    try:
        config = load_config(sandbox.user_path(args.config) if args.config else DEFAULT_CONFIG)
        pattern = config.program_pattern
        teams = discover(sandbox.user_path(args.folder), pattern)
        olds = [sandbox.user_path(old).resolve() for old in args.against]
        against = [t for old in olds for t in discover(old, pattern, f"{old.name}/")]
        base = base_files([sandbox.user_path(b) for b in args.base], not args.no_default_base)
    except (SimilarError, GradeError) as exc:
        print(f"scripts/lab similar: {exc}", file=sys.stderr)
        return 2
    settings = Settings.of(config)
    report = analyse(teams, against, base, settings)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
    out = sandbox.user_path(args.out) if args.out else common.ROOT / "grades" / f"similar-{stamp}"
    page = write(report, out)
    for line in summary_lines(report, args.top):
        print(line)
    flagged = sum(p.flagged for p in report.pairs)
    print(
        f"\n{len(teams)} teams (+{len(against)} earlier), {len(report.pairs)} pairs, {flagged} flagged "
        f"(similarity >= {settings.threshold}, matches >= {settings.min_match_tokens} tokens; {len(base)} base files) "
        f"in {time.monotonic() - started:.1f} s: {page}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
