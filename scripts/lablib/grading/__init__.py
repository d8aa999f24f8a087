"""`scripts/lab grade`: check and score each team's submission of a class in a sandbox (see docs/grading.md).

A class folder holds one file (``Lab2_<TEAM>.py``) or one folder per team. The
TA's YAML config (``--config``, default grading/grading.yaml) says for each
lab part how to start each role from a submission and what each checker case
is worth. Every submission gets its own internal network (172.30.N.0/24), one
sandboxed container per role (each with its own address and pcap) and a
checker container on that network. Per team the grader writes report.md and a
Gradescope results.json; for the class summary.md, summary.json and
index.html (teams x cases; each failure links its exchange and pcap).

Modules, in the order a submission meets them: ``config`` (the YAML),
``submissions`` (the folder), ``network`` and ``run`` (one team's sandboxes),
``checker`` (the checker container and ``tools/``, the programs run inside the
containers), ``results``, ``reports``, ``cli`` (the verb).
"""

from __future__ import annotations

from .cli import grade_class, grade_client, main
from .config import Config, GradeError, RoleSpec, load_config
from .reports import gradescope, team_markdown, write_summary, write_team
from .results import RoleResult, TeamResult, merge_cases, verdicts
from .run import Grader
from .submissions import Submission, find_submissions

__all__ = [
    "Config",
    "GradeError",
    "Grader",
    "RoleResult",
    "RoleSpec",
    "Submission",
    "TeamResult",
    "find_submissions",
    "grade_class",
    "grade_client",
    "gradescope",
    "load_config",
    "main",
    "merge_cases",
    "team_markdown",
    "verdicts",
    "write_summary",
    "write_team",
]
