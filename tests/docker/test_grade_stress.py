"""A class of 75 teams (300 sandboxes) graded the grader's way leaves no network the engine keeps.

Docker 20.10 can keep a removed network's endpoint count ("has active endpoints",
nothing attached) until it restarts. Here the grader itself, in process and at its
default number of teams at once, grades benchmarks/grade_stress.py's class: checker
traffic to and from every role, an error path every fifth team (a crash, a program that
never listens, one that never answers, one that floods its network, a fork bomb). Every score
must be the expected one, no team may have an error, the engine must keep no network
and nothing of the run may remain. The same class with the holders stopped together
is ``python3 -m benchmarks.grade_stress --order together`` (docs/grading.md).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from benchmarks import grade_stress

pytestmark = pytest.mark.slow


def test_a_class_of_hundreds_of_sandboxes_leaves_no_network_behind(docker_client: Any, tmp_path: Path) -> None:
    del docker_client  # requested for its skip without an engine (outside CI): the grader has its own client
    outcome = grade_stress.stress(tmp_path, grade_stress.TEAMS, jobs=grade_stress.default_jobs())
    assert outcome.sandboxes == 300
    assert outcome.errors == {}
    assert len(outcome.scores) == grade_stress.TEAMS
    assert outcome.wrong_scores() == {}
    assert outcome.engine_faults == []
    assert outcome.kept_after_sweep == []
    assert outcome.left == []
