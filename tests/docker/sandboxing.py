"""Grading a few fixture teams at once, the way the sandbox tests need it (no CLI, no summary)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Any

from ..helpers import ROOT

sys.path.insert(0, str(ROOT / "scripts"))
from lablib import common, sandbox  # noqa: E402
from lablib import grading as grade  # noqa: E402

from .grade_runs import without_engine_faults  # noqa: E402

CLASS = ROOT / "tests" / "fixtures" / "class"


def grade_teams(work: Path, teams: tuple[str, ...], config_text: str) -> tuple[dict[str, Any], Any]:
    """Grade copies of the class fixtures ``teams`` (the grader refuses top-level links), all at once.

    Returns team -> TeamResult and the grader; everything the run made is removed.
    """
    common.ensure_images()
    folder = work / "class"
    folder.mkdir()
    for team in teams:
        shutil.copy(CLASS / f"Lab2_{team}.py", folder)
    (work / "grading.yaml").write_text(config_text)
    config = grade.load_config(work / "grading.yaml")
    client = grade.grade_client(len(teams))
    grader = grade.Grader(client, config, work / "out", common.IMAGE)
    try:
        results = grade.grade_class(grader, grade.find_submissions(folder, config.program_pattern), jobs=len(teams))
    finally:
        left = without_engine_faults(sandbox.sweep(client, grader.run_id))
    assert not left, left
    return {t.submission.team: t for t in results}, grader
