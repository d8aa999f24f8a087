"""Cases for calc-server: named sessions of ``<number> <op> <number>`` requests over TCP.

``lab`` asks what the course asks: the name first, right answers (as a number
anywhere in the reply), several sessions at once, ``q`` ends the session.
``strict`` adds socklab's spec: exact result strings with no binary-float
artefacts, silent ``q``, framing, 50 sessions, ``ERROR`` replies to bad input.
"""

from __future__ import annotations

from collections.abc import Iterable

from services.check import judge
from services.check.common import Pair, bad_line_cases, framing_cases, tcp_probe
from services.check.core import Config, case
from services.check.session import CaseFailed, Session, TcpConn

#: (request, value) pairs for lab level: no operand equals its result, so finding the value means an answer.
LAB_SUMS = [("12 + 42", 54.0), ("4.5 / -6", -0.75), ("3.24 * 45", 145.8), ("10 - 25", -15.0)]
#: (request, exact reply) pairs that binary floats get right too: formatting alone is judged.
EXACT = {"12 + 42": "54", "4.5 / -6": "-0.75", "3.24 * 45": "145.8", "7 - 10": "-3", "1.5 * 4": "6", "1 / 8": "0.125"}
#: (request, exact reply) pairs where a binary float shows an artefact (0.30000000000000004).
DECIMAL = {"0.1 + 0.2": "0.3", "1.1 * 3": "3.3", "0.3 - 0.1": "0.2", "0.7 + 0.1": "0.8"}
MANY_SESSIONS = 50
MALFORMED = ["12 +", "hello", "12 plus 4", "3 ^ 4", "1 2 3", "+ 1 2", "four * 2"]
NON_FINITE = ["nan + 1", "inf * 2", "1e308 * 10", "-inf - 1"]


def session(s: Session, cfg: Config, label: str = "A") -> TcpConn:
    """A connection that has sent its name."""
    conn = s.tcp(label)
    conn.send(cfg.fresh_name("Calc"))
    return conn


def ask_value(conn: TcpConn, request: str, value: float) -> None:
    """Lab: a reply line holding ``value`` as a number (lines before it, such as a greeting, are passed over)."""
    conn.send(request)
    conn.until(lambda line: judge.has_value(line, value), f"a reply showing {value:g} for {request!r}")


def ask_exact(conn: TcpConn, request: str, want: str) -> str:
    conn.send(request)
    got = conn.line(f"{want!r} in reply to {request!r}")
    if got != want:
        artefact = judge.float_artefact(got)
        why = f" ({artefact} is a binary floating-point artefact)" if artefact else ""
        raise CaseFailed(f"{conn.label}: sent {request!r}, expected {want!r}, got {got!r}{why}")
    return got


@case("calc.arithmetic", "lab", "after the name, + - * / requests get the right result")
def arithmetic(s: Session, cfg: Config) -> None:
    conn = session(s, cfg)
    for request, value in LAB_SUMS:
        ask_value(conn, request, value)


@case("calc.quit-ends-session", "lab", "'q' makes the server close the connection")
def quit_ends(s: Session, cfg: Config) -> None:
    conn = session(s, cfg)
    ask_value(conn, "2 + 3", 5)
    conn.send("q")
    conn.expect_closed()


@case("calc.concurrent-sessions", "lab", "a second client is served while the first stays connected")
def concurrent(s: Session, cfg: Config) -> None:
    first = session(s, cfg, "A")
    ask_value(first, "2 + 3", 5)
    second = session(s, cfg, "B")
    second.send("6 * 7")
    second.until(
        lambda line: judge.has_value(line, 42),
        "a reply showing 42 while client A is still connected (one client at a time?)",
    )
    ask_value(first, "8 - 1", 7)


@case("calc.exact-results", "strict", "results read as a calculator shows them: 54, -0.75, 145.8")
def exact_results(s: Session, cfg: Config) -> None:
    conn = session(s, cfg)
    for request, want in EXACT.items():
        ask_exact(conn, request, want)


@case("calc.no-float-artefacts", "strict", "0.1 + 0.2 is 0.3, not 0.30000000000000004")
def no_float_artefacts(s: Session, cfg: Config) -> None:
    conn = session(s, cfg)
    for request, want in DECIMAL.items():
        ask_exact(conn, request, want)


@case("calc.quit-silent", "strict", "'q' closes the connection with no reply")
def quit_silent(s: Session, cfg: Config) -> None:
    conn = session(s, cfg)
    conn.send("q")
    extra = conn.expect_closed()
    if extra:
        raise CaseFailed(f"A: sent 'q', expected the connection closed with no reply, got {extra!r}")


@case("calc.many-clients", "strict", f"{MANY_SESSIONS} sessions at once each get their own answers")
def many_clients(s: Session, cfg: Config) -> None:
    conns = [session(s, cfg, f"C{i}") for i in range(MANY_SESSIONS)]
    for i, conn in enumerate(conns):
        conn.send(f"{i} + 1000")
    for i, conn in enumerate(conns):
        want = str(i + 1000)
        got = conn.line(f"{want!r} in reply to '{i} + 1000'")
        if got != want:
            raise CaseFailed(f"{conn.label}: sent '{i} + 1000', expected {want!r}, got {got!r}")


@case("calc.malformed-line", "strict", "malformed requests get ERROR and the session goes on")
def malformed(s: Session, cfg: Config) -> None:
    refuse_then_answer(s, cfg, MALFORMED)


@case("calc.division-by-zero", "strict", "'1 / 0' gets ERROR and the session goes on")
def division_by_zero(s: Session, cfg: Config) -> None:
    refuse_then_answer(s, cfg, ("1 / 0", "0 / 0"))


@case("calc.non-finite", "strict", "nan, inf and overflowing results get ERROR")
def non_finite(s: Session, cfg: Config) -> None:
    refuse_then_answer(s, cfg, NON_FINITE)


def refuse_then_answer(s: Session, cfg: Config, bad_lines: Iterable[str]) -> None:
    """Each of ``bad_lines`` gets ERROR, then a good request on the same session is still answered."""
    pair = open_pair(s, cfg)
    for bad in bad_lines:
        pair.refuse(bad)
    ask_exact(pair.sender, "12 + 42", "54")


def open_pair(s: Session, cfg: Config) -> Pair:
    conn = session(s, cfg)
    return Pair(conn, conn, lambda request: EXACT[request])


CASES = {
    "calc-server": [
        arithmetic,
        quit_ends,
        concurrent,
        exact_results,
        no_float_artefacts,
        quit_silent,
        *framing_cases("calc", open_pair, ["12 + 42", "4.5 / -6", "7 - 10"]),
        many_clients,
        # Bad input last: a server that dies on it is charged for that case only.
        malformed,
        division_by_zero,
        non_finite,
        *bad_line_cases("calc", open_pair, "12 + 42"),
    ]
}
PROBES = {"calc-server": tcp_probe}
