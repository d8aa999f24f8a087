"""Conformance checker: named protocol cases run against any server, or judging a client.

Importable API (the grader builds on it)::

    from services.check import run_checks
    results = run_checks("calc-server", "127.0.0.1", 12002, "strict")
    failed = [r.name for r in results if not r.passed]

Each :class:`CaseResult` has a stable ``name`` (``calc.no-float-artefacts``)
fit to key points by, its ``level``, ``passed``, ``ran`` (False when the
server had stopped answering before the case), a ``message`` and the
``transcript`` of the exchange.

Where things are: ``core`` (the role tables from ``services/roles.py``, the
``ServerCase``/``ClientCase`` types, the runner), ``session`` (connections that
record every byte), ``common`` (framing and bad-input cases shared by the TCP
roles, ``expect_error``, probes), ``judge`` (pure readers of dates, times,
numbers and notices), ``clients`` (the recording servers a client role talks
to), ``process`` (a child process with its output read on a thread) and one
``cases_*`` module per protocol. A new check is one decorated function in its
role's ``cases_*`` module, added to that module's ``CASES`` list.
"""

from services.check.core import CLIENT_ROLES, LEVELS, ROLES, CaseResult, cases_for, run_checks

__all__ = ["CLIENT_ROLES", "LEVELS", "ROLES", "CaseResult", "cases_for", "run_checks"]
