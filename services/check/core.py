"""Cases, results and the runner: run a role's named cases against a server, one fresh session each."""

from __future__ import annotations

import datetime as dt
import importlib
import secrets
import string
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, ClassVar

from services import roles
from services.check.session import CaseFailed, Session

LEVELS = ("lab", "strict")
#: Seconds to wait for one reply.
REPLY_TIMEOUT = 2.0
#: Default time limit of one case, in seconds (cases that need longer say so).
CASE_LIMIT = 10.0

#: The roles the checker judges, from the catalogue (services/roles.py).
CHECKED: dict[str, roles.Role] = {r.name: r for r in roles.CHECKED}
#: Role -> module holding its cases (imported only when that role is checked).
ROLE_MODULES: dict[str, str] = {name: str(r.cases) for name, r in CHECKED.items()}
ROLES = tuple(CHECKED)
CLIENT_ROLES = tuple(name for name, r in CHECKED.items() if r.is_client)


@dataclass
class Config:
    """Everything a case may need besides its session; built once per run."""

    host: str
    port: int
    level: str = "lab"
    reply_timeout: float = REPLY_TIMEOUT
    #: Time zones a server may report its time in (None = the checker's own zone).
    zones: tuple[dt.tzinfo | None, ...] = (None, dt.UTC)
    now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)
    #: Client roles: the command starting the client ({host} {port} {name} filled in).
    cmd: str | None = None
    duration: float | None = None
    name: str = "Tester"
    #: Only these cases (empty: all of the level).
    only: tuple[str, ...] = ()
    #: Names this run has handed out (chat: lines about a previous case's members are ignored).
    used_names: set[str] = field(default_factory=set)

    def fresh_name(self, stem: str) -> str:
        """A login name no earlier case used: the stem and four random letters (no digits)."""
        name = stem + "".join(secrets.choice(string.ascii_lowercase) for _ in range(4))
        self.used_names.add(name)
        return name


@dataclass(frozen=True, kw_only=True)
class Case:
    """One named check of a role, at a level; a server case or a client case (below)."""

    name: str
    level: str
    #: One line: what the case checks (shown by --list).
    doc: str
    limit: float = CASE_LIMIT


@dataclass(frozen=True, kw_only=True)
class ServerCase(Case):
    """Talks to a running server through a fresh :class:`Session`; raises CaseFailed on a fault."""

    run: Callable[[Session, Config], None]


@dataclass(frozen=True, kw_only=True)
class ClientCase(Case):
    """Judges what a client did in a recorded run (``services.check.clients.Run``); raises CaseFailed."""

    judge: Callable[[Any, Config], None]
    #: Needs the checker to start the client (it judges stdin/stdout, or a second run).
    needs_cmd: bool = False
    #: Judged on a second run whose stdin ends without 'q' (calc-client).
    on_eof_run: bool = False


@dataclass
class CaseResult:
    name: str
    level: str
    passed: bool
    message: str = ""
    transcript: list[dict[str, object]] = field(default_factory=list)
    ms: float = 0.0
    #: False when the case was not run because the server had stopped answering.
    ran: bool = True

    #: The fields ``to_dict`` writes, in the order ``check --json`` has always written them.
    DICT_FIELDS: ClassVar[tuple[str, ...]] = ("name", "level", "passed", "ran", "message", "ms", "transcript")

    def to_dict(self) -> dict[str, object]:
        return {key: getattr(self, key) for key in self.DICT_FIELDS}

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> CaseResult:
        """The result ``to_dict`` wrote (e.g. read back from ``check --json``); a missing optional field
        takes its default, a missing or mistyped required one is a ValueError."""
        name, level, passed = data.get("name"), data.get("level"), data.get("passed")
        if not isinstance(name, str) or not isinstance(level, str) or not isinstance(passed, bool):
            raise ValueError(f"not a case result (name, level, passed): {data!r:.200}")
        transcript = data.get("transcript", [])
        return cls(
            name,
            level,
            passed,
            message=str(data.get("message", "")),
            transcript=list(transcript) if isinstance(transcript, list) else [],
            ms=float(data.get("ms", 0.0)),  # type: ignore[arg-type]
            ran=bool(data.get("ran", True)),
        )


def _check_level(level: str) -> None:
    if level not in LEVELS:
        raise ValueError(f"unknown level {level!r}; levels: {', '.join(LEVELS)}")


def case(name: str, level: str, doc: str, limit: float = CASE_LIMIT) -> Callable[[Callable], ServerCase]:
    """Decorator: a function ``(session, config) -> None`` that raises CaseFailed becomes a ServerCase."""
    _check_level(level)

    def wrap(func: Callable[[Session, Config], None]) -> ServerCase:
        return ServerCase(name=name, level=level, doc=doc, limit=limit, run=func)

    return wrap


def client_case(
    name: str, level: str, doc: str, needs_cmd: bool = False, on_eof_run: bool = False
) -> Callable[[Callable], ClientCase]:
    """Decorator: a function ``(run, config) -> None`` that raises CaseFailed becomes a ClientCase."""
    _check_level(level)

    def wrap(func: Callable[[Any, Config], None]) -> ClientCase:
        return ClientCase(name=name, level=level, doc=doc, judge=func, needs_cmd=needs_cmd, on_eof_run=on_eof_run)

    return wrap


def role_module(role: str) -> ModuleType:
    if role not in ROLE_MODULES:
        raise ValueError(f"unknown role {role!r}; roles: {', '.join(ROLES)}")
    return importlib.import_module(ROLE_MODULES[role])


def cases_for(role: str, level: str) -> list[Case]:
    """The role's cases at ``level`` (``strict`` includes every ``lab`` case), in running order."""
    _check_level(level)
    rank = LEVELS.index(level)
    return [c for c in role_module(role).CASES[role] if LEVELS.index(c.level) <= rank]


def run_case(c: ServerCase, config: Config) -> CaseResult:
    # Lab-level cases talk like a person at a keyboard, whichever level the run is at.
    session = Session(config.host, config.port, config.reply_timeout, c.limit, human=c.level == "lab")
    passed, message = True, ""
    try:
        c.run(session, config)
    except CaseFailed as exc:
        passed, message = False, str(exc)
    except OSError as exc:
        passed, message = False, f"connection error: {exc}"
    finally:
        session.close_all()
    ms = round((time.monotonic() - session.transcript.t0) * 1000, 1)
    return CaseResult(c.name, c.level, passed, message, session.transcript.to_list(), ms)


def not_run(c: Case, reason: str) -> CaseResult:
    return CaseResult(c.name, c.level, False, f"not run: {reason}", ran=False)


def run_server_checks(role: str, config: Config) -> list[CaseResult]:
    """Each case on fresh connections; after each, a probe shows whether the server still answers.

    Cases that provoke crashes come last in each role's list, so a server that
    dies is charged for the case that killed it, and the cases after it are
    reported as not run rather than as failures of their own.
    """
    module = role_module(role)
    probe: Callable[[Config], str | None] = module.PROBES[role]
    chosen = [c for c in cases_for(role, config.level) if not config.only or c.name in config.only]
    down = probe(config)
    if down:
        return [not_run(c, f"nothing answers at {config.host}:{config.port} ({down})") for c in chosen]
    results: list[CaseResult] = []
    for i, c in enumerate(chosen):
        result = run_case(c, config)
        results.append(result)
        down = probe(config)
        if down:
            result.passed = False
            result.message = (result.message + "; " if result.message else "") + f"server stopped answering ({down})"
            results += [not_run(rest, f"server stopped answering after {c.name}") for rest in chosen[i + 1 :]]
            break
    return results


def run_checks(
    role: str,
    host: str,
    port: int,
    level: str = "lab",
    **options: object,
) -> list[CaseResult]:
    """Run ``role``'s cases at ``level`` against ``host:port`` (clients: listen there) and return the results.

    ``options`` are :class:`Config` fields: ``reply_timeout``, ``zones``, ``cmd``,
    ``duration``, ``name``, ``only``.
    """
    cases_for(role, level)  # validates role and level
    config = Config(host=host, port=port, level=level, **options)  # type: ignore[arg-type]
    if CHECKED[role].is_client:
        return role_module(role).run_client_checks(role, config)
    return run_server_checks(role, config)
