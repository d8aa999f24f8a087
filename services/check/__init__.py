"""Conformance checker: named protocol cases run against any server, or judging a client.

Importable API (the grader builds on it)::

    from services.check import run_checks
    results = run_checks("calc-server", "127.0.0.1", 12002, "strict")
    failed = [r.name for r in results if not r.passed]

Each :class:`CaseResult` has a stable ``name`` (``calc.no-float-artefacts``)
fit to key points by, its ``level``, ``passed``, ``ran`` (False when the
server had stopped answering before the case), a ``message`` and the
``transcript`` of the exchange.
"""

from services.check.core import CLIENT_ROLES, LEVELS, ROLES, CaseResult, cases_for, run_checks

__all__ = ["CLIENT_ROLES", "LEVELS", "ROLES", "CaseResult", "cases_for", "run_checks"]
